"""Accumulation groups and the optimizer stepper: steps, skips of non-finite groups, loss scaling, clipping."""

import math

import pytest
import torch

from lit_critic_rl.rl.update import (
    AccumulationGroups,
    OptimizerStepper,
    accumulation_groups,
    group_tokens,
    minibatches,
)


class RecordingStepper:
    """A Stepper that records what the groups asked of it (the protocol's three calls)."""

    def __init__(self):
        self.calls, self.skipped_updates = [], 0

    def backward(self, loss):
        self.calls.append(("backward", float(loss)))

    def step(self):
        self.calls.append(("step",))

    def skip(self):
        self.calls.append(("skip",))
        self.skipped_updates += 1


def _run(groups, losses, size, part=False):
    """Back-propagate ``losses`` (one per minibatch) through ``groups`` in groups of ``size``."""
    for group in accumulation_groups(losses, size):
        groups.start(len(group))
        for loss in group:
            (groups.part if part else groups)(torch.tensor(loss))
        groups.end()


def test_groups_divide_losses_step_per_group_and_skip_a_non_finite_group():
    stepper = RecordingStepper()
    _run(AccumulationGroups(stepper), [1.0, math.nan, 2.0, 4.0, 6.0], size=2)
    assert stepper.calls == [
        ("backward", 0.5),
        ("skip",),  # group 1: the NaN poisons it; its backward is not run
        ("backward", 1.0),
        ("backward", 2.0),
        ("step",),
        ("backward", 6.0),  # the last group holds 1 minibatch: divided by 1
        ("step",),
    ]
    assert stepper.skipped_updates == 1


def test_a_last_partial_group_is_a_mean_over_its_own_minibatches():
    # 5 minibatches in groups of 2: [1, 2] [4, 8] [6]; the last group holds 1 minibatch, so its loss is divided by 1
    # (not 2), and its step is the mean over its minibatches like the others': 1/2, 2/2 | 4/2, 8/2 | 6/1
    stepper = RecordingStepper()
    _run(AccumulationGroups(stepper), [1.0, 2.0, 4.0, 8.0, 6.0], size=2)
    backward = [("backward", x) for x in (0.5, 1.0, 2.0, 4.0, 6.0)]
    assert stepper.calls == backward[:2] + [("step",)] + backward[2:4] + [("step",)] + backward[4:] + [("step",)]
    assert [len(g) for g in accumulation_groups(range(7), 3)] == [3, 3, 1]


def test_a_part_of_a_group_loss_is_not_divided_by_the_minibatches():
    # token sums already over the group's tokens go in as they are; a NaN part still poisons its group
    stepper = RecordingStepper()
    _run(AccumulationGroups(stepper), [1.0, 2.0, math.nan, 4.0], size=2, part=True)
    assert stepper.calls == [("backward", 1.0), ("backward", 2.0), ("step",), ("skip",)]


def test_group_tokens_is_the_token_mean_denominator_of_the_whole_group():
    # a group of 2 minibatches with 3 and 9 response tokens (and 1 and 4 rewarded ones): the denominators are
    # 3 + 9 = 12 and 1 + 4 = 5, so minibatch 1 adds sum_1 / 12 and minibatch 2 sum_2 / 12, i.e. (sum_1 + sum_2) / 12,
    # the token mean of the 12 tokens, where per-minibatch means averaged would weigh a token by 1/(2*3) = 1/6 or
    # 1/(2*9) = 1/18
    counts = [torch.tensor([3.0, 1.0]), torch.tensor([9.0, 4.0])]
    assert group_tokens(counts).tolist() == [12.0, 5.0]
    # 2 processes, each holding these counts (a reduce that sums 2 equal ranks): 24 tokens over 2 processes,
    # so each divides its sum by 12 and the strategy's mean of the 2 gradients is (sum_rank0 + sum_rank1) / 24
    assert group_tokens(counts, lambda x: 2 * x).tolist() == [12.0, 5.0]
    # 3 + 9 tokens on rank 0 and 0 + 4 on rank 1 (the reduce adds rank 1's [4, 2] and its 1 process):
    # (12 + 4) / 2 = 8 and (5 + 2) / 2 = 3.5
    rank1 = torch.tensor([4.0, 2.0, 1.0])
    assert group_tokens(counts, lambda x: x + rank1).tolist() == [8.0, 3.5]
    # no token in the whole group: the denominator is 1 (the sum is 0 anyway), not 0
    assert group_tokens([torch.zeros(1), torch.zeros(1)]).tolist() == [1.0]


def test_group_size_must_be_positive():
    with pytest.raises(ValueError, match="ppo.grad_accumulation"):
        next(accumulation_groups(range(3), 0))


def test_optimizer_stepper_clips_steps_and_clears_gradients():
    weight = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
    stepper = OptimizerStepper(torch.optim.SGD([weight], lr=1.0), max_grad_norm=1.0)
    stepper.backward((weight * torch.tensor([3.0, 4.0])).sum())  # gradient [3, 4], norm 5 -> clipped to [0.6, 0.8]
    stepper.step()
    torch.testing.assert_close(weight.detach(), torch.tensor([2.4, 3.2]))
    assert weight.grad is None
    stepper.backward(weight.sum())
    stepper.skip()
    assert weight.grad is None and stepper.skipped_updates == 1
    torch.testing.assert_close(weight.detach(), torch.tensor([2.4, 3.2]))


def test_minibatches_cover_the_order_in_slices():
    order = torch.tensor([3, 0, 4, 1, 2])
    assert [m.tolist() for m in minibatches(order, 2)] == [[3, 0], [4, 1], [2]]


def test_mean_stats_average_over_the_minibatches_added():
    from lit_critic_rl.rl.update import MeanStats

    mean = MeanStats()
    assert mean.means() == {}
    mean.add({"loss": torch.tensor(1.0), "clipfrac": 0.5})
    mean.add({"loss": torch.tensor(3.0), "clipfrac": 0.0})
    assert mean.means() == {"loss": 2.0, "clipfrac": 0.25}
