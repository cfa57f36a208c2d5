"""Quoted passages of a critic output's line: where each starts and ends, and what lies outside them.

Quote marks: straight and curly double and single quotes, guillemets, backticks and CJK corner brackets. A mark that
can both open and close (``"``, ``'``, ``’``, `````) opens when it is not preceded by a letter or digit and is not
followed by a space, and closes when it is not preceded by a space and is not followed by a letter or digit; so an
apostrophe inside a word (``didn't``, ``cast's``) never opens or closes a quote. Nested quotes of the same family
stay inside their passage (``"the so-called "masterpiece" was dull"``).

Where the closing mark is ambiguous (``'the actors' energy'``: the mark after ``actors`` could close), and a
``fits`` test is given (does this text occur in the response?), the longest reading that fits is taken; without
one, or when no reading fits, the first closing mark closes. A quote still open at the end of the line runs to the
end of the line and is reported as ``open``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# quote characters: family and role ("open", "close" or "both")
QUOTE_CHARS = {
    '"': ("d", "both"),
    "“": ("d", "open"),
    "”": ("d", "close"),
    "„": ("d", "open"),
    "«": ("g", "open"),
    "»": ("g", "close"),
    "'": ("s", "both"),
    "‘": ("s", "open"),
    "’": ("s", "both"),
    "`": ("b", "both"),
    "「": ("c", "open"),
    "」": ("c", "close"),
    "『": ("k", "open"),
    "』": ("k", "close"),
}
_MAX_ALTERNATIVES = 8


@dataclass(frozen=True)
class Quoted:
    start: int
    """Index of the first character inside the quote marks."""
    end: int
    """Index of the closing mark (exclusive end of the text)."""
    text: str
    open: bool = False
    """True when no mark closed it before the end of the line."""


def unspaced(ch: str) -> bool:
    """Characters of scripts written without spaces between words (each is a word boundary of its own)."""
    o = ord(ch)
    return 0x2E80 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0x20000 <= o <= 0x2FFFF or 0x0E00 <= o <= 0x0EFF


def is_word(ch: str) -> bool:
    return ch.isalnum() and not unspaced(ch)


def _roles(text: str, i: int) -> tuple[str, bool, bool]:
    family, role = QUOTE_CHARS[text[i]]
    prev = text[i - 1] if i else " "
    nxt = text[i + 1] if i + 1 < len(text) else " "
    can_open = role == "open" or (role == "both" and not is_word(prev) and not nxt.isspace())
    can_close = role == "close" or (role == "both" and not prev.isspace() and not is_word(nxt))
    return family, can_open, can_close


def _closers(text: str, start: int, family: str) -> list[int]:
    """Where the quote opened just before ``start`` may close: the first by nesting, then every later mark of the
    family that can close."""
    depth, first, later = 1, None, []
    for j in range(start, len(text)):
        if text[j] not in QUOTE_CHARS:
            continue
        fam, can_open, can_close = _roles(text, j)
        if fam != family:
            continue
        if first is None:
            if can_close and (depth > 1 or QUOTE_CHARS[text[j]][1] != "open"):
                depth -= 1
                if depth == 0:
                    first = j
            elif can_open:
                depth += 1
        elif can_close:
            later.append(j)
            if len(later) >= _MAX_ALTERNATIVES:
                break
    if first is None:
        return []
    return [first, *later]


def scan(text: str, fits: Callable[[str], bool] | None = None) -> list[Quoted]:
    """The top-level quoted passages of ``text`` (one line), in order."""
    found: list[Quoted] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch not in QUOTE_CHARS:
            i += 1
            continue
        family, can_open, _ = _roles(text, i)
        if not can_open:
            i += 1
            continue
        closers = _closers(text, i + 1, family)
        if not closers:
            found.append(Quoted(i + 1, len(text), text[i + 1 :], open=True))
            break
        end = closers[0]
        if fits is not None and len(closers) > 1:
            fitting = [j for j in closers if fits(text[i + 1 : j].strip())]
            if fitting:
                end = fitting[-1]
        found.append(Quoted(i + 1, end, text[i + 1 : end]))
        i = end + 1
    return found


def outside(text: str, quoted: list[Quoted]) -> str:
    """``text`` with every quoted passage (marks included) replaced by spaces, so indices stay put."""
    chars = list(text)
    for q in quoted:
        for k in range(max(q.start - 1, 0), min(q.end + 1, len(text))):
            chars[k] = " "
    return "".join(chars)


def split_quotes(text: str) -> tuple[list[str], str]:
    """Top-level quoted items of ``text`` (stripped, non-empty) and what is left outside them."""
    quoted = scan(text)
    rest, last = [], 0
    for q in quoted:
        rest.append(text[last : max(q.start - 1, last)])
        last = q.end + 1
    rest.append(text[last:])
    return [q.text.strip() for q in quoted if q.text.strip()], "".join(rest)
