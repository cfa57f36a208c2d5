"""References for rewards and metrics that compare a response with one (ROUGE, exact match).

The datamodule is the one source of references (``data.reference_field``): rewards and metrics that need them
inherit :class:`UsesReferences`, and the PPO module hands them the datamodule's prompt -> reference table at setup.
A user sets the file, field and prompt template once, on the datamodule.
"""

from __future__ import annotations


class UsesReferences:
    """Mixin of rewards and metrics that look up each prompt's reference."""

    references: dict[str, str] | None = None

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


def hand_over_references(references: dict[str, str], components: dict[str, object]) -> None:
    """Give the datamodule's references to every component (by config field) that compares with them; one of them
    without references to receive is an error naming its field."""
    for field, component in components.items():
        if not isinstance(component, UsesReferences):
            continue
        if not references:
            raise ValueError(
                f"{field} ({type(component).__name__}) compares responses with references, but the datamodule "
                f"has none: use a task datamodule with references or set data.init_args.reference_field"
            )
        component.set_references(references)
