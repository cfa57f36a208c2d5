import math

import pytest
import torch

from lit_critic_rl.rl.chunked_logprobs import chunked_token_logprobs
from lit_critic_rl.rl.logprobs import entropy_from_logits, token_logprobs


def test_chunked_logprob_gradient_and_entropy_on_hand_computed_numbers():
    # logits = W h = [1, 0, -1]; token 0
    hidden = torch.tensor([[[1.0]]], requires_grad=True)
    weight = torch.tensor([[1.0], [0.0], [-1.0]])
    logp, entropy = chunked_token_logprobs(hidden, weight, torch.tensor([[0]]), chunk=1)
    z = math.e + 1 + math.exp(-1)
    p = [math.e / z, 1 / z, math.exp(-1) / z]
    assert logp.item() == pytest.approx(1 - math.log(z), abs=1e-6)  # -0.4076
    assert entropy.item() == pytest.approx(-sum(q * math.log(q) for q in p), abs=1e-6)  # 0.8323
    logp.sum().backward()
    # d logp / d h = W_y - softmax @ W = 1 - (p0 - p2)
    assert hidden.grad.item() == pytest.approx(1 - (p[0] - p[2]), abs=1e-6)  # 0.4248


@pytest.mark.parametrize("temperature,chunk", [(1.0, 4), (0.7, 5), (1.3, 64)])
def test_chunked_logprobs_equal_the_full_logits_path(temperature, chunk):
    torch.manual_seed(0)
    B, T, H, V = 3, 7, 16, 50
    hidden = torch.randn(B, T, H)
    weight = torch.randn(V, H)
    tokens = torch.randint(V, (B, T))
    upstream = torch.randn(B, T)

    h1, w1 = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
    logp, entropy = chunked_token_logprobs(h1, w1, tokens, temperature, chunk)
    (logp * upstream).sum().backward()

    h2, w2 = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
    logits = h2 @ w2.t()
    expected = token_logprobs(logits, tokens, temperature)
    (expected * upstream).sum().backward()

    torch.testing.assert_close(logp, expected)
    torch.testing.assert_close(entropy, entropy_from_logits(logits.detach(), temperature))
    torch.testing.assert_close(h1.grad, h2.grad, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(w1.grad, w2.grad, atol=1e-5, rtol=1e-4)
    assert not entropy.requires_grad
