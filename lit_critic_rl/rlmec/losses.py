"""RLMEC's token rewards and losses (Chen et al. 2024), as pure functions of ``[B, T]`` tensors over response tokens.

- :func:`grm_token_rewards`: the generative reward model's probability of each token of the policy's solution,
  turned into a reward clipped to a small negative band (wrong answers) or a positive band (right answers).
- :func:`rlmec_policy_loss`: a reward-weighted log-likelihood, with a PPO-style clipped ratio inside a detached weight.
- :func:`imitation_loss`: weighted cross-entropy on the minimum-edit rewrite, edited tokens weighted more.

There is no value function, no GAE and no KL reward in this objective; the full loss is
``rlmec_policy_loss + λ · imitation_loss`` with λ = 1 in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from lit_critic_rl.rl.logprobs import token_logprobs


def grm_token_rewards(
    p: Tensor,
    correct: Tensor,
    mask: Tensor | None = None,
    wrong_clip: tuple[float, float] = (-0.1, 0.0),
    right_clip: tuple[float, float] = (0.0, 0.5),
    offset: float = 0.5,
) -> Tensor:
    """Token rewards from the GRM's probabilities of the solution's own tokens.

    ``r_t = clip(p_t - offset, *wrong_clip)`` in rows whose final answer is wrong and ``clip(p_t - offset,
    *right_clip)`` in rows whose answer is right; 0 where ``mask`` is 0.

    Args:
        p: ``[B, T]`` probability the GRM gives each token of the solution, teacher-forced under its rewrite prompt.
        correct: ``[B]`` bool, whether the row's final answer is right.
        mask: ``[B, T]`` 1 on real solution tokens, 0 on padding (default: all real).
        wrong_clip: ``(low, high)`` band for wrong rows (the paper: -0.1, 0).
        right_clip: ``(low, high)`` band for right rows (the paper: 0, 0.5).
        offset: Subtracted from ``p`` before clipping (the paper: 0.5).

    Returns:
        ``[B, T]`` float rewards.
    """
    shifted = p.float() - offset
    wrong = shifted.clamp(*wrong_clip)
    right = shifted.clamp(*right_clip)
    rewards = torch.where(correct.bool().unsqueeze(-1), right, wrong)
    return rewards if mask is None else rewards * mask


@dataclass
class RLMECPolicyLoss:
    loss: Tensor
    clipfrac: Tensor
    """Share of rewarded tokens where the clipped term is the active one and differs from the unclipped one, i.e.
    where the clip changed the weight (``clip(ρ) r < ρ r``; detached)."""
    rewarded: Tensor
    """#{t: r_t != 0} over the masked tokens: the loss's denominator (detached)."""
    ratio_mean: Tensor
    """Mean of ρ_t over the masked tokens (detached): 1 on a fresh round's first pass, when ρ is an importance
    weight against the sampler."""


def rlmec_policy_loss(
    logp: Tensor,
    ref_logp: Tensor,
    rewards: Tensor,
    mask: Tensor,
    eps: float = 0.3,
    normaliser: Tensor | None = None,
) -> RLMECPolicyLoss:
    """RLMEC's policy loss: ``-Σ_t w_t · logp_t / #{t: r_t != 0}`` over masked tokens, with

    ``ρ_t = exp(logp_t - ref_logp_t)`` and ``w_t = stopgrad(min(ρ_t · r_t, clip(ρ_t, 1 - eps, 1 + eps) · r_t))``.

    Because ``w_t`` is detached, the gradient is ``-w_t / #{r != 0}`` on every rewarded token, including those whose
    ratio left the trust region: the clip changes the weight, it does not zero the gradient as PPO-clip does. What
    it changes depends on the sign of the reward:

    - ``r > 0``: ``w = r · min(ρ, clip(ρ))``, capped at ``(1 + ε) r`` when ``ρ > 1 + ε``, and ``ρ r`` (unclipped,
      smaller) when ``ρ < 1 - ε``;
    - ``r < 0``: ``w = r · max(ρ, clip(ρ))``, so ``ρ r`` wins when ``ρ > 1 + ε`` and the weight's size grows with ρ
      without bound, while ``ρ < 1 - ε`` is raised to ``(1 - ε) |r|`` in size. The clip bounds nothing here.

    So ρ must be an importance weight, against the policy that sampled the tokens (:mod:`lit_critic_rl.rlmec.ratio`),
    not a ratio to a fixed initial model that drifts with every update. This is the paper's objective, kept as
    published. With no rewarded token the loss is 0.

    Args:
        logp: ``[B, T]`` log-probs of the solution's tokens under the policy being trained (with grad).
        ref_logp: ``[B, T]`` log-probs under the policy that sampled the tokens (the paper's π_ref: the model
            that sampled its one offline round), from the same temperature as ``logp``.
        rewards: ``[B, T]`` token rewards, e.g. from :func:`grm_token_rewards`.
        mask: ``[B, T]`` 1 on real solution tokens, 0 on padding.
        eps: Clip range of the ratio (the paper: 0.3).
        normaliser: The count of rewarded tokens the sum is divided by: the optimizer step's whole accumulation
            group's (``Backward.tokens``), by default these rows' own ``#{r != 0}``.
    """
    mask = mask.to(logp.dtype)
    with torch.no_grad():
        ratio = torch.exp(logp - ref_logp)
        unclipped = ratio * rewards
        clipped = ratio.clamp(1.0 - eps, 1.0 + eps) * rewards
        weights = torch.minimum(unclipped, clipped) * mask
        nonzero = (rewards != 0).to(logp.dtype) * mask
        rewarded = nonzero.sum()
        clipfrac = ((clipped < unclipped).to(logp.dtype) * nonzero).sum() / rewarded.clamp_min(1.0)
        ratio_mean = (ratio * mask).sum() / mask.sum().clamp_min(1.0)
    loss = -(weights * logp).sum() / (rewarded.clamp_min(1.0) if normaliser is None else normaliser)
    return RLMECPolicyLoss(loss, clipfrac, rewarded, ratio_mean)


def imitation_loss(
    logits_or_logp: Tensor,
    targets: Tensor,
    weights: Tensor,
    mask: Tensor | None = None,
    normaliser: Tensor | None = None,
) -> Tensor:
    """Weighted cross-entropy on the rewrite: ``Σ_t w_t · CE_t / #{t: w_t != 0}`` over masked tokens (0 if none);
    ``normaliser`` replaces the count (the accumulation group's, ``Backward.tokens``).

    Args:
        logits_or_logp: ``[B, T, V]`` logits whose position t predicts ``targets[:, t]`` (already shifted), or
            ``[B, T]`` log-probs of the targets.
        targets: ``[B, T]`` token ids of the rewrite ŷ (ignored when log-probs are given).
        weights: ``[B, T]`` imitation weights (:func:`~lit_critic_rl.rlmec.alignment.imitation_weight_rows`).
        mask: ``[B, T]`` 1 on real rewrite tokens (default: where ``weights`` is non-zero).
    """
    if logits_or_logp.dim() == 3:
        logp = token_logprobs(logits_or_logp, targets)
    elif logits_or_logp.dim() == 2:
        logp = logits_or_logp
    else:
        raise ValueError(
            f"imitation_loss takes [B, T, V] logits or [B, T] log-probs, got shape {tuple(logits_or_logp.shape)}"
        )
    weights = weights.to(logp.dtype) if mask is None else weights.to(logp.dtype) * mask.to(logp.dtype)
    counted = (weights != 0).to(logp.dtype).sum().clamp_min(1.0) if normaliser is None else normaliser
    return -(weights * logp).sum() / counted
