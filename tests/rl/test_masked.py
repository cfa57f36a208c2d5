import pytest
import torch

from lit_critic_rl.rl.masked import masked_mean, masked_var, masked_whiten


def test_whiten_matches_hand_computation():
    # mean 2.5, unbiased var 5/3, std 1.290994
    out = masked_whiten(torch.tensor([[1.0, 2.0, 3.0, 4.0]]), torch.ones(1, 4))
    torch.testing.assert_close(out, torch.tensor([[-1.161895, -0.387298, 0.387298, 1.161895]]))


def test_whiten_uses_masked_entries_only_and_zeroes_padding():
    out = masked_whiten(torch.tensor([[1.0, 2.0, 3.0, 100.0]]), torch.tensor([[1.0, 1.0, 1.0, 0.0]]))
    torch.testing.assert_close(out, torch.tensor([[-1.0, 0.0, 1.0, 0.0]]), atol=1e-6, rtol=0)


def test_masked_mean_and_var():
    x = torch.tensor([[2.0, 4.0], [6.0, 100.0]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    assert masked_mean(x, mask).item() == pytest.approx(4.0)
    torch.testing.assert_close(masked_mean(x, mask, dim=1), torch.tensor([3.0, 6.0]))
    assert masked_var(x, mask).item() == pytest.approx(4.0)  # (4 + 0 + 4) / 2
