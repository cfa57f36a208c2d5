"""The clipped policy-gradient loss the critic-free objectives share (GRPO, Dr. GRPO, DAPO, RLOO, REINFORCE++).

Per token, with ``ρ_t = π_θ(y_t) / π_old(y_t)`` against the policy that sampled the rollout:
``ℓ_t = max(-A_t ρ_t, -A_t clip(ρ_t, 1 - clip_low, 1 + clip_high))`` (DAPO's asymmetric clip; PPO's when the two are
equal), plus, when ``kl_coef > 0``, ``kl_coef * k3_t`` with ``k3_t = π_ref/π_θ - log(π_ref/π_θ) - 1`` (GRPO's KL in
the loss; DeepSeekMath). The per-token terms become one loss by a ``loss_aggregation``:

- ``token_mean``: ``Σ_{i,t} ℓ M / Σ_{i,t} M`` over the tokens of the whole optimizer step (DAPO's mean over the
  batch): the update loop counts the tokens of each accumulation group over every process
  (:meth:`ClippedPolicyGradient.token_counts`), and each minibatch adds its token sum over that count, as TRL's
  ``dapo`` loss divides by ``num_items_in_batch``;
- ``seq_mean_token_mean``: ``mean_i (Σ_t ℓ M / Σ_t M)``, each response weighs the same (GRPO as published);
- ``seq_mean_token_sum_norm``: ``mean_i (Σ_t ℓ M / C)`` with the constant ``C = max_new_tokens`` (Dr. GRPO: no bias
  towards short or long responses).

The two per-sequence aggregations are means over each minibatch's responses, averaged over the minibatches of an
accumulation group: with minibatches of equal size that is the mean over the group's responses, whatever their
lengths. So every aggregation takes the same step for minibatch 4 x accumulation 1 as for 2 x 2.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from lit_critic_rl.args import check
from lit_critic_rl.models.policy import PolicyValueModel
from lit_critic_rl.rl.kl import kl_estimate
from lit_critic_rl.rl.masked import as_minibatch_mean, masked_mean, masked_sum_over
from lit_critic_rl.rl.objective import Backward, Objective, PolicyPass
from lit_critic_rl.types import Advantages, Rollout

Aggregation = Literal["token_mean", "seq_mean_token_mean", "seq_mean_token_sum_norm"]
AGGREGATIONS = ("token_mean", "seq_mean_token_mean", "seq_mean_token_sum_norm")
FIELD = "model.objective.init_args."


def aggregate(
    x: Tensor, mask: Tensor, mode: Aggregation, normaliser: float = 1.0, tokens: Tensor | None = None
) -> Tensor:
    """One scalar from per-token ``x`` ``[b, T]`` (see the module docstring; ``normaliser`` is ``C``, ``tokens`` the
    token count of ``token_mean``, by default the mask's own)."""
    if mode == "token_mean":
        return masked_sum_over(x, mask, tokens)
    if mode == "seq_mean_token_mean":
        return masked_mean(x, mask, dim=1).mean()
    if mode == "seq_mean_token_sum_norm":
        return ((x * mask).sum(1) / normaliser).mean()
    raise ValueError(f"{FIELD}loss_aggregation must be one of {AGGREGATIONS}, got {mode!r}")


def clipped_surrogate(
    logp: Tensor, old_logp: Tensor, advantages: Tensor, clip_low: float, clip_high: float
) -> tuple[Tensor, Tensor]:
    """Per-token ``max(-A ρ, -A clip(ρ, 1 - clip_low, 1 + clip_high))`` ``[b, T]``, and where the clip was taken."""
    ratio = torch.exp(logp - old_logp)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high)
    return torch.maximum(unclipped, clipped), (clipped > unclipped).float()


class ClippedPolicyGradient(Objective):
    """Base of the critic-free objectives: no value function; subclasses compute the advantages."""

    needs_values = False

    def __init__(self, clip_low: float, clip_high: float | None, loss_aggregation: Aggregation, kl_coef: float) -> None:
        clip_high = clip_low if clip_high is None else clip_high
        check(0 < clip_low < 1, FIELD + "clip_low", "must be in (0, 1)", clip_low)
        check(clip_high > 0, FIELD + "clip_high", "must be > 0", clip_high)
        check(
            loss_aggregation in AGGREGATIONS,
            FIELD + "loss_aggregation",
            f"must be one of {AGGREGATIONS}",
            loss_aggregation,
        )
        check(kl_coef >= 0, FIELD + "kl_coef", "must be >= 0", kl_coef)
        self.clip_low, self.clip_high, self.loss_aggregation, self.kl_coef = (
            clip_low,
            clip_high,
            loss_aggregation,
            kl_coef,
        )

    @property
    def needs_reference(self) -> bool:
        """The k3 KL of the loss (``kl_coef`` > 0), or the reward's KL (REINFORCE++)."""
        return self.kl_coef > 0 or super().needs_reference

    @property
    def token_mean(self) -> bool:
        return self.loss_aggregation == "token_mean"

    def aggregate(self, x: Tensor, mask: Tensor, tokens: Tensor | None = None) -> Tensor:
        return aggregate(x, mask, self.loss_aggregation, float(self.context.max_new_tokens), tokens)

    def token_counts(self, rollout: Rollout, adv: Advantages, idx: Tensor) -> Tensor | None:
        """The response tokens of rows ``idx`` with ``token_mean``; None for the per-sequence aggregations."""
        return rollout.response_mask[idx].sum()[None] if self.token_mean else None

    def minibatch_loss(
        self,
        lm: PolicyValueModel,
        rollout: Rollout,
        adv: Advantages,
        idx: Tensor,
        policy: PolicyPass,
        backward: Backward,
    ) -> dict[str, Tensor]:
        mask, logp = rollout.response_mask[idx], policy.logprobs
        tokens = backward.tokens[0] if self.token_mean else None
        per_token, clipped = clipped_surrogate(
            logp, rollout.logprobs[idx], adv.advantages[idx], self.clip_low, self.clip_high
        )
        policy_loss = self.aggregate(per_token, mask, tokens)
        stats = {
            "policy_loss": as_minibatch_mean(policy_loss, tokens, mask.sum()),
            "clipfrac": masked_mean(clipped, mask),
            "approx_kl": masked_mean(0.5 * (logp.detach() - rollout.logprobs[idx]) ** 2, mask),
            "entropy": policy.mean_entropy(mask, self.context.temperature),
        }
        loss = policy_loss
        if self.kl_coef > 0:
            kl_loss = self.aggregate(kl_estimate(logp, rollout.ref_logprobs[idx], "k3"), mask, tokens)
            loss = loss + self.kl_coef * kl_loss
            stats["kl_loss"] = as_minibatch_mean(kl_loss, tokens, mask.sum())
        if self.token_mean:
            backward.part(loss)
        else:
            backward(loss)
        return stats
