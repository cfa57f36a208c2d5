"""Reference lookup for rewards and metrics that compare a response with a reference (ROUGE, exact match).

Rewards receive only (prompts, responses); a reference is found by the formatted prompt, read from the same file as
the prompts with the same template as the datamodule.
"""

from __future__ import annotations

from pathlib import Path


def reference_rows(
    path: str | Path, source_field: str, reference_field: str, template: str, placeholder: str = "source"
) -> list[tuple[str, str]]:
    """``(formatted prompt, reference text)`` per row, in file order; the prompt is ``template`` with
    ``{<placeholder>}`` filled by the source field."""
    from lit_critic_rl.data.base import read_table

    table = read_table(path, [source_field, reference_field])
    return [
        (template.format(**{placeholder: str(src).strip()}), str(ref).strip())
        for src, ref in zip(table[source_field], table[reference_field])
    ]


def load_reference_table(path: str | Path, source_field: str, reference_field: str, template: str) -> dict[str, str]:
    """Formatted prompt (``template.format(source=...)``) -> reference text."""
    return dict(reference_rows(path, source_field, reference_field, template))


def lookup(table: dict[str, str], prompts: list[str], where: str) -> list[str]:
    missing = [p for p in prompts if p not in table]
    if missing:
        raise KeyError(f"model.reward: {len(missing)} prompt(s) not found in '{where}', e.g. {missing[0][:80]!r}")
    return [table[p] for p in prompts]
