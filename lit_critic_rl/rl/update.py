"""Optimizer steps for an objective's update: the :class:`Stepper` protocol, a plain implementation over any
``torch.optim.Optimizer``, and gradient accumulation with a non-finite guard.

An objective computes losses and hands them to a stepper; it never touches the optimizer, the trainer or the
LightningModule. The PPO module builds an :class:`OptimizerStepper` whose ``backward`` and ``clip`` are Lightning's
``manual_backward`` and ``clip_gradients``; tests and plain-PyTorch loops use the defaults (``loss.backward()`` and
``clip_grad_norm_``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol

import torch
from torch import Tensor


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
    """Groups of ``size`` minibatches whose gradients are summed before one step.

    Each loss is divided by the number of minibatches in its group: ``size``, except in a last, partial group of the
    ``total`` minibatches, whose losses are divided by the minibatches it holds (``total`` mod ``size``), so that its
    step is a mean like any other, as a last partial minibatch's is (without ``total``, always ``size``). A non-finite
    loss poisons its group: the group's later backward passes are not run, and at the group's end the stepper skips
    instead of stepping (the gradients are discarded).
    """

    def __init__(self, stepper: Stepper, size: int, total: int | None = None) -> None:
        if size < 1:
            raise ValueError(f"ppo.grad_accumulation must be >= 1, got {size}")
        self.stepper, self.size, self.total = stepper, size, total
        self.finite, self.in_group, self.ended = True, 0, 0

    def group_size(self) -> int:
        """Minibatches in the current group."""
        if self.total is None:
            return self.size
        return max(1, min(self.size, self.total - (self.ended - self.in_group)))

    def backward(self, loss: Tensor) -> None:
        if not torch.isfinite(loss):
            self.finite = False
        if self.finite:
            self.stepper.backward(loss / self.group_size())

    def end_minibatch(self) -> None:
        self.in_group += 1
        self.ended += 1
        if self.in_group == self.size:
            self.end_group()

    def end_group(self) -> None:
        if self.in_group == 0:
            return
        if self.finite:
            self.stepper.step()
        else:
            self.stepper.skip()
        self.finite, self.in_group = True, 0


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
