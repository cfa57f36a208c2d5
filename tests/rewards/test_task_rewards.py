from decimal import Decimal

import pytest

from lit_critic_rl.data.gsm8k import GSM8KPrompts
from lit_critic_rl.rewards.exact_match import ExactMatchReward, final_number
from lit_critic_rl.rewards.profanity import ProfanityReward


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("She makes 9 * 2 = $<<9*2=18>>18 every day.\n#### 18", Decimal(18)),
        ("So the total is 1,250 dollars. The answer is 1,250.", Decimal(1250)),
        ("The answer is: $7.50", Decimal("7.50")),
        ("first 3 then 4 then -2", Decimal(-2)),
        ("no numbers here", None),
    ],
)
def test_final_number_by_hand(text, expected):
    assert final_number(text) == expected


def test_final_number_treats_18_and_18_0_as_equal():
    assert final_number("#### 18.0") == final_number("#### 18")


def test_exact_match_on_the_shipped_gsm8k_split_with_the_datamodules_references():
    data = GSM8KPrompts(val_size=10)
    reward = ExactMatchReward()
    reward.set_references(data.references())
    prompt = data.train_prompts[0]
    gold = reward.golds[prompt]
    assert prompt.startswith("Question: ") and prompt.endswith("\nAnswer:")
    assert len(data.train_prompts) + len(data.val_prompts) + len(data.test_prompts) == 1319
    assert len(data.references()) == 1319  # train, validation and test questions all carry their reference
    assert reward([prompt, prompt, prompt], [f"... #### {gold}", f"The answer is {gold + 1}", "I am not sure"]) == [
        1.0,
        0.0,
        0.0,
    ]


def test_non_numeric_answer_is_named():
    with pytest.raises(ValueError, match="data.reference_field: the reference of 'Question: q2' has no final number"):
        ExactMatchReward().set_references({"Question: q1": "#### 4", "Question: q2": "#### four"})


def test_unknown_prompt_and_missing_references_are_named():
    reward = ExactMatchReward()
    with pytest.raises(RuntimeError, match="ExactMatchReward has no references"):
        reward(["Question: q1"], ["4"])
    reward.set_references({"Question: q1": "#### 4"})
    with pytest.raises(KeyError, match="ExactMatchReward: 1 prompt\\(s\\) have no reference"):
        reward(["Question: other\nAnswer:"], ["4"])


def test_profanity_reward_is_one_minus_toxicity():
    reward = ProfanityReward()
    clean, toxic = reward(["", ""], ["have a nice day", "you stupid idiot"])
    assert clean > 0.9 and toxic < 0.1
    assert reward.toxicity(["have a nice day"])[0] == pytest.approx(1 - clean)


def test_rouge_reward_by_hand():
    from lit_critic_rl.rewards.rouge import RougeReward

    reward = RougeReward()
    prompt = "long post\nTL;DR:"
    reward.set_references({prompt: "the cat sat on the mat"})
    # ROUGE-1: response "the cat sat" shares 3 unigrams; P = 3/3, R = 3/6 -> F = 2PR/(P+R) = 2/3
    assert reward([prompt], ["the cat sat"])[0] == pytest.approx(2 / 3, abs=1e-4)
    assert reward([prompt], ["the cat sat on the mat"])[0] == pytest.approx(1.0)
    percent = RougeReward(scale=100)
    percent.set_references(reward.references)
    assert percent([prompt], ["the cat sat"])[0] == pytest.approx(200 / 3, abs=1e-2)


def test_rouge_reward_on_the_summarization_datamodules_references():
    from lit_critic_rl.data import SummarizationPrompts
    from lit_critic_rl.rewards.rouge import RougeReward

    data = SummarizationPrompts(val_size=4)
    reward = RougeReward()
    reward.set_references(data.references())
    prompt = data.train_prompts[0]
    assert reward([prompt], [data.references()[prompt]]) == [pytest.approx(1.0)]


def _tiny_classifier(folder, tokenizer_path, labels):
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tok = AutoTokenizer.from_pretrained(tokenizer_path)
    config = BertConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={v: k for k, v in enumerate(labels)},
        pad_token_id=tok.pad_token_id,
    )
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
