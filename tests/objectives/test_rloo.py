"""RLOO's leave-one-out baseline on hand-computed numbers, through the advantage stage."""

import torch

from lit_critic_rl.objectives import RLOOObjective
from lit_critic_rl.types import Rollout, TokenRewards


def _advantages(objective, scores, group):
    """The advantages of sequence scores on the last of two tokens per sample."""
    n = len(scores)
    ids, mask = torch.zeros(n, 2, dtype=torch.long), torch.ones(n, 2)
    rollout = Rollout(["p"] * n, ["y"] * n, ids, mask.long(), ids, mask, group=torch.tensor(group))
    extrinsic = torch.zeros(n, 2)
    extrinsic[:, -1] = torch.tensor(scores)
    return objective.advantages(rollout, TokenRewards(extrinsic, torch.zeros_like(extrinsic)), torch.zeros(n, 2), 0.2)


def test_rloo_subtracts_the_mean_of_the_other_samples():
    # [1, 0, 0]: 1 - (0 + 0) / 2 = 1; 0 - (1 + 0) / 2 = -0.5 twice; [3, 1]: 3 - 1 = 2, 1 - 3 = -2
    adv = _advantages(RLOOObjective(), [1.0, 0.0, 0.0, 3.0, 1.0], [0, 0, 0, 1, 1])
    torch.testing.assert_close(adv.advantages[:, 1], torch.tensor([1.0, -0.5, -0.5, 2.0, -2.0]))
