"""Masked statistics over response tokens, optionally over every process of a run.

Shapes: ``B`` samples, ``T`` response tokens. ``mask`` is 1.0 on real response tokens (up to and including EOS) and
0.0 on padding after it; masked positions never contribute to a statistic.

Batch statistics take a ``reduce`` function: the sum of a tensor over every process of a run. In one process it is
the identity (:func:`no_reduce`); multi-process training passes an all-reduce, so each rank uses the global value.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

Reduce = Callable[[Tensor], Tensor]
"""Sum of a tensor over all processes of a run (elementwise); the identity in one process."""


def no_reduce(x: Tensor) -> Tensor:
    """The :data:`Reduce` of a single process."""
    return x


def masked_mean(x: Tensor, mask: Tensor, dim: int | None = None) -> Tensor:
    """Mean of ``x`` over positions where ``mask`` is 1 (all of them, or along ``dim``); 0 where none are."""
    if dim is None:
        return (x * mask).sum() / mask.sum().clamp_min(1.0)
    return (x * mask).sum(dim) / mask.sum(dim).clamp_min(1.0)


def masked_sum_over(x: Tensor, mask: Tensor, normaliser: Tensor | None = None) -> Tensor:
    """``Σ x M / normaliser``: a token mean over ``normaliser`` tokens (an accumulation group's, which may hold more
    than ``mask``); the default, ``Σ M`` (at least 1), makes it :func:`masked_mean`."""
    if normaliser is None:
        return masked_mean(x, mask)
    return (x * mask).sum() / normaliser


def as_minibatch_mean(loss: Tensor, normaliser: Tensor | None, count: Tensor) -> Tensor:
    """A loss that divided a sum by ``normaliser`` as the mean over the minibatch's own ``count`` (at least 1),
    detached, for the log; ``loss`` itself, bit for bit, when the two are equal (one minibatch per step)."""
    if normaliser is None:
        return loss.detach()
    return loss.detach() * (normaliser / count.clamp_min(1.0))


def global_masked_mean(x: Tensor, mask: Tensor, reduce: Reduce = no_reduce) -> Tensor:
    """:func:`masked_mean` over the masked entries of every process: ``reduce(sum) / reduce(count)``."""
    return reduce((x * mask).sum()) / reduce(mask.sum()).clamp_min(1.0)


def masked_var(x: Tensor, mask: Tensor, unbiased: bool = True, reduce: Reduce = no_reduce) -> Tensor:
    """Variance of the masked entries of ``x`` over every process (two passes: the mean, then the squared
    deviations); Bessel-corrected when ``unbiased`` and more than one entry."""
    mean = global_masked_mean(x, mask, reduce)
    var = global_masked_mean((x - mean) ** 2, mask, reduce)
    n = reduce(mask.sum())
    if unbiased and n > 1:
        var = var * n / (n - 1)
    return var


def masked_whiten(
    x: Tensor, mask: Tensor, shift_mean: bool = True, eps: float = 1e-8, reduce: Reduce = no_reduce
) -> Tensor:
    """``(x - mean) / sqrt(var + eps)`` with the mean and variance of the masked entries of every process;
    masked-out entries come back as 0."""
    mean, var = global_masked_mean(x, mask, reduce), masked_var(x, mask, reduce=reduce)
    whitened = (x - mean) * torch.rsqrt(var + eps)
    if not shift_mean:
        whitened = whitened + mean
    return whitened * mask
