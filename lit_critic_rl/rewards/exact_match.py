"""Exact match of the final number (GSM8K): 1.0 when the response's final answer equals the reference, else 0.0.

The final answer is the number after the last ``####`` or ``The answer is``, else the last number in the text;
commas, ``$`` and a trailing ``.`` are ignored and ``18.0 == 18``. References (solutions ending in their final
number) come from the datamodule (``data.reference_field``), keyed by the formatted prompt.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from lit_critic_rl.rewards.base import Reward
from lit_critic_rl.rewards.references import UsesReferences

_NUMBER = r"-?\$?\d[\d,]*(?:\.\d+)?"
_MARKED = re.compile(rf"(?:####|[Tt]he answer is)\s*:?\s*({_NUMBER})")


def parse_number(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", "").replace("$", "").rstrip("."))
    except InvalidOperation:
        return None


def final_number(text: str) -> Decimal | None:
    """The final answer of a solution text (see the module docstring), or None."""
    marked = _MARKED.findall(text)
    if marked:
        return parse_number(marked[-1])
    numbers = re.findall(_NUMBER, text)
    return parse_number(numbers[-1]) if numbers else None


class ExactMatchReward(UsesReferences, Reward):
    """1.0 when the response's final number equals the final number of the prompt's reference solution."""

    def set_references(self, references: dict[str, str]) -> None:
        """Keep each reference's final number; a reference without one is an error naming the prompt."""
        golds: dict[str, Decimal] = {}
        for prompt, solution in references.items():
            number = final_number(solution)
            if number is None:
                raise ValueError(f"data.reference_field: the reference of {prompt[:60]!r} has no final number")
            golds[prompt] = number
        self.references, self.golds = dict(references), golds

    def __call__(self, prompts: list[str], responses: list[str]) -> list[float]:
        self.references_for(prompts)  # a clear error for a prompt without a reference
        return [1.0 if final_number(r) == self.golds[p] else 0.0 for p, r in zip(prompts, responses)]
