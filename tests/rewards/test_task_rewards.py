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
    assert len(data.train_prompts) + len(data.val_prompts) + len(data.test_prompts) == 1319
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
    with pytest.raises(KeyError, match="model.reward: 1 prompt\\(s\\) not found in .*math.jsonl"):
        ExactMatchReward(str(f))(["Question: other\nAnswer:"], ["4"])


def test_profanity_reward_is_one_minus_toxicity():
    reward = ProfanityReward()
    clean, toxic = reward(["", ""], ["have a nice day", "you stupid idiot"])
    assert clean > 0.9 and toxic < 0.1
    assert reward.toxicity(["have a nice day"])[0] == pytest.approx(1 - clean)


def test_rouge_reward_by_hand(tmp_path):
    from lit_critic_rl.rewards.rouge import RougeReward

    f = tmp_path / "s.jsonl"
    f.write_text(json.dumps({"post": "long post", "summary": "the cat sat on the mat"}) + "\n")
    reward = RougeReward(str(f))
    prompt = "long post\nTL;DR:"
    # ROUGE-1: response "the cat sat" shares 3 unigrams; P = 3/3, R = 3/6 -> F = 2PR/(P+R) = 2/3
    assert reward([prompt], ["the cat sat"])[0] == pytest.approx(2 / 3, abs=1e-4)
    assert reward([prompt], ["the cat sat on the mat"])[0] == pytest.approx(1.0)
    percent = RougeReward(str(f), scale=100)
    assert percent([prompt], ["the cat sat"])[0] == pytest.approx(200 / 3, abs=1e-2)


def test_rouge_reward_on_shipped_summaries():
    from lit_critic_rl.data import SummarizationPrompts
    from lit_critic_rl.rewards.rouge import RougeReward

    data = SummarizationPrompts(val_size=4)
    data.setup()
    reward = RougeReward()
    prompt = data.train_prompts[0]
    assert reward([prompt], [reward.references[prompt]]) == [pytest.approx(1.0)]


def _tiny_classifier(folder, tokenizer_path, labels):
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tok = AutoTokenizer.from_pretrained(tokenizer_path)
    config = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=len(labels), id2label=dict(enumerate(labels)),
                        label2id={v: k for k, v in enumerate(labels)}, pad_token_id=tok.pad_token_id)
    BertForSequenceClassification(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)


def test_classifier_reward_probabilities_and_one_minus(tiny_model_path, tmp_path):
    from lit_critic_rl.rewards.classifier import ClassifierReward

    path = _tiny_classifier(tmp_path / "clf", tiny_model_path, ["NEGATIVE", "POSITIVE"])
    prob = ClassifierReward(path, label="positive")
    texts = ["a good film", "a bad film"]
    p = prob(["", ""], texts)
    neg = ClassifierReward(path, label="NEGATIVE")(["", ""], texts)
    assert p == pytest.approx([1 - x for x in neg], abs=1e-6)  # two-class softmax
    assert ClassifierReward(path, label="POSITIVE", one_minus=True)(["", ""], texts) == pytest.approx(neg, abs=1e-6)
    logit = ClassifierReward(path, label="POSITIVE", output="logit")(["", ""], texts)
    assert logit != pytest.approx(p)


def test_classifier_reward_names_a_missing_label(tiny_model_path, tmp_path):
    from lit_critic_rl.rewards.classifier import ClassifierReward

    path = _tiny_classifier(tmp_path / "clf", tiny_model_path, ["NEGATIVE", "POSITIVE"])
    with pytest.raises(ValueError, match="model.reward.label: 'toxic' is not a label.*negative.*positive"):
        ClassifierReward(path, label="toxic")
    with pytest.raises(ValueError, match="has 2 outputs"):
        ClassifierReward(path, label=None)
