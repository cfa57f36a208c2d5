"""Where a critic output names a label, and where it says "none".

A *mention* is a place in the text outside quotes that names one of the template's labels: the label's own words
(``positive``, ``Factually Incorrect``, plurals and the usual derived forms such as ``positively`` or ``toxicity``),
or, only in a label slot (a ``name:`` prefix, a bracket, a table cell, a JSON key or value), a short alias
(``good``/``bad``, ``pos``/``neg``, ``offensive``, ``inaccurate``...). A mention right after a negator (``non-toxic``,
``not negative``, ``no toxic language``) is *negated*: it never labels a quote, but it says which label a "none"
sentence is about.

A *none statement* is a line, outside quotes, that says nothing was found: ``None identified``, ``N/A``,
``Nothing here is negative.``, ``No toxic language found.``, ``I didn't find any toxic spans``, ``The summary
contains no errors``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NEGATORS = {"no", "not", "non", "un", "nothing", "isn", "aren", "without", "never", "neither", "nor", "zero", "any"}
"""Words that negate the label that follows them ("any" as in "didn't find any toxic language")."""

# Forms of a label's own words that count anywhere (prose included): word -> the label word they stand for.
_FORMS = {
    "positives": "positive",
    "positively": "positive",
    "positivity": "positive",
    "negatives": "negative",
    "negatively": "negative",
    "negativity": "negative",
    "toxicity": "toxic",
    "toxically": "toxic",
    "irrelevance": "irrelevant",
    "irrelevancy": "irrelevant",
    "incoherence": "incoherent",
    "incoherently": "incoherent",
}

# Aliases of a shipped label, as word tuples. "prose" ones also count in running text, "slot" ones only where a
# label is expected (a name before a colon, a bracket, a table cell, a JSON key or value).
_ALIASES: dict[str, dict[str, tuple[tuple[str, ...], ...]]] = {
    "positive": {
        "prose": (),
        "slot": (("pos",), ("good",), ("praise",), ("favorable",), ("favourable",), ("pro",), ("pros",)),
    },
    "negative": {
        "prose": (),
        "slot": (("neg",), ("bad",), ("criticism",), ("unfavorable",), ("unfavourable",), ("con",), ("cons",)),
    },
    "toxic": {
        "prose": (
            ("offensive",),
            ("insult",),
            ("insults",),
            ("insulting",),
            ("profanity",),
            ("profane",),
            ("slur",),
            ("slurs",),
            ("hateful",),
            ("abusive",),
            ("derogatory",),
            ("demeaning",),
            ("obscene",),
            ("vulgar",),
        ),
        "slot": (("toxicity",), ("threat",), ("harassment",), ("rude",), ("hate",), ("hate", "speech")),
    },
    "factually incorrect": {
        "prose": (("factually", "wrong"), ("factual", "error"), ("factual", "errors"), ("inaccurate",)),
        "slot": (
            ("incorrect",),
            ("factual",),
            ("factuality",),
            ("inaccuracy",),
            ("wrong",),
            ("false",),
            ("hallucination",),
            ("hallucinated",),
            ("unsupported",),
            ("factual", "inconsistency"),
            ("factually", "inaccurate"),
        ),
    },
    "irrelevant": {
        "prose": (("off", "topic"),),
        "slot": (("irrelevance",), ("unnecessary",), ("extraneous",), ("not", "relevant"), ("redundant",)),
    },
    "incoherent": {
        "prose": (("nonsensical",), ("ungrammatical",)),
        "slot": (("incoherence",), ("unclear",), ("garbled",), ("confusing",), ("disfluent",), ("nonsense",)),
    },
}

_WORD = re.compile(r"[^\W_]+")
_BREAK = re.compile(r"[.;:,|()\[\]!?\n]")


@dataclass(frozen=True)
class Mention:
    label: str
    start: int
    end: int
    negated: bool = False
    alias: bool = False
    """Matched through a slot-only alias (``good``, ``neg``...): a label only where a label is expected."""


def words_with_spans(text: str) -> list[tuple[str, int, int]]:
    return [(m.group().lower(), m.start(), m.end()) for m in _WORD.finditer(text)]


def _patterns(labels: dict[str, float], slot: bool) -> list[tuple[str, tuple[str, ...], bool]]:
    """(label, words, slot-only) triples to look for, longest first."""
    out = []
    for label in labels:
        out.append((label, tuple(label.replace("-", " ").split()), False))
        aliases = _ALIASES.get(label, {})
        out += [(label, words, False) for words in aliases.get("prose", ())]
        if slot:
            out += [(label, words, True) for words in aliases.get("slot", ())]
    return sorted(out, key=lambda p: -len(p[1]))


def _canonical(word: str) -> str:
    return _FORMS.get(word, word)


def mentions(text: str, labels: dict[str, float], slot: bool = False) -> list[Mention]:
    """Every mention of a template label in ``text`` (which holds no quotes), in order, longest match first."""
    words = words_with_spans(text)
    canon = [_canonical(w) for w, _, _ in words]
    patterns = _patterns(labels, slot)
    found: list[Mention] = []
    k = 0
    while k < len(words):
        hit = None
        for label, pattern, alias in patterns:
            n = len(pattern)
            window = canon[k : k + n]
            if len(window) == n and all(w == p or w == p + "s" for w, p in zip(window, pattern)):
                hit = (label, n, alias)
                break
        if hit is None and slot:
            hit = _misspelled(canon, k, labels)
        if hit is None:
            k += 1
            continue
        label, n, alias = hit
        found.append(Mention(label, words[k][1], words[k + n - 1][2], _negated(text, words, k), alias))
        k += n
    return found


def near(word: str, target: str) -> bool:
    """``word`` is ``target`` with one letter added, dropped, changed, or two neighbours swapped."""
    if word == target or abs(len(word) - len(target)) > 1:
        return word == target
    i = 0
    while i < min(len(word), len(target)) and word[i] == target[i]:
        i += 1
    a, b = word[i:], target[i:]
    return a[1:] == b[1:] or a[1:] == b or a == b[1:] or (a[:2] == b[:2][::-1] and a[2:] == b[2:])


MIN_MISSPELT = 6
"""Label words at least this long are still recognised with one typo (``postive``, ``Factualy``, ``Irrelavant``),
in label slots only; shorter ones (``toxic``: ``topic``) must be spelled right."""


def _misspelled(canon: list[str], k: int, labels: dict[str, float]) -> tuple[str, int, bool] | None:
    """A template label's own words at word ``k`` with a typo in some of them (a slot-only match), or None."""
    for label in sorted(labels, key=lambda x: -len(x.split())):
        pattern = tuple(label.replace("-", " ").split())
        window = canon[k : k + len(pattern)]
        if len(window) == len(pattern) and all(
            w == p or len(p) >= MIN_MISSPELT and near(w, p) for w, p in zip(window, pattern)
        ):
            return label, len(pattern), True
    return None


def _negated(text: str, words: list[tuple[str, int, int]], k: int) -> bool:
    """A negator among the three words before word ``k``, with no punctuation between (``isn't``, ``doesn't``
    split at the apostrophe and leave a ``t``)."""
    if _NEGATED_LIST.search(text[max(0, words[k][1] - 80) : words[k][1]]):
        return True
    for j in range(k - 1, max(-1, k - 4), -1):
        if _BREAK.search(text[words[j][2] : words[j + 1][1]]):
            return False
        if words[j][0] in NEGATORS or words[j][0] == "t":
            return True
    return False


_NEGATED_LIST = re.compile(
    r"\b(?:no|not|without|nor|free\s+of)\s+(?:[^\W\d_]+\s*,\s*)+(?:(?:or|and|nor)\s+)?$", re.IGNORECASE
)
"""A one-word list ending right before a mention under one negator: ``no slurs, threats, or profanity``."""


def label_of(name: str, labels: dict[str, float], slot: bool = True) -> str | None:
    """The one template label ``name`` names (not negated), or None when it names none or several."""
    found = {m.label for m in mentions(name, labels, slot) if not m.negated}
    return found.pop() if len(found) == 1 else None


FILLER = {
    "identified",
    "text",
    "span",
    "spans",
    "the",
    "here",
    "are",
    "is",
    "list",
    "of",
    "sentiment",
    "sentiments",
    "phrases",
    "phrase",
    "quotes",
    "quote",
    "marked",
    "flagged",
    "all",
    "found",
    "language",
    "content",
    "words",
    "word",
    "expressions",
    "parts",
    "segments",
    "items",
    "label",
    "labels",
    "category",
    "type",
    "annotation",
    "annotations",
    "issues",
    "errors",
    "problems",
    "detected",
    "elements",
    "comments",
    "statements",
    "and",
    "or",
    "in",
    "my",
    "i",
    "these",
    "following",
    "summary",
    "continuation",
    "response",
    "review",
}


def is_heading_name(text: str, labels: dict[str, float]) -> str | None:
    """The label a short heading-like name is about (``Identified Positive Text Span``, ``Negatives (2)``,
    ``Toxic spans found``), or None for anything longer or not about exactly one label."""
    words = [w for w, _, _ in words_with_spans(text) if not w.isdigit()]
    rest = [w for w in words if w not in FILLER]
    if not rest or len(rest) > 4:
        return None
    return label_of(text, labels)


def labelish(text: str) -> bool:
    """A short name that reads like a label (not a sentence): quotes under an unknown one are dropped."""
    words = [w for w, _, _ in words_with_spans(text) if w not in FILLER and not w.isdigit()]
    return 1 <= len(words) <= 3 and "," not in text and "." not in text.strip().rstrip(".")


# ---- none -------------------------------------------------------------------------------------------------------

_NONE_WORD = re.compile(
    r"^\W*(?:none(?:\s+(?:identified|found|detected|marked|noted|present|flagged|here))?|n/?a|nil|nothing|null|"
    r"no\s+spans?|no\s+\w+\s+spans?|empty|\[\s*\])\W*$",
    re.IGNORECASE,
)
_NONE_SENTENCE = re.compile(
    r"(?:^|\W)(?:"
    r"none(?:\s+(?:identified|found|detected|marked|noted|present|flagged))?(?:\W|$)"
    r"|nothing\s+(?:here\s+)?(?:to\s+(?:mark|flag|report|note|highlight)|(?:is|was|seems|appears|stands\s+out)|found|"
    r"identified|detected|\w+\s+(?:here|found|identified|detected|to\s+(?:mark|flag|report)))"
    r"|no\s+(?:\w+\s+){0,3}?(?:spans?|phrases?|language|content|words?|issues?|problems?|errors?|sentiment|toxicity|"
    r"expressions?|statements?|parts?|segments?|elements?|mistakes?|inaccurac(?:y|ies)|insults?|profanity|"
    r"hallucinations?)(?:\W|$)"
    r"|(?:did\s*n[o']?t|didn't|do\s+not|don't|could\s+not|couldn't|cannot|can't|can\s+not)\s+(?:\w+\s+){0,2}?"
    r"(?:find|see|identify|detect|spot|notice|locate)"
    r"|(?:contains?|has|have|includes?|shows?|found|finds|identified|detected|there\s+(?:is|are|were|was))\s+no(?:\W|$)"
    r"|(?:does\s*n[o']?t|doesn't|do\s*n[o']?t|don't|is\s*n[o']?t|isn't|are\s*n[o']?t|aren't)\s+(?:\w+\s+){0,2}?"
    r"(?:contain|include|have|show|express|carry)\s+(?:any|anything)"
    r"|(?:is|are|was|seems|appears)\s+(?:(?!not\b|never\b|hardly\b|barely\b|partly\b|partially\b|mostly\b)\w+,?\s+){0,3}?"
    r"(?:free\s+of|neutral|faithful|accurate|clean|fine|correct|harmless|benign|respectful|polite)(?:\W|$)"
    r"|free\s+(?:of|from)\s"
    r"|^\W*nothing\b(?!\s+but\b)"
    r"|(?:^|\W)n/?a(?:\W|$)"
    r")",
    re.IGNORECASE,
)


def is_none_word(text: str) -> bool:
    """``text`` is a bare "none" (``None identified``, ``N/A``, ``[]``), nothing else."""
    return (
        bool(text.strip())
        and _NONE_WORD.match(text.strip().strip("*_()[]{}.!;:'\" ")) is not None
        or (text.strip() in ("[]", "()"))
    )


def is_none_sentence(text: str) -> bool:
    """``text`` (holding no quotes) says that nothing was found."""
    return _NONE_SENTENCE.search(text) is not None
