"""Critic-free objectives fit from their YAML presets with the lexicon critic's token rewards, on the tiny model."""

import csv
from pathlib import Path

import pytest

from lit_critic_rl.cli import main

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize("preset", ["grpo", "reinforce_pp", "dr_grpo"])
def test_preset_fits_with_dense_token_rewards_and_logs_no_value_statistics(
    preset, tiny_model_path, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    main([
        "fit", "--config", str(CONFIGS / "quickstart.yaml"), "--config", str(CONFIGS / "debug" / "fast.yaml"),
        "--model.objective", str(CONFIGS / "objective" / f"{preset}.yaml"),
        "--model.critic", str(CONFIGS / "critic" / "lexicon.yaml"),
        "--model.model.name_or_path", tiny_model_path, "--model.generation.samples_per_prompt", "2",
        "--trainer.limit_val_batches", "0",
    ])  # fmt: skip
    metrics = next((tmp_path / "runs" / "quickstart").rglob("metrics.csv"))
    rows = [r for r in csv.DictReader(metrics.open()) if r.get("train/iteration")]
    assert len(rows) == 2 and all(float(r["train/samples_seen"]) > 0 for r in rows)
    assert float(rows[-1]["train/samples_seen"]) == 16  # 2 iterations x 4 prompts x 2 samples
    assert float(rows[0]["train/groups"]) == 4 and "train/policy_loss" in rows[0]
    logged = {k for k, v in rows[0].items() if v}
    assert not {"train/value_loss", "train/returns_mean"} & logged
    # Dr. GRPO's preset has kl_coef 0 and no KL in its reward: no reference pass, so no KL logged (not a 0)
    assert ("train/kl" in logged) is (preset != "dr_grpo")
    run = metrics.parent  # and what reads the iteration's records still works without a KL
    assert (run / "report.html").is_file() and (run / "samples.jsonl").is_file()
    assert (tmp_path / "runs" / "quickstart" / "checkpoints" / "last.ckpt").is_file()
