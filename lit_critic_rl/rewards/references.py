"""References for rewards and metrics that compare a response with one (ROUGE, exact match).

The datamodule is the one source of references (``data.reference_field``): rewards, metrics and the training stages
that need them (the critic's, the rewrite stage) inherit :class:`UsesReferences`, and the PPO module hands them the
datamodule's prompt -> reference table at setup.
A user sets the file, field and prompt template once, on the datamodule.
"""

from __future__ import annotations


class UsesReferences:
    """Mixin of rewards, metrics and stages that look up each prompt's reference."""

    references: dict[str, str] | None = None
    reads_references: bool = True
    """False for a stage whose component does not read them (a critic or rewriter without ``reads_references``):
    it is handed none and needs none."""

    def reader_name(self) -> str:
        """The class named in errors about its references (a stage names the component it runs)."""
        return type(self).__name__

    def set_references(self, references: dict[str, str]) -> None:
        """Receive the datamodule's prompt -> reference table (called by the PPO module at setup)."""
        self.references = dict(references)

    def references_for(self, prompts: list[str]) -> list[str]:
        """The reference of each prompt; an error naming the first prompt that has none."""
        name = type(self).__name__
        if self.references is None:
            raise RuntimeError(
                f"{name} has no references: the PPO module hands them over from a datamodule with a reference_field "
                f"(or call set_references)"
            )
        missing = [p for p in prompts if p not in self.references]
        if missing:
            raise KeyError(f"{name}: {len(missing)} prompt(s) have no reference, e.g. {missing[0][:80]!r}")
        return [self.references[p] for p in prompts]

    def stage_references(self, reader, prompts: list[str], field: str) -> list[str] | None:
        """What a stage gives the component it runs (``reader``, the config's ``field``): each prompt's reference
        when ``reader`` reads them, else None (:func:`references_read_by`)."""
        return references_read_by(reader, prompts, self.references or {}, field)


def references_for(prompts: list[str], references: dict[str, str]) -> list[str] | None:
    """Each prompt's reference from a datamodule's ``references()`` (None when it has none at all, e.g. the
    arithmetic task, whose teacher works the answer out); a prompt without one is an error."""
    if not references:
        return None
    missing = [p for p in prompts if not references.get(p, "").strip()]
    if missing:
        raise KeyError(f"data: {len(missing)} prompt(s) have no reference (first: {missing[0][:60]!r})")
    return [references[p] for p in prompts]


def references_read_by(reader, prompts: list[str], references: dict[str, str], field: str) -> list[str] | None:
    """Each prompt's reference when ``reader`` (a critic or a rewriter) reads them (``reads_references``), else
    None; one error naming ``field`` when it does and the data module has none."""
    if not getattr(reader, "reads_references", False):
        return None
    refs = references_for(prompts, references)
    if refs is None:
        raise ValueError(
            f"{field} ({type(reader).__name__}) reads reference solutions, but the data module has none "
            "(use a task with references, e.g. GSM8KPrompts)"
        )
    return refs


def hand_over_references(references: dict[str, str], components: dict[str, object]) -> None:
    """Give the datamodule's references to every component (by config field) that compares with them; one of them
    without references to receive is an error naming its field."""
    for field, component in components.items():
        if not isinstance(component, UsesReferences) or not component.reads_references:
            continue
        if not references:
            raise ValueError(
                f"{field} ({component.reader_name()}) compares responses with references, but the datamodule "
                f"has none: use a task datamodule with references or set data.init_args.reference_field"
            )
        component.set_references(references)
