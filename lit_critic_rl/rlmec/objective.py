"""RLMEC's token-level objective on the update seam (``model.ppo.objective: rlmec``).

For each minibatch: ``L = L_RL + imitation_coef * L_IR`` (Chen et al. 2024), with

- ``L_RL = -Σ_t sg[min(ρ_t r_t, clip(ρ_t, 1 - ε, 1 + ε) r_t)] log π_θ(y_t) / #{r_t != 0}``, with
  ``ρ_t = π_θ(y_t) / π_ref(y_t)`` and ``ε = ppo.rlmec_clip_range``
  (:func:`~lit_critic_rl.rlmec.losses.rlmec_policy_loss`);
- ``L_IR``: the weighted cross-entropy of the rewrite, when the rollout carries rewrite targets (``Rollout.target_ids``,
  ``target_mask``, ``imitation_weights``; :func:`~lit_critic_rl.rlmec.losses.imitation_loss`).

There is no value function, no GAE and no KL reward: the token rewards of the reward stage are the per-token
weights as they are, and the KL to the reference is only logged. Where this departs from the paper's full method,
for now: the token rewards are whatever the reward stage assembles (a critic's token values plus the extrinsic score
on the last token), not yet the GRM's clipped ``p_t - 0.5``, and no stage fills the rewrite targets yet, so
``L_IR`` is skipped (``train/imitation_tokens`` is 0) until one does. This lets the two objectives be compared on
identical rewards.
"""

from __future__ import annotations

import torch

from lit_critic_rl.args import PPOArgs
from lit_critic_rl.models.policy import PolicyValueModel
from lit_critic_rl.ppo.objective import FirstForward, Objective
from lit_critic_rl.rl.kl import kl_estimate
from lit_critic_rl.rl.logprobs import entropy_diagnostic, token_logprobs
from lit_critic_rl.rl.masked import Reduce, masked_mean, no_reduce
from lit_critic_rl.rl.update import AccumulationGroups, MeanStats, Stepper, minibatches
from lit_critic_rl.rlmec.losses import imitation_loss, rlmec_policy_loss
from lit_critic_rl.types import Advantages, Rollout, TokenRewards


class RLMECObjective(Objective):
    needs_values = False
    needs_reference = True
    needs_targets = True

    def __init__(self, ppo: PPOArgs, temperature: float = 1.0, lora_dropout: float = 0.0) -> None:
        self.ppo, self.temperature, self.lora_dropout = ppo, temperature, lora_dropout

    def advantages(
        self, rollout: Rollout, rewards: TokenRewards, kl_coef: float, reduce: Reduce = no_reduce
    ) -> Advantages:
        """The token rewards as they are (no KL penalty, no GAE); the KL is computed for logging only."""
        mask = rollout.response_mask
        kl = kl_estimate(rollout.logprobs, rollout.ref_logprobs, self.ppo.kl_estimator) * mask
        token_rewards = rewards.total.to(mask.device) * mask
        return Advantages(kl, token_rewards, torch.zeros_like(token_rewards), token_rewards)

    def update(
        self, lm: PolicyValueModel, stepper: Stepper, rollout: Rollout, adv: Advantages, first: FirstForward | None
    ) -> dict[str, float]:
        args = self.ppo
        B, T = rollout.response_ids.shape
        groups = AccumulationGroups(stepper, args.grad_accumulation)
        mean = MeanStats()
        has_targets = rollout.target_ids is not None
        for _ in range(args.epochs):
            for idx in minibatches(torch.randperm(B), args.minibatch_size):
                mask = rollout.response_mask[idx]
                out = lm.policy_forward(rollout.input_ids[idx], rollout.attention_mask[idx], T)
                logp = token_logprobs(out.logits, rollout.response_ids[idx], self.temperature)
                rl = rlmec_policy_loss(
                    logp, rollout.ref_logprobs[idx], adv.advantages[idx], mask, args.rlmec_clip_range
                )
                entropy = masked_mean(entropy_diagnostic(out.logits, self.temperature), mask)
                del out
                imitation, n_imitated = torch.zeros(()), torch.zeros(())
                if has_targets:
                    imitation, n_imitated = self._imitation(lm, rollout, idx)
                groups.backward(rl.loss + args.imitation_coef * imitation)
                stats = {
                    "policy_loss": rl.loss.detach(),
                    "imitation_loss": imitation.detach(),
                    "clipfrac": rl.clipfrac,
                    "rewarded_tokens": rl.rewarded,
                    "imitation_tokens": n_imitated,
                    "entropy": entropy,
                }
                mean.add(stats)
                groups.end_minibatch()
        groups.end_group()
        return mean.means()

    def _imitation(
        self, lm: PolicyValueModel, rollout: Rollout, idx: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Weighted cross-entropy of the rewrites of ``idx`` under the policy, and the count of weighted tokens."""
        targets, target_mask = rollout.target_ids[idx], rollout.target_mask[idx]
        weights = rollout.imitation_weights[idx]
        ids = torch.cat([rollout.query_ids[idx], targets], dim=1)
        attn = torch.cat([rollout.query_mask[idx], target_mask.to(rollout.query_mask.dtype)], dim=1)
        out = lm.policy_forward(ids, attn, targets.shape[1])
        loss = imitation_loss(out.logits, targets, weights, target_mask)
        return loss, ((weights * target_mask) != 0).sum().float()
