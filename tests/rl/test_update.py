"""Accumulation groups and the optimizer stepper: steps, skips of non-finite groups, loss scaling, clipping."""

import math

import pytest
import torch

from lit_critic_rl.rl.update import AccumulationGroups, OptimizerStepper, minibatches


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


def test_groups_divide_losses_step_per_group_and_skip_a_non_finite_group():
    stepper = RecordingStepper()
    groups = AccumulationGroups(stepper, size=2)
    for loss in [1.0, math.nan, 2.0, 4.0, 6.0]:
        groups.backward(torch.tensor(loss))
        groups.end_minibatch()
    groups.end_group()  # the last, partial group
    assert stepper.calls == [
        ("backward", 0.5),
        ("skip",),  # group 1: the NaN poisons it; its backward is not run
        ("backward", 1.0),
        ("backward", 2.0),
        ("step",),
        ("backward", 3.0),
        ("step",),
    ]
    assert stepper.skipped_updates == 1


def test_a_last_partial_group_is_a_mean_over_its_own_minibatches():
    # 5 minibatches in groups of 2: [1, 2] [4, 8] [6]; the last group holds 1 minibatch, so its loss is divided by 1
    # (not 2), and its step is the mean over its minibatches like the others': 1/2, 2/2 | 4/2, 8/2 | 6/1
    stepper = RecordingStepper()
    groups = AccumulationGroups(stepper, size=2, total=5)
    for loss in [1.0, 2.0, 4.0, 8.0, 6.0]:
        groups.backward(torch.tensor(loss))
        groups.end_minibatch()
    groups.end_group()
    backward = [("backward", x) for x in (0.5, 1.0, 2.0, 4.0, 6.0)]
    assert stepper.calls == backward[:2] + [("step",)] + backward[2:4] + [("step",)] + backward[4:] + [("step",)]
    # 7 minibatches in groups of 3: [3] [3] [1]
    groups = AccumulationGroups(RecordingStepper(), size=3, total=7)
    sizes = []
    for _ in range(7):
        sizes.append(groups.group_size())
        groups.end_minibatch()
    assert sizes == [3, 3, 3, 3, 3, 3, 1]


def test_group_size_must_be_positive():
    with pytest.raises(ValueError, match="ppo.grad_accumulation"):
        AccumulationGroups(RecordingStepper(), size=0)


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
