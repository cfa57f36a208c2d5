"""Groups of samples that answer the same prompt, as data: ``Rollout.group`` holds one id per sample.

Sampling repeats each prompt ``samples_per_prompt`` times (:func:`repeat_prompts`); replayed samples are grouped by
identical prompt text (:func:`group_ids`). Ids are local to a process: every rank samples the groups of its own slice
of the global batch of prompts, so a group never spans ranks and group statistics need no collective.

Shapes: ``B`` samples, ``T`` response tokens, ``group`` ``[B]`` long. Every statistic of a member is taken over its
own group.
"""

from __future__ import annotations

import torch
from torch import Tensor


def repeat_prompts(prompts: list[str], k: int) -> tuple[list[str], Tensor]:
    """Each prompt ``k`` times in a row, and the ``[B * k]`` group id of each copy (its prompt's index)."""
    repeated = [p for p in prompts for _ in range(k)]
    return repeated, torch.arange(len(prompts)).repeat_interleave(k)


def group_ids(prompts: list[str]) -> Tensor:
    """``[B]`` ids numbering the distinct prompts in order of first appearance: identical prompts share an id."""
    first: dict[str, int] = {}
    return torch.tensor([first.setdefault(p, len(first)) for p in prompts], dtype=torch.long)


def _members(group: Tensor) -> Tensor:
    """``[B, G]`` float one-hot of each sample's group (``G`` = the number of distinct ids)."""
    _, dense = torch.unique(group, return_inverse=True)
    return torch.nn.functional.one_hot(dense, int(dense.max()) + 1).float()


def group_sizes(group: Tensor) -> Tensor:
    """``[B]`` the size of each sample's group."""
    onehot = _members(group)
    return onehot @ onehot.sum(0)


def group_mean(x: Tensor, group: Tensor) -> Tensor:
    """``[B]`` the mean of ``x`` ``[B]`` over each sample's group (itself included)."""
    onehot = _members(group).to(x)
    return onehot @ (onehot.T @ x) / (onehot @ onehot.sum(0))


def group_std(x: Tensor, group: Tensor) -> Tensor:
    """``[B]`` the Bessel-corrected standard deviation of ``x`` over each sample's group; 0 for a group of one."""
    onehot = _members(group).to(x)
    n = onehot @ onehot.sum(0)
    squares = onehot @ (onehot.T @ (x - group_mean(x, group)) ** 2)
    return torch.where(n > 1, squares / (n - 1).clamp_min(1), torch.zeros_like(x)).sqrt()


def leave_one_out_mean(x: Tensor, group: Tensor) -> Tensor:
    """``[B]`` the mean of ``x`` over the OTHER members of each sample's group (RLOO's baseline); 0 for a group of
    one."""
    onehot = _members(group).to(x)
    n = onehot @ onehot.sum(0)
    others = onehot @ (onehot.T @ x) - x
    return torch.where(n > 1, others / (n - 1).clamp_min(1), torch.zeros_like(x))


def leave_one_out_token_mean(x: Tensor, mask: Tensor, group: Tensor) -> Tensor:
    """``[B, T]``: at each position ``t``, the mean of ``x[j, t]`` over the other members ``j`` of sample ``i``'s group
    that reach position ``t`` (``mask[j, t] = 1``). A member that ended before ``t`` is missing there, not a zero;
    where no other member reaches ``t`` the baseline is 0. Masked positions of ``i`` itself come back as 0."""
    onehot = _members(group).to(x)
    x = x * mask
    sums = onehot @ (onehot.T @ x) - x
    counts = onehot @ (onehot.T @ mask) - mask
    return torch.where(counts > 0, sums / counts.clamp_min(1), torch.zeros_like(x)) * mask
