"""Per-token KL estimators between the rollout policy and the reference, and the KL-penalised token reward."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from lit_critic_rl.types import Rollout


def kl_estimate(logp: Tensor, ref_logp: Tensor, estimator: Literal["k1", "k3"] = "k1") -> Tensor:
    """Per-token estimate of KL(pi || pi_ref) from samples of pi.

    k1 = log pi - log pi_ref (unbiased, can be negative); k3 = (r - 1) - log r with r = pi_ref / pi
    (unbiased, always >= 0; Schulman 2020).
    """
    log_ratio = logp - ref_logp
    if estimator == "k1":
        return log_ratio
    if estimator == "k3":
        return torch.expm1(-log_ratio) + log_ratio
    raise ValueError(f"kl_estimator must be 'k1' or 'k3', got '{estimator}'")


def kl_penalized_rewards(score_rewards: Tensor, kl: Tensor | None, kl_coef: float, mask: Tensor) -> Tensor:
    """Per-token reward ``r_t = score_t - kl_coef * kl_t`` on response tokens, 0 on padding. ``kl`` None (no
    reference pass) is only allowed with ``kl_coef`` 0, and then ``r_t = score_t``."""
    if kl is None:
        if kl_coef != 0:
            raise ValueError(
                f"kl_penalized_rewards: a KL penalty of beta {kl_coef} but no KL (the rollout has no reference "
                "log-probs: the run found model.ppo's beta fixed at 0 at its start; a checkpoint of another beta?)"
            )
        return score_rewards * mask
    return (score_rewards - kl_coef * kl) * mask


def rollout_kl(rollout: Rollout, estimator: Literal["k1", "k3"] = "k1") -> Tensor | None:
    """``[B, T]`` per-token KL of the rollout policy to the reference (0 on padding): what the KL controller tracks,
    the reward penalty of PPO-style objectives and a logged diagnostic of the others. None when the rollout has no
    reference log-probs (nothing needed them: ``Objective.needs_reference`` and ``model.ppo.log_kl`` are false)."""
    if rollout.ref_logprobs is None:
        return None
    return kl_estimate(rollout.logprobs, rollout.ref_logprobs, estimator) * rollout.response_mask
