"""Perplexity of responses under a scoring LM, conditioned on their prompts, in one of two definitions:

- ``per_sample_mean`` (the dense-reward paper's evaluation scripts): each sample's perplexity is
  exp(mean negative log-likelihood of its response tokens); the metric is the mean of those perplexities over the
  samples, leaving out every sample whose perplexity is above ``max_ppl`` (1e4 in the paper), so that a few
  degenerate samples do not dominate the mean.
- ``token_weighted`` (torchmetrics' ``Perplexity``): exp(sum of the negative log-likelihoods of all response tokens
  of all samples / their count). Long samples weigh more, and no sample is left out (``max_ppl`` is not used).

Samples with no response token (EOS first) have no perplexity and count in neither.
"""

from __future__ import annotations

import math
from typing import Literal

import torch


def token_nll(logits: torch.Tensor, targets: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """Negative log-likelihood of each target token.

    Args:
        logits: ``[B, T, V]`` scores of the token at each position.
        targets: ``[B, T]`` token ids; ``ignore_index`` marks positions that are not response tokens.

    Returns:
        ``[B, T]`` float32 NLL, 0 at ignored positions.
    """
    nll = torch.nn.functional.cross_entropy(
        logits.float().transpose(1, 2), targets, ignore_index=ignore_index, reduction="none"
    )
    return nll.masked_fill(targets == ignore_index, 0.0)


class Perplexity:
    """Accumulates per-token NLLs over batches (``update``) and returns one perplexity (``compute``); NaN when no
    sample counted (all empty, or every per-sample perplexity above ``max_ppl``)."""

    def __init__(
        self, mode: Literal["per_sample_mean", "token_weighted"] = "per_sample_mean", max_ppl: float | None = 1e4
    ) -> None:
        """
        Args:
            mode: 'per_sample_mean' (the paper's) or 'token_weighted', as defined in the module docstring.
            max_ppl: In 'per_sample_mean', samples with a perplexity above this are left out (None keeps all).
        """
        if mode not in ("per_sample_mean", "token_weighted"):
            raise ValueError(f"Perplexity mode must be 'per_sample_mean' or 'token_weighted', got {mode!r}")
        self.mode, self.max_ppl = mode, max_ppl
        self.reset()

    def reset(self) -> None:
        self.nll_sums: list[float] = []
        self.counts: list[int] = []

    def update_nll(self, nll: torch.Tensor, mask: torch.Tensor) -> None:
        """Add samples given their ``[B, T]`` token NLLs and ``[B, T]`` mask of response tokens (1 = counted)."""
        mask = mask.to(nll.dtype)
        self.nll_sums += (nll * mask).sum(1).tolist()
        self.counts += [int(c) for c in mask.sum(1).tolist()]

    def update(self, logits: torch.Tensor, targets: torch.Tensor, ignore_index: int = -100) -> None:
        """Add samples given ``[B, T, V]`` logits and ``[B, T]`` targets with ``ignore_index`` off the response."""
        self.update_nll(token_nll(logits, targets, ignore_index), targets != ignore_index)

    def per_sample(self) -> list[float]:
        """Perplexity of every sample with at least one response token, in update order."""
        return [math.exp(s / c) for s, c in zip(self.nll_sums, self.counts) if c > 0]

    def compute(self) -> float:
        if self.mode == "token_weighted":
            total = sum(self.counts)
            return math.exp(sum(self.nll_sums) / total) if total else math.nan
        kept = [p for p in self.per_sample() if self.max_ppl is None or p <= self.max_ppl]
        return sum(kept) / len(kept) if kept else math.nan
