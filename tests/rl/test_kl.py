import math
from dataclasses import replace

import pytest
import torch

from lit_critic_rl.rl.kl import kl_estimate, kl_penalized_rewards, rollout_kl
from lit_critic_rl.types import Rollout


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


def test_no_kl_leaves_the_rewards_as_they_are_only_at_beta_zero():
    """Without a reference pass there is no KL: beta 0 gives the masked scores, beta > 0 is an error, not a 0 KL."""
    scores, mask = torch.tensor([[0.0, 1.0, 4.0]]), torch.tensor([[1.0, 1.0, 0.0]])
    torch.testing.assert_close(kl_penalized_rewards(scores, None, 0.0, mask), torch.tensor([[0.0, 1.0, 0.0]]))
    with pytest.raises(ValueError, match="beta 0.2 but no KL"):
        kl_penalized_rewards(scores, None, 0.2, mask)


def test_rollout_kl_is_absent_without_reference_logprobs():
    ids, mask = torch.zeros(1, 2, dtype=torch.long), torch.ones(1, 2)
    rollout = Rollout(["p"], ["y"], ids, mask.long(), ids, mask, logprobs=torch.tensor([[-1.0, -2.0]]))
    assert rollout_kl(rollout) is None
    with_ref = replace(rollout, ref_logprobs=torch.tensor([[-1.5, -1.0]]))
    torch.testing.assert_close(rollout_kl(with_ref), torch.tensor([[0.5, -1.0]]))  # k1: log pi - log pi_ref
