"""Checks a fit runs before anything loads: each fails with one error naming the field to change."""

from __future__ import annotations

from lit_critic_rl.models.loading import load_model_config


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


def check_objective(objective, rewriter, regenerate_every: int) -> None:
    """The rewriter and the data rounds are for an objective that reads rewrite targets / trains off-policy."""
    name = type(objective).__name__
    if rewriter is not None and not objective.needs_targets:
        raise ValueError(f"model.rewriter is read only by an objective with rewrite targets (RLMEC), not {name}")
    if regenerate_every > 1 and not objective.off_policy:
        raise ValueError(
            f"model.ppo.regenerate_every must be 1 for the on-policy {name} (reusing old samples is for an "
            f"objective that trains off-policy, e.g. RLMECObjective), got {regenerate_every}"
        )


def check_offline(objective) -> None:
    """Saved samples (``RolloutReplay``) are for an objective that trains off-policy."""
    if not objective.off_policy:
        raise ValueError(
            f"data: RolloutReplay trains on saved, off-policy samples; only an objective that trains off-policy "
            f"(model.objective: RLMECObjective) trains offline, not {type(objective).__name__}"
        )
