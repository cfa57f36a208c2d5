"""GSM8K: training and validation never see a question that `test` evaluates."""

import json

import pytest

from lit_critic_rl.data.gsm8k import SHIPPED_TEST, GSM8KPrompts, offline_test_part, shipped_gsm8k_test
from lit_critic_rl.rewards.exact_match import ExactMatchReward


def test_offline_training_and_evaluation_questions_are_disjoint():
    data = GSM8KPrompts(val_size=64)
    data.setup()
    train, val, test = set(data.train_prompts), set(data.val_prompts), set(data.test_prompts)
    assert (len(train), len(val), len(test)) == (1319 - 319 - 64, 64, 319)
    assert not train & test and not val & test and not train & val
    assert len(train | val | test) == 1319  # every shipped question is used exactly once
    assert [len(b) for b in data.test_dataloader()][:2] == [16, 16]


def test_offline_test_part_does_not_depend_on_the_seed_and_grows_by_extension():
    a, b = GSM8KPrompts(seed=0), GSM8KPrompts(seed=1)
    a.setup(), b.setup()
    assert a.test_prompts == b.test_prompts and a.train_prompts != b.train_prompts
    prompts = [f"q{i}" for i in range(50)]
    assert offline_test_part(prompts, 5) < offline_test_part(prompts, 10)


def _write(path, questions):
    path.write_text("".join(json.dumps({"question": q, "answer": f"#### {i}"}) + "\n" for i, q in enumerate(questions)))
    return str(path)


def test_a_separate_training_file_is_evaluated_on_the_whole_test_split(tmp_path, caplog):
    test_question = json.loads(shipped_gsm8k_test().read_text().splitlines()[0])["question"]
    train = _write(tmp_path / "train.jsonl", [f"Train question {i}?" for i in range(30)] + [test_question])
    data = GSM8KPrompts(prompt_file=train, val_size=5)
    data.setup()
    assert "data.prompt_file: dropped 1 questions that are also test questions" in caplog.text
    assert len(data.test_prompts) == 1319 and len(data.train_prompts) + len(data.val_prompts) == 30
    assert not set(data.train_prompts + data.val_prompts) & set(data.test_prompts)


def test_training_on_the_test_split_is_refused():
    with pytest.raises(ValueError, match="every question of .* is a test question"):
        GSM8KPrompts(prompt_file=SHIPPED_TEST).setup()


def test_a_custom_test_file_needs_a_training_file(tmp_path):
    with pytest.raises(ValueError, match="data.test_file .* needs data.prompt_file"):
        GSM8KPrompts(test_file=_write(tmp_path / "test.jsonl", ["q?"]))


def test_references_cover_a_separate_training_file_and_the_test_split(tmp_path):
    train = _write(tmp_path / "train.jsonl", [f"How many {i}?" for i in range(10)])  # answers 0..9
    data = GSM8KPrompts(prompt_file=train, val_size=2)
    reward = ExactMatchReward()
    reward.set_references(data.references())
    test = data.test_prompts[0]
    gold = reward.golds[test]
    assert reward(["Question: How many 3?\nAnswer:", test], ["#### 3", f"#### {gold}"]) == [1.0, 1.0]
