"""What the PPO module needs from ``torch.distributed`` when a run has several processes (Lightning's ``ddp``,
``fsdp`` and ``deepspeed`` strategies), and nothing when it has one.

- :class:`AllReduceSum` is the module's ``reduce`` hook (``lit_critic_rl.rl.masked.Reduce``): the elementwise sum of
  a tensor over every rank, so whitening, reward scaling and the KL controller see the statistics of the global batch.
- :func:`global_means` averages a dict of per-rank scalars over the ranks in one collective (logged metrics);
  :func:`global_max` takes the largest of one scalar.
- :func:`gather_objects` collects a picklable object from every rank (samples for the rank-0 samples file, RNG states
  for the checkpoint).
- :func:`rank_share` splits an integer budget (critic requests, tokens) into per-rank shares that sum to the budget.
"""

from __future__ import annotations

import torch
from torch import Tensor


def initialized() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def world_size() -> int:
    return torch.distributed.get_world_size() if initialized() else 1


def rank() -> int:
    return torch.distributed.get_rank() if initialized() else 0


class AllReduceSum:
    """Sum of a tensor over all ranks; the result is a new tensor on the input's device (no grad).

    ``device`` is where the collective runs (CUDA for NCCL, CPU for gloo); inputs are moved there and back.
    """

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)

    def __call__(self, x: Tensor) -> Tensor:
        if not initialized():
            return x
        summed = x.detach().to(self.device, copy=True)
        torch.distributed.all_reduce(summed, op=torch.distributed.ReduceOp.SUM)
        return summed.to(x.device)


def global_means(values: dict[str, float], reduce: AllReduceSum | None) -> dict[str, float]:
    """Each value averaged over the ranks (one all-reduce for the whole dict); unchanged in one process."""
    if reduce is None or not initialized() or not values:
        return dict(values)
    keys = sorted(values)
    summed = reduce(torch.tensor([float(values[k]) for k in keys], dtype=torch.float64))
    n = world_size()
    return {k: float(v) / n for k, v in zip(keys, summed.tolist())}


def global_max(value: float) -> float:
    """The largest of every rank's ``value``; ``value`` in one process."""
    return max(float(v) for v in gather_objects(value))


def gather_objects(obj: object) -> list[object]:
    """``[obj of rank 0, obj of rank 1, ...]`` on every rank; ``[obj]`` in one process."""
    if not initialized():
        return [obj]
    out: list[object] = [None] * world_size()
    torch.distributed.all_gather_object(out, obj)
    return out


def rank_share(total: int | None, rank: int, world: int) -> int | None:
    """Rank ``rank``'s share of an integer budget: ``total // world``, plus one for the first ``total % world``
    ranks, so the shares sum to ``total`` (None = unlimited stays unlimited)."""
    if total is None:
        return None
    base, extra = divmod(int(total), world)
    return base + (1 if rank < extra else 0)
