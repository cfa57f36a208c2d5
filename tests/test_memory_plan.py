"""The memory planner's maths on hand-computed numbers, its config glue, and a fit that stops before loading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lit_critic_rl.memory_plan import (
    NF4_BYTES_PER_WEIGHT,
    ModelShape,
    RunShape,
    adapter_state_bytes,
    base_weight_bytes,
    knobs,
    kv_cache_bytes,
    plan,
    update_activation_bytes,
)

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
# hidden 4, intermediate 8, 2 layers, 2 heads of 2 dims, 1 KV head (kv_dim 2), vocab 10, tied embeddings
TINY = ModelShape(hidden=4, intermediate=8, layers=2, heads=2, kv_heads=1, vocab=10)
RUN = RunShape(samples=3, prompt_tokens=3, new_tokens=2, minibatch=2, teacher_force_chunk=8, lora_r=2, adapters=2)


def test_weights_by_hand():
    # per layer q 4x4 + k 4x2 + v 4x2 + o 4x4 + gate 4x8 + up 4x8 + down 8x4 = 144; 2 layers = 288
    # embeddings 10x4 = 40, norms (2 per layer + final) x 4 = 20: 60 unquantized
    assert TINY.linear_params() == 288 and TINY.other_params() == 60
    assert base_weight_bytes(TINY, "none", "float32") == 348 * 4
    assert base_weight_bytes(TINY, "none", "bfloat16") == 348 * 2
    assert base_weight_bytes(TINY, "nf4", "bfloat16") == pytest.approx(288 * 0.515869140625 + 60 * 4)
    assert NF4_BYTES_PER_WEIGHT == pytest.approx(0.515869140625)


def test_adapters_cache_and_activations_by_hand():
    # LoRA r=2: 2 x (in + out) summed over the 7 linears = 2 x 64 = 128 per layer, 256 per adapter; two adapters plus
    # the value head (4 + 1), 16 bytes each
    assert adapter_state_bytes(TINY, 2, 2) == (512 + 5) * 16
    # keys and values: 2 x 2 layers x 3 sequences x 5 tokens x kv_dim 2 x 4 bytes
    assert kv_cache_bytes(TINY, 3, 5, "float32") == 480
    # 2 x 5 = 10 tokens, 8 x 4 + 4 x 8 = 64 elements per token and layer, fp32; logits 2 x 3 positions x 10 x 4 B x 4
    assert update_activation_bytes(TINY, RUN) == 10 * 64 * 4 * 2 + 960
    checkpointed = RunShape(**{**RUN.__dict__, "activation_checkpointing": True})
    assert update_activation_bytes(TINY, checkpointed) == 10 * 4 * 4 * 2 + 10 * 64 * 4 + 960


def test_peak_is_persistent_terms_plus_the_largest_phase():
    memory = plan(TINY, RUN)
    assert memory.terms["teacher-forced logits (chunked)"] == 3 * 3 * 10 * 4 * 2  # chunk capped at the 3 samples
    assert memory.peak == 1392 + 8272 + 6080  # base + adapters + the update (larger than rollout and scoring)
    assert memory.over_base() == 8272 + 6080


def test_knobs_name_the_fields_that_shrink_the_plan():
    advice = knobs(TINY, RUN)
    assert advice[0] == "model.model.quantization: nf4"
    assert "model.model.activation_checkpointing: true" in advice and "model.model.value_mode: shared_trunk" in advice
    assert knobs(TINY, RunShape(1, 3, 2, 1, 8, "nf4", "bfloat16", 2, 1, True)) == []


def test_model_shape_reads_a_transformers_config():
    from transformers import LlamaConfig

    from lit_critic_rl.plan_memory import model_shape

    config = LlamaConfig(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=100,
        tie_word_embeddings=False,
    )
    assert model_shape(config) == ModelShape(64, 128, 3, 4, 2, 100, tied_embeddings=False)


LLAMA_70B = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 8192,
    "intermediate_size": 28672,
    "num_hidden_layers": 80,
    "num_attention_heads": 64,
    "num_key_value_heads": 8,
    "vocab_size": 32000,
    "max_position_embeddings": 4096,
}


def test_a_fit_that_cannot_fit_stops_before_loading_and_names_the_knobs(tiny_model_path, tmp_path, monkeypatch):
    """A folder with a 70B config and the tiny tokenizer but NO weights: the plan (~275 GB in fp32) fails the fit
    with the knobs, before configure_model would have tried (and failed) to load weights."""
    import shutil

    from lit_critic_rl.cli import main

    folder = tmp_path / "llama70b-config-only"
    folder.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(f"{tiny_model_path}/{name}", folder / name)
    (folder / "config.json").write_text(json.dumps(LLAMA_70B))
    monkeypatch.chdir(tmp_path)
    args = ["fit", "--config", str(CONFIGS / "quickstart.yaml"), "--config", str(CONFIGS / "debug" / "fast.yaml")]
    with pytest.raises(ValueError, match="planned peak memory") as err:
        main([*args, "--model.model.name_or_path", str(folder)])
    assert "model.model.quantization: nf4" in str(err.value)
    assert not (tmp_path / "runs" / "quickstart" / "checkpoints").exists()
