"""Running-std reward scaling against numbers worked out by hand."""

import math

import pytest
import torch

from lit_critic_rl.ppo.score_scaling import RunningMoments, scale_by_running_std


def test_moments_merge_batches_like_one_pass_over_all_values():
    moments = RunningMoments()
    # batch 1: real tokens 1, 3 (the 100 is padding) -> n 2, mean 2, M2 = 1 + 1 = 2
    moments.update(torch.tensor([[1.0, 3.0, 100.0]]), torch.tensor([[1.0, 1.0, 0.0]]))
    assert (moments.count, moments.mean, moments.m2) == (2.0, 2.0, 2.0)
    assert moments.std == pytest.approx(math.sqrt(2.0))  # sqrt(2 / 1)
    # batch 2: 5, 7, 9 -> mean 7, M2_b = 4 + 0 + 4 = 8; delta 5: M2 = 2 + 8 + 25 * 2 * 3 / 5 = 40, mean 2 + 5*3/5 = 5
    moments.update(torch.tensor([[5.0, 7.0, 9.0]]), torch.ones(1, 3))
    assert (moments.count, moments.mean, moments.m2) == (5.0, 5.0, 40.0)
    # all five values 1 3 5 7 9: mean 5, sum of squared deviations 16 + 4 + 0 + 4 + 16 = 40, std sqrt(40 / 4)
    assert moments.std == pytest.approx(math.sqrt(10.0))


def test_scaling_divides_by_the_std_after_adding_the_batch_and_survives_a_checkpoint():
    moments = RunningMoments()
    rewards = torch.tensor([[0.0, 2.0], [4.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    out = scale_by_running_std(rewards, mask, moments)  # values 0, 2, 4: mean 2, M2 8, std sqrt(8 / 2) = 2
    torch.testing.assert_close(out, rewards / 2.0)
    restored = RunningMoments()
    restored.load_state_dict(moments.state_dict())
    assert restored.std == moments.std == 2.0


def test_fewer_than_two_values_leave_rewards_unscaled():
    moments = RunningMoments()
    out = scale_by_running_std(torch.tensor([[3.0, 9.0]]), torch.tensor([[1.0, 0.0]]), moments)
    torch.testing.assert_close(out, torch.tensor([[3.0, 9.0]]))
