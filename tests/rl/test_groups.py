"""Group statistics on hand-computed numbers, and a group never spanning ranks under the data-parallel split."""

import pytest
import torch

from lit_critic_rl.data.base import PromptStreamSampler
from lit_critic_rl.rl.groups import (
    group_ids,
    group_mean,
    group_sizes,
    group_std,
    leave_one_out_mean,
    leave_one_out_token_mean,
    repeat_prompts,
)

GROUP = torch.tensor([0, 0, 0, 1, 1, 2])
X = torch.tensor([1.0, 2.0, 6.0, 4.0, 0.0, 5.0])


def test_repeat_prompts_keeps_copies_together():
    prompts, group = repeat_prompts(["a", "b"], 3)
    assert prompts == ["a", "a", "a", "b", "b", "b"] and group.tolist() == [0, 0, 0, 1, 1, 1]


def test_group_ids_follow_identical_prompts():
    assert group_ids(["x", "y", "x", "z", "y"]).tolist() == [0, 1, 0, 2, 1]


def test_group_mean_std_and_sizes_by_hand():
    # group 0: mean (1 + 2 + 6) / 3 = 3, squares 4 + 1 + 9 = 14, unbiased var 14 / 2 = 7; group 1: mean 2, var 8 / 1;
    # group 2 has one member: std 0
    torch.testing.assert_close(group_mean(X, GROUP), torch.tensor([3.0, 3.0, 3.0, 2.0, 2.0, 5.0]))
    s7, s8 = 7**0.5, 8**0.5
    torch.testing.assert_close(group_std(X, GROUP), torch.tensor([s7, s7, s7, s8, s8, 0.0]))
    assert group_sizes(GROUP).tolist() == [3, 3, 3, 2, 2, 1]


def test_leave_one_out_mean_by_hand():
    # sample 0: (2 + 6) / 2 = 4; sample 1: (1 + 6) / 2 = 3.5; sample 2: 1.5; group 1: each other's value; alone: 0
    expected = torch.tensor([4.0, 3.5, 1.5, 0.0, 4.0, 0.0])
    torch.testing.assert_close(leave_one_out_mean(X, GROUP), expected)


def test_leave_one_out_token_mean_treats_ended_members_as_missing():
    # one group of three; member 2 ends after one token, member 1 after two
    x = torch.tensor([[1.0, 2.0, 3.0], [5.0, 6.0, 9.0], [7.0, 9.0, 9.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    # t0: row0 (5 + 7) / 2 = 6, row1 (1 + 7) / 2 = 4, row2 (1 + 5) / 2 = 3
    # t1: row0 only row1 reaches it: 6; row1: 2 (row 0); row2 is padding there: 0
    # t2: row0 is the only member reaching t2: no other member, baseline 0
    expected = torch.tensor([[6.0, 6.0, 0.0], [4.0, 2.0, 0.0], [3.0, 0.0, 0.0]])
    torch.testing.assert_close(leave_one_out_token_mean(x, mask, torch.zeros(3, dtype=torch.long)), expected)


@pytest.mark.parametrize("world", [1, 2, 4])
def test_a_group_never_spans_ranks(world):
    """Each rank repeats the prompts of its own slice of the global batch, so every group is whole on one rank and
    the ranks' groups together are the single process's."""
    k, batch = 3, 8
    single = PromptStreamSampler(32, batch, seed=5, offset=lambda: 0)
    ranks = [PromptStreamSampler(32, batch, seed=5, offset=lambda: 0, rank=r, world_size=world) for r in range(world)]
    for global_batch, *rank_batches in zip(single, *ranks):
        groups = []
        for local in rank_batches:
            prompts, group = repeat_prompts([f"p{i}" for i in local], k)
            assert group_sizes(group).tolist() == [k] * len(prompts)  # whole groups on this rank
            groups += [tuple(p for p, g in zip(prompts, group) if g == gid) for gid in group.unique().tolist()]
        assert groups == [(f"p{i}",) * k for i in global_batch]


def test_group_stats_count_groups_and_the_flat_ones():
    from lit_critic_rl.rl.batch_stats import group_stats

    # groups 0 (scores 1, 1: flat), 1 (0, 1), 2 (alone: not counted among groups of several)
    stats = group_stats(torch.tensor([1.0, 1.0, 0.0, 1.0, 0.5]), torch.tensor([0, 0, 1, 1, 2]))
    assert stats == {"train/groups": 3.0, "train/flat_groups": 0.5}
    assert group_stats(torch.tensor([1.0, 2.0]), torch.tensor([0, 1])) == {"train/groups": 2.0}
