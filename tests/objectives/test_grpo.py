"""GRPO's and Dr. GRPO's outcome baselines on hand-computed numbers, through the advantage stage."""

import math

import torch

from lit_critic_rl.objectives import DrGRPOObjective, GRPOObjective
from lit_critic_rl.types import Rollout, TokenRewards


def _rollout(group):
    n = len(group)
    ids = torch.zeros(n, 2, dtype=torch.long)
    mask = torch.ones(n, 2)
    return Rollout(["p"] * n, ["y"] * n, ids, mask.long(), ids, mask, group=torch.tensor(group))


def _advantages(objective, scores, group):
    rollout = _rollout(group)
    extrinsic = torch.zeros(len(scores), 2)
    extrinsic[:, -1] = torch.tensor(scores)
    rewards = TokenRewards(extrinsic, torch.zeros_like(extrinsic))
    return objective.advantages(rollout, rewards, torch.zeros_like(extrinsic), 0.2)


def test_grpo_normalises_by_the_group_mean_and_std():
    # group [1, 0, 0]: mean 1/3, deviations 2/3, -1/3, -1/3, unbiased var (4/9 + 1/9 + 1/9) / 2 = 1/3, std 1/sqrt(3)
    # (eps 1e-8, below the tolerance) A = (2/3) sqrt(3) = 1.154701 and -(1/3) sqrt(3) = -0.577350 on both tokens;
    # group [2, 2]: std 0, A = 0
    adv = _advantages(GRPOObjective(eps=1e-8), [1.0, 0.0, 0.0, 2.0, 2.0], [0, 0, 0, 1, 1])
    s3 = math.sqrt(3)
    expected = torch.tensor([2 / s3, -1 / s3, -1 / s3, 0.0, 0.0])[:, None].expand(5, 2)
    torch.testing.assert_close(adv.advantages, expected)
    assert adv.returns is None


def test_grpo_eps_keeps_a_flat_group_at_zero():
    adv = _advantages(GRPOObjective(), [2.0, 2.0], [0, 0])  # (2 - 2) / (0 + 1e-4) = 0
    assert adv.advantages.abs().sum() == 0


def test_dr_grpo_only_centres():
    # group [1, 0, 0]: 1 - 1/3 = 2/3, -1/3, -1/3; no std, so the scale of the scores stays
    adv = _advantages(DrGRPOObjective(), [1.0, 0.0, 0.0], [0, 0, 0])
    torch.testing.assert_close(adv.advantages[:, 0], torch.tensor([2 / 3, -1 / 3, -1 / 3]))
    assert DrGRPOObjective().loss_aggregation == "seq_mean_token_sum_norm" and DrGRPOObjective().kl_coef == 0.0
