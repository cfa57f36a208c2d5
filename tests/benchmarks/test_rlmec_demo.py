from benchmarks.rlmec_demo import arm_args, arms_in, summary


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


def test_an_explicit_rlmec_rate_reaches_only_the_rlmec_arm():
    rlmec = arm_args("rlmec", "g", 6, 8, 48, rlmec_lr=5e-4)
    assert _value(rlmec, "--model.ppo.learning_rate") == "0.0005"
    assert _value(arm_args("ppo_grm", "g", 6, 8, 48, rlmec_lr=5e-4), "--model.ppo.learning_rate") is None


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

    args = argparse.Namespace(out=str(tmp_path), grm="g", iterations=6, batch=8, test_size=48, rlmec_lr=None, timeout=5)
    with pytest.raises(FileNotFoundError, match=r"ppo_grm/seed1/checkpoints/last.ckpt"):
        run("ppo_grm", 1, args, retest=144)
