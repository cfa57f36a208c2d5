"""RLMEC's token-level objective on the update seam (``model.objective: lit_critic_rl.objectives.RLMECObjective``).

For each minibatch: ``L = L_RL + imitation_coef * L_IR`` (Chen et al. 2024), both token means over the optimizer
step's whole accumulation group, every process's (:meth:`RLMECObjective.token_counts`; the logged losses are
per-minibatch means), with

- ``L_RL = -Σ_t sg[min(ρ_t r_t, clip(ρ_t, 1 - ε, 1 + ε) r_t)] log π_θ(y_t) / #{r_t != 0}``, with
  ``ρ_t = π_θ(y_t) / π_sampler(y_t)`` and ``ε = clip_range``
  (:func:`~lit_critic_rl.rlmec.losses.rlmec_policy_loss`). The paper's π_ref is the model that sampled its one
  offline round, so the denominator is the log-probs of the policy that sampled the round being trained on
  (``Rollout.sampler_logprobs``: a fresh round's own, a replayed round's saved ones; :mod:`lit_critic_rl.rlmec.ratio`),
  never the adapters-off base, whose ratio drifts with every update in online training; ``train/ratio_mean``
  logs the mean ρ;
- one temperature for L_RL, ρ and L_IR (``logprob_temperature``): the raw logits by default, as the reference code;
- ``L_IR``: the weighted cross-entropy of the rewrite, when the rollout carries rewrite targets (``Rollout.target_ids``,
  ``target_mask``, ``imitation_weights``; :func:`~lit_critic_rl.rlmec.losses.imitation_loss`). The rewrite stage
  fills them (:mod:`lit_critic_rl.rlmec.imitation`): the GRM's rewrites by default (``imitation_target: grm``, the
  paper), or the teacher's; without either, ``L_IR`` is skipped (``train/imitation_tokens`` is 0).

There is no value function, no GAE and no KL reward: the token rewards of the reward stage are the per-token
weights as they are, and nothing reads the reference, so its pass is skipped and no ``train/kl`` is logged
(``model.ppo.log_kl: true`` logs it). The token rewards are whatever the reward stage
assembles: with ``model.critic: MinEditGRM`` the GRM's clipped ``p_t - 0.5`` on every token and the EOS, plus
``shaping.extrinsic_weight`` times the score on the last token (0 in the paper's offline preset). The same rewards
can feed PPO, so the two objectives can be compared on identical rewards.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lit_critic_rl.args import check
from lit_critic_rl.models.policy import PolicyValueModel
from lit_critic_rl.rl.masked import as_minibatch_mean
from lit_critic_rl.rl.objective import Backward, Objective, PolicyPass
from lit_critic_rl.rlmec.grm_rewriter import ImitationTarget
from lit_critic_rl.rlmec.losses import imitation_loss, rlmec_policy_loss
from lit_critic_rl.rlmec.ratio import LogprobTemperature, logprob_temperature
from lit_critic_rl.types import Advantages, Rollout, TokenRewards

FIELD = "model.objective.init_args."


class RLMECObjective(Objective):
    needs_values = False
    needs_targets = True
    off_policy = True

    def __init__(
        self,
        clip_range: float = 0.3,
        imitation_coef: float = 1.0,
        logprob_temperature: LogprobTemperature = "raw",
        imitation_target: ImitationTarget = "grm",
    ) -> None:
        """
        Args:
            clip_range: Clip range epsilon of the ratio to the sampler (the paper: 0.3).
            imitation_coef: Weight lambda of the imitation loss on rewrites (the paper: 1.0).
            logprob_temperature: Where L_RL, the ratio and L_IR read their log-probs, all three alike: ``raw``
                logits (T = 1, as the reference code) or logits divided by the ``sampling`` temperature
                (``model.generation.temperature``), a departure.
            imitation_target: Whose rewrites L_IR imitates: the ``grm``'s own rewrite of each sample (the paper;
                needs ``model.critic: MinEditGRM``) or the ``teacher``'s (``model.rewriter``, or the rewrites saved
                in a replay file), a departure (:mod:`lit_critic_rl.rlmec.imitation`).
        """
        check(clip_range > 0, FIELD + "clip_range", "must be > 0", clip_range)
        check(imitation_coef >= 0, FIELD + "imitation_coef", "must be >= 0", imitation_coef)
        choices = ("raw", "sampling")
        check(
            logprob_temperature in choices,
            FIELD + "logprob_temperature",
            "must be 'raw' or 'sampling'",
            logprob_temperature,
        )
        self.clip_range, self.imitation_coef = clip_range, imitation_coef
        check(
            imitation_target in ("grm", "teacher"),
            FIELD + "imitation_target",
            "must be 'grm' or 'teacher'",
            imitation_target,
        )
        self.logprob_temperature, self.imitation_target = logprob_temperature, imitation_target

    @property
    def loss_temperature(self) -> float:
        return logprob_temperature(self.logprob_temperature, self.context.temperature)

    def advantages(self, rollout: Rollout, rewards: TokenRewards, kl: Tensor | None, kl_coef: float) -> Advantages:
        """The token rewards as they are (no KL penalty, no GAE); the KL (None without a reference pass) is kept for
        logging only."""
        mask = rollout.response_mask
        token_rewards = rewards.total.to(mask.device) * mask
        return Advantages(kl, token_rewards, None, token_rewards)

    def token_counts(self, rollout: Rollout, adv: Advantages, idx: Tensor) -> Tensor:
        """``[#{r_t != 0}, #{w_t != 0}]`` of rows ``idx``: the denominators of L_RL and L_IR, which are token means
        over the accumulation group's rewarded and weighted rewrite tokens."""
        rewarded = ((adv.advantages[idx] != 0).float() * rollout.response_mask[idx]).sum()
        if rollout.target_ids is None:
            return torch.stack([rewarded, torch.zeros_like(rewarded)])
        weighted = ((rollout.imitation_weights[idx] * rollout.target_mask[idx]) != 0).sum().float()
        return torch.stack([rewarded, weighted.to(rewarded.device)])

    def minibatch_loss(
        self,
        lm: PolicyValueModel,
        rollout: Rollout,
        adv: Advantages,
        idx: Tensor,
        policy: PolicyPass,
        backward: Backward,
    ) -> dict[str, Tensor]:
        mask, tokens = rollout.response_mask[idx], backward.tokens
        if rollout.sampler_logprobs is None:
            raise ValueError("RLMECObjective: the rollout has no sampler_logprobs (the ratio's denominator)")
        sampler = rollout.sampler_logprobs[idx]
        rl = rlmec_policy_loss(policy.logprobs, sampler, adv.advantages[idx], mask, self.clip_range, tokens[0])
        entropy = policy.mean_entropy(mask, self.loss_temperature)
        imitation, n_imitated = torch.zeros(()), torch.zeros(())
        if rollout.target_ids is not None:
            imitation, n_imitated = self._imitation(lm, rollout, idx, tokens[1])
        backward.part(rl.loss + self.imitation_coef * imitation)
        return {
            "policy_loss": as_minibatch_mean(rl.loss, tokens[0], rl.rewarded),
            "imitation_loss": as_minibatch_mean(imitation, tokens[1], n_imitated),
            "clipfrac": rl.clipfrac,
            "ratio_mean": rl.ratio_mean,
            "rewarded_tokens": rl.rewarded,
            "imitation_tokens": n_imitated,
            "entropy": entropy,
        }

    def _imitation(
        self, lm: PolicyValueModel, rollout: Rollout, idx: torch.Tensor, normaliser: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Weighted cross-entropy of the rewrites of ``idx`` under the policy (its sum over ``normaliser``), and the
        count of weighted tokens."""
        targets, target_mask = rollout.target_ids[idx], rollout.target_mask[idx]
        weights = rollout.imitation_weights[idx]
        ids = torch.cat([rollout.query_ids[idx], targets], dim=1)
        attn = torch.cat([rollout.query_mask[idx], target_mask.to(rollout.query_mask.dtype)], dim=1)
        out = lm.policy_forward(ids, attn, targets.shape[1])
        temperature = self.loss_temperature  # the same as L_RL's and the ratio's
        logits = out.logits if temperature == 1.0 else out.logits / temperature
        loss = imitation_loss(logits, targets, weights, target_mask, normaliser)
        return loss, ((weights * target_mask) != 0).sum().float()
