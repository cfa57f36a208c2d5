"""The GRM's own minimum-edit rewrite of the policy's sample, as RLMEC's imitation target.

In the paper the imitation target is the **GRM's** rewrite of each sample (the teacher only makes the GRM's
training data). :class:`GRMRewriter` is a :class:`~lit_critic_rl.rlmec.rewriter.Rewriter` that asks a set-up
:class:`~lit_critic_rl.rlmec.grm_critic.MinEditGRM` for it: greedy decoding after the same rewrite prompt the GRM
was trained on and scores under (:func:`~lit_critic_rl.rlmec.grm.rewrite_prompt`, with the reference when the GRM
takes one). So ``imitation_target: grm | teacher`` is a choice of Rewriter (:func:`imitation_rewriter`).

- A sample whose final number equals its reference's is right: it is its own target (no call), as in the paper.
- Every other rewrite is checked (:func:`checked_rewrite`): an empty one, one without a final number, or (with a
  reference) one whose answer is still wrong is a failure with its reason, counted in ``failures``; the sample then
  has no imitation target. ``first_error_step`` is the first line the GRM changed.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

from lit_critic_rl.rewards.exact_match import final_number
from lit_critic_rl.rlmec.rewriter import Rewrite, Rewriter

ImitationTarget = Literal["grm", "teacher"]
"""Whose rewrite the policy imitates: the GRM's (the paper) or the teacher's (the LLM/exact teacher)."""


def first_changed_line(solution: str, rewrite: str) -> int | None:
    """The 1-based number of the first non-empty line where ``rewrite`` differs from ``solution`` (compared after
    stripping each line), or None when they hold the same lines."""
    old = [line.strip() for line in solution.splitlines() if line.strip()]
    new = [line.strip() for line in rewrite.splitlines() if line.strip()]
    for k, (a, b) in enumerate(zip(old, new), start=1):
        if a != b:
            return k
    return None if len(old) == len(new) else min(len(old), len(new)) + 1


def checked_rewrite(solution: str, text: str, reference: str | None, stop: str | None = None) -> Rewrite:
    """A generated rewrite ``text`` of ``solution``, cut at ``stop`` and checked (see the module docstring)."""
    if stop and stop in text:
        text = text[: text.index(stop) + len(stop)]
    if not text.strip():
        return Rewrite(False, error="GRM rewrite is empty")
    answer = final_number(text)
    if answer is None:
        return Rewrite(False, text=text, error="GRM rewrite has no final number")
    if reference is not None and final_number(reference) is not None and answer != final_number(reference):
        return Rewrite(False, first_changed_line(solution, text), text, error="GRM rewrite's answer is still wrong")
    return Rewrite(True, first_changed_line(solution, text), text)


class GRMRewriter(Rewriter):
    def __init__(self, grm, max_new_tokens: int = 256, stop: str | None = None, batch_size: int = 8) -> None:
        """
        Args:
            grm: A :class:`~lit_critic_rl.rlmec.grm_critic.MinEditGRM`, set up (it holds the model).
            max_new_tokens: Length limit of a rewrite.
            stop: Cut a rewrite after the first occurrence of this string (e.g. a blank line); None = the GRM's EOS.
            batch_size: Rewrites per ``generate`` call.
        """
        if max_new_tokens < 1 or batch_size < 1:
            raise ValueError(
                f"GRMRewriter: max_new_tokens and batch_size must be >= 1, got {max_new_tokens}, {batch_size}"
            )
        self.grm, self.max_new_tokens, self.stop, self.batch_size = grm, max_new_tokens, stop, batch_size
        self.calls = 0
        self.failures: Counter[str] = Counter()

    @property
    def reads_references(self) -> bool:
        """A GRM trained with references is shown them (``MinEditGRM(reference=true)``)."""
        return bool(self.grm.reference)

    def generate(self, prompts: list[str]) -> list[str]:
        """Greedy continuations of ``prompts`` under the GRM adapter."""
        from lit_critic_rl.rlmec.grm_critic import GRM
        from lit_critic_rl.rlmec.grm_eval import greedy

        grm = self.grm
        if grm.shared is None and grm.model is None:
            raise RuntimeError("GRMRewriter: its MinEditGRM is not set up (the module attaches it at setup)")
        self.calls += len(prompts)
        if grm.shared is not None:
            with grm.shared.adapter(GRM):
                return greedy(grm.shared.peft, grm.tokenizer, prompts, self.max_new_tokens, self.batch_size)
        return greedy(grm.model, grm.tokenizer, prompts, self.max_new_tokens, self.batch_size)

    def rewrite(self, problems: list[str], solutions: list[str], references: list[str] | None = None) -> list[Rewrite]:
        from lit_critic_rl.rlmec.grm import rewrite_prompt

        if len(problems) != len(solutions) or references is not None and len(references) != len(problems):
            raise ValueError(f"GRMRewriter: {len(problems)} problems, {len(solutions)} solutions, references "
                             f"{'none' if references is None else len(references)}")  # fmt: skip
        refs: list[str | None] = list(references) if references is not None else [None] * len(problems)
        if self.grm.reference and references is None:
            raise ValueError("GRMRewriter: the GRM takes references (reference=true), but none were given")
        out: list[Rewrite | None] = [None] * len(problems)
        for i, (solution, ref) in enumerate(zip(solutions, refs)):
            if not solution.strip():
                out[i] = Rewrite(False, error="empty solution")
            elif ref is not None and final_number(ref) is not None and final_number(solution) == final_number(ref):
                out[i] = Rewrite(True, None, solution)  # right: its own target
        todo = [i for i, r in enumerate(out) if r is None]
        shown = [refs[i] if self.grm.reference else None for i in todo]
        prompts = [rewrite_prompt(problems[i], solutions[i], ref) for i, ref in zip(todo, shown)]
        for i, text in zip(todo, self.generate(prompts) if todo else []):
            out[i] = checked_rewrite(solutions[i], text, refs[i], self.stop)
        self.failures.update(r.error for r in out if not r.ok)
        return out


def imitation_rewriter(choice: ImitationTarget, grm_rewriter: Rewriter | None, teacher: Rewriter | None) -> Rewriter:
    """The Rewriter whose rewrites the policy imitates for ``imitation_target: choice``; an error naming the setting
    when that one is missing."""
    if choice not in ("grm", "teacher"):
        raise ValueError(f"imitation_target must be 'grm' or 'teacher', got {choice!r}")
    chosen = grm_rewriter if choice == "grm" else teacher
    if chosen is None:
        need = "a GRM critic (model.critic: MinEditGRM)" if choice == "grm" else "model.rewriter"
        raise ValueError(f"imitation_target '{choice}' needs {need}")
    return chosen
