"""REINFORCE++'s advantage stage on hand-computed numbers: KL-penalised token rewards, returns, batch whitening."""

import torch

from lit_critic_rl.objectives import REINFORCEPlusPlusObjective
from lit_critic_rl.types import Rollout, TokenRewards


def test_kl_penalised_returns_whitened_over_the_batch():
    # totals [[0, 1], [0, -1]], KL [[0.5, 0], [0, 0]] at beta 0.2 -> rewards [[-0.1, 1], [0, -1]]
    # returns (gamma 1): [[0.9, 1], [-1, -1]]; mean -0.025; squared deviations 0.855625 + 1.050625 + 2 * 0.950625
    # = 3.8075, unbiased var 1.269167, std 1.126573 -> 0.821074, 0.909840, -0.865456, -0.865456
    ids = torch.zeros(2, 2, dtype=torch.long)
    mask = torch.ones(2, 2)
    rollout = Rollout(["p", "q"], ["y", "z"], ids, mask.long(), ids, mask)
    extrinsic = torch.tensor([[0.0, 1.0], [0.0, -1.0]])
    rewards = TokenRewards(extrinsic, torch.zeros_like(extrinsic))
    adv = REINFORCEPlusPlusObjective().advantages(rollout, rewards, torch.tensor([[0.5, 0.0], [0.0, 0.0]]), 0.2)
    torch.testing.assert_close(adv.rewards, torch.tensor([[-0.1, 1.0], [0.0, -1.0]]))
    torch.testing.assert_close(
        adv.advantages, torch.tensor([[0.821074, 0.909840], [-0.865456, -0.865456]]), atol=1e-5, rtol=0
    )
    assert adv.returns is None
