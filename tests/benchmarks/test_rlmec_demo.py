from pathlib import Path

from benchmarks.rlmec_demo import (
    arm_args,
    arms_in,
    correct_per_problem,
    diagnostics_summary,
    latest_metrics,
    paired_gain,
    paired_summary,
    rlmec_arm,
    summary,
    training_diagnostics,
)


def _value(args: list[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args else None


def test_the_three_arms_share_the_budget_and_differ_only_in_reward_and_objective():
    arms = {
        arm: arm_args(arm, "grm/adapter", iterations=6, batch=8, test_size=48) for arm in ("sparse", "ppo_grm", "rlmec")
    }
    for args in arms.values():
        assert _value(args, "--trainer.limit_train_batches") == "6"
        assert _value(args, "--data.init_args.batch_size") == "8"
        assert _value(args, "--data.init_args.test_size") == "48"
    assert _value(arms["sparse"], "--model.critic") is None
    assert _value(arms["ppo_grm"], "--model.critic.init_args.adapter_path") == "grm/adapter"
    assert "configs/experiment/arith_sparse.yaml" in arms["ppo_grm"]
    assert "configs/experiment/arith_rlmec_online.yaml" in arms["rlmec"]
    assert _value(arms["rlmec"], "--model.shaping.extrinsic_weight") == "0.0"
    assert _value(arms["rlmec"], "--model.ppo.learning_rate") is None  # the experiment config's own rate
    assert _value(arms["rlmec"], "--model.ppo.log_kl") == "true"  # the KL the results report is logged


def test_a_rate_in_the_arm_name_reaches_only_that_rlmec_arm():
    assert rlmec_arm(5e-5) == "rlmec_lr5e-05" and rlmec_arm(None) == "rlmec"
    rlmec = arm_args(rlmec_arm(5e-5), "g", 6, 8, 48)
    assert _value(rlmec, "--model.ppo.learning_rate") == "5e-05"
    assert "configs/experiment/arith_rlmec_online.yaml" in rlmec
    assert _value(rlmec, "--model.shaping.extrinsic_weight") == "0.0"
    assert _value(arm_args("ppo_grm", "g", 6, 8, 48), "--model.ppo.learning_rate") is None


def test_every_arm_is_tested_with_the_same_samples_per_problem():
    for arm in ("sparse", "ppo_grm", "rlmec", "rlmec_lr0.0005"):
        assert _value(arm_args(arm, "g", 6, 8, 300, test_samples=4), "--model.evaluation.samples_per_prompt") == "4"


def test_the_offline_arm_replays_the_teacher_file_on_the_online_arms_budget():
    offline, online = arm_args("rlmec_offline", "g", 6, 8, 300, 4, "t.jsonl"), arm_args("rlmec", "g", 6, 8, 300, 4)
    assert offline[offline.index("configs/experiment/arith_rlmec_online.yaml") + 2 :][:1] == [
        "configs/experiment/arith_rlmec_offline.yaml"
    ]  # the offline preset on top of the online one, as its header says
    assert _value(offline, "--data.init_args.rollout_file") == "t.jsonl"
    for flag in ("--trainer.limit_train_batches", "--data.init_args.batch_size", "--model.ppo.minibatch_size"):
        assert _value(offline, flag) == _value(online, flag)
    assert _value(offline, "--data.init_args.eval_data.init_args.test_size") == "300"
    assert _value(offline, "--model.evaluation.samples_per_prompt") == "4"
    assert _value(offline, "--model.critic.init_args.adapter_path") == "g"
    assert _value(offline, "--model.ppo.log_kl") == "true"


def test_the_offline_arm_is_tested_on_the_online_arms_problems(tiny_model_path, tmp_path, monkeypatch):
    """Built through the CLI as the demonstration's child builds it: the replay datamodule's test prompts are the
    sparse arm's, prompt for prompt, so the arms' accuracies compare."""
    import json

    from lit_critic_rl.cli import main
    from tests.test_cli import untrained_grm_adapter

    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    teacher = tmp_path / "teacher.jsonl"
    sample = {"prompt": "Problem: Start with 3. Add 4.\n", "response": "Step 1: 3 + 4 = 7"}
    teacher.write_text(json.dumps(sample) + "\n")
    grm = untrained_grm_adapter(tiny_model_path, tmp_path)
    tiny = ["--model.model.name_or_path", tiny_model_path, "--trainer.default_root_dir", str(tmp_path)]
    prompts = {}
    for arm in ("sparse", "rlmec_offline"):
        cli = main(arm_args(arm, grm, 2, 4, 40, 2, str(teacher)) + tiny, run=False)
        cli.datamodule.setup("test")
        prompts[arm] = [p for batch in cli.datamodule.test_dataloader() for p in batch]
    assert len(prompts["sparse"]) == 40
    assert prompts["rlmec_offline"] == prompts["sparse"]


METRICS = """train/kl,train/clipfrac,train/ratio_mean,train/reward_extrinsic,val/accuracy,step
0.0,0.0,1.0,0.125,,0
,,,,0.1,0
0.5,0.25,0.96,0.0,,1
3.5,0.5,0.92,0.25,,2
2.0,0.125,0.98,0.375,,3
"""


def test_training_diagnostics_read_the_newest_metrics_csv(tmp_path):
    for version, text in ((0, "train/kl,step\n99.0,0\n"), (1, METRICS)):
        folder = tmp_path / "csv" / f"version_{version}"
        folder.mkdir(parents=True)
        (folder / "metrics.csv").write_text(text)
    assert latest_metrics(tmp_path) == tmp_path / "csv" / "version_1" / "metrics.csv"
    got = training_diagnostics(latest_metrics(tmp_path))
    # by hand: KL max(0, 0.5, 3.5, 2) = 3.5; clip max = 0.5; ratio 0.92..1.0; reward (0.125 + 0 + 0.25) / 3 and
    # (0 + 0.25 + 0.375) / 3 over the four logged iterations (the validation row has none)
    assert got == {
        "kl_max": 3.5,
        "clipfrac_max": 0.5,
        "ratio_mean_min": 0.92,
        "ratio_mean_max": 1.0,
        "reward_first3": 0.125,
        "reward_last3": 0.625 / 3,
    }
    rows = [{"arm": "rlmec_lr0.0005", "seed": 0, "test/accuracy": 0.1, **got}, {"arm": "base", "seed": 0}]
    assert diagnostics_summary(rows).splitlines()[-1] == "| rlmec_lr0.0005 | 3.50 | 0.50 | 0.920-1.000 | 0.12 -> 0.21 |"


def test_a_run_that_logged_nothing_is_named(tmp_path):
    import pytest

    with pytest.raises(FileNotFoundError, match="csv/version_"):
        latest_metrics(tmp_path / "sparse" / "seed0")


def test_renamed_arms_are_listed_after_the_standard_ones():
    rows = [
        {"arm": "rlmec_lr5e-4", "seed": 0, "test/accuracy": 0.02},
        {"arm": "rlmec", "seed": 0, "test/accuracy": 0.125},
        {"arm": "base", "seed": 0, "test/accuracy": 0.1},
    ]
    assert arms_in(rows) == ["base", "rlmec", "rlmec_lr5e-4"]
    assert summary(rows).splitlines()[-1] == "| rlmec_lr5e-4 | 1 | 0.020 | 0.020 |"


def test_retest_without_a_finished_run_names_the_missing_checkpoint(tmp_path):
    import argparse

    import pytest

    from benchmarks.rlmec_demo import run

    args = argparse.Namespace(
        out=str(tmp_path), grm="g", iterations=6, batch=8, test_size=48, test_samples=4, timeout=5, teacher="t"
    )
    with pytest.raises(FileNotFoundError, match=r"ppo_grm/seed1/checkpoints/last.ckpt"):
        run("ppo_grm", 1, args, retest=144)


def test_correct_per_problem_counts_each_problems_right_samples_in_test_order(tmp_path):
    import json

    samples = [("p2", 1.0), ("p2", 0.0), ("p1", 0.0), ("p1", 0.0), ("p2", 1.0), ("p3", 1.0)]
    path = tmp_path / "test_samples.jsonl"
    path.write_text("".join(json.dumps({"prompt": p, "response": "", "reward": r}) + "\n" for p, r in samples))
    assert correct_per_problem(path) == [2, 0, 1]


def test_paired_gain_by_hand():
    import pytest

    # 4 problems, 4 samples each: differences (3-1)/4, (0-0)/4, (4-2)/4, (1-2)/4 = 0.5, 0, 0.5, -0.25
    gain, se = paired_gain([3, 0, 4, 1], [1, 0, 2, 2], samples=4)
    assert gain == pytest.approx(0.1875)  # 0.75 / 4
    # deviations 0.3125, -0.1875, 0.3125, -0.4375: squares sum 0.421875, / 3 = 0.140625, sd 0.375, / sqrt 4
    assert se == pytest.approx(0.1875)
    with pytest.raises(ValueError, match="same >= 2 problems"):
        paired_gain([1, 2], [1, 2, 3], samples=4)


def test_paired_summary_lists_each_trained_run_against_the_base():
    rows = [
        {"arm": "base", "seed": 0, "correct_per_problem": [1, 0, 2, 2]},
        {"arm": "rlmec_lr0.0005", "seed": 1, "correct_per_problem": [3, 0, 4, 1]},
        {"arm": "sparse", "seed": 0},  # no counts (an older row): left out
    ]
    assert paired_summary(rows, 4).splitlines()[2:] == ["| rlmec_lr0.0005 | 1 | +18.8 | 18.8 |"]
