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
from lit_critic_rl.rl.update import group_tokens


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Two ranks' halves of a batch whose halves have different means, lengths and spreads."""
    g = torch.Generator().manual_seed(0)
    x = torch.cat([torch.randn(3, 5, generator=g), 4 + 3 * torch.randn(3, 5, generator=g)])
    mask = torch.ones(6, 5)
    mask[0, 3:] = 0
    mask[4, 1:] = 0
    return x, mask


def token_mean_gradient(x: torch.Tensor, mask: torch.Tensor, reduce: AllReduceSum) -> torch.Tensor:
    """The gradient of ``w`` in the token mean of ``w * x`` over one accumulation group of 2 minibatches (a row,
    then the other two) on this rank, averaged over the ranks as DDP averages gradients."""
    w = torch.ones((), requires_grad=True)
    halves = [slice(0, 1), slice(1, 3)]
    tokens = group_tokens([mask[h].sum()[None] for h in halves], reduce)
    for h in halves:
        ((w * x[h] * mask[h]).sum() / tokens[0]).backward()
    return reduce(w.grad) / dist.get_world_size()


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
            "token_mean_grad": token_mean_gradient(x[mine], mask[mine], reduce),
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


def test_a_token_mean_over_ranks_and_minibatches_is_the_whole_batch_token_mean(two_ranks):
    # rank 0 holds 3 + 5 + 5 = 13 tokens, rank 1 5 + 1 + 5 = 11, each split into minibatches of 1 and 2 rows: each
    # divides its token sums by 24 / 2 = 12 and the ranks' average gradient is sum(x M) / 24, the whole batch's mean
    # (per-rank means averaged would weigh rank 0's tokens by 1/26 and rank 1's by 1/22)
    x, mask = batch()
    for rank in (0, 1):
        torch.testing.assert_close(two_ranks[rank]["token_mean_grad"], (x * mask).sum() / mask.sum())


@pytest.mark.parametrize(("total", "world", "shares"), [(10, 3, [4, 3, 3]), (2, 4, [1, 1, 0, 0]), (8, 2, [4, 4])])
def test_budget_shares_sum_to_the_total(total, world, shares):
    assert [rank_share(total, r, world) for r in range(world)] == shares
    assert rank_share(None, 0, world) is None
