"""The objective seam: what an update optimises, and what it needs from the rollout.

An :class:`Objective` declares which rollout fields it needs (``needs_values``, ``needs_reference``,
``needs_targets``), turns token rewards into what its loss reads (:meth:`Objective.advantages`), and runs its update
through a :class:`~lit_critic_rl.rl.update.Stepper`. ``model.ppo.objective`` selects one by name
(``lit_critic_rl.objectives.OBJECTIVES``). :class:`PPOObjective` is the clipped PPO policy loss plus the clipped value
loss, ``ppo.epochs`` passes over shuffled minibatches.

Fused first forward (PPO): when one minibatch holds the whole rollout and LoRA dropout is 0, the first minibatch's
forward runs before any optimizer step, so it IS the rollout policy's teacher-forced pass. :meth:`first_forward` runs
it (with grad) on epoch 0's shuffled order, and returns the rollout with its detached log-probs (and shared-trunk
values) filled plus the live output; :meth:`update` then takes its first loss from that output. One forward fewer
per iteration, with the same numbers as the unfused path.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from lit_critic_rl.args import PPOArgs
from lit_critic_rl.models.policy import ForwardOutput, PolicyValueModel
from lit_critic_rl.ppo.advantages import compute_advantages
from lit_critic_rl.ppo.losses import clipped_policy_loss, clipped_value_loss
from lit_critic_rl.rl.logprobs import entropy_diagnostic, entropy_from_logits, token_logprobs
from lit_critic_rl.rl.masked import Reduce, masked_mean, no_reduce
from lit_critic_rl.rl.update import AccumulationGroups, MeanStats, Stepper, minibatches
from lit_critic_rl.types import Advantages, Rollout, TokenRewards


@dataclass
class FirstForward:
    """The fused path's first minibatch: the whole rollout in epoch 0's order, forwarded with grad."""

    order: Tensor
    """``[B]`` epoch 0's permutation of the rollout."""
    output: ForwardOutput
    """The forward's live output (logits and, in shared-trunk mode, values), rows in ``order``."""
    logprobs: Tensor
    """``[B, T]`` log-probs of the sampled ids with grad, rows in ``order``."""
    entropy: Tensor | None = None
    """``[B, T]`` detached entropies when the log-probs came from the chunked LM head (no logits kept)."""


class Objective(ABC):
    needs_values: bool = False
    """The update reads ``rollout.values`` (a value function)."""
    needs_reference: bool = True
    """The update or its advantages read ``rollout.ref_logprobs``."""
    needs_targets: bool = False
    """The update reads rewritten targets (imitation)."""

    def fuses_first_forward(self, n_samples: int) -> bool:
        """Whether the rollout's policy log-probs come from the update's first forward (see the module docstring)."""
        return False

    def first_forward(self, lm: PolicyValueModel, rollout: Rollout) -> tuple[Rollout, FirstForward]:
        raise NotImplementedError(f"{type(self).__name__} has no fused first forward")

    @abstractmethod
    def advantages(self, rollout: Rollout, rewards: TokenRewards, kl_coef: float, reduce: Reduce) -> Advantages:
        """What the update trains on, computed from the rollout and its token rewards."""

    @abstractmethod
    def update(
        self, lm: PolicyValueModel, stepper: Stepper, rollout: Rollout, adv: Advantages, first: FirstForward | None
    ) -> dict[str, float]:
        """Run the optimisation on one rollout; returns mean statistics to log."""


class PPOObjective(Objective):
    needs_values = True

    def __init__(self, ppo: PPOArgs, temperature: float = 1.0, lora_dropout: float = 0.0) -> None:
        self.ppo, self.temperature, self.lora_dropout = ppo, temperature, lora_dropout

    def fuses_first_forward(self, n_samples: int) -> bool:
        ppo = self.ppo
        return ppo.fuse_first_forward and ppo.minibatch_size >= n_samples and self.lora_dropout == 0

    def first_forward(self, lm: PolicyValueModel, rollout: Rollout) -> tuple[Rollout, FirstForward]:
        B, T = rollout.response_ids.shape
        if self.ppo.minibatch_size < B:
            raise ValueError(f"fused first forward needs ppo.minibatch_size ({self.ppo.minibatch_size}) >= {B}")
        order = torch.randperm(B)
        out, logp, entropy = self._policy(lm, rollout, order)
        inverse = torch.argsort(order)
        filled = {"logprobs": logp.detach()[inverse] * rollout.response_mask}
        if out.values is not None:
            filled["values"] = out.values.detach()[inverse].float() * rollout.response_mask
        return replace(rollout, **filled), FirstForward(order, out, logp, entropy)

    def advantages(
        self, rollout: Rollout, rewards: TokenRewards, kl_coef: float, reduce: Reduce = no_reduce
    ) -> Advantages:
        return compute_advantages(rollout, rewards, kl_coef, self.ppo, reduce)

    def update(
        self, lm: PolicyValueModel, stepper: Stepper, rollout: Rollout, adv: Advantages, first: FirstForward | None
    ) -> dict[str, float]:
        """``ppo.epochs`` passes over shuffled minibatches. With a separate value adapter the policy and value losses
        are back-propagated one after the other, each with its own adapter active (PEFT freezes inactive adapters,
        so one backward through both graphs would drop a gradient)."""
        args = self.ppo
        B, T = rollout.response_ids.shape
        groups = AccumulationGroups(stepper, args.grad_accumulation)
        mean = MeanStats()
        for epoch in range(args.epochs):
            order = first.order if first is not None and epoch == 0 else torch.randperm(B)
            for idx in minibatches(order, args.minibatch_size):
                mask = rollout.response_mask[idx]
                if first is not None:
                    out, logp, entropy, first = first.output, first.logprobs, first.entropy, None
                else:
                    out, logp, entropy = self._policy(lm, rollout, idx)
                stats = self._minibatch_losses(lm, groups, out, logp, entropy, rollout, adv, idx, mask)
                mean.add(stats)
                groups.end_minibatch()
        groups.end_group()
        return mean.means()

    def _policy(
        self, lm: PolicyValueModel, rollout: Rollout, idx: Tensor
    ) -> tuple[ForwardOutput, Tensor, Tensor | None]:
        """The policy forward of rows ``idx``: its output, the log-probs of the sampled ids (with grad) and, from the
        chunked LM head (``ppo.logprob_chunk_size``; not with an entropy bonus, which needs the logits' graph), the
        detached entropies instead of logits."""
        ids, attn, targets = rollout.input_ids[idx], rollout.attention_mask[idx], rollout.response_ids[idx]
        chunk = self.ppo.logprob_chunk_size
        if chunk and self.ppo.entropy_coef == 0 and lm.chunked_logprobs_supported():
            logp, entropy, values = lm.policy_logprobs(ids, attn, targets, self.temperature, chunk)
            return ForwardOutput(None, values), logp, entropy
        out = lm.policy_forward(ids, attn, rollout.response_len)
        return out, token_logprobs(out.logits, targets, self.temperature), None

    def _minibatch_losses(
        self,
        lm: PolicyValueModel,
        groups: AccumulationGroups,
        out: ForwardOutput,
        logp: Tensor,
        token_entropy: Tensor | None,
        rollout: Rollout,
        adv: Advantages,
        idx: Tensor,
        mask: Tensor,
    ) -> dict[str, Tensor]:
        args = self.ppo
        pg = clipped_policy_loss(logp, rollout.logprobs[idx], adv.advantages[idx], mask, args.clip_range)
        if token_entropy is not None:
            entropy = masked_mean(token_entropy, mask)
        elif args.entropy_coef > 0:
            entropy = masked_mean(entropy_from_logits(out.logits, self.temperature), mask)
        else:
            entropy = masked_mean(entropy_diagnostic(out.logits, self.temperature), mask)
        policy_loss = pg.loss - args.entropy_coef * entropy
        old_values, returns = rollout.values[idx], adv.returns[idx]
        if out.values is None:
            groups.backward(policy_loss)
            values = lm.value_forward(rollout.input_ids[idx], rollout.attention_mask[idx], rollout.response_len)
            value_loss, vf_clipfrac = clipped_value_loss(values, old_values, returns, mask, args.value_clip_range)
            groups.backward(args.value_coef * value_loss)
        else:
            value_loss, vf_clipfrac = clipped_value_loss(out.values, old_values, returns, mask, args.value_clip_range)
            groups.backward(policy_loss + args.value_coef * value_loss)
        return {
            "policy_loss": pg.loss.detach(),
            "value_loss": value_loss.detach(),
            "clipfrac": pg.clipfrac,
            "value_clipfrac": vf_clipfrac,
            "approx_kl": pg.approx_kl,
            "entropy": entropy.detach(),
        }
