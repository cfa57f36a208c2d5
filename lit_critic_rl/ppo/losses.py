"""PPO's loss terms: the clipped policy loss and the clipped value loss. Both take ``[B, T]`` tensors over response
tokens and a ``[B, T]`` mask; losses are token means: the masked sum over ``normaliser``, the token count of the
optimizer step's whole accumulation group (``Backward.tokens``; TRL's ``num_items_in_batch``), or by default the
mask's own count (a mean over the minibatch, which is the same when one minibatch makes the step).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from lit_critic_rl.rl.masked import masked_mean, masked_sum_over


@dataclass
class PolicyLossOutput:
    loss: Tensor
    clipfrac: Tensor
    approx_kl: Tensor
    """Mean of 0.5 * (log ratio)^2 between the current and the rollout policy (a drift diagnostic)."""


def clipped_policy_loss(
    logp: Tensor,
    old_logp: Tensor,
    advantages: Tensor,
    mask: Tensor,
    clip_range: float,
    normaliser: Tensor | None = None,
) -> PolicyLossOutput:
    """PPO-clip: ``Σ max(-A * ratio, -A * clip(ratio, 1 - eps, 1 + eps)) M / normaliser`` with
    ``ratio = exp(logp - old_logp)`` (default normaliser: ``Σ M``); the clip fraction and KL are minibatch means."""
    log_ratio = logp - old_logp
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range)
    loss = masked_sum_over(torch.maximum(unclipped, clipped), mask, normaliser)
    clipfrac = masked_mean((clipped > unclipped).float(), mask)
    approx_kl = masked_mean(0.5 * log_ratio.detach() ** 2, mask)
    return PolicyLossOutput(loss, clipfrac.detach(), approx_kl)


def clipped_value_loss(
    values: Tensor,
    old_values: Tensor,
    returns: Tensor,
    mask: Tensor,
    clip_range: float,
    normaliser: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """``0.5 * Σ max((V - R)^2, (clip(V, V_old +- eps) - R)^2) M / normaliser`` (default: ``Σ M``); returns
    ``(loss, clipfrac)``, the clip fraction a minibatch mean."""
    clipped_values = old_values + torch.clamp(values - old_values, -clip_range, clip_range)
    loss_unclipped = (values - returns) ** 2
    loss_clipped = (clipped_values - returns) ** 2
    loss = 0.5 * masked_sum_over(torch.maximum(loss_unclipped, loss_clipped), mask, normaliser)
    clipfrac = masked_mean((loss_clipped > loss_unclipped).float(), mask)
    return loss, clipfrac.detach()
