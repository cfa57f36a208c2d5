import pytest

from lit_critic_rl.metrics import DistinctN, distinct_n

# prompt "a": 2 samples, 6 words; prompt "b": 1 sample, 4 words
PROMPTS = ["a", "a", "b"]
TEXTS = ["the cat sat", "the cat ran", "x x x x"]


def test_corpus_distinct_n_by_hand():
    # unigrams: the cat sat the cat ran x x x x -> 5 distinct / 10; bigrams: 2 + 2 + 3 = 7, distinct
    # (the cat) (cat sat) (cat ran) (x x) = 4; trigrams: 1 + 1 + 2 = 4, distinct (the cat sat) (the cat ran) (x x x) = 3
    assert distinct_n(TEXTS, 1) == pytest.approx(5 / 10)
    assert distinct_n(TEXTS, 2) == pytest.approx(4 / 7)
    assert distinct_n(TEXTS, 3) == pytest.approx(3 / 4)
    assert distinct_n(["one"], 2) == 0.0
    metric = DistinctN(3, mode="corpus")
    metric.update(TEXTS[:1])
    metric.update(TEXTS[1:])
    assert metric.compute() == pytest.approx({"distinct_1": 5 / 10, "distinct_2": 4 / 7, "distinct_3": 3 / 4})


def test_per_prompt_distinct_divides_by_words_and_averages_prompts():
    # a: {the, cat, sat, ran} 4 / 6 words, {the cat, cat sat, cat ran} 3 / 6, {the cat sat, the cat ran} 2 / 6
    # b: {x} 1 / 4, {x x} 1 / 4, {x x x} 1 / 4
    metric = DistinctN(3, mode="per_prompt")
    metric.update(TEXTS, PROMPTS)
    expected = {"distinct_1": (4 / 6 + 1 / 4) / 2, "distinct_2": (3 / 6 + 1 / 4) / 2, "distinct_3": (2 / 6 + 1 / 4) / 2}
    assert metric.compute() == pytest.approx(expected)


def test_per_prompt_distinct_pools_a_prompts_samples_across_batches_and_skips_wordless_prompts():
    metric = DistinctN(1, mode="per_prompt")
    metric.update(["the cat sat"], ["a"])
    metric.update(["the cat ran", "   "], ["a", "empty"])
    assert metric.compute() == pytest.approx({"distinct_1": 4 / 6})


def test_per_prompt_distinct_needs_prompts_and_nothing_counted_is_zero():
    metric = DistinctN(2)
    assert metric.compute() == {"distinct_1": 0.0, "distinct_2": 0.0}
    with pytest.raises(ValueError, match="needs each sample.s prompt"):
        metric.update(["a b"])
    with pytest.raises(ValueError, match="mode must be"):
        DistinctN(mode="sentence")
