"""JSON critic outputs of any reasonable shape -> ``(label, quote)`` marks.

Accepted, fenced or not, with prose around (also Python-style literals with single quotes):

- arrays of objects with the text under one of ``quote``, ``text``, ``span``, ``phrase`` (and ``excerpt``,
  ``snippet``, ``segment``, ``words``, ``content``, ``string``) and the label under one of ``label``, ``type``,
  ``sentiment``, ``category`` (and ``polarity``, ``class``, ``classification``, ``kind``, ``tag``, ``issue``,
  ``error_type``), or a key that is itself a label with ``true`` (``{"text": "moron", "toxic": true}``);
- objects keyed by label (``{"positive": [...], "negative_spans": []}``), whose values are quotes, lists of quotes
  or lists of the objects above;
- any wrapper around these (``{"spans": [...]}``, ``{"result": {"annotations": [...]}}``);
- "none": an empty list, ``null``, ``"none"`` under a label, or ``false`` under a label (``{"toxic": false,
  "spans": []}``).

Keys that carry no marks (``explanation``, ``score``, ``confidence``...) are ignored. A JSON value that holds none of
this is a ``MalformedJSONCritique``; one nested deeper than :data:`MAX_DEPTH` too. An output that starts like JSON and
never closes is a ``TruncatedCritique``.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field

from lit_critic_rl.critic import labels as lab
from lit_critic_rl.critic.reading import Marks

MAX_DEPTH = 12
TEXT_KEYS = ("quote", "text", "span", "phrase", "excerpt", "snippet", "segment", "words", "content", "string")
LABEL_KEYS = (
    "label",
    "type",
    "sentiment",
    "category",
    "polarity",
    "class",
    "classification",
    "kind",
    "tag",
    "issue",
    "error_type",
)
_START = re.compile(r"(?:^|(?<=[\s:=]))([\[{])", re.MULTILINE)
_MAX_STARTS = 40


class Malformed(ValueError):
    pass


@dataclass
class _Found:
    marks: list[tuple[str, str]] = field(default_factory=list)
    unknown: list[tuple[str, str]] = field(default_factory=list)
    nones: int = 0


def find_json(text: str) -> tuple[object, bool] | None:
    """``(value, truncated)``: the first JSON (or Python-literal) array/object in ``text`` that could be a
    critique; ``(None, True)`` when the text starts like one and never closes; None when there is none."""
    decoder = json.JSONDecoder()
    starts = list(_START.finditer(text))[:_MAX_STARTS]
    for match in starts:
        k = match.start(1)
        try:
            value, _ = decoder.raw_decode(text, k)
        except RecursionError:
            return {"__too_deep__": True}, False
        except ValueError:
            value = _literal(text, k)
            if value is None:
                continue
        at_line_start = text[text.rfind("\n", 0, k) + 1 : k].strip() in ("", "json")
        if isinstance(value, dict) or isinstance(value, list) and (at_line_start or _critique_like(value)):
            return value, False
    head = text.lstrip()
    head = head[head.index("\n") + 1 :].lstrip() if head.startswith("```") and "\n" in head else head
    if re.match(r"[\[{]\s*[\"'{\[]", head):
        return None, True
    return None


def _literal(text: str, start: int):
    """A Python literal starting at ``start`` that runs to a matching bracket, or None."""
    close = {"[": "]", "{": "}"}[text[start]]
    end = text.rfind(close)
    for _ in range(4):
        if end <= start:
            break
        try:
            return ast.literal_eval(text[start : end + 1])
        except (ValueError, SyntaxError, RecursionError, MemoryError, TypeError):
            end = text.rfind(close, start, end)
    return None


def _critique_like(value: list) -> bool:
    return any(isinstance(v, (dict, str)) for v in value)


def _label_key(obj: dict, labels: dict[str, float]) -> str | None:
    for key in LABEL_KEYS:
        if isinstance(obj.get(key), str):
            return obj[key]
    flagged = [k for k, v in obj.items() if v is True and lab.label_of(str(k), labels)]
    return flagged[0] if flagged else None


def _text_value(obj: dict):
    for key in TEXT_KEYS:
        if key in obj and obj[key] is not None:
            return obj[key]
    return None


def _quotes(value, depth: int) -> list[str]:
    if isinstance(value, str):
        return [] if lab.is_none_word(value) else [value]
    if isinstance(value, list):
        out = []
        for v in value:
            if isinstance(v, dict):
                inner = _text_value(v)
                if inner is None:
                    raise Malformed("an object without its text")
                out += _quotes(inner, depth + 1)
            elif isinstance(v, str):
                out += _quotes(v, depth + 1)
            else:
                raise Malformed(f"quotes must be strings, got {type(v).__name__}")
        return out
    raise Malformed(f"quotes must be strings, got {type(value).__name__}")


def _walk(value, labels: dict[str, float], found: _Found, context: str | None, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise Malformed("nested too deep")
    if isinstance(value, list):
        if not value:
            found.nones += 1
        for v in value:
            if isinstance(v, (dict, list)):
                _walk(v, labels, found, context, depth + 1)
            elif isinstance(v, str) and context is not None:
                found.marks += [(context, q) for q in _quotes(v, depth)]
            elif not isinstance(v, str):
                raise Malformed(f"unexpected {type(v).__name__} in a list")
        return
    if not isinstance(value, dict):
        raise Malformed(f"unexpected {type(value).__name__}")
    text = _text_value(value)
    if text is not None and not isinstance(text, (dict,)):
        name = _label_key(value, labels)
        label = lab.label_of(name, labels) if name else context
        if name is None and label is None and len(labels) == 1:
            label = next(iter(labels))
        quotes = _quotes(text, depth)
        if label is not None:
            found.marks += [(label, q) for q in quotes]
        else:
            found.unknown += [(name or "", q) for q in quotes]
        return
    for key, v in value.items():
        label = lab.label_of(str(key), labels)
        if label is not None:
            if v is False or v is None or v == [] or isinstance(v, str) and lab.is_none_word(v):
                found.nones += 1
            elif v is True:
                continue
            elif isinstance(v, str):
                found.marks.append((label, v))
            elif isinstance(v, list) and all(isinstance(x, str) for x in v):
                found.marks += [(label, q) for q in _quotes(v, depth)]
            elif isinstance(v, (list, dict)):
                _walk(v, labels, found, label, depth + 1)
            else:
                raise Malformed(f"'{key}' holds a {type(v).__name__}")
        elif isinstance(v, (list, dict)):
            _walk(v, labels, found, context, depth + 1)
        elif context is not None and isinstance(v, str) and lab.labelish(str(key)) and key not in LABEL_KEYS:
            continue


def read_json(value, labels: dict[str, float]) -> Marks:
    """Marks from a decoded JSON value (see the module docstring)."""
    if isinstance(value, dict) and value.get("__too_deep__") is True:
        return Marks(error="MalformedJSONCritique")
    found = _Found()
    try:
        _walk(value, labels, found, None, 0)
    except (Malformed, RecursionError):
        return Marks(error="MalformedJSONCritique")
    out = Marks(marks=found.marks, unknown=found.unknown)
    if not found.marks and not found.nones:
        out.error = "UnknownLabel" if found.unknown else "MalformedJSONCritique"
    return out
