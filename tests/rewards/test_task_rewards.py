import json
from decimal import Decimal

import pytest

from lit_critic_rl.data.gsm8k import GSM8KPrompts
from lit_critic_rl.rewards.exact_match import ExactMatchReward, final_number
from lit_critic_rl.rewards.profanity import ProfanityReward


@pytest.mark.parametrize(("text", "expected"), [
    ("She makes 9 * 2 = $<<9*2=18>>18 every day.\n#### 18", Decimal(18)),
    ("So the total is 1,250 dollars. The answer is 1,250.", Decimal(1250)),
    ("The answer is: $7.50", Decimal("7.50")),
    ("first 3 then 4 then -2", Decimal(-2)),
    ("no numbers here", None),
])
def test_final_number_by_hand(text, expected):
    assert final_number(text) == expected


def test_final_number_treats_18_and_18_0_as_equal():
    assert final_number("#### 18.0") == final_number("#### 18")


def test_exact_match_on_the_shipped_gsm8k_split():
    data = GSM8KPrompts(val_size=10)
    data.setup()
    reward = ExactMatchReward()
    prompt = data.train_prompts[0]
    gold = reward.references[prompt]
    assert prompt.startswith("Question: ") and prompt.endswith("\nAnswer:")
    assert len(data.train_prompts) + len(data.val_prompts) == 1319
    assert reward([prompt, prompt, prompt], [f"... #### {gold}", f"The answer is {gold + 1}", "I am not sure"]) == [
        1.0, 0.0, 0.0,
    ]


def test_non_numeric_answer_is_named(tmp_path):
    f = tmp_path / "math.jsonl"
    f.write_text(json.dumps({"question": "q1", "answer": "#### 4"}) + "\n" + json.dumps(
        {"question": "q2", "answer": "#### four"}) + "\n")
    with pytest.raises(ValueError, match="math.jsonl' row 1: field 'answer' has no final number"):
        ExactMatchReward(str(f))


def test_unknown_prompt_is_named(tmp_path):
    f = tmp_path / "math.jsonl"
    f.write_text(json.dumps({"question": "q1", "answer": "#### 4"}) + "\n")
    with pytest.raises(KeyError, match="prompt not found"):
        ExactMatchReward(str(f))(["Question: other\nAnswer:"], ["4"])


def test_profanity_reward_is_one_minus_toxicity():
    reward = ProfanityReward()
    clean, toxic = reward(["", ""], ["have a nice day", "you stupid idiot"])
    assert clean > 0.9 and toxic < 0.1
    assert reward.toxicity(["have a nice day"])[0] == pytest.approx(1 - clean)
