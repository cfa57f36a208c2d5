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
