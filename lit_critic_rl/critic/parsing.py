"""Critic output -> spans of the response text, with every quote that did not become a span kept with its reason.

Reading (``read_marks``) accepts, mixed freely in one output (docs/critics.md has one example of each):

- ``label: "quote"`` lines, several quotes per line, or a bare unquoted quote after the colon;
- section headers (``Identified Positive Text Span:``, ``## Negative``, ``**Toxic spans**``) followed by items
  (``[Span 1]: text``, ``Span 1: text``, ``- "text"``, ``1. text``), and per-item labels
  (``Span 1: text (Label: Irrelevant)``, ``Toxic Span 2: text``);
- ``None identified`` (and ``none``, ``N/A``, ``no toxic spans``...) for one section or for the whole output;
- a JSON array of ``{label, quote}`` objects, a ``{"spans": [...]}`` object or a ``{label: [quotes]}`` object,
  with or without a code fence (JSON mode);
- chatty prose before and after, blank lines anywhere, markdown headers, bullets and bold text, straight, curly,
  guillemet and CJK quotes, nested quotes.

Reading stops at a line that starts a made-up example (the template's sample lines, e.g. ``Continuation:``).
The outcome is one of three (see :class:`~lit_critic_rl.critic.base.Critique`): failed when nothing follows the
format, when only unknown labels were used, when a section is left with neither items nor "none" (or, in a
sectioned answer, a section the template asks for is missing), or when the output is longer than
``MAX_OUTPUT_CHARS``; empty when the critic named nothing; ok otherwise.

Locating (``locate``) is exact or nothing: the quote as written, then with case, whitespace, quote characters and
punctuation at its edges normalised, then word by word (every word of the quote equal to the next word of the
response, punctuation between words ignored). An occurrence must start and end at word boundaries (characters of
unspaced scripts such as CJK are boundaries of their own). No similarity threshold: a word that differs by one
letter is a miss. Occurrence rule: the first occurrence at or after the previous span of the same label (critics
quote in reading order within a section), else the first in the text. A quote that is not located is dropped with
a reason: ``few_shot_echo`` (it is in the template's instructions or examples), ``prompt_only`` (it is in the
prompt), ``crosses_prompt_boundary`` (it runs from the prompt into the response), else ``not_found``; a quote under
a label the template does not have is dropped as ``unknown_label``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field

from lit_critic_rl.critic.base import Critique, DroppedQuote, Span
from lit_critic_rl.critic.templates import CritiqueTemplate, join_input

MAX_OUTPUT_CHARS = 20_000
"""Longer critic outputs are failed critiques (``CritiqueTooLong``): degenerate repetition, not an annotation."""

_MARKUP = re.compile(r"^(?:\s*(?:#{1,6}(?=\s)|>))+\s*")
_BULLET = re.compile(r"^(?:[-*•·+–—]|\(?\d{1,3}[.):]|\(?[a-hA-H][.)])\s+")
_ITEM = re.compile(r"^\[?\s*(?:span|item)\s*#?\d+\s*\]?\s*[:.)\-–]\s*|^\[\d+\]\s*:?\s*", re.IGNORECASE)
_PREFIX = re.compile(r"^([^\W_][\w '/&-]{0,60}?)\s*\**\s*[:：]\s*(.*)$")
_INLINE_LABEL = re.compile(r"\s*[(\[]\s*(?:label|type|category)\s*[:=]\s*([^)\]]+?)\s*[)\]]\s*\.?\s*$", re.IGNORECASE)
_NONE = re.compile(
    r"^(?:none(?:\s+(?:identified|found|detected|marked))?|n/?a|nil|nothing(?:\s+to\s+(?:mark|flag|report))?"
    r"|\[\s*\]|no(?:\s+[\w-]+){0,3}?\s+(?:spans?|phrases?)(?:\s+[\w-]+){0,4}"
    r"|no\s+(?:issues|problems|errors)\s+(?:found|identified|detected)|there\s+(?:are|is)\s+no\s.*(?:spans?|phrases?).*)$",
    re.IGNORECASE,
)
_FILLER = {
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
    "phrases",
    "phrase",
    "quotes",
    "quote",
    "marked",
    "flagged",
    "all",
}
_NEGATORS = {"no", "not", "non", "un"}
_JSON_LABEL_KEYS = ("label", "type", "category")
_JSON_QUOTE_KEYS = ("quote", "span", "text")
_JSON_LIST_KEYS = ("spans", "marks", "annotations", "results", "items")
# quote characters: family and role ("open", "close" or "both")
_QUOTE_CHARS = {
    '"': ("d", "both"),
    "“": ("d", "open"),
    "”": ("d", "close"),
    "„": ("d", "open"),
    "«": ("d", "open"),
    "»": ("d", "close"),
    "'": ("s", "both"),
    "‘": ("s", "open"),
    "’": ("s", "both"),
    "`": ("b", "both"),
    "「": ("c", "open"),
    "」": ("c", "close"),
    "『": ("c", "open"),
    "』": ("c", "close"),
}
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


class _Malformed(ValueError):
    pass


@dataclass
class Marks:
    """What an output says, before locating: ``(label, quote)`` pairs and the failure, if any."""

    marks: list[tuple[str, str]] = field(default_factory=list)
    unknown: list[tuple[str, str]] = field(default_factory=list)
    """``(label as written, quote)`` under labels the template does not have."""
    error: str = ""
    """Failure class name ('' = understood)."""


# ---- reading ---------------------------------------------------------------------------------------------------


def _unspaced(ch: str) -> bool:
    """Characters of scripts written without spaces between words (each is a word boundary of its own)."""
    o = ord(ch)
    return 0x2E80 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0x20000 <= o <= 0x2FFFF or 0x0E00 <= o <= 0x0EFF


def _is_word(ch: str) -> bool:
    return ch.isalnum() and not _unspaced(ch)


def split_quotes(text: str) -> tuple[list[str], str]:
    """Top-level quoted items of ``text`` (nested quotes of the same family stay inside their item) and what is
    left outside them. An apostrophe inside a word never opens or closes a quote."""
    items, outside, stack, start, last = [], [], [], 0, 0
    for i, ch in enumerate(text):
        kind = _QUOTE_CHARS.get(ch)
        if kind is None:
            continue
        family, role = kind
        prev = text[i - 1] if i else " "
        nxt = text[i + 1] if i + 1 < len(text) else " "
        can_open = role == "open" or (role == "both" and not _is_word(prev) and not nxt.isspace())
        can_close = role == "close" or (role == "both" and not prev.isspace() and not _is_word(nxt))
        if not stack:
            if can_open:
                outside.append(text[last:i])
                stack, start = [family], i + 1
        elif family == stack[0]:
            if can_close and (len(stack) > 1 or role != "open"):
                stack.pop()
                if not stack:
                    items.append(text[start:i])
                    last = i + 1
            elif can_open:
                stack.append(family)
    if stack:  # an unclosed quote (a truncated output): its text up to the end
        items.append(text[start:])
        last = len(text)
    outside.append(text[last:])
    return [q.strip() for q in items if q.strip()], "".join(outside)


def _quotes(rest: str) -> list[str]:
    """Quotes in the text after a label: a quoted list if it starts with a quote, else the bare text."""
    rest = _ITEM.sub("", rest.strip(), count=1)  # 'Negative: [Span 1]: text' on one line
    if rest and rest[0] in _QUOTE_CHARS or rest.startswith("["):
        items, _ = split_quotes(rest)
        if items:
            return items
    bare = rest.strip()
    return [bare] if bare and not _is_none(bare) else []


def _is_none(text: str) -> bool:
    core = text.strip().strip("*_()[]{}\"'“”.!;:- ").strip()
    return bool(core) and _NONE.match(core) is not None or text.strip() == "[]"


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text.lower())


def label_of(name: str, labels: dict[str, float]) -> str | None:
    """The template label ``name`` refers to ('Identified Positive Text Span' -> 'positive'), or None."""
    words = _words(name.translate(_TRANS).replace("-", " "))
    found = set()
    for label in labels:
        parts = label.split()
        for k in range(len(words) - len(parts) + 1):
            window = words[k : k + len(parts)]
            if all(w == p or w == p + "s" for w, p in zip(window, parts)) and (k == 0 or words[k - 1] not in _NEGATORS):
                found.add(label)
    return found.pop() if len(found) == 1 else None


def _labelish(name: str) -> bool:
    """A short name that reads like a label (not a sentence): a quote under it with an unknown label is dropped."""
    words = [w for w in _words(name) if w not in _FILLER and not w.isdigit()]
    return 1 <= len(words) <= 3 and "," not in name


def _clean(line: str) -> tuple[str, bool]:
    """Markdown and list markup off a line; True when it was a list item."""
    line = _MARKUP.sub("", line.strip()).replace("**", "").replace("__", "").strip()
    line = re.sub(r"^[*_]+(?=\S)", "", line)  # '*positive: ...' (emphasis, not a bullet)
    bullet = _BULLET.match(line)
    if bullet:
        line = line[bullet.end() :].strip()
    item = _ITEM.match(line)
    if item:
        line = line[item.end() :].strip()
    return line, bool(bullet or item)


class _Reader:
    """Line-by-line state: the current section, which sections were resolved, and the marks."""

    def __init__(self, template: CritiqueTemplate) -> None:
        self.labels, self.template = template.labels, template
        self.out = Marks()
        self.sections: dict[str, bool] = {}  # label -> resolved (items or an explicit none)
        self.current: str | None = None
        self.global_none = self.sectioned = self.seen = False

    def add(self, label: str | None, raw_label: str, quotes: list[str]) -> None:
        if label is None:
            self.out.unknown += [(raw_label, q) for q in quotes]
            return
        self.out.marks += [(label, q) for q in quotes]
        self.seen = True
        if quotes:
            self.sections[label] = True

    def line(self, raw: str) -> bool:
        """Read one line; False = stop reading."""
        line, listed = _clean(raw)
        if not line or line.startswith("```"):
            return True
        if (self.seen or self.sections) and line.lower().startswith(self.template.stop_prefixes):
            return False
        inline = _INLINE_LABEL.search(line)
        if inline:
            line = line[: inline.start()].rstrip()
            if not line:  # a label with no quote
                return True
        prefix = _PREFIX.match(line)
        if prefix and not listed or prefix and label_of(prefix.group(1), self.labels):
            name, rest = prefix.group(1), prefix.group(2).strip()
            label = label_of(name, self.labels)
            if label is not None:
                self.current = label
                if not rest or _is_none(rest):
                    self.sectioned = True
                    self.sections[label] = self.sections.get(label, False) or bool(rest)
                    self.seen = True
                else:
                    self.add(label, name, _quotes(rest))
                return True
            items, left = split_quotes(rest)
            if items and _labelish(name) and not left.strip(" ,;.[]()andor"):
                self.out.unknown += [(name.strip(), q) for q in items]
                return True
        plain = not listed and not any(c in _QUOTE_CHARS for c in line) and ":" not in line.rstrip(":：")
        heading = label_of(line, self.labels) if plain else None
        if heading is not None and _labelish(line):  # '## Negative', '**Toxic spans**' with no colon
            self.current, self.sectioned, self.seen = heading, True, True
            self.sections.setdefault(heading, False)
            return True
        if _is_none(line):
            if self.current is not None:
                self.sections[self.current] = True
            else:
                self.global_none = True
            self.seen = True
            return True
        if listed or line[0] in _QUOTE_CHARS:
            raw_label = inline.group(1) if inline else (self.current or "")
            label = label_of(raw_label, self.labels) if raw_label else None
            if label is None and not raw_label and len(self.labels) == 1:
                label = next(iter(self.labels))
            if label is not None or raw_label or line[0] in _QUOTE_CHARS:  # an unlabelled bare bullet is prose
                self.add(label, raw_label, _quotes(line))
        return True

    def finish(self) -> Marks:
        out = self.out
        if not self.seen:
            out.error = "UnknownLabel" if out.unknown else "UnparseableCritique"
        elif any(not done for done in self.sections.values()):
            out.error = "IncompleteCritique"
        elif self.sectioned and not self.global_none:
            answered = {label for label, _ in out.marks} | {s for s, done in self.sections.items() if done}
            if any(s not in answered for s in self.template.sections):
                out.error = "IncompleteCritique"
        return out


def _json_start(text: str):
    """The first JSON array/object that starts a line of ``text``, or None."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"^[ \t]*([\[{])", text, re.MULTILINE):
        try:
            value, _ = decoder.raw_decode(text, match.start(1))
        except ValueError:
            continue
        if isinstance(value, (list, dict)):
            return value
    return None


def _json_marks(value, labels: dict[str, float]) -> Marks:
    """Marks from a JSON value; raises _Malformed when its shape is not one of the accepted ones."""
    out = Marks()

    def pick(obj: dict, keys: tuple[str, ...]):
        return next((obj[k] for k in keys if k in obj), None)

    def quotes_of(v) -> list[str]:
        if isinstance(v, str):
            return [] if _is_none(v) else [v]
        if isinstance(v, list) and all(isinstance(q, str) for q in v):
            return [q for q in v if not _is_none(q)]
        if v is None:
            return []
        raise _Malformed(f"quotes must be strings, got {type(v).__name__}")

    def item(obj) -> None:
        if not isinstance(obj, dict):
            raise _Malformed(f"list items must be objects, got {type(obj).__name__}")
        name, quote = pick(obj, _JSON_LABEL_KEYS), pick(obj, _JSON_QUOTE_KEYS)
        if not isinstance(name, str) or quote is None:
            raise _Malformed("each object needs a 'label' and a 'quote'")
        label = label_of(name, labels)
        target = out.marks if label else out.unknown
        target += [(label or name, q) for q in quotes_of(quote)]

    if isinstance(value, dict) and any(k in value for k in _JSON_LIST_KEYS) and len(value) == 1:
        value = next(iter(value.values()))
    if isinstance(value, list):
        for obj in value:
            item(obj)
    elif pick(value, _JSON_LABEL_KEYS) is not None:
        item(value)
    elif any(label_of(k, labels) for k in value):
        for name, v in value.items():
            label = label_of(name, labels)
            if label is None and not _labelish(name):
                raise _Malformed(f"unexpected key '{name}'")
            (out.marks if label else out.unknown).extend((label or name, q) for q in quotes_of(v))
    else:
        raise _Malformed("an empty object")
    if not out.marks and out.unknown:
        out.error = "UnknownLabel"
    return out


def read_marks(text: str, template: CritiqueTemplate) -> Marks:
    """What ``text`` says, in the critic's order (see the module docstring for the grammar)."""
    if len(text) > MAX_OUTPUT_CHARS:
        return Marks(error="CritiqueTooLong")
    value = _json_start(text)
    if value is not None:
        try:
            return _json_marks(value, template.labels)
        except _Malformed:
            return Marks(error="MalformedJSONCritique")
    reader = _Reader(template)
    for line in text.splitlines():
        if not reader.line(line):
            break
    return reader.finish()


# ---- locating --------------------------------------------------------------------------------------------------


def _normalise(text: str) -> tuple[str, list[int]]:
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


def _edge_trim(quote: str) -> str:
    """Punctuation, quote marks and spaces off both ends (letters, digits, emoji and other symbols stay)."""

    def trimmable(ch: str) -> bool:
        return ch.isspace() or unicodedata.category(ch).startswith("P")

    start, end = 0, len(quote)
    while start < end and trimmable(quote[start]):
        start += 1
    while end > start and trimmable(quote[end - 1]):
        end -= 1
    return quote[start:end]


def _bounded(text: str, start: int, end: int) -> bool:
    left = start == 0 or not (_is_word(text[start - 1]) and _is_word(text[start]))
    right = end == len(text) or not (_is_word(text[end - 1]) and _is_word(text[end]))
    return left and right


def _find(haystack: str, needle: str, start_at: int) -> int:
    """First word-bounded occurrence at or after ``start_at``, else the first anywhere; -1 when none."""
    for origin in (start_at, 0):
        pos = haystack.find(needle, origin)
        while pos >= 0:
            if _bounded(haystack, pos, pos + len(needle)):
                return pos
            pos = haystack.find(needle, pos + 1)
    return -1


def _word_spans(text: str) -> list[tuple[str, int, int]]:
    spans = []
    for m in re.finditer(r"[^\W_]+", text):
        word, s = m.group(), m.start()
        if any(_unspaced(c) for c in word):  # one word per character of unspaced scripts
            spans += [(c.lower(), s + k, s + k + 1) for k, c in enumerate(word)]
        else:
            spans.append((word.lower(), s, m.end()))
    return spans


def locate(quote: str, response: str, start_at: int = 0) -> tuple[int, int] | None:
    """``[start, end)`` of ``quote`` in ``response`` by the rules of the module docstring, or None."""
    quote = quote.strip()
    if not quote:
        return None
    pos = _find(response, quote, start_at)
    if pos >= 0:
        return pos, pos + len(quote)
    norm, index = _normalise(response)
    q, _ = _normalise(_edge_trim(quote))
    if q:
        norm_start = next((k for k, i in enumerate(index) if i >= start_at), len(norm))
        pos = _find(norm, q, norm_start)
        if pos >= 0:
            return index[pos], index[pos + len(q) - 1] + 1
    wanted = [w for w, _, _ in _word_spans(quote.translate(_TRANS))]
    if not wanted:
        return None
    have = _word_spans(response.translate(_TRANS))
    words = [w for w, _, _ in have]
    hits = [k for k in range(len(words) - len(wanted) + 1) if words[k : k + len(wanted)] == wanted]
    if not hits:
        return None
    k = next((k for k in hits if have[k][1] >= start_at), hits[0])
    return have[k][1], have[k + len(wanted) - 1][2]


def drop_reason(quote: str, prompt: str, response: str, template: CritiqueTemplate) -> str:
    """Why a quote not located in the response was not (see the module docstring)."""
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


def parse_critique(raw: str, response: str, template: CritiqueTemplate, prompt: str = "") -> Critique:
    """The critique ``raw`` makes of ``response`` (``prompt`` is only used to explain dropped quotes)."""
    read = read_marks(raw, template)
    if read.error:
        return Critique(ok=False, raw=raw, error=read.error)
    spans: list[Span] = []
    dropped = [DroppedQuote(q, name, "unknown_label") for name, q in read.unknown]
    cursors: dict[str, int] = {}
    seen: set[tuple[int, int, str]] = set()
    for label, quote in read.marks:
        where = locate(quote, response, cursors.get(label, 0))
        if where is None:
            dropped.append(DroppedQuote(quote, label, drop_reason(quote, prompt, response, template)))
            continue
        cursors[label] = where[1]
        if (*where, label) not in seen:
            seen.add((*where, label))
            spans.append(Span(*where, label, template.labels[label], response[where[0] : where[1]]))
    return Critique(ok=True, spans=spans, raw=raw, dropped=dropped)
