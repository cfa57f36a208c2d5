"""PPO loss terms and KL estimators. All take ``[B, T]`` tensors over response tokens and a ``[B, T]`` mask.

Losses are token means over the minibatch (masked), as in TRL and the dense-reward paper's code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from lit_critic_rl.ppo.masked import masked_mean


class _SelectedLogSoftmax(torch.autograd.Function):
    """``log_softmax(x)[token]`` whose backward builds the ``[B, T, V]`` gradient in ONE buffer.

    Autograd's version of ``gather(x) - logsumexp(x)`` allocates three vocabulary-sized tensors in the backward (the
    softmax, the gather's scattered zeros, and their sum); here ``grad = -g * softmax(x)`` is computed in place and
    ``g`` is added at the token. On a 135M model with a 49k vocabulary that is the largest transient of a PPO step.
    """

    @staticmethod
    def forward(ctx, logits: Tensor, tokens: Tensor) -> Tensor:
        lse = torch.logsumexp(logits, dim=-1)
        ctx.save_for_backward(logits, tokens, lse)
        return torch.gather(logits, -1, tokens.unsqueeze(-1)).squeeze(-1) - lse

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        logits, tokens, lse = ctx.saved_tensors
        grad = logits.sub(lse.unsqueeze(-1)).exp_()  # softmax
        grad.mul_(-grad_out.unsqueeze(-1))
        grad.scatter_add_(-1, tokens.unsqueeze(-1), grad_out.unsqueeze(-1))
        return grad, None


def token_logprobs(logits: Tensor, tokens: Tensor, temperature: float = 1.0) -> Tensor:
    """``log softmax(logits / temperature)`` at ``tokens``: ``[B, T, V], [B, T] -> [B, T]``.

    Uses one gather and a logsumexp, so no ``[B, T, V]`` log-prob tensor is materialised (nor, in the backward, more
    than one gradient buffer: :class:`_SelectedLogSoftmax`).
    """
    logits = logits.float()
    if temperature != 1.0:
        logits = logits / temperature
    if logits.requires_grad:
        return _SelectedLogSoftmax.apply(logits, tokens)
    picked = torch.gather(logits, -1, tokens.unsqueeze(-1)).squeeze(-1)
    return picked - torch.logsumexp(logits, dim=-1)


def entropy_from_logits(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """Entropy of ``softmax(logits / temperature)`` per position: ``[B, T, V] -> [B, T]``."""
    logits = logits.float() / temperature
    logp = torch.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(-1)


@torch.no_grad()
def entropy_diagnostic(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """:func:`entropy_from_logits` without grad, one sample at a time: its three vocabulary-sized temporaries are
    then one row each instead of the whole minibatch (the entropy is only logged unless ``entropy_coef > 0``)."""
    return torch.cat([entropy_from_logits(row, temperature) for row in logits.detach().split(1)])


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


def kl_penalized_rewards(score_rewards: Tensor, kl: Tensor, kl_coef: float, mask: Tensor) -> Tensor:
    """Per-token reward ``r_t = score_t - kl_coef * kl_t`` on response tokens, 0 on padding."""
    return (score_rewards - kl_coef * kl) * mask


@dataclass
class PolicyLossOutput:
    loss: Tensor
    clipfrac: Tensor
    approx_kl: Tensor
    """Mean of 0.5 * (log ratio)^2 between the current and the rollout policy (a drift diagnostic)."""


def clipped_policy_loss(
    logp: Tensor, old_logp: Tensor, advantages: Tensor, mask: Tensor, clip_range: float
) -> PolicyLossOutput:
    """PPO-clip: ``mean(max(-A * ratio, -A * clip(ratio, 1 - eps, 1 + eps)))`` with ``ratio = exp(logp - old_logp)``."""
    log_ratio = logp - old_logp
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
    clipfrac = masked_mean((clipped > unclipped).float(), mask)
    approx_kl = masked_mean(0.5 * log_ratio.detach() ** 2, mask)
    return PolicyLossOutput(loss, clipfrac.detach(), approx_kl)


def clipped_value_loss(
    values: Tensor, old_values: Tensor, returns: Tensor, mask: Tensor, clip_range: float
) -> tuple[Tensor, Tensor]:
    """``0.5 * mean(max((V - R)^2, (clip(V, V_old +- eps) - R)^2))``; returns ``(loss, clipfrac)``."""
    clipped_values = old_values + torch.clamp(values - old_values, -clip_range, clip_range)
    loss_unclipped = (values - returns) ** 2
    loss_clipped = (clipped_values - returns) ** 2
    loss = 0.5 * masked_mean(torch.maximum(loss_unclipped, loss_clipped), mask)
    clipfrac = masked_mean((loss_clipped > loss_unclipped).float(), mask)
    return loss, clipfrac.detach()
