"""benchmarks.grpo_peer and the arm choice of benchmarks.vs_trl: tables on hand-computed medians, TRL's phase split,
and the objective the GRPO preset builds."""

import pytest

from benchmarks.grpo_peer import ARMS, DEFAULT_ARMS, PhaseClock, grpo_objective, grpo_table, phase_table
from benchmarks.vs_trl import choose_arms
from lit_critic_rl.objectives import GRPOObjective


def _result(steps: list[float], rss: list[float], phases: list[dict] | None = None) -> dict:
    return {"step_s": steps, "rss": rss, "phases": phases or [{} for _ in steps]}


def test_no_arms_asked_gives_the_peers_default_arms():
    assert choose_arms("grpo", ARMS, None, DEFAULT_ARMS) == DEFAULT_ARMS
    assert choose_arms("grpo", ARMS, ["ours_grpo"], DEFAULT_ARMS) == ["ours_grpo"]


def test_an_arm_of_another_peer_is_an_error_naming_it_and_the_peers_arms():
    with pytest.raises(ValueError, match=r"--peer grpo has no arm\(s\) \['trl_rloo'\]; its arms: \['trl_grpo'"):
        choose_arms("grpo", ARMS, ["ours_grpo", "trl_rloo"], DEFAULT_ARMS)


def test_grpo_table_gives_medians_tokens_per_second_and_ratios_to_trl_defaults():
    results = {
        "trl_grpo": _result([10.0, 12.0, 11.0], [2000.0, 2100.0, 2050.0]),
        "ours_grpo": _result([6.0, 5.0, 5.5], [1600.0, 1640.0, 1620.0]),
        "hf_generate": _result([4.0, 4.0, 4.0], [900.0, 900.0, 1025.0]),
    }
    rows = grpo_table(results, tokens=512)
    # trl: 11 s, 512 / 11 = 46.5 tokens/s, 2050 MiB
    assert rows[2] == f"| trl_grpo: {ARMS['trl_grpo']} | 11.00 | 46.5 | 1.00x | 2050 | 1.00x |"
    # ours: 5.5 s, 512 / 5.5 = 93.1 tokens/s, 11 / 5.5 = 2.00x, 1620 / 2050 = 0.79x
    assert rows[3] == f"| ours_grpo: {ARMS['ours_grpo']} | 5.50 | 93.1 | 2.00x | 1620 | 0.79x |"
    # the rollout floor gets no speed ratio (it trains nothing); 900 / 2050 = 0.44x
    assert rows[4] == f"| hf_generate: {ARMS['hf_generate']} | 4.00 | 128.0 |  | 900 | 0.44x |"
    assert len(rows) == 5  # no same-work line without trl_grpo_kl


def test_grpo_table_closes_with_the_same_work_pair_when_both_ran():
    results = {
        "ours_grpo": _result([5.5], [1620.0]),
        "trl_grpo_kl": _result([13.2], [2430.0]),
    }
    rows = grpo_table(results, tokens=512)
    # no trl_grpo: no ratio columns; 13.2 / 5.5 = 2.40x faster, 1620 / 2430 = 0.67x the memory
    assert rows[2].endswith("| 5.50 | 93.1 |  | 1620 |  |")
    assert rows[-1] == "Same work (a reference pass on both): ours_grpo vs trl_grpo_kl: 2.40x tokens/s, 0.67x RSS"


def test_phase_table_takes_medians_over_repeats_and_leaves_missing_phases_blank():
    phases = {"generate": 3.0, "reward": 0.01, "teacher_forced": 0.5, "update": 2.0, "other": 0.1}
    results = {
        "ours_grpo": _result([1, 1, 1], [1, 1, 1], [phases, {**phases, "generate": 5.0}, {**phases, "generate": 4.0}]),
        "hf_generate": _result([1], [1], [{"generate": 2.5, "first_call": 9.0}]),
    }
    rows = phase_table(results)
    assert rows[0] == "| arm | generate | reward | teacher_forced | update | other |"
    assert rows[2] == "| ours_grpo | 4.00 | 0.01 | 0.50 | 2.00 | 0.10 |"
    assert rows[3] == "| hf_generate | 2.50 |  |  |  |  |"


def test_trl_step_splits_into_rollout_phases_and_the_update_after_it():
    clock = PhaseClock()
    clock.step = {"rollout": 3.0, "generate": 2.5, "reward": 0.25}
    clock.end_step(5.0)
    assert clock.last == {"generate": 2.5, "reward": 0.25, "teacher_forced": 0.25, "update": 2.0, "other": 0.0}
    assert clock.step == {}  # the next step starts from nothing


def test_a_wrapped_method_returns_its_value_and_adds_its_time_to_the_step():
    class Trainer:
        def _generate(self, prompts):
            return [p + "!" for p in prompts]

    trainer, clock = Trainer(), PhaseClock()
    clock.wrap(trainer, "_generate", "generate")
    assert trainer._generate(["a"]) == ["a!"]
    trainer._generate(["b"])
    assert set(clock.step) == {"generate"} and clock.step["generate"] >= 0.0


def test_the_grpo_preset_builds_the_objectives_defaults_and_takes_overrides():
    assert grpo_objective({}).settings() == GRPOObjective().settings()
    assert grpo_objective({"kl_coef": 0.0}).kl_coef == 0.0
