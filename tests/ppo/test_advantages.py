import torch

from lit_critic_rl.ppo.advantages import gae


def test_gae_matches_hand_computation():
    # gamma 0.9, lambda 0.8; deltas by hand: t2 = 2 - 1.5 = 0.5; t1 = 0.9*1.5 - 1 = 0.35; t0 = 1 + 0.9*1 - 0.5 = 1.4
    # A2 = 0.5; A1 = 0.35 + 0.72*0.5 = 0.71; A0 = 1.4 + 0.72*0.71 = 1.9112
    rewards = torch.tensor([[1.0, 0.0, 2.0]])
    values = torch.tensor([[0.5, 1.0, 1.5]])
    adv, ret = gae(rewards, values, torch.ones(1, 3), gamma=0.9, lam=0.8)
    torch.testing.assert_close(adv, torch.tensor([[1.9112, 0.71, 0.5]]))
    torch.testing.assert_close(ret, torch.tensor([[2.4112, 1.71, 2.0]]))


def test_gae_ignores_padding_after_the_last_real_token():
    # the padded value 9 and reward 5 must not leak: A1 = 3 - 1 = 2; A0 = 1 + 1 - 0.5 + 0.95*2 = 3.4
    rewards = torch.tensor([[1.0, 3.0, 5.0]])
    values = torch.tensor([[0.5, 1.0, 9.0]])
    adv, ret = gae(rewards, values, torch.tensor([[1.0, 1.0, 0.0]]), gamma=1.0, lam=0.95)
    torch.testing.assert_close(adv, torch.tensor([[3.4, 2.0, 0.0]]))
    torch.testing.assert_close(ret, torch.tensor([[3.9, 3.0, 0.0]]))


def test_gae_with_lambda_one_and_zero_values_is_reward_to_go():
    rewards = torch.tensor([[1.0, 2.0, 3.0]])
    adv, _ = gae(rewards, torch.zeros(1, 3), torch.ones(1, 3), gamma=1.0, lam=1.0)
    torch.testing.assert_close(adv, torch.tensor([[6.0, 5.0, 3.0]]))
