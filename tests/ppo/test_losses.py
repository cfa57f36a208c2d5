import math

import pytest
import torch

from lit_critic_rl.ppo.losses import (
    clipped_policy_loss,
    clipped_value_loss,
    entropy_diagnostic,
    entropy_from_logits,
    kl_estimate,
    kl_penalized_rewards,
    token_logprobs,
)


def test_token_logprobs_by_hand():
    logits = torch.tensor([[[0.0, math.log(3.0)]]])  # softmax = [0.25, 0.75]
    assert token_logprobs(logits, torch.tensor([[1]])).item() == pytest.approx(math.log(0.75))
    # temperature 2: p1 = sqrt(3) / (1 + sqrt(3)) = 0.633975
    logp = token_logprobs(logits, torch.tensor([[1]]), temperature=2.0).item()
    assert logp == pytest.approx(math.log(0.633975), 1e-5)


def test_entropy_by_hand():
    logits = torch.tensor([[[0.0, math.log(3.0)]]])
    assert entropy_from_logits(logits).item() == pytest.approx(0.562335, abs=1e-6)


def test_token_logprobs_gradient_by_hand():
    # d/dx log softmax(x)[k] = onehot(k) - softmax(x): softmax = [0.25, 0.75], token 1 -> [-0.25, 0.25]
    logits = torch.tensor([[[0.0, math.log(3.0)]]], requires_grad=True)
    token_logprobs(logits, torch.tensor([[1]])).sum().backward()
    torch.testing.assert_close(logits.grad, torch.tensor([[[-0.25, 0.25]]]))


def test_token_logprobs_gradient_matches_autograd_with_repeated_tokens():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 7, dtype=torch.float64, requires_grad=True)
    tokens = torch.tensor([[1, 1, 6], [0, 3, 3]])
    weights = torch.randn(2, 3, dtype=torch.float64)
    (token_logprobs(logits, tokens, 0.7) * weights).sum().backward()
    expected_logits = logits.detach().clone().requires_grad_(True)
    reference = torch.log_softmax(expected_logits / 0.7, -1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    (reference * weights).sum().backward()
    torch.testing.assert_close(logits.grad, expected_logits.grad, rtol=1e-5, atol=1e-6)  # ours computes in fp32


def test_entropy_diagnostic_equals_entropy_row_by_row():
    torch.manual_seed(0)
    logits = torch.randn(3, 4, 11, requires_grad=True)
    diag = entropy_diagnostic(logits, 1.3)
    torch.testing.assert_close(diag, entropy_from_logits(logits.detach(), 1.3))
    assert not diag.requires_grad


def test_kl_estimators_by_hand():
    logp, ref = torch.tensor([math.log(0.5)]), torch.tensor([math.log(0.25)])
    assert kl_estimate(logp, ref, "k1").item() == pytest.approx(0.693147, abs=1e-6)
    assert kl_estimate(logp, ref, "k3").item() == pytest.approx(0.193147, abs=1e-6)  # (0.5 - 1) - ln 0.5
    with pytest.raises(ValueError, match="kl_estimator"):
        kl_estimate(logp, ref, "k2")


def test_k3_is_never_negative():
    log_ratio = torch.linspace(-5, 5, 101)
    assert (kl_estimate(log_ratio, torch.zeros(101), "k3") >= 0).all()


def test_kl_penalized_rewards_by_hand():
    out = kl_penalized_rewards(
        torch.tensor([[0.0, 0.0, 1.0, 0.0]]),
        torch.tensor([[0.1, 0.2, 0.3, 7.0]]),
        0.5,
        torch.tensor([[1.0, 1.0, 1.0, 0.0]]),
    )
    torch.testing.assert_close(out, torch.tensor([[-0.05, -0.1, 0.85, 0.0]]))


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
