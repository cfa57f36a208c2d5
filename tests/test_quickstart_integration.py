"""Integration: the real SmolLM2-135M-Instruct asset through the quickstart config (a shortened run)."""

import csv
from pathlib import Path

import pytest

from lit_critic_rl.cli import main

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
pytestmark = pytest.mark.integration


def test_quickstart_config_trains_smollm2_offline(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    cli = main(["fit", "--config", str(CONFIGS / "quickstart.yaml"), "--config", str(CONFIGS / "debug" / "fast.yaml")])
    out = caplog.text  # the end-of-run summary, logged by lit_critic_rl.callbacks.RunSummary
    assert "adapters:" in out and "samples:" in out
    run = tmp_path / "runs" / "quickstart" / "csv" / "version_0"
    rows = [r for r in csv.DictReader((run / "metrics.csv").open()) if r.get("train/iteration")]
    assert len(rows) == 2 and all(float(r["train/response_len"]) > 0 for r in rows)
    assert (run / "adapters" / "policy" / "adapter_config.json").is_file()
    # one base copy: policy + value + reference hold exactly the base's parameters once (134.5M for SmolLM2-135M)
    assert cli.model.lm.base_parameter_count() == pytest.approx(134.5e6, rel=0.01)


def test_smollm2_critics_run_on_the_real_asset(tmp_path):
    """HFCritic on SmolLM2 and SelfCritique on the SmolLM2 policy: real critiques, parsed or counted as failures."""
    from lit_critic_rl.args import AdapterArgs
    from lit_critic_rl.critic.base import CriticSetup
    from lit_critic_rl.critic.hf import HFCritic
    from lit_critic_rl.critic.parsing import parse_critique
    from lit_critic_rl.critic.self_critique import SelfCritique
    from lit_critic_rl.models.loading import SMOLLM2_ALIAS, load_causal_lm, load_tokenizer
    from lit_critic_rl.models.policy import PolicyValueModel

    prompts = ["I watched this movie on a Sunday afternoon and", "The film opens with a long shot of a harbor, and"]
    responses = [" I loved every minute of it, the acting was wonderful.", " the pacing is slow and the story is dull."]
    hf = HFCritic(SMOLLM2_ALIAS, max_new_tokens=40, cache_path=str(tmp_path / "c.sqlite"))
    hf_out = hf.critique(prompts, responses)
    lm = PolicyValueModel(load_causal_lm(SMOLLM2_ALIAS), AdapterArgs(r=4, alpha=8))
    own = SelfCritique(max_new_tokens=40, cache_path=str(tmp_path / "s.sqlite"))
    own.setup(CriticSetup(lm, load_tokenizer(SMOLLM2_ALIAS), SMOLLM2_ALIAS, tmp_path))
    self_out = own.critique(prompts, responses)
    # fresh adapters: the frozen base and the separately loaded critic are the same weights -> same critiques
    assert [c.raw for c in self_out] == [c.raw for c in hf_out]
    # measured: greedy SmolLM2-135M loops over the few-shot examples' spans ("dull, lifeless mess", ...) until the
    # token limit cuts it inside a quote: a cut-off or echo-only critique is failed, never paid
    parse_failures = ("UnparseableCritique", "AllQuotesDropped", "TruncatedCritique", "IncompleteCritique")
    assert all(c.ok or c.error in parse_failures for c in hf_out), [c.error for c in hf_out]
    for critique, response in zip(hf_out, responses):
        assert all(response[s.start : s.end] for s in critique.spans)
    # the complete lines of those outputs: the echoed quotes are dropped as few-shot echoes, not located
    complete = [
        parse_critique(c.raw.rsplit("\n", 1)[0], r, hf.template, p) for c, r, p in zip(hf_out, responses, prompts)
    ]
    assert sum(d.reason == "few_shot_echo" for c in complete for d in c.dropped) > 0
