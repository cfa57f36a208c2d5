import math

import pytest
import torch

from lit_critic_rl.rl.kl import kl_estimate, kl_penalized_rewards


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
