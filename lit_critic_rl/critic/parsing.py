"""Critic output -> spans of the response text.

The parser is tolerant: numbering and bullets, any quote style, label casing and spacing, "text spans" suffixes,
heading-style lists (``Positive spans:`` then one quote per line), ``None identified`` and surrounding prose. Output
is read up to the first blank line after content (critics continue with new made-up examples otherwise).

A quote is located in the response by exact match, then case/whitespace/punctuation-normalised match, then the
closest window of the normalised response (difflib ratio >= 0.8). Occurrence rule: the first occurrence at or after
the end of the previous located span (critics quote in reading order), else the first in the text. Quotes found
nowhere in the response (hallucinated, or from the prompt) are dropped and counted. An output with no label line and no
"None identified" is unparseable: the critique fails rather than counting as "nothing to mark".
"""

from __future__ import annotations

import difflib
import re

from lit_critic_rl.critic.base import Critique, Span
from lit_critic_rl.critic.templates import CritiqueTemplate

_BULLET = re.compile(r"^\s*(?:[-*•·>]+|\(?\d+[.):]|\(?[a-z][.)])\s*", re.IGNORECASE)
_LABEL = re.compile(r"^\**\s*([A-Za-z][A-Za-z _-]*?)\s*\**\s*[:：]\s*(.*)$")
_QUOTED = re.compile(r'"([^"]+)"|“([^”]+)”|«([^»]+)»|‘([^’]+)’|`([^`]+)`')
_NONE = re.compile(r"\bnone(?:\s+identified)?\b|\bno\s+(?:\w+\s+)?spans?\b|^n/?a$", re.IGNORECASE)
_TRANS = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "–": "-", "—": "-"})


def _match_label(raw: str, labels: dict[str, float]) -> str | None:
    words = re.sub(r"[\s_-]+", " ", raw.lower()).strip()
    words = re.sub(r"\s*(?:text\s+)?spans?$", "", words).strip()
    if words in labels:
        return words
    for label in labels:  # "toxic" in "toxic text", "positive" in "positive sentiment"
        if words.startswith(label) or label.startswith(words) and len(words) >= 3:
            return label
    return None


def _quotes(rest: str) -> list[str]:
    found = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(rest)]
    if found:
        return [q for q in found if q.strip()]
    bare = rest.strip().strip("'\".,;").strip()
    return [bare] if bare and not _NONE.search(bare) else []


def parse_marks(text: str, labels: dict[str, float]) -> tuple[list[tuple[str, str]], bool]:
    """``([(label, quote), ...], understood)``; ``understood`` is False when nothing in ``text`` follows the format."""
    marks: list[tuple[str, str]] = []
    understood, started, current = False, False, None
    for line in text.splitlines():
        if not line.strip():
            if started:
                break
            continue
        started = True
        line = _BULLET.sub("", line.translate(_TRANS)).strip()
        match = _LABEL.match(line)
        label = _match_label(match.group(1), labels) if match else None
        if label is not None:
            understood, current = True, label
            marks += [(label, q) for q in _quotes(match.group(2))]
        elif _NONE.search(line) and len(line) < 40:
            understood = True
        elif current is not None and _QUOTED.search(line):
            marks += [(current, q) for q in _quotes(line)]
    return marks, understood


def _normalise(text: str) -> tuple[str, list[int]]:
    """Lower-cased text with runs of whitespace collapsed and quotes unified, plus each output char's source index."""
    out, index, prev_space = [], [], False
    for i, ch in enumerate(text.translate(_TRANS)):
        if ch.isspace():
            if prev_space:
                continue
            ch, prev_space = " ", True
        else:
            prev_space = False
        out.append(ch.lower())
        index.append(i)
    return "".join(out), index


def locate(quote: str, response: str, start_at: int = 0) -> tuple[int, int] | None:
    """Character range of ``quote`` in ``response`` (see the module docstring for the rules), or None."""
    quote = quote.strip()
    if not quote:
        return None
    for origin in (start_at, 0):
        pos = response.find(quote, origin)
        if pos >= 0:
            return pos, pos + len(quote)
    norm, index = _normalise(response)
    q, _ = _normalise(quote.strip(" .,;:!?'\""))
    if not q:
        return None
    norm_start = next((k for k, i in enumerate(index) if i >= start_at), len(norm))
    for origin in (norm_start, 0):
        pos = norm.find(q, origin)
        if pos >= 0:
            return index[pos], index[pos + len(q) - 1] + 1
    if len(q) < 4:
        return None
    best, where = 0.0, None
    for width in {len(q), int(len(q) * 0.85), int(len(q) * 1.15) + 1}:
        for pos in range(0, max(len(norm) - width, 0) + 1):
            matcher = difflib.SequenceMatcher(None, q, norm[pos : pos + width], autojunk=False)
            if matcher.real_quick_ratio() < 0.8 or matcher.quick_ratio() < 0.8:
                continue
            ratio = matcher.ratio()
            if ratio > best:
                best, where = ratio, (pos, min(pos + width, len(norm)))
    if where is None or best < 0.8:
        return None
    start, end = index[where[0]], index[where[1] - 1] + 1
    while start < end and response[start].isspace():
        start += 1
    while end > start and response[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


def parse_critique(raw: str, response: str, template: CritiqueTemplate) -> Critique:
    marks, understood = parse_marks(raw, template.labels)
    if not understood:
        return Critique(ok=False, raw=raw, error="UnparseableCritique")
    spans, dropped, cursor, seen = [], 0, 0, set()
    for label, quote in marks:
        where = locate(quote, response, cursor)
        if where is None:
            dropped += 1
            continue
        cursor = where[1]
        if (where, label) not in seen:
            seen.add((where, label))
            spans.append(Span(where[0], where[1], label, template.labels[label]))
    return Critique(ok=True, spans=spans, raw=raw, n_dropped=dropped)
