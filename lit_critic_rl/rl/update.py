"""Optimizer steps for an objective's update: the :class:`Stepper` protocol, a plain implementation over any
``torch.optim.Optimizer``, and gradient accumulation with a non-finite guard.

An objective computes losses and hands them to a stepper; it never touches the optimizer, the trainer or the
LightningModule. The PPO module builds an :class:`OptimizerStepper` whose ``backward`` and ``clip`` are Lightning's
``manual_backward`` and ``clip_gradients``; tests and plain-PyTorch loops use the defaults (``loss.backward()`` and
``clip_grad_norm_``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol

import torch
from torch import Tensor

from lit_critic_rl.rl.masked import Reduce, no_reduce


class Stepper(Protocol):
    """Backward, clip-and-step, and the count of updates skipped because a loss was not finite."""

    skipped_updates: int

    def backward(self, loss: Tensor) -> None:
        """Accumulate the gradients of ``loss``."""

    def step(self) -> None:
        """Clip the accumulated gradients, take an optimizer step and clear the gradients."""

    def skip(self) -> None:
        """Clear the accumulated gradients without a step, and count a skipped update."""


class OptimizerStepper:
    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        max_grad_norm: float = 0.0,
        backward: Callable[[Tensor], None] | None = None,
        clip: Callable[[float], None] | None = None,
        timer: Callable[[str], AbstractContextManager] | None = None,
    ) -> None:
        """
        Args:
            optimizer: The optimizer whose parameters the losses train.
            max_grad_norm: Clip the gradient norm to this before each step (0 = no clipping).
            backward: How to back-propagate a loss (default ``loss.backward()``).
            clip: How to clip to a norm (default: ``clip_grad_norm_`` over the optimizer's parameters).
            timer: ``timer(phase)`` context manager timing ``update_backward`` and ``update_optimizer``.
        """
        self.optimizer, self.max_grad_norm = optimizer, max_grad_norm
        self._backward = backward or (lambda loss: loss.backward())
        self._clip = clip or self._clip_norm
        self._timer = timer or (lambda phase: nullcontext())
        self.skipped_updates = 0

    def _clip_norm(self, max_norm: float) -> None:
        params = [p for group in self.optimizer.param_groups for p in group["params"] if p.grad is not None]
        torch.nn.utils.clip_grad_norm_(params, max_norm)

    def backward(self, loss: Tensor) -> None:
        with self._timer("update_backward"):
            self._backward(loss)

    def step(self) -> None:
        with self._timer("update_optimizer"):
            if self.max_grad_norm > 0:
                self._clip(self.max_grad_norm)
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def skip(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        self.skipped_updates += 1


class AccumulationGroups:
    """The gradients of a group of minibatches (``ppo.grad_accumulation`` of them; the update's last group may hold
    fewer), summed before one optimizer step. Objectives see it as their
    :class:`~lit_critic_rl.rl.objective.Backward`.

    A loss reaches the stepper in one of two ways. A mean loss (``groups(loss)``: a per-sequence aggregation) is
    divided by the minibatches the group holds, so the step is the mean of its minibatches' means. A part of a token
    mean over the whole group (``groups.part(loss)``: a token sum over :attr:`tokens`) goes in as it is, so the step
    is the token mean of the group's tokens, however they are split into minibatches. A non-finite loss poisons its
    group: the group's later backward passes are not run, and at the group's end the stepper skips instead of
    stepping (the gradients are discarded).
    """

    def __init__(self, stepper: Stepper) -> None:
        self.stepper = stepper
        self.minibatches, self.finite = 0, True
        self.tokens: Tensor | None = None
        """``[K]`` the current group's token-mean denominators (:func:`group_tokens`), or None."""

    def start(self, minibatches: int, tokens: Tensor | None = None) -> None:
        """Begin a group of ``minibatches`` minibatches whose token means divide by ``tokens``."""
        if minibatches < 1:
            raise ValueError(f"an accumulation group needs at least one minibatch, got {minibatches}")
        self.minibatches, self.tokens, self.finite = minibatches, tokens, True

    def __call__(self, loss: Tensor) -> None:
        self._backward(loss, loss / self.minibatches)

    def part(self, loss: Tensor) -> None:
        self._backward(loss, loss)

    def _backward(self, loss: Tensor, scaled: Tensor) -> None:
        if not torch.isfinite(loss):
            self.finite = False
        if self.finite:
            self.stepper.backward(scaled)

    def end(self) -> None:
        """Step on the group's summed gradients, or skip them if a loss was not finite."""
        if self.finite:
            self.stepper.step()
        else:
            self.stepper.skip()
        self.minibatches, self.tokens, self.finite = 0, None, True


def group_tokens(counts: list[Tensor], reduce: Reduce = no_reduce) -> Tensor:
    """``[K]`` the denominators of token means over one accumulation group, from each minibatch's ``[K]`` counts
    (:meth:`~lit_critic_rl.rl.objective.Objective.token_counts`): their sum over the group's minibatches and every
    process (at least 1), divided by the processes. The strategy averages the processes' gradients, so each process
    divides its token sum by its share ``N / P`` and the average is the token mean over all ``N`` tokens; in one
    process it is ``N`` itself. One collective per group (the counts and the process count together).
    """
    local = torch.stack(counts).sum(0)
    summed = reduce(torch.cat([local, torch.ones_like(local[:1])]))
    return summed[:-1].clamp_min(1.0) / summed[-1]


def accumulation_groups(minibatches: Iterable[Tensor], size: int) -> Iterator[list[Tensor]]:
    """Consecutive groups of ``size`` minibatches (the last may hold fewer); each is drawn when it starts, so a later
    epoch's shuffle is drawn no earlier than its first group needs it."""
    if size < 1:
        raise ValueError(f"ppo.grad_accumulation must be >= 1, got {size}")
    iterator = iter(minibatches)
    while group := list(itertools.islice(iterator, size)):
        yield group


class MeanStats:
    """Per-minibatch statistics summed as they come; :meth:`means` averages them over the minibatches added."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0

    def add(self, stats: dict[str, Tensor | float]) -> None:
        for name, value in stats.items():
            self.sums[name] = self.sums.get(name, 0.0) + float(value)
        self.count += 1

    def means(self) -> dict[str, float]:
        return {k: v / max(self.count, 1) for k, v in self.sums.items()}


def minibatches(order: Tensor, size: int) -> Iterator[Tensor]:
    """Consecutive slices of ``order`` of ``size`` indices (the last may be shorter)."""
    for start in range(0, len(order), size):
        yield order[start : start + size]
