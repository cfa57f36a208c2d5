"""RNG state of a process as checkpoint-friendly values (tensors, ints and tuples: loadable with
``torch.load(weights_only=True)``), so a resumed run samples exactly as an uninterrupted one.

With several processes each rank keeps its own state: the checkpoint holds one per rank (:func:`pick_rank_state`).
"""

from __future__ import annotations

import random

import numpy as np
import torch


def capture_rng() -> dict:
    """RNG states as tensors, ints and tuples only (loadable with ``weights_only=True``)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)),
    }


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))


def pick_rank_state(state: dict, rank: int, world_size: int) -> dict:
    """This rank's RNG state from a checkpoint section: ``rng_by_rank[rank]`` when the checkpoint was written by a
    run of the same number of processes, else the single ``rng`` (rank 0's; other process counts draw differently
    from an uninterrupted run anyway, since each rank samples a different slice)."""
    by_rank = state.get("rng_by_rank")
    if by_rank is not None and len(by_rank) == world_size:
        return by_rank[rank]
    return state["rng"]
