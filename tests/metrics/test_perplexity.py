import math

import pytest
import torch

from lit_critic_rl.metrics import Perplexity


def logits_for(probs: list[list[float]]) -> torch.Tensor:
    """``[B, T, 3]`` logits whose softmax gives token 0 the probability ``probs[b][t]``."""
    rows = [[[p, (1 - p) / 2, (1 - p) / 2] for p in sample] for sample in probs]
    return torch.tensor(rows, dtype=torch.float64).log()


# sample 0: p = 1/2, 1/4 -> ppl exp((ln 2 + ln 4) / 2) = sqrt(8); sample 1: p = 1/8, then padding -> ppl 8;
# sample 2: p = 1e-5, then padding -> ppl 1e5 (above the paper's 1e4 cut)
LOGITS = logits_for([[0.5, 0.25], [0.125, 0.9], [1e-5, 0.9]])
TARGETS = torch.tensor([[0, 0], [0, -100], [0, -100]])


def test_per_sample_mean_leaves_out_samples_above_max_ppl():
    metric = Perplexity("per_sample_mean", max_ppl=1e4)
    metric.update(LOGITS, TARGETS)
    assert metric.per_sample() == pytest.approx([math.sqrt(8), 8.0, 1e5], rel=1e-6)
    assert metric.compute() == pytest.approx((math.sqrt(8) + 8) / 2, rel=1e-6)


def test_per_sample_mean_without_a_cut_keeps_every_sample():
    metric = Perplexity("per_sample_mean", max_ppl=None)
    metric.update(LOGITS[:1], TARGETS[:1])
    metric.update(LOGITS[1:], TARGETS[1:])  # accumulates over batches
    assert metric.compute() == pytest.approx((math.sqrt(8) + 8 + 1e5) / 3, rel=1e-6)


def test_token_weighted_is_exp_of_the_mean_nll_over_all_tokens():
    # exp((ln 2 + ln 4 + ln 8 + ln 1e5) / 4) = (2 * 4 * 8 * 1e5) ** (1 / 4); max_ppl does not apply
    metric = Perplexity("token_weighted", max_ppl=1e4)
    metric.update(LOGITS, TARGETS)
    assert metric.compute() == pytest.approx((2 * 4 * 8 * 1e5) ** 0.25, rel=1e-6)


def test_empty_samples_count_in_neither_mode_and_no_sample_is_nan():
    for mode in ("per_sample_mean", "token_weighted"):
        metric = Perplexity(mode)
        metric.update(LOGITS[:1], torch.tensor([[-100, -100]]))
        assert math.isnan(metric.compute())
        metric.update(LOGITS[1:2], TARGETS[1:2])
        assert metric.compute() == pytest.approx(8.0, rel=1e-6)
    with pytest.raises(ValueError, match="mode must be"):
        Perplexity("mean")
