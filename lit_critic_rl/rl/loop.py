"""The one update loop every objective shares: ``ppo.epochs`` passes over shuffled minibatches of the rollout,
``ppo.grad_accumulation`` minibatches per optimizer step, and the policy forward of each minibatch.

The objective only writes each minibatch's loss (:meth:`~lit_critic_rl.rl.objective.Objective.minibatch_loss`);
the loop never reads what the loss is.

Fused first forward: when one minibatch holds the whole rollout and LoRA dropout is 0, the first minibatch's forward
runs before any optimizer step, so it IS the rollout policy's teacher-forced pass. :meth:`UpdateLoop.first_forward`
runs it (with grad) on epoch 0's shuffled order, and returns the rollout with its detached log-probs (and
shared-trunk values) filled plus the live output; :meth:`UpdateLoop.run` then takes its first loss from that output.
One forward fewer per iteration, with the same numbers as the unfused path.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor

from lit_critic_rl.args import PPOArgs
from lit_critic_rl.models.policy import ForwardOutput, PolicyValueModel
from lit_critic_rl.rl.logprobs import token_logprobs
from lit_critic_rl.rl.objective import Objective, PolicyPass
from lit_critic_rl.rl.update import AccumulationGroups, MeanStats, Stepper, minibatches
from lit_critic_rl.types import Advantages, Rollout


@dataclass
class FirstForward:
    """The fused path's first minibatch: the whole rollout in epoch 0's order, forwarded with grad."""

    order: Tensor
    """``[B]`` epoch 0's permutation of the rollout."""
    policy: PolicyPass
    """The forward's live output and log-probs, rows in ``order``."""


class UpdateLoop:
    def __init__(self, ppo: PPOArgs) -> None:
        """``ppo``: epochs, minibatch size, accumulation, the LM-head chunk and whether to fuse the first forward."""
        self.ppo = ppo

    def fuses(self, objective: Objective, n_samples: int) -> bool:
        """Whether the rollout's policy log-probs come from the update's first forward (see the module docstring)."""
        ppo = self.ppo
        return ppo.fuse_first_forward and ppo.minibatch_size >= n_samples and objective.context.lora_dropout == 0

    def forward(self, objective: Objective, lm: PolicyValueModel, rollout: Rollout, idx: Tensor) -> PolicyPass:
        """The policy forward of rows ``idx``: the log-probs of the sampled ids (with grad) and, from the chunked LM
        head (``ppo.logprob_chunk_size``; not when the loss needs the logits' graph), detached entropies instead of
        logits."""
        ids, attn, targets = rollout.input_ids[idx], rollout.attention_mask[idx], rollout.response_ids[idx]
        chunk, temperature = self.ppo.logprob_chunk_size, objective.loss_temperature
        if chunk and not objective.needs_logit_graph and lm.chunked_logprobs_supported():
            logp, entropy, values = lm.policy_logprobs(ids, attn, targets, temperature, chunk)
            return PolicyPass(ForwardOutput(None, values), logp, entropy)
        out = lm.policy_forward(ids, attn, rollout.response_len)
        return PolicyPass(out, token_logprobs(out.logits, targets, temperature))

    def first_forward(
        self, objective: Objective, lm: PolicyValueModel, rollout: Rollout
    ) -> tuple[Rollout, FirstForward]:
        B = len(rollout)
        if self.ppo.minibatch_size < B:
            raise ValueError(f"fused first forward needs model.ppo.minibatch_size ({self.ppo.minibatch_size}) >= {B}")
        order = torch.randperm(B)
        policy = self.forward(objective, lm, rollout, order)
        inverse = torch.argsort(order)
        filled = {"logprobs": policy.logprobs.detach()[inverse] * rollout.response_mask}
        values = policy.output.values
        if values is not None and objective.needs_values:
            filled["values"] = values.detach()[inverse].float() * rollout.response_mask
        return replace(rollout, **filled), FirstForward(order, policy)

    def run(
        self,
        objective: Objective,
        lm: PolicyValueModel,
        stepper: Stepper,
        rollout: Rollout,
        adv: Advantages,
        first: FirstForward | None = None,
    ) -> dict[str, float]:
        """Optimise ``objective`` on one rollout; returns the mean over minibatches of its statistics."""
        args = self.ppo
        per_epoch = -(-len(rollout) // args.minibatch_size)  # ceil: the last minibatch may be shorter
        groups = AccumulationGroups(stepper, args.grad_accumulation, args.epochs * per_epoch)
        mean = MeanStats()
        for epoch in range(args.epochs):
            order = first.order if first is not None and epoch == 0 else torch.randperm(len(rollout))
            for idx in minibatches(order, args.minibatch_size):
                if first is not None:
                    policy, first = first.policy, None
                else:
                    policy = self.forward(objective, lm, rollout, idx)
                mean.add(objective.minibatch_loss(lm, rollout, adv, idx, policy, groups.backward))
                groups.end_minibatch()
        groups.end_group()
        return mean.means()
