"""The report's samples section: token colours and the iterations shown."""

from lit_critic_rl.report_samples import pick_iterations, token_colour


def test_token_colour_intensity_by_hand():
    assert token_colour(0.5, 1.0) == "rgba(22,163,74,0.50)"  # 0.15 + 0.7 * 0.5
    assert token_colour(-2.0, 1.0) == "rgba(220,38,38,0.85)"  # capped at full strength
    assert token_colour(0.0, 1.0) == "transparent"


def test_pick_iterations_first_middle_last():
    assert pick_iterations([{"iteration": i} for i in (4, 1, 2, 3, 5)]) == [1, 3, 5]
    assert pick_iterations([{"iteration": i} for i in (1, 2)]) == [1, 2]
    assert pick_iterations([]) == []
