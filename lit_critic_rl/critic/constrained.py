"""Grammars that let a local critic write only critiques that parse and quotes that are in the response.

A constrained critique is either the template's none form (``None identified``) or 1..``max_spans`` lines
``<label>: "<quote>"``, with the label one of the template's and the quote a piece of the response that starts at
the start of a word and ends at the end of a word. Nothing else can be written, so every critique parses and every
quote is located (the critic can neither paraphrase nor echo its few-shot examples).

Words: runs of letters and digits, with an apostrophe (``'`` or ``’``) or hyphen between two of them kept inside
(``cast's``, ``well-made``); each character of a script written without spaces (CJK, Thai) is a word of its own,
as in :func:`~lit_critic_rl.critic.quotes.unspaced`. A quote may run over several words with whatever lies
between them in the response (spaces, commas, dashes), except across a line break or a double quote mark of any
style (``"“”„``): the critique is one quote per line between ``"`` marks, and a double quote mark inside the
quote could close it early.

The quotes are not listed one by one (a response of n words has about n²/2 of them). The EBNF grammar
(:func:`critique_grammar`, for xgrammar) has one rule per word, ``w_i ::= "<word i>" ("<gap>" w_{i+1})?``, and the
quote is any ``w_i``, so its size grows linearly with the response.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from lit_critic_rl.critic.quotes import is_word, unspaced
from lit_critic_rl.critic.templates import CritiqueTemplate

NONE_FORM = "None identified"
"""What a constrained critic writes when it marks nothing (the shipped templates' none form)."""
HARD_BREAKS = frozenset('\n\r"“”„\u2028\u2029')
"""Characters a quote never runs across."""
_JOINERS = frozenset("'’-")


@dataclass(frozen=True)
class Word:
    start: int
    end: int
    gap_after: str | None
    """The text between this word and the next when a quote may run on over it, else None (a hard break between
    them, or the last word)."""


def words(text: str) -> list[Word]:
    """The words of ``text`` in order, each with the gap a quote may cross to the next one (see the module doc)."""
    bounds: list[tuple[int, int]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if unspaced(ch):
            bounds.append((i, i + 1))
            i += 1
        elif is_word(ch):
            j = i + 1
            while j < n and (is_word(text[j]) or text[j] in _JOINERS and j + 1 < n and is_word(text[j + 1])):
                j += 1
            bounds.append((i, j))
            i = j
        else:
            i += 1
    out = []
    for k, (start, end) in enumerate(bounds):
        gap = text[end : bounds[k + 1][0]] if k + 1 < len(bounds) else None
        out.append(Word(start, end, None if gap is None or HARD_BREAKS.intersection(gap) else gap))
    return out


def quotes(text: str) -> set[str]:
    """Every quote the grammar allows for ``text`` (listed one by one: for tests and small texts only)."""
    found: set[str] = set()
    ws = words(text)
    for i, first in enumerate(ws):
        j = i
        while True:
            found.add(text[first.start : ws[j].end])
            if ws[j].gap_after is None:
                break
            j += 1
    return found


def _literal(text: str) -> str:
    """An EBNF string literal (xgrammar reads JSON-style escapes)."""
    return json.dumps(text, ensure_ascii=False)


def critique_grammar(response: str, template: CritiqueTemplate, max_spans: int = 4) -> str:
    """The EBNF grammar (xgrammar's dialect, GBNF-like) of the critiques of ``response`` a constrained critic may
    write: ``None identified``, or 1..``max_spans`` lines ``<label>: "<quote>"``."""
    if max_spans < 1:
        raise ValueError(f"critic.max_spans must be at least 1, got {max_spans}")
    ws = words(response)
    none = _literal(NONE_FORM)
    if not ws:
        return f"root ::= {none}\n"
    rules = [
        f"root ::= {none} | {_nested_lines(max_spans)}",
        'line ::= label ": \\"" quote "\\""',
        "label ::= " + " | ".join(_literal(label) for label in template.labels),
        "quote ::= " + " | ".join(f"w{i}" for i in range(len(ws))),
    ]
    for i, w in enumerate(ws):
        word = _literal(response[w.start : w.end])
        if w.gap_after is None:
            rules.append(f"w{i} ::= {word}")
        else:
            gap = f"{_literal(w.gap_after)} " if w.gap_after else ""
            rules.append(f"w{i} ::= {word} ({gap}w{i + 1})?")
    return "\n".join(rules) + "\n"


def _nested_lines(count: int) -> str:
    """``line ("\\n" line ("\\n" line)?)?`` with ``count`` lines at most."""
    text = "line"
    for _ in range(count - 1):
        text = f'line ("\\n" {text})?'
    return text


def complete_lines(text: str, finished: bool) -> str:
    """A constrained output without the line the token limit cut off (``finished``: the grammar reached its end).
    Every complete line is well formed, so what is left parses; an output with no complete line is kept whole and
    fails as truncated."""
    if finished or "\n" not in text:
        return text
    return text.rsplit("\n", 1)[0]
