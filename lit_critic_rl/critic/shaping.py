"""Spans (character ranges of the response text) -> per-token intrinsic rewards.

Token character ranges come from cumulative decoding of the SAMPLED ids (``len(decode(ids[:i+1]))``), so they are
exact for the tokens PPO trains on; re-tokenizing the text could yield different ids. A character split over several
byte-level tokens (an emoji, a CJK character) belongs to each of them: every token holding some of its bytes gets
that character in its range, so a span starting, ending or lying inside such a character rewards all its tokens.
A token gets a span's value if its range overlaps the span (``placement: spread``), or only the span's last token
does (``last_token``). Where spans overlap, ``overlap`` decides: ``sum`` (the paper's code), ``max`` or ``first``.

``placement: substring`` reproduces the reference code's test "the decoded token (stripped of surrounding
whitespace) is a substring of the span text" for like-for-like comparisons. It over-rewards: a span containing "the"
gives its value to every "the" of the response, wherever it is, and a one-letter token matches inside any word of
the span.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor

from lit_critic_rl.args import ShapingArgs
from lit_critic_rl.critic.base import Critique, Span, TokenValue


def token_char_ranges(tokenizer, ids: list[int]) -> list[tuple[int, int]]:
    """``[start, end)`` character range of each id in ``decode(ids, skip_special_tokens=True)``.

    A token whose bytes end inside a character (its cumulative decoding ends in U+FFFD) reaches one character
    further, and the next token starts at that character, so both hold it. Special tokens get empty ranges.
    """
    ranges, complete, pending = [], 0, False
    for i in range(len(ids)):
        text = tokenizer.decode(ids[: i + 1], skip_special_tokens=True)
        done = max(complete, len(text.rstrip("\ufffd")))
        ends_inside = len(text) > done
        if done == complete and not ends_inside and not pending:
            ranges.append((complete, complete))  # adds no text (special token, empty piece)
        else:
            ranges.append((complete, done + 1 if ends_inside else done))
        complete, pending = done, ends_inside
    return ranges


def token_texts(tokenizer, ids: list[int]) -> list[str]:
    """Each id decoded on its own: what ``placement: substring`` compares with the span text."""
    return [tokenizer.decode([i], skip_special_tokens=True) for i in ids]


def _targets(span: Span, ranges: list[tuple[int, int]], placement: str, texts: list[str] | None) -> list[int]:
    hit = [i for i, (s, e) in enumerate(ranges) if s < span.end and span.start < e]
    if placement == "last_token":
        return hit[-1:]
    if placement == "substring":
        if texts is None:
            raise ValueError("shaping.placement 'substring' needs the decoded token texts (token_texts=...)")
        quote = span.text or "".join(texts[i] for i in hit)
        return [i for i, t in enumerate(texts[: len(ranges)]) if t.strip() and t.strip() in quote]
    return hit


def critique_token_rewards(
    critique: Critique,
    ranges: list[tuple[int, int]],
    n_tokens: int,
    shaping: ShapingArgs,
    token_texts: list[str] | None = None,
) -> Tensor:
    """``[n_tokens]`` rewards of one sample. Tokens of no span get ``unflagged_value`` (empty ranges, e.g. EOS, too);
    a token of several spans combines their values by ``shaping.overlap``; a span listed twice counts once. A
    critique with per-token values (:attr:`Critique.token_values`) adds them as they are (:func:`values_on_tokens`);
    with values and no spans, ``unflagged_value`` does not apply."""
    if critique.token_values:
        values = values_on_tokens(critique.token_values, ranges, n_tokens)
        if not critique.spans:
            return values
        spans_only = replace(critique, token_values=[])
        return values + critique_token_rewards(spans_only, ranges, n_tokens, shaping, token_texts)
    total, touched = torch.zeros(n_tokens), torch.zeros(n_tokens, dtype=torch.bool)
    ranges = ranges[:n_tokens]
    for span in dict.fromkeys((s.start, s.end, s.label, s.polarity, s.text) for s in critique.spans):
        span = Span(*span)
        value = shaping.positive_value if span.polarity > 0 else shaping.negative_value
        for i in _targets(span, ranges, shaping.placement, token_texts):
            if shaping.overlap == "sum":
                total[i] += value
            elif not touched[i] or shaping.overlap == "max" and abs(value) > abs(total[i]):
                total[i] = value
            touched[i] = True
    rewards = torch.full((n_tokens,), shaping.unflagged_value)
    rewards[touched] = total[touched]
    return rewards


def values_on_tokens(values: list[TokenValue], ranges: list[tuple[int, int]], n_tokens: int) -> Tensor:
    """A critic's per-token values moved onto the policy's tokens by characters: each policy token gets the mean of
    the values whose character ranges overlap its own, weighted by the overlap; a token with an empty range (EOS)
    gets the mean of the empty-range values at the same offset. Tokens nothing overlaps get 0. When both sides
    tokenize the response alike, this is the identity."""
    out = torch.zeros(n_tokens)
    for i, (start, end) in enumerate(ranges[:n_tokens]):
        if end > start:
            weights = [(min(end, v.end) - max(start, v.start), v.value) for v in values if v.end > v.start]
            weights = [(w, x) for w, x in weights if w > 0]
        else:
            weights = [(1, v.value) for v in values if v.start == v.end == start]
        if weights:
            out[i] = sum(w * x for w, x in weights) / sum(w for w, _ in weights)
    return out
