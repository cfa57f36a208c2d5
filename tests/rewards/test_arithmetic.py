"""Exact match on the arithmetic task."""

import pytest

from lit_critic_rl.data.arithmetic import ArithmeticProblem, format_prompt
from lit_critic_rl.rewards import ArithmeticReward


def test_reward_is_exact_match_of_the_first_answer_line():
    prompt = format_prompt(ArithmeticProblem(7, (("+", 5), ("*", 3))))  # 7 + 5 = 12, 12 * 3 = 36
    responses = [
        "Step 1: 7 + 5 = 12\nStep 2: 12 * 3 = 36\nThe answer is 36",
        "Step 1: 7 + 5 = 12\nStep 2: 12 * 3 = 35\nThe answer is 35",
        "The answer is 36 and then The answer is 2",
        "Step 1: 7 + 5 = 12\nStep 2: 12 * 3 = 36",  # no answer line
        "The answer is 3",  # a prefix of the right number is not a match
    ]
    assert ArithmeticReward()([prompt] * 5, responses) == [1.0, 0.0, 1.0, 0.0, 0.0]


def test_prompt_without_a_problem_is_named():
    with pytest.raises(ValueError, match="no arithmetic problem"):
        ArithmeticReward()(["Tell me a story"], ["The answer is 1"])
