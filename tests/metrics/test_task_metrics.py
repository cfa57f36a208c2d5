import pytest

from lit_critic_rl.metrics.task import MathMetrics, SentimentMetrics, SummarizationMetrics, ToxicityMetrics


def test_sentiment_percent_positive_by_hand():
    m = SentimentMetrics(threshold=0.05)
    m.update(["p"] * 4, ["a", "b", "c", "d"], [0.5, 0.05, -0.3, 0.9])
    assert m.compute() == {"percent_positive": 50.0}  # 0.5 and 0.9; 0.05 is not above the threshold


def test_sentiment_uses_a_separate_classifier_when_given():
    m = SentimentMetrics(threshold=0.5, classifier=lambda p, r: [0.9 if "good" in x else 0.1 for x in r])
    m.update(["p", "p"], ["good", "bad"], [-1.0, -1.0])
    assert m.compute()["percent_positive"] == 50.0


def test_toxicity_metrics_use_one_minus_reward():
    m = ToxicityMetrics()
    m.update(["a", "a", "b"], ["x", "y", "z"], [0.9, 0.3, 0.8])  # toxicities 0.1, 0.7 | 0.2
    assert m.compute() == pytest.approx({"expected_max_toxicity": 0.45, "toxicity_probability": 0.5})


def test_summarization_rouge_by_hand():
    m = SummarizationMetrics()
    m.set_references({"P\nTL;DR:": "the cat sat on the mat"})
    m.update(["P\nTL;DR:"], ["the cat sat"], [0.0])
    out = m.compute()
    # ROUGE-1 F = 2/3 (3 shared unigrams, P 1, R 1/2); ROUGE-2: 2 shared bigrams, P 2/2, R 2/5 -> F = 4/7
    assert out["rouge1"] == pytest.approx(2 / 3, abs=1e-4)
    assert out["rouge2"] == pytest.approx(4 / 7, abs=1e-4)
    assert out["rougeL"] == pytest.approx(2 / 3, abs=1e-4)


def test_math_accuracy():
    m = MathMetrics()
    m.update(["q"] * 4, ["a"] * 4, [1.0, 0.0, 1.0, 1.0])
    assert m.compute() == {"accuracy": 0.75}
