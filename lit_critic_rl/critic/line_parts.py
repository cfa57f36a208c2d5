"""Pieces of one critic-output line that the reader asks about: markup at its start and markdown emphasis;
where a label mention stands (before its quotes, in a bracket, after a quote, or in prose); the ``name:`` before a
line's quotes; and names that are not labels at all (``Explanation:``, ``Score:``)."""

from __future__ import annotations

import re

from lit_critic_rl.critic import labels as lab
from lit_critic_rl.critic.quotes import Quoted

_MARKUP = re.compile(r"^(?:\s*(?:#{1,6}(?=\s|$)|>))+\s*")
_BULLET = re.compile(r"^(?:[-*•·+–—]|\(?\d{1,3}[.):]|\(?[a-hA-H][.)])\s+")
_ITEM = re.compile(r"^\[?\s*(?:span|item)\s*#?\d+\s*\]?\s*[:.)\-–]\s*|^\[\d+\]\s*:?\s*", re.IGNORECASE)
_LABELLED_ITEM = re.compile(
    r"^\[?\s*(?:span|item)\s*#?\d+\s*[\]*_]*\s*(\(\s*(?:label|type|category)\s*[:=][^()]*\))\s*[:.\-–—]\s*(\S.*)$",
    re.IGNORECASE,
)
_EMPHASIS = re.compile(r"\*+|(?<![^\W_])_+|_+(?![^\W_])")

_AFTER_WORDS = set(
    "is are as label labelled labeled marked tagged category type sentiment a an clearly very rather "
    "quite mildly somewhat highly strongly both which span phrase".split()
)
_META = set(
    "explanation reason reasoning note notes rationale analysis overall summary score comment comments "
    "justification context verdict conclusion assessment confidence why".split()
)


def only_label(text: str, labels: dict[str, float]) -> bool:
    """``text`` is a label's name and filler, nothing else (``Negative``, ``Label: Irrelevant``)."""
    return lab.is_heading_name(text, labels) is not None and len(lab.words_with_spans(text)) <= 5


def is_meta(name: str) -> bool:
    words = [w for w, _, _ in lab.words_with_spans(name)]
    return bool(words) and len(words) <= 3 and any(w in _META for w in words)


_ASIDE = re.compile(
    r"^\W*(?:note|notes|n\.?b\.?|analysis|reasoning|explanation|rationale)\b\s*(?:that\b|[:：—–-])", re.I
)
_ANSWER = re.compile(
    r"\b(?:final\s+(?:answer|spans?|annotations?|list|output)|answer|therefore|thus|in\s+summary|to\s+summari[sz]e|"
    r"so\s+the|spans?\s+(?:are|is))\b",
    re.IGNORECASE,
)


def is_aside(line: str) -> bool:
    """A note or analysis about the answer (``Note that "x" ...``, ``Analysis: the reviewer says "x" ...``): its
    quotes are discussed, not marked."""
    return _ASIDE.match(line) is not None


def announces_answer(line: str) -> bool:
    """A line without quotes that introduces the answer after reasoning (``Therefore, the spans are:``,
    ``Final answer:``)."""
    return line.rstrip().endswith((":", "：")) and _ANSWER.search(line) is not None


def first_colon(text: str) -> int | None:
    m = re.search(r"[:：]", text)
    return m.start() if m and m.start() <= 80 else None


def prefix_name(out: str, first_quote: int) -> str:
    """The ``name:`` before a line's first quote, or ''."""
    head = out[: max(first_quote - 1, 0)]
    colon = head.rfind(":")
    return head[:colon].strip() if colon > 0 and head[colon + 1 :].strip() == "" else ""


def slot(out: str, m: lab.Mention, quoted: list[Quoted]) -> str:
    """Where a mention stands: ``prefix`` (before a colon or dash that starts quotes), ``bracket``, ``after`` (a dash,
    colon or 'is' after a quote) or ``prose``."""
    after = out[m.end :]
    # each word is matched whole (the lookaheads), so a long line without a colon cannot backtrack exponentially
    filler = r"(?:\s*(?:[^\W\d_]+(?![^\W\d_])|\d+(?!\d)|[()\[\]#]))*?"
    head = re.match(filler + r"\s*[:：=]", after)
    if head and all(w in lab.FILLER or w.isdigit() for w, _, _ in lab.words_with_spans(head.group())):
        return "prefix"
    nxt = next((q.start - 1 for q in quoted if q.start > m.end), None)
    if nxt is not None and re.fullmatch(r"\s*(?:[-–—→>]+|\bspans?\b)?\s*", out[m.end : nxt]):
        prev_q = [q for q in quoted if q.end < m.start]
        if not prev_q or out[prev_q[-1].end + 1 : m.start].strip() in ("", ",", ";", "|"):
            return "prefix"
    prev = [q for q in quoted if q.end < m.start]
    segment = out[prev[-1].end + 1 if prev else 0 : m.start]
    opened = max(segment.rfind("("), segment.rfind("["))
    if opened > max(segment.rfind(")"), segment.rfind("]")):
        return "bracket"
    if prev:
        words = {w for w, _, _ in lab.words_with_spans(segment)}
        if words <= _AFTER_WORDS and (words or re.search(r"[-–—:=→]", segment)):
            return "after"
    return "prose"


def demarkdown(text: str) -> str:
    """``text`` without markdown emphasis marks (``**bold**``, ``*x*``, ``_x_``)."""
    return _EMPHASIS.sub("", text).strip()


def strip_markup(line: str) -> tuple[str, bool]:
    """Markup at the start of a line off (header marks, bullets, numbers, span items); True for a list item."""
    line = _MARKUP.sub("", line.strip())
    listed = False
    labelled = _LABELLED_ITEM.match(re.sub(r"^[*_]+(?=[^\s*_])", "", line))
    if labelled:  # "Span 1 (Label: Irrelevant): text" reads as "text (Label: Irrelevant)"
        return f"{labelled.group(2).strip()} {labelled.group(1)}", True
    for _ in range(3):
        body = re.sub(r"^[*_]+(?=[^\s*_])", "", line) if not line.startswith(("* ", "- ")) else line
        bullet = _BULLET.match(body)
        if bullet and listed and re.match(r"\(?[a-hA-H][.)]", bullet.group()):
            bullet = None  # after "[Span 1]:" a letter and a dot start the text ("a. a"), not a sub-item
        item = _ITEM.match(body[bullet.end() :] if bullet else body)
        if not bullet and not item:
            return line, listed
        body = body[bullet.end() :] if bullet else body
        body = body[item.end() :] if item else body
        line, listed = body.strip(), True
    return line, listed


def blank_emphasis(text: str) -> str:
    return _EMPHASIS.sub(lambda m: " " * len(m.group()), text)
