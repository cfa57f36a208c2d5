"""Token rewards through a group baseline: the outcome and the critic's token rewards, each with its own baseline.

Shapes: ``B`` samples, ``T`` response tokens, ``M`` ``[B, T]`` response mask, ``group`` ``[B]``.

- **Outcome.** ``R_i`` = the extrinsic score (``TokenRewards.extrinsic`` summed over the response) gets the
  objective's group baseline (GRPO's mean and std, Dr. GRPO's mean, RLOO's leave-one-out mean) and the advantage
  ``A^out_i`` is broadcast to every token of the response.
- **Process** (``dense: per_token``). The critic's token rewards ``r_{i,t}`` (``TokenRewards.intrinsic``) give a
  discounted return-to-go ``G_{i,t} = Σ_{s >= t} γ^{s-t} r_{i,s}``; its baseline ``b_{i,t}`` is the mean of
  ``G_{j,t}`` over the OTHER members ``j`` of the group that reach position ``t`` (a member that ended before ``t`` is
  missing, not a zero; no other member there: ``b = 0``). ``A_{i,t} = A^out_i + process_weight * (G_{i,t} - b_{i,t})``.
- ``dense: collapsed`` is the naive ablation the frameworks ship: ``R'_i = R_i + process_weight * Σ_t r_{i,t}`` before
  the group baseline, so a token is credited with the whole sequence's sum (docs/design.md says why per-token is the
  default, and why this baseline rather than PRIME's).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

from lit_critic_rl.rl.groups import leave_one_out_token_mean
from lit_critic_rl.types import TokenRewards

Dense = Literal["per_token", "collapsed"]
OutcomeBaseline = Callable[[Tensor, Tensor], Tensor]
"""``(R [B], group [B]) -> A^out [B]``: the objective's group baseline of a sequence-level reward."""


def discounted_returns(rewards: Tensor, mask: Tensor, gamma: float = 1.0) -> Tensor:
    """``[B, T]`` ``G_t = r_t + γ G_{t+1}`` over each row's response tokens (0 after the last real token)."""
    rewards = rewards * mask
    returns = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.shape[1])):
        running = (rewards[:, t] + gamma * running) * mask[:, t]
        returns[:, t] = running
    return returns


def process_advantages(intrinsic: Tensor, mask: Tensor, group: Tensor, gamma: float = 1.0) -> Tensor:
    """``[B, T]`` ``G_{i,t} - b_{i,t}``: the critic's discounted return-to-go minus the leave-one-out mean of the
    group's returns at the same position (0 on padding)."""
    returns = discounted_returns(intrinsic, mask, gamma)
    return (returns - leave_one_out_token_mean(returns, mask, group)) * mask


def group_token_advantages(
    rewards: TokenRewards,
    mask: Tensor,
    group: Tensor,
    outcome_baseline: OutcomeBaseline,
    dense: Dense = "per_token",
    process_weight: float = 1.0,
    gamma: float = 1.0,
) -> Tensor:
    """``[B, T]`` advantages of the outcome and the critic's token rewards (see the module docstring)."""
    extrinsic, intrinsic = rewards.extrinsic.to(mask.device) * mask, rewards.intrinsic.to(mask.device) * mask
    outcome = extrinsic.sum(1)
    if dense == "collapsed":
        return outcome_baseline(outcome + process_weight * intrinsic.sum(1), group)[:, None] * mask
    if dense != "per_token":
        raise ValueError(f"model.objective.init_args.dense must be 'per_token' or 'collapsed', got {dense!r}")
    advantages = outcome_baseline(outcome, group)[:, None] * mask
    if process_weight and bool(intrinsic.any()):
        advantages = advantages + process_weight * process_advantages(intrinsic, mask, group, gamma)
    return advantages
