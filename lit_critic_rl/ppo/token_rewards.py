"""The reward stage of an iteration: extrinsic scores and critiques -> per-token rewards, in one place.

``r_t = extrinsic_weight * score * [t = last real token] + intrinsic_weight * critic value_t``; the KL penalty is
added later, by the advantage stage. A row whose critique failed, or that the gate did not send to the critic, has
no intrinsic reward (its tokens get 0, not ``unflagged_value``); it still trains on its extrinsic score. How one
critique's spans become token values is :func:`lit_critic_rl.critic.shaping.critique_token_rewards`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lit_critic_rl.args import ShapingArgs
from lit_critic_rl.critic.base import Critique
from lit_critic_rl.critic.shaping import critique_token_rewards, token_char_ranges, token_texts
from lit_critic_rl.ppo.score_scaling import RunningMoments
from lit_critic_rl.rl.masked import Reduce, no_reduce
from lit_critic_rl.types import Rollout, TokenRewards


def last_token_index(response_mask: Tensor) -> Tensor:
    """Index of the last real response token of each row (``[B, T] -> [B]``); rows are never empty."""
    return (response_mask.sum(1).long() - 1).clamp_min(0)


def score_on_last_token(scores: Tensor, response_mask: Tensor) -> Tensor:
    """Sequence level -> tokens: ``scores[b]`` on row b's last real response token, 0 elsewhere (``[B] -> [B, T]``)."""
    rewards = torch.zeros_like(response_mask, dtype=torch.float32)
    rewards[torch.arange(len(scores)), last_token_index(response_mask)] = scores.to(rewards)
    return rewards


def response_token_ranges(rollout: Rollout, tokenizer) -> list[list[tuple[int, int]]]:
    """Each row's ``[start, end)`` character range of every real response token in its response text."""
    mask = rollout.response_mask.cpu()
    ids = rollout.response_ids.cpu()
    return [token_char_ranges(tokenizer, ids[b, : int(mask[b].sum())].tolist()) for b in range(len(rollout))]


def batch_critique_rewards(
    critiques: list[Critique | None],
    ranges: list[list[tuple[int, int]]],
    response_mask: Tensor,
    shaping: ShapingArgs,
    texts: list[list[str]] | None = None,
) -> Tensor:
    """Batch level: ``[B, T]`` critic token values of the usable critiques (times ``shaping.intrinsic_weight``);
    rows whose critique is None or failed are 0. ``texts`` (each token decoded alone) is needed by
    ``placement: substring`` only."""
    rewards = torch.zeros_like(response_mask, dtype=torch.float32)
    for b, critique in enumerate(critiques):
        if critique is None or not critique.ok:
            continue
        n = int(response_mask[b].sum())
        row_texts = texts[b] if texts is not None else None
        rewards[b, :n] = critique_token_rewards(critique, ranges[b], n, shaping, token_texts=row_texts)
    return rewards * shaping.intrinsic_weight


def critic_stats(critiques: list[Critique | None]) -> dict[str, float]:
    """The critic counters logged every iteration as ``train/<key>`` (all zero when there is no critic)."""
    asked = [c for c in critiques if c is not None]
    return {
        "critic_failures": float(sum(c.outcome == "failed" for c in asked)),
        "critic_empty": float(sum(c.outcome == "empty" for c in asked)),
        "critic_spans": float(sum(len(c.spans) for c in asked if c.ok)),
        "critic_spans_dropped": float(sum(c.n_dropped for c in asked)),
        "critic_calls": float(len(asked)),
    }


def assemble_rewards(
    scores: Tensor,
    critiques: list[Critique | None],
    rollout: Rollout,
    ranges: list[list[tuple[int, int]]],
    shaping: ShapingArgs,
    tokenizer=None,
) -> TokenRewards:
    """Extrinsic ``scores`` ``[B]`` and one critique (or None) per sample -> :class:`TokenRewards`.

    ``ranges`` are the responses' token character ranges (:func:`response_token_ranges`); ``tokenizer`` is needed
    only by ``placement: substring``, which compares each token's own text with the span's.
    """
    mask = rollout.response_mask.cpu()
    if len(critiques) != len(rollout):
        raise ValueError(f"{len(critiques)} critiques for {len(rollout)} samples")
    extrinsic = score_on_last_token(scores, mask)
    if shaping.extrinsic_weight != 1.0:
        extrinsic = extrinsic * shaping.extrinsic_weight
    texts = None
    if shaping.placement == "substring":
        if tokenizer is None:
            raise ValueError("model.shaping.placement 'substring' needs the tokenizer in assemble_rewards")
        ids = rollout.response_ids.cpu()
        texts = [token_texts(tokenizer, ids[b, : int(mask[b].sum())].tolist()) for b in range(len(rollout))]
    intrinsic = batch_critique_rewards(critiques, ranges, mask, shaping, texts)
    return TokenRewards(extrinsic, intrinsic, critic_stats(critiques))


def scale_rewards(
    rewards: TokenRewards, response_mask: Tensor, moments: RunningMoments, reduce: Reduce = no_reduce
) -> TokenRewards:
    """``model.ppo.score_scaling``: both parts divided by the running standard deviation of the total token rewards
    (:mod:`lit_critic_rl.ppo.score_scaling`), after this batch is added to the running moments."""
    moments.update(rewards.total, response_mask, reduce)
    std = max(moments.std, 1e-8)
    return TokenRewards(rewards.extrinsic / std, rewards.intrinsic / std, {**rewards.stats, "reward_scale": std})
