"""Shared fixtures: a tiny random Llama with a byte-level BPE tokenizer trained on the spot (offline, < 2 s)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
torch.set_num_threads(2)

REPO = Path(__file__).resolve().parents[1]
PROMPTS = REPO / "lit_critic_rl" / "data" / "prompts" / "movie_review_openings.txt"


def build_tiny_model(folder: Path) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    text = PROMPTS.read_text().splitlines() * 3 + ["good great bad awful love hate fine ok 😀 日本語 café"]
    raw.train_from_iterator(text, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, pad_token="<pad>", bos_token="<s>", eos_token="</s>")
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory) -> str:
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny-llama")))


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_path):
    from lit_critic_rl.models.loading import load_tokenizer

    return load_tokenizer(tiny_model_path)


@pytest.fixture(scope="session")
def make_trainer():
    """``make_trainer(root, **overrides)``: the Lightning Trainer the fit tests share. On CPU, one epoch of
    ``limit_train_batches=2`` iterations, no validation and no sanity check, quiet, a metric row every iteration in
    ``root/csv/version_0/metrics.csv``; any Trainer argument given overrides these (``logger=False`` for none).
    Session-scoped because it holds no state, so module-scoped fixtures can fit with it too."""
    from lightning.pytorch import Trainer
    from lightning.pytorch.loggers import CSVLogger

    def make(root: Path, **overrides) -> Trainer:
        defaults = dict(
            accelerator="cpu",
            max_epochs=1,
            limit_train_batches=2,
            limit_val_batches=0,
            num_sanity_val_steps=0,
            default_root_dir=str(root),
            enable_progress_bar=False,
            enable_model_summary=False,
            log_every_n_steps=1,
        )
        if "logger" not in overrides:
            defaults["logger"] = CSVLogger(str(root), name="csv", version=0)
        return Trainer(**{**defaults, **overrides})

    return make
