"""The critic-quality study: every arm shares the budget and differs only in its critic, the summary's gain and
samples-to-threshold by hand, and the smoke mode end to end on the tiny model."""

import csv
import json
from dataclasses import asdict, replace

import pytest

from benchmarks.critic_quality import (
    Budget,
    arm_names,
    budget_args,
    critic_args,
    load_results,
    main,
    mean_curve,
    read_run,
    run_argv,
    sparse_levels,
    summarise,
    table,
    write_grm_critic,
)


def test_arms_share_the_budget_and_parse_to_their_critic(tiny_model_path, tmp_path, monkeypatch):
    from lit_critic_rl.cli import main as cli_main

    monkeypatch.chdir(tmp_path)
    budget = replace(Budget(), model=tiny_model_path)
    grm = write_grm_critic("some/adapter", tmp_path / "grm.yaml")
    expected = {"sparse": None, "oracle": "StepOracle", "grm": "MeasuredCritic"}
    for arm in arm_names():
        argv = [*budget_args(budget, 1), *critic_args(arm, 1, grm)]
        cli = cli_main(argv, run=False)
        model = cli.model
        assert (model.generation.samples_per_prompt, model.evaluator.args.samples_per_prompt) == (4, 4)
        assert (cli.datamodule.sizes["test"], cli.datamodule.batch_size, cli.trainer.max_epochs) == (300, 8, 4)
        critic = type(model.critic).__name__ if model.critic is not None else None
        assert critic == expected.get(arm, "NoisyCritic")
        if arm.startswith("noisy"):
            assert model.critic.p == float(arm[5:]) and model.critic.seed == 1
            assert type(model.critic.critic).__name__ == "StepOracle"
        if arm != "sparse" and arm != "grm":  # the StepOracle's mark values (configs/experiment/arith_step_oracle)
            assert (model.shaping.positive_value, model.shaping.placement) == (0.25, "last_token")
    assert cli.model.critic.critic.adapter_path == "some/adapter"


def test_bad_arm_budget_and_missing_grm_are_named():
    with pytest.raises(ValueError, match="unknown arm 'lexicon'"):
        critic_args("lexicon", 0, None)
    with pytest.raises(ValueError, match="needs --grm"):
        critic_args("grm", 0, None)
    with pytest.raises(ValueError, match="multiple of --val-every"):
        Budget(iterations=15, val_every=10)


def test_summary_gain_and_samples_to_threshold_by_hand():
    """Sparse seeds end at val 0.2 and 0.3: the threshold is their mean 0.25. The oracle seed 0 reaches 0.25 at
    320 samples, seed 1 at 640. Test accuracies: sparse mean (0.10 + 0.20) / 2 = 0.15, so the oracle's gains are
    0.30 - 0.15 = +0.15 and 0.20 - 0.15 = +0.05, mean +0.10."""
    rows = [
        {"arm": "sparse", "objective": "ppo", "seed": 0, "accuracy": 0.10, "curve": [[0, 0.1], [320, 0.2]]},
        {"arm": "sparse", "objective": "ppo", "seed": 1, "accuracy": 0.20, "curve": [[0, 0.1], [320, 0.3]]},
        {"arm": "oracle", "objective": "ppo", "seed": 0, "accuracy": 0.30, "curve": [[0, 0.1], [320, 0.25]]},
        {"arm": "oracle", "objective": "ppo", "seed": 1, "accuracy": 0.20, "curve": [[320, 0.2], [640, 0.4]]},
    ]
    for r in rows:
        r["precision"] = r["recall"] = None if r["arm"] == "sparse" else 1.0
    sparse, oracle = summarise(rows)
    assert oracle["gain"] == pytest.approx([0.15, 0.05]) and oracle["reach"] == [320, 640]
    assert sparse["reach"] == [None, 320]  # seed 0 never reaches the mean of both seeds
    assert oracle["reach_best"] == oracle["reach"]  # the sparse mean curve [0.1, 0.25] peaks at its end
    assert table([sparse, oracle]).splitlines()[-1] == (
        "| ppo | oracle | 2 | 1.00 [1.00, 1.00] | 1.00 [1.00, 1.00] | 0.250 [0.200, 0.300] | +0.100 [+0.050, +0.150] "
        "| 320, 640 | 320, 640 |"
    )


def test_sparse_best_level_differs_from_final_when_the_sparse_curve_falls_back():
    """Sparse seeds' val curves [0.1, 0.3, 0.2] and [0.1, 0.5, 0.2] (third seed cut: only 2 points): the mean curve
    over the two points all three share is [0.1, (0.3 + 0.5 + 0.1) / 3 = 0.3], so final = best = 0.3. With the
    short seed dropped the mean curve is [0.1, 0.4, 0.2]: final 0.2, best 0.4. The GRM arm's curve
    [0.1, 0.25, 0.45] reaches 0.2 at 64 samples and 0.4 at 96."""
    sparse = [
        {"arm": "sparse", "objective": "grpo", "seed": s, "accuracy": 0.2, "curve": [[0, 0.1], [32, v], [64, 0.2]]}
        for s, v in ((0, 0.3), (1, 0.5))
    ]
    grm = {"arm": "grm", "objective": "grpo", "seed": 0, "accuracy": 0.3, "curve": [[32, 0.1], [64, 0.25], [96, 0.45]]}
    short = {"arm": "sparse", "objective": "grpo", "seed": 2, "accuracy": 0.2, "curve": [[0, 0.1], [32, 0.1]]}
    for r in (*sparse, grm, short):
        r["precision"] = r["recall"] = None
    assert sparse_levels(sparse) == pytest.approx({"final": 0.2, "best": 0.4})
    assert sparse_levels([*sparse, short]) == pytest.approx({"final": 0.3, "best": 0.3})
    assert mean_curve(sparse) == ([0, 32, 64], pytest.approx([0.1, 0.4, 0.2]), [0.1, 0.3, 0.2], [0.1, 0.5, 0.2])
    rows = summarise([*sparse, grm])
    assert rows[1]["arm"] == "grm" and (rows[1]["reach"], rows[1]["reach_best"]) == ([64], [96])
    assert rows[0]["reach"] == [32, 32] and rows[0]["reach_best"] == [None, 32]


def test_read_run_takes_the_val_curve_and_leaves_an_unmeasured_precision_out(tmp_path):
    path = tmp_path / "csv" / "version_0" / "metrics.csv"
    path.parent.mkdir(parents=True)
    keys = ["step", "train/samples_seen", "val/accuracy", "train/critic_precision", "train/critic_recall"]
    keys += ["train/critic_marks_total", "train/critic_reference_marks_total"]
    with path.open("w", newline="") as f:
        out = csv.DictWriter(f, keys)
        out.writeheader()
        out.writerow({"step": 0, "val/accuracy": 0.1})
        out.writerow({"step": 1, "train/samples_seen": 32, "train/critic_precision": 1.0, "train/critic_recall": 0.5})
        out.writerow({"train/critic_marks_total": 0, "train/critic_reference_marks_total": 4})
        out.writerow({"step": 1, "val/accuracy": 0.2})
    run = read_run(tmp_path)
    assert run == {"curve": [[0.0, 0.1], [32.0, 0.2]], "precision": None, "recall": 0.5}


def test_smoke_mode_runs_every_arm_with_both_objectives(tiny_model_path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    main(["--smoke", "--model", tiny_model_path, "--out", str(tmp_path / "study")])
    rows = [json.loads(line) for line in (tmp_path / "study" / "results.jsonl").read_text().splitlines()]
    assert sorted((r["objective"], r["arm"]) for r in rows) == sorted(
        (o, a) for o in ("ppo", "grpo") for a in arm_names()
    )
    assert all(len(r["curve"]) >= 1 and 0.0 <= r["accuracy"] <= 1.0 for r in rows)
    assert (tmp_path / "study" / "gain_vs_precision.png").stat().st_size > 0
    assert (tmp_path / "study" / "curves.png").stat().st_size > 0
    assert "| grpo | grm |" in (tmp_path / "study" / "summary.md").read_text()


def test_fit_args_come_last_so_they_override_the_objective_file(tiny_model_path, tmp_path, monkeypatch):
    """configs/objective/grpo.yaml sets kl_coef 0.04 and the quickstart 2 PPO epochs; the budget's fit_args win."""
    from lit_critic_rl.cli import main as cli_main

    monkeypatch.chdir(tmp_path)
    cheap = ("--model.ppo.epochs=1", "--model.objective.init_args.kl_coef=0")
    budget = replace(Budget(), model=tiny_model_path, fit_args=cheap)
    model = cli_main(run_argv("sparse", "grpo", 0, budget, None, tmp_path / "run"), run=False).model
    assert (model.ppo.epochs, model.objective.kl_coef) == (1, 0.0)
    default = cli_main(run_argv("sparse", "grpo", 0, replace(budget, fit_args=()), None, tmp_path), run=False).model
    assert (default.ppo.epochs, default.objective.kl_coef) == (2, 0.04)  # the quickstart's and grpo.yaml's


def test_results_of_another_budget_stop_the_study_with_the_file_and_the_field(tmp_path):
    results = tmp_path / "results.jsonl"
    budget = Budget(iterations=20, val_every=5)
    row = {"arm": "sparse", "objective": "grpo", "seed": 0, "budget": json.loads(json.dumps(asdict(budget)))}
    results.write_text(json.dumps(row) + "\n")
    assert load_results(results, budget) == [row]  # the same budget goes on
    with pytest.raises(SystemExit, match=r"results.jsonl: the run 'grpo sparse seed 0'.*differs in fit_args"):
        load_results(results, replace(budget, fit_args=("--model.ppo.epochs=1",)))
    results.write_text(json.dumps({k: v for k, v in row.items() if k != "budget"}) + "\n")
    with pytest.raises(SystemExit, match="records none"):
        load_results(results, budget)
    assert load_results(tmp_path / "absent.jsonl", budget) == []
