"""The one update loop every objective shares: ``ppo.epochs`` passes over shuffled minibatches of the rollout,
``ppo.grad_accumulation`` minibatches per optimizer step, and the policy forward of each minibatch.

The objective only writes each minibatch's loss (:meth:`~lit_critic_rl.rl.objective.Objective.minibatch_loss`);
the loop never reads what the loss is. What it does count, before each optimizer step, is the tokens of the step's
accumulation group (:meth:`~lit_critic_rl.rl.objective.Objective.token_counts`, summed over every process), so that
a token-mean loss is a mean over the step's tokens, not over each minibatch's (see ``docs/design.md``).

Fused first forward: when one minibatch holds the whole rollout and LoRA dropout is 0, the first minibatch's forward
runs before any optimizer step, so it IS the rollout policy's teacher-forced pass. :meth:`UpdateLoop.first_forward`
runs it (with grad) on epoch 0's shuffled order, and returns the rollout with its detached log-probs (and
shared-trunk values) filled plus the live output; :meth:`UpdateLoop.run` then takes its first loss from that output.
One forward fewer per iteration, with the same numbers as the unfused path.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from lit_critic_rl.args import PPOArgs
from lit_critic_rl.models.policy import ForwardOutput, PolicyValueModel
from lit_critic_rl.rl.logprobs import token_logprobs
from lit_critic_rl.rl.objective import Objective, PolicyPass
from lit_critic_rl.rl.update import (
    AccumulationGroups,
    MeanStats,
    Stepper,
    accumulation_groups,
    group_tokens,
    minibatches,
)
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
        groups = AccumulationGroups(stepper)
        mean = MeanStats()
        for group in accumulation_groups(self._minibatches(len(rollout), first), self.ppo.grad_accumulation):
            groups.start(len(group), self._group_tokens(objective, rollout, adv, group))
            for idx in group:
                if first is not None:
                    policy, first = first.policy, None
                else:
                    policy = self.forward(objective, lm, rollout, idx)
                mean.add(objective.minibatch_loss(lm, rollout, adv, idx, policy, groups))
            groups.end()
        return mean.means()

    def _minibatches(self, n: int, first: FirstForward | None) -> Iterator[Tensor]:
        """Every epoch's minibatches in turn, each epoch shuffled when it begins (epoch 0: the fused forward's)."""
        for epoch in range(self.ppo.epochs):
            order = first.order if first is not None and epoch == 0 else torch.randperm(n)
            yield from minibatches(order, self.ppo.minibatch_size)

    @staticmethod
    def _group_tokens(objective: Objective, rollout: Rollout, adv: Advantages, group: list[Tensor]) -> Tensor | None:
        counts = [objective.token_counts(rollout, adv, idx) for idx in group]
        if counts[0] is None:
            return None
        return group_tokens(counts, objective.context.reduce)
