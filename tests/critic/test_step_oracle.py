"""StepOracle on hand-made solutions of one problem: 7 + 5 = 12, 12 * 3 = 36, 36 - 4 = 32."""

import pytest
import torch

from lit_critic_rl.args import ShapingArgs
from lit_critic_rl.critic.shaping import critique_token_rewards
from lit_critic_rl.critic.step_oracle import StepOracle
from lit_critic_rl.data.arithmetic import ArithmeticProblem, format_prompt

PROBLEM = ArithmeticProblem(7, (("+", 5), ("*", 3), ("-", 4)))
PROMPT = format_prompt(PROBLEM)


def marks(response: str) -> list[tuple[str, str, float]]:
    """(marked text, label, polarity) of each mark, checking that every span's offsets hold its text."""
    (critique,) = StepOracle().critique([PROMPT], [response])
    assert critique.ok
    for span in critique.spans:
        assert response[span.start : span.end] == span.text
    return [(s.text, s.label, s.polarity) for s in critique.spans]


OK, BAD = 1.0, -1.0
CASES = {
    "all correct": (
        PROBLEM.solution(),
        [("12", "correct step", OK), ("36", "correct step", OK), ("32", "correct step", OK)]
        + [("32", "correct answer", OK)],
    ),
    "commuted operands are right": (
        "Step 1: 5 + 7 = 12\nStep 2: 3 x 12 = 36\nStep 3: 36 - 4 = 32\nThe answer is 32",
        [("12", "correct step", OK), ("36", "correct step", OK), ("32", "correct step", OK)]
        + [("32", "correct answer", OK)],
    ),
    "wrong middle step, the error carried on": (
        "Step 1: 7 + 5 = 12\nStep 2: 12 * 3 = 38\nStep 3: 38 - 4 = 34\nThe answer is 34",
        [("12", "correct step", OK), ("38", "wrong step", BAD), ("34", "inherited error", BAD)]
        + [("34", "wrong answer", BAD)],
    ),
    "wrong first step": (
        "Step 1: 7 + 5 = 13\nStep 2: 13 * 3 = 39\nStep 3: 39 - 4 = 35\nThe answer is 35",
        [("13", "wrong step", BAD), ("39", "inherited error", BAD), ("35", "inherited error", BAD)]
        + [("35", "wrong answer", BAD)],
    ),
    "copying error: a number not produced before": (
        "Step 1: 7 + 5 = 12\nStep 2: 21 * 3 = 63\nStep 3: 63 - 4 = 59\nThe answer is 59",
        [("12", "correct step", OK), ("63", "wrong step", BAD), ("59", "inherited error", BAD)]
        + [("59", "wrong answer", BAD)],
    ),
    "miscopied operand of the problem": (
        "Step 1: 7 + 5 = 12\nStep 2: 12 * 4 = 48\nStep 3: 48 - 4 = 44\nThe answer is 44",
        [("12", "correct step", OK), ("48", "wrong step", BAD), ("44", "inherited error", BAD)]
        + [("44", "wrong answer", BAD)],
    ),
    "right result of the wrong operation is still a wrong step": (
        "Step 1: 7 + 5 = 12\nStep 2: 12 + 24 = 36\nStep 3: 36 - 4 = 32\nThe answer is 32",
        [("12", "correct step", OK), ("36", "wrong step", BAD)],  # later values are right again: unmarked
    ),
    "missing middle step": (
        "Step 1: 7 + 5 = 12\nStep 2: 12 - 4 = 8\nThe answer is 8",
        [("12", "correct step", OK), ("8", "wrong step", BAD), ("8", "wrong answer", BAD)],
    ),
    "missing last step, right answer after it earns nothing": (
        "Step 1: 7 + 5 = 12\nStep 2: 12 * 3 = 36\nThe answer is 32",
        [("12", "correct step", OK), ("36", "correct step", OK)],
    ),
    "malformed line": (
        "Step 1: 7 + 5 = 12\nStep 2: 12 * 3 =\nStep 3: 36 - 4 = 32\nThe answer is 32",
        [("12", "correct step", OK), ("Step 2: 12 * 3 =", "malformed step", BAD)],
    ),
    "an equation of two operations": (
        "Step 1: 7 + 5 * 3 = 22\nStep 2: 22 - 4 = 18\nThe answer is 18",
        [("22", "wrong step", BAD), ("18", "inherited error", BAD), ("18", "wrong answer", BAD)],
    ),
    "surplus step": (
        PROBLEM.solution().replace("The answer", "Step 4: 32 + 1 = 33\nThe answer"),
        [("12", "correct step", OK), ("36", "correct step", OK), ("32", "correct step", OK)]
        + [("33", "surplus step", BAD), ("32", "correct answer", OK)],
    ),
    "text around the steps and after the answer is ignored": (
        "Let me think.\n" + PROBLEM.solution() + "\nStep 4: 1 + 1 = 3",
        [("12", "correct step", OK), ("36", "correct step", OK), ("32", "correct step", OK)]
        + [("32", "correct answer", OK)],
    ),
    "no answer line": (
        "Step 1: 7 + 5 = 12\nStep 2: 12 * 3 = 36",
        [("12", "correct step", OK), ("36", "correct step", OK)],
    ),
    "answer only, wrong": ("The answer is 30", [("30", "wrong answer", BAD)]),
    "answer only, right: the missing steps leave it unmarked": ("The answer is 32", []),
    "empty response": ("", []),
    "prose only": ("I do not know.", []),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_step_oracle_marks_hand_made_solutions(name):
    response, expected = CASES[name]
    assert marks(response) == expected


def test_empty_response_is_an_empty_critique_and_a_prompt_without_problem_fails():
    empty, failed = StepOracle().critique([PROMPT, "no problem here"], ["", PROBLEM.solution()])
    assert empty.outcome == "empty"
    assert failed.outcome == "failed" and "no arithmetic problem" in failed.error


def test_marks_take_the_shaping_values_on_the_last_token_of_each_result():
    """Character 'tokens' (one per character): with last_token placement each mark puts its value on one character.
    A fully correct 3-step solution has 4 marks: 4 * 0.25 = 1.0, the exact-match reward of a right answer."""
    response = PROBLEM.solution()
    (critique,) = StepOracle().critique([PROMPT], [response])
    ranges = [(i, i + 1) for i in range(len(response))]
    shaping = ShapingArgs(positive_value=0.25, negative_value=-0.25, placement="last_token")
    rewards = critique_token_rewards(critique, ranges, len(response), shaping)
    assert float(rewards.sum()) == pytest.approx(1.0)
    hit = torch.nonzero(rewards).flatten().tolist()
    assert [response[i] for i in hit] == ["2", "6", "2", "2"]  # the last digit of 12, 36, 32 and the answer 32
