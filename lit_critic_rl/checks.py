"""Checks a fit runs before anything loads: each fails with one error naming the field to change."""

from __future__ import annotations

from lit_critic_rl.models.loading import load_model_config


def check_distributed_sampler(trainer) -> None:
    """With several processes the prompt datamodule slices the global batch itself (``data/base.py``)."""
    if trainer._accelerator_connector.use_distributed_sampler:
        raise ValueError(
            "trainer.use_distributed_sampler must be false with several processes: the prompt datamodule gives "
            "each rank its slice of the global batch itself (configs/trainer/ddp.yaml)"
        )


def check_prompt_lengths(tokenizer, name_or_path: str, prompts: list[str], new_tokens: int) -> None:
    """Fail if a prompt plus ``new_tokens`` (the larger of training's and evaluation's) exceeds the model's context,
    read from its config alone."""
    config = load_model_config(name_or_path).get_text_config()
    limit = getattr(config, "max_position_embeddings", None)
    if limit is None:
        return
    budget = limit - new_tokens
    lengths = [len(ids) for ids in tokenizer(prompts)["input_ids"]]
    too_long = [i for i, n in enumerate(lengths) if n > budget]
    if too_long:
        i = too_long[0]
        raise ValueError(
            f"data: {len(too_long)} prompt(s) exceed the context ({limit} tokens) minus "
            f"max_new_tokens ({new_tokens}, training or evaluation); first: #{i} with {lengths[i]} tokens"
        )
