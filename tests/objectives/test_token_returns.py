"""Outcome and critic token rewards through a group baseline, per token and collapsed, on hand-computed numbers."""

import torch

from lit_critic_rl.objectives.token_returns import discounted_returns, group_token_advantages, process_advantages
from lit_critic_rl.rl.groups import group_mean
from lit_critic_rl.types import TokenRewards

# one group of three; member 1 ends after two tokens, member 2 after one
MASK = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
INTRINSIC = torch.tensor([[0.5, 0.0, -0.5], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])
GROUP = torch.zeros(3, dtype=torch.long)


def test_discounted_returns_by_hand():
    # gamma 0.5: G2 = 2, G1 = 0 + 0.5 * 2 = 1, G0 = 1 + 0.5 * 1 = 1.5; padding after the end adds nothing
    torch.testing.assert_close(discounted_returns(torch.tensor([[1.0, 0.0, 2.0]]), torch.ones(1, 3), 0.5),
                               torch.tensor([[1.5, 1.0, 2.0]]))  # fmt: skip
    ended = discounted_returns(torch.tensor([[1.0, 0.0, 2.0]]), torch.tensor([[1.0, 1.0, 0.0]]), 0.5)
    torch.testing.assert_close(ended, torch.tensor([[1.0, 0.0, 0.0]]))


def test_process_advantages_by_hand():
    # returns (gamma 1): row0 [0, -0.5, -0.5], row1 [1, 1, -], row2 [-1, -, -]
    # t0: row0 - (1 + -1) / 2 = 0; row1: 1 - (0 + -1) / 2 = 1.5; row2: -1 - (0 + 1) / 2 = -1.5
    # t1: row0 - row1's 1 = -1.5; row1 - row0's -0.5 = 1.5 (row2 has ended: missing, not 0)
    # t2: only row0 reaches it: baseline 0, advantage -0.5
    expected = torch.tensor([[0.0, -1.5, -0.5], [1.5, 1.5, 0.0], [-1.5, 0.0, 0.0]])
    torch.testing.assert_close(process_advantages(INTRINSIC, MASK, GROUP), expected)


def _mean_centred(outcome, group):
    return outcome - group_mean(outcome, group)


def test_outcome_is_broadcast_and_process_added_with_its_weight():
    # outcomes 1, 0, 0 (on each row's last token): mean 1/3, A_out = 2/3, -1/3, -1/3 on every token;
    # plus 0.5 x the process advantages above
    extrinsic = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    adv = group_token_advantages(TokenRewards(extrinsic, INTRINSIC), MASK, GROUP, _mean_centred, process_weight=0.5)
    a, b = 2 / 3, -1 / 3
    expected = torch.tensor([[a, a - 0.75, a - 0.25], [b + 0.75, b + 0.75, 0.0], [b - 0.75, 0.0, 0.0]])
    torch.testing.assert_close(adv, expected)


def test_collapsed_sums_the_token_rewards_into_the_outcome_first():
    # R' = R + 0.5 * sum r: 1 + 0 = 1, 0 + 0.5 = 0.5, 0 - 0.5 = -0.5; mean 1/3 -> 2/3, 1/6, -5/6 on every real token
    extrinsic = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    rewards = TokenRewards(extrinsic, INTRINSIC)
    adv = group_token_advantages(rewards, MASK, GROUP, _mean_centred, dense="collapsed", process_weight=0.5)
    torch.testing.assert_close(adv, torch.tensor([[2 / 3] * 3, [1 / 6, 1 / 6, 0.0], [-5 / 6, 0.0, 0.0]]))
