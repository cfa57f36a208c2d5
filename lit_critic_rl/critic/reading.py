"""Free-text critic outputs -> ``(label, quote)`` marks, read quote first.

Each line is read on its own, in order. Markup at the line's start (``#`` headers, ``>``, bullets, numbers,
``[Span 1]:`` items) is removed; markdown emphasis is removed outside quotes only, so a quote keeps its ``*`` and
``_``. Then every quote on the line is found (:mod:`~lit_critic_rl.critic.quotes`) and every mention of a label
outside them (:mod:`~lit_critic_rl.critic.labels`), and each quote is attributed to the label that governs it:

1. a label right after it, in brackets or after a dash or colon (``"x" (negative)``, ``"x" — negative``), or in a
   sentence that names the label after the quotes (``"x" and "y" read as negative``), governs the quotes before it
   back to the previous label;
2. else the nearest label before it on the line (``positive: "a", negative: "b"`` gives each its own);
3. else the heading above (``## Negative``, ``Identified Negative Text Span:``) or the last labelled line;
4. else, for a one-label template (toxicity), that label.

A line without quotes under a label (``negative: it drags; too long``, ``1. it drags (pacing)``, a bare item under a
heading, a table cell) holds bare text: it is read as the whole text, else without a trailing explanation, else as a
``;`` or ``,`` list, taking the first reading all of whose parts occur in the response (when the response is known).
An unmarked line under a heading is taken only when it occurs in the response (it may be prose).

"None": a bare ``None identified``, ``N/A`` or ``-`` after a label or alone on a line, or a sentence that says
nothing was found (``Nothing here is negative.``, ``No toxic language found.``) settles the labels it names, else the
current section, else the whole output.

Failures: an output that ends inside an open quote (``TruncatedCritique``); a heading left with neither items nor
"none", or a sectioned answer without a section the template asks for (``IncompleteCritique``); nothing
recognisable (``UnparseableCritique``, ``UnknownLabel`` when only unknown labels were used). Reading stops at a line
that starts a made-up example (the template's sample lines, e.g. ``Continuation:``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from lit_critic_rl.critic import labels as lab
from lit_critic_rl.critic.line_parts import (
    announces_answer,
    blank_emphasis,
    demarkdown,
    first_colon,
    is_aside,
    is_meta,
    only_label,
    prefix_name,
    slot,
    strip_markup,
)
from lit_critic_rl.critic.quotes import QUOTE_CHARS, Quoted, outside, scan
from lit_critic_rl.critic.tables import TableRows
from lit_critic_rl.critic.templates import CritiqueTemplate

_CUTS = re.compile(r"\s+\(|\s+[-–—]+\s+|:\s|,\s|\s+(?:because|which|since|as it|as they|where|showing|indicating)\s")

Fits = Callable[[str], bool]
_DASHES = ("-", "—", "–")


@dataclass
class Marks:
    """What an output says, before locating: ``(label, quote)`` pairs and the failure, if any."""

    marks: list[tuple[str, str]] = field(default_factory=list)
    unknown: list[tuple[str, str]] = field(default_factory=list)
    """``(label as written, quote)`` under labels the template does not have."""
    error: str = ""
    """Failure class name ('' = understood)."""


@dataclass
class _Item:
    pos: int
    end: int
    kind: str  # "quote" or a mention's slot: "prefix", "bracket", "after", "prose"
    label: str | None = None
    text: str = ""


class _Reader(TableRows):
    def __init__(self, template: CritiqueTemplate, fits: Fits | None) -> None:
        self.template, self.labels, self.fits = template, template.labels, fits
        self.out = Marks()
        self.sections: dict[str, bool] = {}  # heading label -> settled (items or an explicit none)
        self.current: str | None = None
        self.global_none = self.sectioned = self.seen = False
        self.columns: tuple[int | None, int | None] | None = None  # table (text column, label column)

    # ---- recording -------------------------------------------------------------------------------------------

    def _settle(self, label: str) -> None:
        if label in self.sections:
            self.sections[label] = True

    def mark(self, label: str | None, quotes: list[str], name: str = "") -> None:
        quotes = [q for q in quotes if q.strip()]
        if not quotes:
            return
        if label is None:
            self.out.unknown += [(name, q) for q in quotes]
            return
        self.out.marks += [(label, q) for q in quotes]
        self.seen = True
        self._settle(label)

    def none(self, labels: list[str]) -> None:
        self.seen = True
        if not labels:
            if self.current is not None and self.current in self.sections:
                labels = [self.current]
            else:
                self.global_none = True
                return
        for label in labels:
            self.sections[label] = True

    def heading(self, label: str) -> None:
        self.current, self.sectioned, self.seen = label, True, True
        self.sections.setdefault(label, False)

    # ---- choosing among readings -----------------------------------------------------------------------------

    def _fits(self, text: str) -> bool:
        return self.fits is None or self.fits(text)

    def quote_text(self, text: str) -> str:
        """A quote as written, or without its markdown emphasis when only that occurs in the response."""
        text = text.strip()
        if self.fits is None or self.fits(text):
            return text
        plain = demarkdown(text)
        return plain if plain and self.fits(plain) else text

    def bare(self, text: str, soft: bool = False) -> list[str]:
        """The quotes a piece of bare text stands for (see the module docstring); [] when ``soft`` and none fits."""
        text = text.strip().strip("*_").strip()
        text = re.sub(r"[.;,]+$", "", text) if self.fits is not None and not self._fits(text) else text
        if not text or lab.is_none_word(text):
            return []
        readings = [[text]]
        readings += [[text[: m.start()].strip()] for m in reversed(list(_CUTS.finditer(text))) if m.start() > 0]
        for sep in (";", ",", " / ", " and "):
            if sep in text:
                parts = [p.strip().strip("*_").strip() for p in text.split(sep)]
                readings.append([self._cut(p) for p in parts if p])
        readings = [[self.quote_text(q) for q in r if q] for r in readings]
        readings = [r for r in readings if r]
        if self.fits is None:
            return readings[0] if not soft else []
        whole = [r for r in readings if all(self.fits(q) for q in r)]
        if whole:  # the reading that covers most of the text: a list beats an explanation cut that fits too
            return max(whole, key=lambda r: sum(len(q) for q in r))
        best = max(readings, key=lambda r: sum(self.fits(q) for q in r))
        if any(self.fits(q) for q in best):
            return best
        return [] if soft else [text]

    def _cut(self, part: str) -> str:
        """``part`` without a trailing explanation, when only the shorter text occurs in the response."""
        if self.fits is None or self.fits(part):
            return part
        for m in reversed(list(_CUTS.finditer(part))):
            if m.start() > 0 and self.fits(part[: m.start()].strip()):
                return part[: m.start()].strip()
        return part

    # ---- one line --------------------------------------------------------------------------------------------

    def line(self, raw: str, last: bool) -> bool:
        """Read one line; False = stop reading."""
        stripped = raw.strip()
        if not stripped or stripped.startswith("```"):
            return True
        if stripped.startswith("|") and stripped.count("|") >= 2:
            self.table_row(stripped)
            return True
        body, listed = strip_markup(stripped)
        if not body:
            return True
        if (self.seen or self.sections) and demarkdown(body).lower().startswith(self.template.stop_prefixes):
            return False
        quoted = [q for q in scan(body, self.fits) if q.text.strip()]
        if quoted and quoted[-1].open and last:
            self.out.error = "TruncatedCritique"
            return False
        quoted, names = self._split_label_names(quoted)
        if quoted and is_aside(body):
            return True
        if not quoted and announces_answer(body) and (self.out.marks or self.out.unknown):
            self.out.marks, self.out.unknown = [], []  # the reasoning before the answer quoted its candidates
            return True
        if quoted:
            self.quote_line(body, quoted, names, listed)
        else:
            self.bare_line(body, listed)
        return True

    def _split_label_names(self, quoted: list[Quoted]) -> tuple[list[Quoted], list[Quoted]]:
        """``(quotes, names)``: quotes that are only a label's name (``"x" - "negative"``) are mentions, when the
        line has other quotes."""
        names = [q for q in quoted if only_label(q.text, self.labels)]
        if len(names) == len(quoted):
            return quoted, []
        return [q for q in quoted if q not in names], names

    def _items(self, body: str, quoted: list[Quoted], names: list[Quoted]) -> tuple[list[_Item], str]:
        out = blank_emphasis(outside(body, quoted + names))
        items = [_Item(q.start, q.end, "quote", text=q.text) for q in quoted]
        for m in lab.mentions(out, self.labels, slot=True):
            if m.negated:
                continue
            kind = slot(out, m, quoted)
            if m.alias and kind == "prose":
                continue
            items.append(_Item(m.start, m.end, kind, m.label))
        for q in names:
            kind = "after" if any(o.end <= q.start for o in quoted) else "prefix"
            items.append(_Item(q.start, q.end, kind, lab.label_of(q.text, self.labels)))
        return sorted(items, key=lambda i: i.pos), out

    def quote_line(self, body: str, quoted: list[Quoted], names: list[Quoted], listed: bool) -> None:
        items, out = self._items(body, quoted, names)
        quotes = [i for i in items if i.kind == "quote"]
        self._none_after_prefixes(items, out)
        for k, item in enumerate(items):
            if item.kind in ("bracket", "after") or item.kind == "prose" and not self._prefixed(items, k):
                for prev in reversed(items[:k]):
                    if prev.kind != "quote":
                        break
                    prev.label = prev.label or item.label
        for k, item in enumerate(items):
            if item.kind == "quote" and item.label is None:
                before = [i for i in items[:k] if i.kind in ("prefix", "prose")]
                item.label = before[-1].label if before else None
        prefixes = [i for i in items if i.kind == "prefix"]
        name = prefix_name(out, quotes[0].pos) if not prefixes else ""
        if name and is_meta(name):
            return
        unknown = name.strip() if name and lab.labelish(name) else ""
        starts_quoted = body.lstrip()[0] in QUOTE_CHARS
        for item in quotes:
            if item.label is None and not unknown:
                item.label = self._context_label(listed or starts_quoted)
        if prefixes:
            self.current = prefixes[-1].label
        for item in quotes:
            if item.label is not None:
                self.mark(item.label, [self.quote_text(item.text)])
            elif unknown or listed or starts_quoted:
                self.mark(None, [item.text.strip()], unknown)

    def _prefixed(self, items: list[_Item], k: int) -> bool:
        """The quotes just before ``items[k]`` already have a label before them on the line."""
        j = k - 1
        while j >= 0 and items[j].kind == "quote":
            j -= 1
        return j >= 0 and items[j].kind in ("prefix", "prose", "bracket", "after") and j < k - 1

    def _none_after_prefixes(self, items: list[_Item], out: str) -> None:
        for k, item in enumerate(items):
            if item.kind != "prefix":
                continue
            nxt = items[k + 1].pos if k + 1 < len(items) else len(out)
            rest = out[item.end : nxt]
            rest = rest.split(":", 1)[1] if ":" in rest else rest
            if lab.is_none_word(rest) or rest.strip() and lab.is_none_sentence(rest):
                self.none([item.label])

    def _context_label(self, allowed: bool) -> str | None:
        if self.current is not None:
            return self.current
        if allowed and len(self.labels) == 1:
            return next(iter(self.labels))
        return None

    def bare_line(self, body: str, listed: bool) -> None:
        out = blank_emphasis(body)
        if self._several_prefixes(body, out):
            return
        colon = first_colon(out)
        if colon is None:  # "Positive - beautiful": a label name before a spaced dash
            dash = re.match(r"^(.{1,40}?)\s+([-–—=]+)\s+\S", out)
            if dash and lab.is_heading_name(dash.group(1), self.labels) is not None:
                colon = dash.end(2) - 1
        name = out[:colon] if colon is not None else ""
        rest = body[colon + 1 :].strip() if colon is not None else ""
        label = lab.is_heading_name(name, self.labels) if name else None
        if label is not None:
            rest, _ = strip_markup(rest)
            if not rest:
                self.heading(label)
            elif (
                lab.is_none_word(rest) or rest in ("-", "—", "–") or lab.is_none_sentence(rest) and not self._fits(rest)
            ):
                self.current = label
                self.none([label])
                self.sectioned = self.sectioned or label in self.template.sections
            else:
                self.current = label
                self.mark(label, self.bare(self._strip_trailing_label(rest)[0]))
            return
        if name and is_meta(name):
            return
        said = lab.mentions(out, self.labels, slot=True)
        own = [m for m in said if not m.alias]
        denied = bool(own) and all(m.negated for m in said) and not name and not listed  # "The text is not toxic."
        if lab.is_none_word(body) or (lab.is_none_sentence(out) or denied) and not (listed and self._fits(body)):
            negated = [m.label for m in said if m.negated]
            self.none(sorted(set(negated or [m.label for m in said]), key=list(self.labels).index))
            return
        heading = lab.is_heading_name(out.strip().rstrip(":：").strip(), self.labels)
        if heading is not None and not listed and not re.match(r"^[(\[].*[)\]]\W*$", out.strip()):
            self.heading(heading)
            return
        text, trailing = self._strip_trailing_label(body)
        if trailing is not None:
            self.mark(trailing, self.bare(text))
            return
        if name and lab.labelish(name) and rest and not listed:
            self.mark(None, [rest], name.strip())
            return
        if listed:
            target = self._context_label(True)
            if target is not None:
                self.mark(target, self.bare(body))
            return
        if self.current is not None:
            self.mark(self.current, self.bare(body, soft=True))

    def _several_prefixes(self, body: str, out: str) -> bool:
        """``positive: nice, negative: bad acting``: each label prefix takes the bare text up to the next one."""
        prefixes = [
            m for m in lab.mentions(out, self.labels, slot=True) if not m.negated and slot(out, m, []) == "prefix"
        ]
        if len(prefixes) < 2 or len({m.label for m in prefixes}) < 2:
            return False
        for k, m in enumerate(prefixes):
            end = prefixes[k + 1].start if k + 1 < len(prefixes) else len(body)
            text = body[m.end : end]
            text = text.split(":", 1)[1] if ":" in text else re.sub(r"^\W*?[-–—=]+", "", text)
            text = text.strip().strip(",;|").strip()
            if lab.is_none_word(text) or text in _DASHES:
                self.none([m.label])
            elif text:
                self.current = m.label
                self.mark(m.label, self.bare(text))
        return True

    def _strip_trailing_label(self, text: str) -> tuple[str, str | None]:
        """``it drags (negative)`` / ``it drags - negative`` / ``x (Label: Irrelevant)`` -> the text and label."""
        m = re.search(r"\s*[(\[]\s*(?:(?:label|type|category|sentiment)\s*[:=]\s*)?([^()\[\]]+?)\s*[)\]]\W*$", text)
        if m is None:
            m = re.search(r"\s+(?:[-–—→=]+|:)\s*(?:(?:label|type|category|sentiment)\s*[:=]\s*)?([\w ]+?)\W*$", text)
        if m is None:
            return text, None
        label = lab.label_of(m.group(1), self.labels)
        if label is None and re.search(r"label|type|category", m.group(0), re.IGNORECASE):
            if lab.labelish(m.group(1)):
                self.mark(None, [text[: m.start()].strip()], m.group(1).strip())
                return "", None
        if label is None or not only_label(m.group(1), self.labels):
            return text, None
        return text[: m.start()].strip(), label

    # ---- the end ---------------------------------------------------------------------------------------------

    def finish(self) -> Marks:
        out = self.out
        if out.error:
            return out
        if not self.seen:
            out.error = "UnknownLabel" if any(name for name, _ in out.unknown) else "UnparseableCritique"
        elif any(not done for done in self.sections.values()):
            out.error = "IncompleteCritique"
        elif self.sectioned and not self.global_none:
            answered = {label for label, _ in out.marks} | {s for s, done in self.sections.items() if done}
            if any(s not in answered for s in self.template.sections):
                out.error = "IncompleteCritique"
        return out


def read_free_text(text: str, template: CritiqueTemplate, fits: Fits | None = None) -> Marks:
    """What a free-text ``text`` says (see the module docstring); ``fits`` tests whether a text occurs in the
    response, to choose among the readings of ambiguous quotes and bare lists."""
    reader = _Reader(template, fits)
    lines = text.splitlines()
    last = max((k for k, line in enumerate(lines) if line.strip()), default=-1)
    for k, line in enumerate(lines):
        if not reader.line(line, k == last):
            break
    return reader.finish()
