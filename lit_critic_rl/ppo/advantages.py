"""GAE and the advantage stage of an iteration: KL-penalised token rewards -> GAE -> whitened advantages.

Shapes: ``B`` samples, ``T`` response tokens; masked positions (padding after EOS) get 0 advantage. Whitening uses
statistics reduced over every process of the run (``reduce``; the identity in one process).
"""

from __future__ import annotations

import torch
from torch import Tensor

from lit_critic_rl.rl.kl import kl_penalized_rewards
from lit_critic_rl.rl.masked import Reduce, masked_whiten, no_reduce
from lit_critic_rl.types import Advantages, Rollout, TokenRewards


def gae(rewards: Tensor, values: Tensor, mask: Tensor, gamma: float, lam: float) -> tuple[Tensor, Tensor]:
    """Generalized advantage estimation over response tokens.

    ``delta_t = r_t + gamma * V_{t+1} - V_t`` and ``A_t = delta_t + gamma * lam * A_{t+1}``, where ``V`` and ``A``
    after the last real token are 0 (the episode ends there). Returns ``(advantages, returns)`` with
    ``returns = advantages + values``; both ``[B, T]`` and 0 on masked positions.
    """
    rewards, values = rewards * mask, values * mask
    T = rewards.shape[1]
    advantages = torch.zeros_like(rewards)
    next_value = torch.zeros_like(rewards[:, 0])
    next_adv = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(T)):
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        next_adv = (delta + gamma * lam * next_adv) * mask[:, t]
        advantages[:, t] = next_adv
        next_value = values[:, t]
    returns = (advantages + values) * mask
    return advantages, returns


def compute_advantages(
    rollout: Rollout,
    rewards: TokenRewards,
    kl: Tensor | None,
    kl_coef: float,
    gamma: float,
    lam: float,
    whiten: bool = True,
    reduce: Reduce = no_reduce,
) -> Advantages:
    """The advantage stage: KL-penalised token rewards ``r_t = total_t - kl_coef * KL_t``, then GAE over the
    rollout's values, then (``whiten``) whitening with statistics reduced over all processes.

    ``kl`` is the per-token KL ``[B, T]`` to the reference (None, with ``kl_coef`` 0, when no reference pass ran);
    needs ``rollout.values``.
    """
    mask = rollout.response_mask
    penalised = kl_penalized_rewards(rewards.total.to(mask.device), kl, kl_coef, mask)
    advantages, returns = gae(penalised, rollout.values, mask, gamma, lam)
    if whiten:
        advantages = masked_whiten(advantages, mask, reduce=reduce)
    return Advantages(kl, advantages, returns, penalised)


def mean_sequence_kl(kl: Tensor, reduce: Reduce = no_reduce) -> float:
    """Mean over the samples of every process of each sample's summed token KL (what the KL controller tracks)."""
    per_sample = kl.sum(1)
    return float(reduce(per_sample.sum()) / reduce(torch.tensor(float(len(per_sample)))))
