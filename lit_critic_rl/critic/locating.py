"""Where a quote is in the response: exact or nothing, and which occurrence when it is there several times.

Matching, first level with a hit wins:

1. the quote as written;
2. case, whitespace runs, quote and dash styles unified, punctuation trimmed from the quote's edges (``felt slow.``);
   where the trimmed edge was a quote mark or other punctuation that the response has right there too, the span
   takes it back (a quoted word keeps its closing mark);
   a ``*`` run inside a word of the quote stands for as many letters, give or take (a critic that censors
   ``f***ing`` still marks the word the response spells out);
3. word by word: every word of the quote equal to the next word of the response, only punctuation and spaces
   between them may differ (``plot... well, fine`` finds ``plot… well, “fine``).

Every match starts and ends at word boundaries (characters of unspaced scripts such as CJK are words of their own).
There is no similarity threshold: a word that differs by one letter is a miss.

Occurrences (:func:`choose`): when quotes occur several times, occurrences are chosen so that spans of different
labels do not overlap where such a choice exists; among the choices that exist, each quote, in reading order,
takes its earliest occurrence that does not overlap a span already chosen for its own label and lies at or after
that label's previous span (critics quote in reading order within a section). When no choice avoids overlapping
spans of different labels, each quote takes the first occurrence in that same preference order.
"""

from __future__ import annotations

import re
import unicodedata

from lit_critic_rl.critic.quotes import is_word, unspaced
from lit_critic_rl.critic.templates import CritiqueTemplate, join_input

_TRANS = str.maketrans(
    {
        "“": '"',
        "”": '"',
        "„": '"',
        "«": '"',
        "»": '"',
        "‘": "'",
        "’": "'",
        "–": "-",
        "—": "-",
        "「": '"',
        "」": '"',
        "『": '"',
        "』": '"',
        "\u00a0": " ",
    }
)
_SEARCH_BUDGET = 20_000
"""Assignments tried by :func:`choose` before it falls back to the greedy choice."""

Where = tuple[int, int]


def normalise(text: str) -> tuple[str, list[int]]:
    """Lower-cased text with whitespace runs collapsed and quote/dash styles unified, plus each char's source index."""
    out, index, prev_space = [], [], False
    for i, ch in enumerate(text.translate(_TRANS)):
        if ch.isspace():
            if prev_space:
                continue
            ch, prev_space = " ", True
        else:
            prev_space = False
        for c in ch.lower() if ch != "…" else "...":
            out.append(c)
            index.append(i)
    return "".join(out), index


def _trimmable(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch).startswith("P")


def edge_trim(quote: str) -> tuple[str, str, str]:
    """``(head, core, tail)``: punctuation, quote marks and spaces at both ends, and what they surround."""
    start, end = 0, len(quote)
    while start < end and _trimmable(quote[start]):
        start += 1
    while end > start and _trimmable(quote[end - 1]):
        end -= 1
    return quote[:start], quote[start:end], quote[end:]


def _bounded(text: str, start: int, end: int) -> bool:
    left = start == 0 or not (is_word(text[start - 1]) and is_word(text[start]))
    right = end == len(text) or not (is_word(text[end - 1]) and is_word(text[end]))
    return left and right


def _find_all(haystack: str, needle: str) -> list[int]:
    out, pos = [], haystack.find(needle)
    while pos >= 0:
        if _bounded(haystack, pos, pos + len(needle)):
            out.append(pos)
        pos = haystack.find(needle, pos + 1)
    return out


def _word_spans(text: str) -> list[tuple[str, int, int]]:
    spans = []
    for m in re.finditer(r"[^\W_]+", text):
        word, s = m.group(), m.start()
        if any(unspaced(c) for c in word):  # one word per character of unspaced scripts
            spans += [(c.lower(), s + k, s + k + 1) for k, c in enumerate(word)]
        else:
            spans.append((word.lower(), s, m.end()))
    return spans


def _take_back(response: str, start: int, end: int, head: str, tail: str) -> Where:
    """Extend ``[start, end)`` over the response's own edge characters that equal the quote's trimmed ones."""
    head, tail = head.strip().translate(_TRANS), tail.strip().translate(_TRANS)
    for ch in reversed(head):
        if start > 0 and response[start - 1].translate(_TRANS) == ch:
            start -= 1
        else:
            break
    for ch in tail:
        if end < len(response) and response[end].translate(_TRANS) == ch:
            end += 1
        else:
            break
    return start, end


def _censored(norm: str, q: str) -> list[Where]:
    """Matches of ``q`` whose ``*`` runs inside or at the edge of a word (``f***ing``) stand for about as many
    letters; [] when ``q`` censors nothing."""
    if not re.search(r"[^\W_]\*|\*[^\W_]", q):
        return []
    parts = re.split(r"(\*+)", q)
    pattern = "".join(
        f"[^\\W_]{{{max(1, len(p) - 1)},{len(p) + 2}}}" if p.startswith("*") else re.escape(p) for p in parts
    )
    return [(m.start(), m.end()) for m in re.finditer(pattern, norm) if _bounded(norm, m.start(), m.end())]


def occurrences(quote: str, response: str, strict: bool = False) -> list[Where]:
    """Every ``[start, end)`` of ``quote`` in ``response`` at the first matching level (see the module docstring);
    ``strict`` stops before the word-by-word level."""
    quote = quote.strip()
    if not quote:
        return []
    hits = _find_all(response, quote)
    if hits:
        return [(p, p + len(quote)) for p in hits]
    head, core, tail = edge_trim(quote)
    norm, index = normalise(response)
    q, _ = normalise(core)
    if q:
        found = [(index[p], index[p + len(q) - 1] + 1) for p in _find_all(norm, q)]
        found = found or [(index[s], index[e - 1] + 1) for s, e in _censored(norm, q)]
        if found:
            return [_take_back(response, s, e, head, tail) for s, e in found]
    if strict:
        return []
    wanted = [w for w, _, _ in _word_spans(quote.translate(_TRANS))]
    if not wanted:
        return []
    have = _word_spans(response.translate(_TRANS))
    words = [w for w, _, _ in have]
    n = len(wanted)
    return [(have[k][1], have[k + n - 1][2]) for k in range(len(words) - n + 1) if words[k : k + n] == wanted]


def locate(quote: str, response: str, start_at: int = 0) -> Where | None:
    """The first occurrence of ``quote`` at or after ``start_at``, else the first one; None when it is not there."""
    found = occurrences(quote, response)
    if not found:
        return None
    return next((w for w in found if w[0] >= start_at), found[0])


def fits(quote: str, response: str) -> bool:
    """``quote`` occurs in ``response`` as written or after normalising (no word-by-word matching)."""
    return bool(occurrences(quote, response, strict=True))


def _overlap(a: Where, b: Where) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _ranked(options: list[Where], label: str, chosen: list[tuple[str, Where]]) -> list[Where]:
    """``options`` in preference order given the spans already chosen (see the module docstring)."""
    own = [w for lab, w in chosen if lab == label]
    cursor = own[-1][1] if own else 0

    def rank(w: Where) -> tuple[bool, bool, int]:
        return any(_overlap(w, o) for o in own if o != w), w[0] < cursor, w[0]

    return sorted(options, key=rank)


def choose(marks: list[tuple[str, list[Where]]]) -> list[Where]:
    """One occurrence per ``(label, occurrences)`` mark, in order (every list non-empty); see the module docstring."""
    budget = [_SEARCH_BUDGET]
    chosen: list[tuple[str, Where]] = []

    def search(k: int) -> bool:
        if k == len(marks):
            return True
        label, options = marks[k]
        for w in _ranked(options, label, chosen):
            budget[0] -= 1
            if budget[0] < 0:
                return False
            if any(lab != label and _overlap(w, o) for lab, o in chosen):
                continue
            chosen.append((label, w))
            if search(k + 1):
                return True
            chosen.pop()
        return False

    if search(0):
        return [w for _, w in chosen]
    chosen = []
    for label, options in marks:
        free = [w for w in _ranked(options, label, chosen) if not any(_overlap(w, o) for _, o in chosen)]
        chosen.append((label, (free or _ranked(options, label, chosen))[0]))
    return [w for _, w in chosen]


def drop_reason(quote: str, prompt: str, response: str, template: CritiqueTemplate) -> str:
    """Why a quote not located in the response was not: ``few_shot_echo``, ``prompt_only``,
    ``crosses_prompt_boundary`` or ``not_found``."""
    if locate(quote, template.examples) is not None:
        return "few_shot_echo"
    if prompt and locate(quote, prompt) is not None:
        return "prompt_only"
    if prompt:
        joined, offset = join_input(prompt, response)
        where = locate(quote, joined)
        if where is not None and where[0] < offset < where[1]:
            return "crosses_prompt_boundary"
    return "not_found"
