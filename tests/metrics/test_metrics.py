import pytest

from lit_critic_rl.metrics import DistinctN, ToxicityAggregates, distinct_n


def test_distinct_n_by_hand():
    texts = ["the cat sat", "the cat ran"]
    # unigrams: the, cat, sat, the, cat, ran -> 4 unique / 6; bigrams: (the cat) x2, (cat sat), (cat ran) -> 3 / 4
    assert distinct_n(texts, 1) == pytest.approx(4 / 6)
    assert distinct_n(texts, 2) == pytest.approx(3 / 4)
    assert distinct_n(texts, 3) == pytest.approx(2 / 2)
    assert distinct_n(["one"], 2) == 0.0


def test_distinct_accumulates_over_batches_like_one_corpus():
    metric = DistinctN(max_n=2)
    metric.update(["the cat sat"])
    metric.update(["the cat ran"])
    assert metric.compute() == pytest.approx({"distinct_1": 4 / 6, "distinct_2": 3 / 4})


def test_toxicity_aggregates_by_hand():
    agg = ToxicityAggregates()
    # prompt a: max 0.7 (toxic); prompt b: max 0.2 -> expected max (0.7 + 0.2) / 2 = 0.45; probability 1/2
    agg.update(["a", "a", "b"], [0.1, 0.7, 0.2])
    agg.update(["b"], [0.05])
    assert agg.compute() == pytest.approx({"expected_max_toxicity": 0.45, "toxicity_probability": 0.5})


def test_toxicity_threshold_is_inclusive_and_lengths_must_match():
    agg = ToxicityAggregates(threshold=0.5)
    agg.update(["a"], [0.5])
    assert agg.compute()["toxicity_probability"] == 1.0
    with pytest.raises(ValueError, match="2 prompts but 1"):
        agg.update(["a", "b"], [0.1])
