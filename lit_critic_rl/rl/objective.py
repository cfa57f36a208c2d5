"""The objective seam: what an update optimises and what it needs from the rollout.

An :class:`Objective` is a component (``model.objective: {class_path, init_args}``) that owns its own settings as
constructor arguments. The run's facts it cannot know from YAML (sampling temperature, LoRA dropout, samples per
prompt, the sum over processes) arrive once, through :meth:`Objective.connect`, as a :class:`RunContext`.

An objective declares which rollout fields it needs (``needs_values``, ``needs_reference``, ``needs_targets``), turns
token rewards into what its loss reads (:meth:`Objective.advantages`) and writes the loss of one minibatch
(:meth:`Objective.minibatch_loss`). The epochs, minibatches, gradient accumulation and policy forwards are the one
update loop every objective shares (:class:`lit_critic_rl.rl.loop.UpdateLoop`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Protocol

from torch import Tensor

from lit_critic_rl.models.policy import ForwardOutput, PolicyValueModel
from lit_critic_rl.rl.logprobs import entropy_diagnostic, entropy_from_logits
from lit_critic_rl.rl.masked import Reduce, masked_mean, no_reduce
from lit_critic_rl.types import Advantages, Rollout, TokenRewards


class Backward(Protocol):
    """The update loop's accumulation group (the minibatches of one optimizer step), as a minibatch loss sees it."""

    tokens: Tensor | None
    """``[K]`` the denominators of token means over the whole group: each of the objective's
    :meth:`Objective.token_counts`, summed over the group's minibatches and every process, divided by the processes
    (:func:`~lit_critic_rl.rl.update.group_tokens`); None when the objective counts none."""

    def __call__(self, loss: Tensor) -> None:
        """Accumulate the gradients of a minibatch's mean loss (divided by the minibatches in the group)."""

    def part(self, loss: Tensor) -> None:
        """Accumulate the gradients of a loss that is already this minibatch's part of the group's (a token sum over
        ``tokens``), as it is."""


@dataclass(frozen=True)
class RunContext:
    """Facts of the run an objective reads but does not own (set by the module, once)."""

    temperature: float = 1.0
    """Sampling temperature (``model.generation.temperature``); the log-probs of the loss use the same."""
    lora_dropout: float = 0.0
    """LoRA dropout of the adapters (``model.adapter.dropout``), active in the update only."""
    samples_per_prompt: int = 1
    """Responses sampled per prompt (``model.generation.samples_per_prompt``): the size of a fresh group."""
    max_new_tokens: int = 16
    """Longest response (``model.generation.max_new_tokens``), the constant normaliser of Dr. GRPO's loss."""
    kl_penalty: bool = True
    """The module's KL controller (``model.ppo``) reads the KL: adaptive, or a fixed ``kl_coef`` > 0
    (:attr:`~lit_critic_rl.ppo.kl_control.FixedKLController.reads_kl`). An objective with the KL in its reward
    (:attr:`Objective.kl_in_reward`) then needs the reference."""
    reduce: Reduce = no_reduce
    """Sum of a tensor over every process of the run (the identity in one process)."""


@dataclass
class PolicyPass:
    """The policy forward of one minibatch, as the update loop hands it to the objective."""

    output: ForwardOutput
    """The live forward output: logits (None from the chunked LM head) and, in shared-trunk mode, values."""
    logprobs: Tensor
    """``[b, T]`` log-probs of the sampled ids, with grad."""
    entropy: Tensor | None = None
    """``[b, T]`` detached entropies when the chunked LM head computed the log-probs (no logits kept)."""

    def token_entropy(self, temperature: float, with_grad: bool = False) -> Tensor:
        """``[b, T]`` entropies of the policy: with grad (an entropy bonus) or as a cheap no-grad diagnostic."""
        if self.entropy is not None:
            return self.entropy
        if with_grad:
            return entropy_from_logits(self.output.logits, temperature)
        return entropy_diagnostic(self.output.logits, temperature)

    def mean_entropy(self, mask: Tensor, temperature: float, with_grad: bool = False) -> Tensor:
        """Masked mean of :meth:`token_entropy` over the minibatch's tokens."""
        return masked_mean(self.token_entropy(temperature, with_grad), mask)


class Objective(ABC):
    needs_values: bool = False
    """The loss reads ``rollout.values`` (a value function)."""
    kl_in_reward: bool = False
    """The advantages subtract the KL controller's penalty ``kl_coef * KL_t`` from the token rewards (PPO,
    REINFORCE++); the others get the KL for the log only."""
    needs_targets: bool = False
    """The loss reads rewritten targets (imitation)."""
    off_policy: bool = False
    """The loss may train on samples of an older policy (saved rollouts, iterated data rounds)."""
    context: RunContext = RunContext()
    """The run's facts, from :meth:`connect` (defaults: one process, temperature 1, no dropout)."""

    def connect(self, context: RunContext) -> None:
        """Receive the run's facts; objectives that cannot work with them raise a ``ValueError`` naming the field."""
        self.context = context

    @property
    def needs_reference(self) -> bool:
        """The loss or its advantages read ``rollout.ref_logprobs``, as this objective's settings and the run's
        facts (:meth:`connect`) say: the KL in the reward while the KL controller reads it (``kl_in_reward`` and
        ``context.kl_penalty``); subclasses add a KL of their own loss. False: the module skips the reference pass and
        logs no ``train/kl`` (unless ``model.ppo.log_kl``), as TRL's GRPOTrainer does at ``beta`` 0."""
        return self.kl_in_reward and self.context.kl_penalty

    @property
    def loss_temperature(self) -> float:
        """The temperature of every log-prob the loss reads (the teacher-forced passes and the update's forwards):
        the sampling temperature by default; an objective may name another (RLMEC: the raw logits)."""
        return self.context.temperature

    @property
    def needs_logit_graph(self) -> bool:
        """The loss differentiates through the full logits (an entropy bonus), so the chunked LM head cannot serve."""
        return False

    @classmethod
    def class_path(cls) -> str:
        return f"{cls.__module__}.{cls.__qualname__}"

    def settings(self) -> dict[str, object]:
        """The constructor arguments, for the checkpoint's hyperparameters."""
        plain = (bool, int, float, str, type(None))
        return {k: v for k, v in vars(self).items() if k != "context" and isinstance(v, plain)}

    @abstractmethod
    def advantages(self, rollout: Rollout, rewards: TokenRewards, kl: Tensor | None, kl_coef: float) -> Advantages:
        """What the update trains on, from the rollout, its token rewards and the per-token KL ``[B, T]`` to the
        reference (``kl_coef``: the KL controller's current coefficient); ``kl`` is None when no reference pass ran
        (:attr:`needs_reference` false), and goes into ``Advantages.kl`` as it is."""

    def token_counts(self, rollout: Rollout, adv: Advantages, idx: Tensor) -> Tensor | None:
        """``[K]`` the token counts the loss of rows ``idx`` takes its token means over (one per denominator), or
        None for a loss without token means (the default: per-sequence means). The update loop sums them over each
        accumulation group and every process, and ``minibatch_loss`` divides its token sums by that
        (``backward.tokens``) and back-propagates them with ``backward.part``: a token mean over all the tokens of
        an optimizer step, however they are split into minibatches and processes."""
        return None

    @abstractmethod
    def minibatch_loss(
        self,
        lm: PolicyValueModel,
        rollout: Rollout,
        adv: Advantages,
        idx: Tensor,
        policy: PolicyPass,
        backward: Backward,
    ) -> dict[str, Tensor]:
        """Back-propagate the loss of rows ``idx`` (through ``backward``, once or more) and return its statistics
        (per-minibatch means, averaged over the minibatches for the log)."""
