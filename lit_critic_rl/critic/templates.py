"""Critic prompt templates: few-shot text files with a small header.

Header lines (``# key: value``) give the template ``version`` (part of the cache key), the ``labels`` the critic may
use with their polarity (``positive=+1, negative=-1``) and the ``fields`` the body fills (``prompt``, ``response``,
``score``). Shipped templates live in ``lit_critic_rl/critic/prompts/``; a config may name one of them or a file path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SHIPPED = Path(__file__).parent / "prompts"


@dataclass(frozen=True)
class CritiqueTemplate:
    name: str
    version: str
    labels: dict[str, float]
    """Lower-case label -> polarity (> 0 rewards the span's tokens, < 0 penalises them)."""
    body: str

    def render(self, prompt: str, response: str, score: int | None = None) -> str:
        return self.body.replace("{prompt}", prompt).replace("{response}", response).replace(
            "{score}", "" if score is None else str(score)
        )


def load_template(name_or_path: str) -> CritiqueTemplate:
    """A shipped template by name (``sentiment``, ``toxicity``, ``summarization``) or a template file path."""
    path = Path(name_or_path)
    if not path.is_file():
        path = SHIPPED / f"{name_or_path}.txt"
    if not path.is_file():
        shipped = sorted(p.stem for p in SHIPPED.glob("*.txt"))
        raise FileNotFoundError(f"critic.template: '{name_or_path}' is neither a file nor a shipped template {shipped}")
    header: dict[str, str] = {}
    lines = path.read_text().splitlines()
    while lines and lines[0].startswith("#"):
        key, _, value = lines.pop(0)[1:].partition(":")
        header[key.strip()] = value.strip()
    labels: dict[str, float] = {}
    for item in filter(None, (x.strip() for x in header.get("labels", "").split(","))):
        label, _, polarity = item.partition("=")
        try:
            labels[label.strip().lower()] = float(polarity)
        except ValueError as err:
            raise ValueError(f"critic.template: '{path}': label '{item}' needs a polarity like 'toxic=-1'") from err
    if not labels:
        raise ValueError(f"critic.template: '{path}' has no '# labels: name=+1, other=-1' header line")
    body = "\n".join(lines).strip("\n")
    if "{response}" not in body:
        raise ValueError(f"critic.template: '{path}' has no {{response}} placeholder")
    return CritiqueTemplate(path.stem, header.get("version", "0"), labels, body + "\n")
