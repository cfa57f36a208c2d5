import math

import pytest
import torch

from lit_critic_rl.rl.logprobs import entropy_diagnostic, entropy_from_logits, token_logprobs


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
