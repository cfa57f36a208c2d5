"""The reduce hook with a real gloo process group of 2 CPU processes: each rank's whitening, moments and logged
statistics equal those of one process over the concatenated batch; budgets split into shares that sum to the total."""

from __future__ import annotations

import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from lit_critic_rl.distributed import AllReduceSum, gather_objects, global_means, rank_share
from lit_critic_rl.ppo.score_scaling import RunningMoments
from lit_critic_rl.rl.batch_stats import masked_moments, sample_means
from lit_critic_rl.rl.masked import masked_whiten


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Two ranks' halves of a batch whose halves have different means, lengths and spreads."""
    g = torch.Generator().manual_seed(0)
    x = torch.cat([torch.randn(3, 5, generator=g), 4 + 3 * torch.randn(3, 5, generator=g)])
    mask = torch.ones(6, 5)
    mask[0, 3:] = 0
    mask[4, 1:] = 0
    return x, mask


def worker(rank: int, port: int, results) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        x, mask = batch()
        mine = slice(3 * rank, 3 * rank + 3)
        reduce = AllReduceSum("cpu")
        moments = RunningMoments()
        moments.update(x[mine], mask[mine], reduce)
        results[rank] = {
            "whitened": masked_whiten(x[mine], mask[mine], reduce=reduce),
            "moments": masked_moments(x[mine], mask[mine], reduce),
            "running_std": moments.std,
            "sample_means": sample_means({"row_sum": (x * mask)[mine].sum(1)}, reduce),
            "global_means": global_means({"loss": float(rank + 1)}, reduce),
            "gathered": gather_objects({"rank": rank}),
        }
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_ranks():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    manager = mp.Manager()
    results = manager.dict()
    mp.start_processes(worker, args=(port, results), nprocs=2, start_method="spawn", join=True)
    return dict(results)


def test_whitening_on_two_ranks_equals_whitening_of_the_whole_batch(two_ranks):
    x, mask = batch()
    whole = masked_whiten(x, mask)
    torch.testing.assert_close(torch.cat([two_ranks[0]["whitened"], two_ranks[1]["whitened"]]), whole)
    local = masked_whiten(x[:3], mask[:3])  # what rank 0 would use without the reduce: visibly different
    assert (local - whole[:3]).abs().max() > 0.1


def test_moments_and_logged_means_are_global_on_every_rank(two_ranks):
    x, mask = batch()
    real = x[mask.bool()].double()
    whole = RunningMoments()
    whole.update(x, mask)
    for rank in (0, 1):
        got = two_ranks[rank]
        assert got["moments"][0] == pytest.approx(float(real.mean()))
        assert got["moments"][1] == pytest.approx(float(real.std(unbiased=False)))
        assert got["running_std"] == pytest.approx(whole.std)
        assert got["sample_means"]["row_sum"] == pytest.approx(float((x * mask).sum(1).mean()))
        assert got["global_means"] == {"loss": 1.5}
        assert got["gathered"] == [{"rank": 0}, {"rank": 1}]


@pytest.mark.parametrize(("total", "world", "shares"), [(10, 3, [4, 3, 3]), (2, 4, [1, 1, 0, 0]), (8, 2, [4, 4])])
def test_budget_shares_sum_to_the_total(total, world, shares):
    assert [rank_share(total, r, world) for r in range(world)] == shares
    assert rank_share(None, 0, world) is None
