"""The vLLM engine against a real ``vllm serve`` of SmolLM2-135M-Instruct (the ``vllm_url`` server of this folder's
conftest, shared with the other real-vLLM tests; skipped without the vLLM venv)."""

import csv
from pathlib import Path

import pytest
import torch

from lit_critic_rl.args import AdapterArgs, GenerationArgs
from lit_critic_rl.models.loading import SMOLLM2_ALIAS, load_causal_lm, load_tokenizer
from lit_critic_rl.models.policy import PolicyValueModel
from lit_critic_rl.ppo.rollout import teacher_force
from lit_critic_rl.rl.batch_stats import engine_gap_stats
from lit_critic_rl.rollout_engines.vllm import VLLMEngine

pytestmark = [pytest.mark.vllm, pytest.mark.integration]
REPO = Path(__file__).resolve().parents[2]
TOLERANCE = 1e-3
"""Largest |engine - trainer| token log-prob accepted; measured here: mean ~1e-5, max ~4e-5 (fp32, both T), with
min_new_tokens 0 (before min_new_tokens vLLM reports log-probs of the EOS-masked distribution, the trainer does not)."""


@pytest.fixture(scope="module")
def smollm2():
    torch.manual_seed(0)
    lm = PolicyValueModel(load_causal_lm(SMOLLM2_ALIAS), AdapterArgs(r=16, alpha=32), "shared_trunk")
    with torch.no_grad():  # a moved adapter: lora_B starts at 0, which would make the policy the base
        for name, p in lm.peft.named_parameters():
            if "lora_B" in name and ".policy." in name:
                p.normal_(0.0, 0.01)
    return lm, load_tokenizer(SMOLLM2_ALIAS)


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_engine_samples_teacher_force_to_the_engine_log_probs(vllm_url, smollm2, tmp_path, temperature):
    lm, tokenizer = smollm2
    gen = GenerationArgs(
        max_new_tokens=16, temperature=temperature, samples_per_prompt=2, stop_strings=["."], engine="vllm"
    )
    engine = VLLMEngine(GenerationArgs(engine="vllm", engine_url=vllm_url))
    prompts = ["This movie was", "I watched the film and", "The acting in this"]
    rollout = engine.sample(lm, tokenizer, prompts, gen, tmp_path)
    engine.close()
    assert len(rollout) == 6 and rollout.response_ids.shape[1] <= 16
    for text, n in zip(rollout.responses, rollout.response_mask.sum(1).tolist()):
        assert n == 16 or text.endswith(".") or "." not in text  # cut at the stop string, kept in the response
    rollout = teacher_force(lm, rollout, temperature, 8, values=False, reference=False)
    stats = engine_gap_stats(rollout)
    assert stats["train/engine_logprob_gap_max"] < TOLERANCE, stats


def test_fit_runs_the_quickstart_shape_with_the_vllm_engine(vllm_url, tmp_path):
    from lit_critic_rl.cli import main

    root = tmp_path / "run"
    main(
        [
            "fit",
            "--config",
            str(REPO / "configs" / "quickstart.yaml"),
            "--trainer.default_root_dir",
            str(root),
            "--trainer.max_epochs",
            "1",
            "--trainer.limit_train_batches",
            "2",
            "--trainer.limit_val_batches",
            "0",
            "--trainer.callbacks",
            "[]",
            "--data.init_args.batch_size",
            "8",
            "--model.generation.min_new_tokens",
            "0",  # vLLM's log-probs are those of the EOS-masked distribution before min_new_tokens; the trainer's not
            "--model.generation.engine",
            "vllm",
            "--model.generation.engine_url",
            vllm_url,
        ]
    )
    metrics = next(root.glob("csv/version_*/metrics.csv"))
    rows = [r for r in csv.DictReader(metrics.open()) if r.get("train/engine_logprob_gap_max")]
    assert len(rows) == 2
    gaps = [float(r["train/engine_logprob_gap_max"]) for r in rows]
    assert max(gaps) < TOLERANCE, gaps
    assert not list(root.glob("csv/version_*/rollout_adapters/*"))  # the last adapter unloaded and removed
