import math

import pytest
import torch

from lit_critic_rl.ppo.losses import clipped_policy_loss, clipped_value_loss


def test_clipped_policy_loss_by_hand():
    # ratios [1, 1.5], advantages [1, 2]: token 0 -> -1; token 1 -> max(-3, -2.4) = -2.4 (clipped)
    out = clipped_policy_loss(
        torch.tensor([[0.0, math.log(1.5)]]), torch.zeros(1, 2), torch.tensor([[1.0, 2.0]]), torch.ones(1, 2), 0.2
    )
    assert out.loss.item() == pytest.approx(-1.7)
    assert out.clipfrac.item() == pytest.approx(0.5)
    assert out.approx_kl.item() == pytest.approx(0.5 * math.log(1.5) ** 2 / 2)


def test_clipped_policy_loss_negative_advantage_uses_pessimistic_side():
    # ratio 0.5, A = -1: unclipped 0.5, clipped 0.8 -> 0.8
    out = clipped_policy_loss(
        torch.tensor([[math.log(0.5)]]), torch.zeros(1, 1), torch.tensor([[-1.0]]), torch.ones(1, 1), 0.2
    )
    assert out.loss.item() == pytest.approx(0.8)


def test_clipped_policy_loss_gradient_vanishes_when_clipped():
    logp = torch.tensor([[math.log(1.5)]], requires_grad=True)
    clipped_policy_loss(logp, torch.zeros(1, 1), torch.tensor([[2.0]]), torch.ones(1, 1), 0.2).loss.backward()
    assert logp.grad.item() == 0.0


def test_clipped_value_loss_by_hand():
    # token 0: max((2 - 1.5)^2, (1.2 - 1.5)^2) = 0.25; token 1: 1 -> 0.5 * mean = 0.3125
    loss, clipfrac = clipped_value_loss(
        torch.tensor([[2.0, 0.0]]), torch.tensor([[1.0, 0.0]]), torch.tensor([[1.5, 1.0]]), torch.ones(1, 2), 0.2
    )
    assert loss.item() == pytest.approx(0.3125)
    assert clipfrac.item() == 0.0


def test_clipped_value_loss_counts_clipping():
    # V 2, V_old 1, R 3: unclipped (2-3)^2 = 1, clipped (1.2-3)^2 = 3.24 -> clipped side wins
    loss, clipfrac = clipped_value_loss(
        torch.tensor([[2.0]]), torch.tensor([[1.0]]), torch.tensor([[3.0]]), torch.ones(1, 1), 0.2
    )
    assert loss.item() == pytest.approx(0.5 * 3.24)
    assert clipfrac.item() == 1.0


def test_a_normaliser_replaces_the_minibatch_token_count():
    # the value loss by hand above over 2 tokens is 0.5 * (0.25 + 1) / 2 = 0.3125; over an accumulation group of 5
    # tokens it is this minibatch's part, 0.5 * 1.25 / 5 = 0.125; the policy loss at ratio 1 with A = 1, 3 is
    # -(1 + 3) / 5 = -0.8 (its own mean: -2)
    values, old, returns, mask = (
        torch.tensor([[2.0, 0.0]]),
        torch.tensor([[1.0, 0.0]]),
        torch.tensor([[1.5, 1.0]]),
        torch.ones(1, 2),
    )
    loss, _ = clipped_value_loss(values, old, returns, mask, 0.2, torch.tensor(5.0))
    assert loss.item() == pytest.approx(0.125)
    pg = clipped_policy_loss(torch.zeros(1, 2), torch.zeros(1, 2), torch.tensor([[1.0, 3.0]]), mask, 0.2)
    assert pg.loss.item() == pytest.approx(-2.0)
    pg = clipped_policy_loss(
        torch.zeros(1, 2), torch.zeros(1, 2), torch.tensor([[1.0, 3.0]]), mask, 0.2, torch.tensor(5.0)
    )
    assert pg.loss.item() == pytest.approx(-0.8)
