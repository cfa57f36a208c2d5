import pytest

from lit_critic_rl.metrics import ToxicityAggregates


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
