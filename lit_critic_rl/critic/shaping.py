"""Spans (character ranges of the response text) -> per-token intrinsic rewards.

Token character ranges come from cumulative decoding of the SAMPLED ids (``len(decode(ids[:i+1]))``), so they are
exact for the tokens PPO trains on; re-tokenizing the text could yield different ids. A token whose bytes end inside a
multi-byte character decodes to a trailing U+FFFD; it gets an empty range and the token that completes the character
owns it. A token gets a span's value if its range overlaps the span; overlapping spans do not stack (the value of
largest magnitude wins). This replaces the reference code's test "decoded token is a substring of the span text",
which rewards every "the" or "," anywhere in the response.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lit_critic_rl.args import ShapingArgs
from lit_critic_rl.critic.base import Critique
from lit_critic_rl.types import Rollout, TokenRewards


def token_char_ranges(tokenizer, ids: list[int]) -> list[tuple[int, int]]:
    """``[start, end)`` character range of each id in ``decode(ids, skip_special_tokens=True)``."""
    ranges, prev_end = [], 0
    for i in range(len(ids)):
        text = tokenizer.decode(ids[: i + 1], skip_special_tokens=True)
        end = max(prev_end, len(text.rstrip("\ufffd")))
        ranges.append((prev_end, end))
        prev_end = end
    return ranges


def critique_token_rewards(
    critique: Critique, ranges: list[tuple[int, int]], n_tokens: int, shaping: ShapingArgs
) -> Tensor:
    """``[n_tokens]`` rewards of one sample. Tokens of no span get ``unflagged_value`` (empty ranges, e.g. EOS, too)."""
    rewards = torch.full((n_tokens,), shaping.unflagged_value)
    best = torch.zeros(n_tokens)  # value of the strongest span touching each token so far; 0 = none yet
    for span in critique.spans:
        value = shaping.positive_value if span.polarity > 0 else shaping.negative_value
        hit = [i for i, (s, e) in enumerate(ranges[:n_tokens]) if s < span.end and span.start < e]
        if not hit:
            continue
        targets = hit[-1:] if shaping.placement == "last_token" else hit
        for i in targets:
            if abs(value) > abs(best[i]):
                best[i] = value
    flagged = best != 0
    rewards[flagged] = best[flagged]
    return rewards


def intrinsic_token_rewards(
    critiques: list[Critique], tokenizer, response_ids: Tensor, response_mask: Tensor, shaping: ShapingArgs
) -> tuple[Tensor, Tensor]:
    """``([B, T] rewards * intrinsic_weight, [B] valid)``; failed critiques give a zero row and valid=False."""
    rewards = torch.zeros_like(response_mask, dtype=torch.float32)
    valid = torch.tensor([c.ok for c in critiques], dtype=torch.bool)
    for b, critique in enumerate(critiques):
        if not critique.ok:
            continue
        n = int(response_mask[b].sum())
        ids = response_ids[b, :n].tolist()
        rewards[b, :n] = critique_token_rewards(critique, token_char_ranges(tokenizer, ids), n, shaping)
    return rewards * shaping.intrinsic_weight, valid


def critic_token_rewards(
    critic, rollout: Rollout, scores: Tensor, tokenizer, shaping: ShapingArgs
) -> TokenRewards:
    """Ask ``critic`` about the samples the gate lets through (extrinsic score <= ``shaping.gate_threshold``) and
    return their intrinsic token rewards; rows of failed or un-asked samples are 0 (failed ones have valid=False)."""
    mask = rollout.response_mask.cpu()
    rewards = torch.zeros_like(mask, dtype=torch.float32)
    valid = torch.ones(len(rollout), dtype=torch.bool)
    gate = shaping.gate_threshold
    asked = [i for i in range(len(rollout)) if gate is None or scores[i] <= gate]
    critiques = critic.critique(
        [rollout.prompts[i] for i in asked], [rollout.responses[i] for i in asked], [float(scores[i]) for i in asked]
    )
    if len(critiques) != len(asked):
        raise RuntimeError(f"critic returned {len(critiques)} critiques for {len(asked)} samples")
    rows = torch.tensor(asked, dtype=torch.long)
    part, ok = intrinsic_token_rewards(critiques, tokenizer, rollout.response_ids[rows].cpu(), mask[rows], shaping)
    rewards[rows], valid[rows] = part, ok
    stats = critic_stats(failures=float((~ok).sum()), spans=float(sum(len(c.spans) for c in critiques)),
                         dropped=float(sum(c.n_dropped for c in critiques)), calls=float(len(asked)))
    return TokenRewards(rewards, valid, stats)


def critic_stats(failures: float = 0.0, spans: float = 0.0, dropped: float = 0.0, calls: float = 0.0) -> dict:
    """The critic counters logged every iteration as ``train/<key>`` (all zero when there is no critic)."""
    return {"critic_failures": failures, "critic_spans": spans, "critic_spans_dropped": dropped, "critic_calls": calls}
