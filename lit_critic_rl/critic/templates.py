"""Critic prompt templates: few-shot text files with a small header.

Header lines (``# key: value``):

- ``version``: part of the cache key;
- ``labels``: the labels the critic may use with their polarity (``positive=+1, negative=-1``);
- ``sections`` (optional): labels the critic is asked to answer one by one, each with spans or an explicit "none"
  (the paper's sentiment format). A sectioned answer that leaves one of them out is a failed critique;
- ``input`` (optional, default ``separate``): how the critic sees the sample by default. ``separate`` fills
  ``{prompt}`` and ``{response}``; ``joined`` fills ``{text}`` with prompt and response as one text with newlines
  turned into spaces, as the paper's sentiment critic saw it. A body line that starts with ``[separate]`` or
  ``[joined]`` is kept only in that input mode, so one file can carry its few-shot examples both ways;
- ``fields``: informative list of the placeholders (``{score}`` is the extrinsic score on a 1-10 scale).

Shipped templates live in ``lit_critic_rl/critic/prompts/``; a config may name one of them or a file path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

SHIPPED = Path(__file__).parent / "prompts"
InputMode = Literal["separate", "joined"]
_PLACEHOLDERS = ("{prompt}", "{response}", "{text}")
_MODE_TAG = re.compile(r"^\[(separate|joined)\] ?")


def join_input(prompt: str, response: str) -> tuple[str, int]:
    """``(text, offset)``: prompt and response as one text (newlines become spaces, lengths unchanged, a space
    between them when neither side has one) and where the response starts in it."""
    glue = "" if not prompt or not response or prompt[-1].isspace() or response[0].isspace() else " "
    text = (prompt + glue + response).replace("\r", " ").replace("\n", " ")
    return text, len(prompt) + len(glue)


@dataclass(frozen=True)
class CritiqueTemplate:
    name: str
    version: str
    labels: dict[str, float]
    """Lower-case label -> polarity (> 0 rewards the span's tokens, < 0 penalises them)."""
    body: str
    """The template text for ``input`` (mode tags resolved)."""
    input: InputMode = "separate"
    sections: tuple[str, ...] = ()
    """Labels a sectioned answer must resolve (spans or an explicit none each)."""

    def render(self, prompt: str, response: str, score: int | None = None, instruction: str = "") -> str:
        """The prompt for one sample; a non-empty ``instruction`` (what to return, e.g. JSON) follows it after a
        blank line."""
        text = self.body
        if self.input == "joined":
            text = text.replace("{text}", join_input(prompt, response)[0])
        text = (
            text.replace("{prompt}", prompt)
            .replace("{response}", response)
            .replace("{score}", "" if score is None else str(score))
        )
        return f"{text}\n{instruction}\n" if instruction else text

    @property
    def examples(self) -> str:
        """Instructions and few-shot examples: the body before the line that holds the sample."""
        lines = self.body.splitlines()
        first = next((i for i, line in enumerate(lines) if any(p in line for p in _PLACEHOLDERS)), len(lines))
        return "\n".join(lines[:first])

    @property
    def stop_prefixes(self) -> tuple[str, ...]:
        """Lower-case starts of the lines that present a sample (``continuation:``): a critic that writes one has
        started a made-up example, and the parser stops reading there."""
        found = []
        for line in self.body.splitlines():
            for placeholder in _PLACEHOLDERS:
                head = line.partition(placeholder)[0].strip().lower()
                if placeholder in line and head.endswith(":") and head not in found:
                    found.append(head)
        return tuple(found)


def _header(lines: list[str]) -> dict[str, str]:
    header: dict[str, str] = {}
    while lines and lines[0].startswith("#"):
        key, _, value = lines.pop(0)[1:].partition(":")
        header[key.strip()] = value.strip()
    return header


def _labels(text: str, path: Path) -> dict[str, float]:
    labels: dict[str, float] = {}
    for item in filter(None, (x.strip() for x in text.split(","))):
        label, _, polarity = item.partition("=")
        try:
            labels[" ".join(label.lower().split())] = float(polarity)
        except ValueError as err:
            raise ValueError(f"critic.template: '{path}': label '{item}' needs a polarity like 'toxic=-1'") from err
    if not labels:
        raise ValueError(f"critic.template: '{path}' has no '# labels: name=+1, other=-1' header line")
    return labels


def load_template(name_or_path: str, input: InputMode | None = None) -> CritiqueTemplate:
    """A shipped template by name (``sentiment``, ``sentiment_relc``, ...) or a template file path; ``input``
    overrides the file's ``# input:`` mode. Every problem is a ValueError naming the file and the fix."""
    path = Path(name_or_path)
    if not path.is_file():
        path = SHIPPED / f"{name_or_path}.txt"
    if not path.is_file():
        shipped = sorted(p.stem for p in SHIPPED.glob("*.txt"))
        raise FileNotFoundError(f"critic.template: '{name_or_path}' is neither a file nor a shipped template {shipped}")
    lines = path.read_text().splitlines()
    header = _header(lines)
    labels = _labels(header.get("labels", ""), path)
    mode = input or header.get("input", "separate")
    if mode not in ("separate", "joined"):
        raise ValueError(f"critic.template_input: '{mode}' for '{path}' must be 'separate' or 'joined'")
    sections = tuple(" ".join(s.lower().split()) for s in header.get("sections", "").split(",") if s.strip())
    unknown = [s for s in sections if s not in labels]
    if unknown:
        raise ValueError(f"critic.template: '{path}': sections {unknown} are not among the labels {list(labels)}")
    kept = []
    for line in lines:
        tag = _MODE_TAG.match(line)
        if tag is None or tag.group(1) == mode:
            kept.append(line[tag.end() :] if tag else line)
    body = "\n".join(kept).strip("\n")
    needed = ["{text}"] if mode == "joined" else ["{response}"]
    missing = [p for p in needed if p not in body]
    if missing:
        raise ValueError(
            f"critic.template: '{path}' has no {missing[0]} placeholder for {mode} input"
            + (
                " (set critic.template_input: separate, or add a '[joined] ... {text}' line)"
                if mode == "joined"
                else ""
            )
        )
    stray = [p for p in _PLACEHOLDERS if p in body and p not in needed and p != "{prompt}"]
    if mode == "separate" and stray:
        raise ValueError(f"critic.template: '{path}' uses {stray[0]} in separate input; tag that line '[joined]'")
    return CritiqueTemplate(path.stem, header.get("version", "0"), labels, body + "\n", mode, sections)
