import pytest

from lit_critic_rl.ppo.kl_control import AdaptiveKLController, FixedKLController


@pytest.mark.parametrize(
    ("kl", "expected"),
    [(9.0, 0.2004), (3.0, 0.1996), (6.6, 0.2002), (6.0, 0.2)],  # error clipped to +-0.2; 100 / 10000 samples
)
def test_adaptive_kl_by_hand(kl, expected):
    ctl = AdaptiveKLController(0.2, target=6.0, horizon=10000)
    ctl.update(kl, n_samples=100)
    assert ctl.value == pytest.approx(expected)


def test_adaptive_kl_state_round_trip():
    ctl = AdaptiveKLController(0.2, 6.0, 10000)
    ctl.update(9.0, 1000)
    other = AdaptiveKLController(0.2, 6.0, 10000)
    other.load_state_dict(ctl.state_dict())
    assert other.value == ctl.value == pytest.approx(0.204)


def test_fixed_kl_never_moves():
    ctl = FixedKLController(0.1)
    ctl.update(100.0, 10_000)
    assert ctl.value == 0.1


def test_adaptive_kl_rejects_bad_target():
    with pytest.raises(ValueError, match="target_kl"):
        AdaptiveKLController(0.2, 0.0, 10)


def test_only_a_fixed_beta_of_zero_reads_no_kl():
    assert not FixedKLController(0.0).reads_kl and FixedKLController(0.1).reads_kl
    assert AdaptiveKLController(0.0, 6.0, 10).reads_kl  # it tracks the KL, whatever its beta
