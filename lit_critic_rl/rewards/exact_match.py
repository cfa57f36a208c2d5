"""Exact match of the final number (GSM8K): 1.0 when the response's final answer equals the reference, else 0.0.

The final answer is the number after the last ``####`` or ``The answer is``, else the last number in the text;
commas, ``$`` and a trailing ``.`` are ignored and ``18.0 == 18``. References come from the same file as the prompts,
keyed by the formatted prompt (the reward and the datamodule must use the same ``prompt_template``).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

from lit_critic_rl.rewards.base import Reward
from lit_critic_rl.rewards.references import lookup, reference_rows

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


def load_references(path: str | Path, question_field: str, answer_field: str, template: str) -> dict[str, Decimal]:
    """Formatted prompt -> reference number; a row whose answer has no number is an error naming file and row."""
    refs = {}
    for i, (prompt, answer) in enumerate(reference_rows(path, question_field, answer_field, template, "question")):
        number = final_number(answer)
        if number is None:
            raise ValueError(f"data: '{path}' row {i}: field '{answer_field}' has no final number: {answer!r:.80}")
        refs[prompt] = number
    return refs


class ExactMatchReward(Reward):
    def __init__(
        self,
        reference_file: str | list[str] | None = None,
        question_field: str = "question",
        answer_field: str = "answer",
        prompt_template: str = "Question: {question}\nAnswer:",
    ) -> None:
        """
        Args:
            reference_file: File(s) with questions and answers, merged (``shipped:gsm8k-test`` names the GSM8K test
                split shipped offline); default: that split. Training from ``hub:openai/gsm8k:main@train`` needs
                ``[hub:openai/gsm8k:main@train, shipped:gsm8k-test]``.
            question_field: Column holding the question.
            answer_field: Column holding the reference solution (its final number is the answer).
            prompt_template: How a question becomes a prompt; must match the datamodule's.
        """
        from lit_critic_rl.data.gsm8k import SHIPPED_TEST, resolve

        files = [reference_file] if isinstance(reference_file, str) else list(reference_file or [SHIPPED_TEST])
        self.reference_file = ", ".join(resolve(f) for f in files)
        self.references: dict[str, Decimal] = {}
        for f in files:
            self.references.update(load_references(resolve(f), question_field, answer_field, prompt_template))

    def __call__(self, prompts: list[str], responses: list[str]) -> list[float]:
        golds = lookup(self.references, prompts, self.reference_file)
        return [1.0 if final_number(response) == gold else 0.0 for response, gold in zip(responses, golds)]
