"""Teachers that rewrite a policy's solution with minimal edits so that it reaches the right answer (RLMEC step 1).

A :class:`Rewriter` is the RLMEC counterpart of :class:`~lit_critic_rl.critic.base.CriticBackend`: one batched call
``rewrite(problems, solutions, references) -> list[Rewrite]``, one result per sample, in order. A failure (an empty
or unparseable solution, a teacher error, a rewrite whose answer is still wrong) is a :class:`Rewrite` with
``ok=False`` and a reason: the caller counts it and leaves the sample out; it never raises mid-epoch.

:class:`ArithmeticRewriter` is an exact, offline teacher for :mod:`lit_critic_rl.data.arithmetic`. Reading the
solution's step lines in order, it expects step i to be ``v_{i-1} op_i n_i = v_i``, where ``op_i n_i`` is the
problem's i-th operation, ``v_0`` the start value and ``v_i`` the CORRECTED running value. In each step it replaces
only the parts that differ (the left operand, the operator, the right operand, the result), in place, keeping the
rest of the line's text (a step whose equation is not a single operation, ``7 + 5 * 3 = 22``, gets its whole
equation replaced); a wrong result is fixed and the fixed value is carried into the next step's left operand,
whose result is recomputed. A step of ``+`` or ``*`` with its operands commuted (``5 + 7`` for "start with 7, add
5") is right and kept as written, so a right answer reached that way is an identity rewrite. Missing steps are
inserted after the last step, surplus steps deleted, and the number on the answer line fixed (or the line added).
Lines before the first changed step are therefore kept verbatim, as are lines that are neither steps nor the answer
line, and everything after the answer line. A line that starts with ``Step`` but holds no equation ending in a
number (``Step 2: 12 * 3 =``, cut off) makes the solution a skip.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass

from lit_critic_rl.data.arithmetic import (
    ANSWER,
    LOOSE_STEP,
    STEP,
    STEP_START,
    ArithmeticProblem,
    final_answer,
    parse_problem,
)


@dataclass
class Rewrite:
    ok: bool
    """False when no usable rewrite exists (see ``error``); the sample is then skipped and counted."""
    first_error_step: int | None = None
    """1-based number of the first step the teacher changed; None when the solution was right (``text`` is then the
    solution itself). For :class:`ArithmeticRewriter`, ``n_steps + 1`` means only the answer line was wrong."""
    text: str = ""
    """The rewritten solution ŷ."""
    error: str = ""
    """Why ``ok`` is False."""


class Rewriter(ABC):
    """One batched call: ``rewrite(problems, solutions, references) -> list[Rewrite]``, one per sample, in order.

    ``problems`` are the prompts the solutions answered; ``references`` are reference solutions or answers for
    teachers that need them (an LLM teacher is shown one); a teacher that can work the answer out ignores them.
    """

    reads_references: bool = False
    """True when ``rewrite`` needs ``references``: training then hands it each prompt's reference from the task
    datamodule (:func:`~lit_critic_rl.rlmec.imitation.references_read_by`)."""

    @abstractmethod
    def rewrite(
        self, problems: list[str], solutions: list[str], references: list[str] | None = None
    ) -> list[Rewrite]: ...


class ArithmeticRewriter(Rewriter):
    """The exact minimum-edit teacher of the arithmetic task (see the module docstring); ``references`` are ignored."""

    def rewrite(self, problems: list[str], solutions: list[str], references: list[str] | None = None) -> list[Rewrite]:
        if len(problems) != len(solutions):
            raise ValueError(f"{len(problems)} problems but {len(solutions)} solutions")
        return [self.rewrite_one(problem, solution) for problem, solution in zip(problems, solutions)]

    def rewrite_one(self, problem_text: str, solution: str) -> Rewrite:
        if not solution.strip():
            return Rewrite(False, error="empty solution")
        problem = parse_problem(problem_text)
        if problem is None:
            return Rewrite(False, error="no arithmetic problem in the prompt")
        lines = solution.splitlines(keepends=True)
        answer_at = next((i for i, line in enumerate(lines) if ANSWER.search(line)), len(lines))
        steps: list[tuple[int, re.Match]] = []
        for i, line in enumerate(lines[:answer_at]):
            match = STEP.match(line.rstrip("\r\n")) or LOOSE_STEP.match(line.rstrip("\r\n"))
            if match:
                steps.append((i, match))
            elif STEP_START.match(line):
                return Rewrite(False, error=f"unparseable step line {i + 1}: {line.strip()[:60]!r}")
        if not steps:
            return Rewrite(False, error="no step lines before the answer")
        text, first_error = _fix(problem, lines, steps, answer_at)
        if final_answer(text) != problem.answer:  # cannot happen by construction; a guard, not a crash
            return Rewrite(False, first_error, text, error="rewrite's answer is still wrong")
        return Rewrite(True, first_error, text)


def _fix(
    problem: ArithmeticProblem, lines: list[str], steps: list[tuple[int, re.Match]], answer_at: int
) -> tuple[str, int | None]:
    """The rewritten text and the first changed step (None if nothing changed)."""
    lines = list(lines)
    changed: list[int] = []
    value = problem.start
    for k, (i, match) in enumerate(steps):
        if k >= len(problem.operations):
            lines[i] = ""  # a surplus step
            changed.append(k + 1)
            continue
        (op, n), result = problem.operations[k], problem.values()[k]
        edited = _edit_step(lines[i], match, value, op, n, result)
        if edited != lines[i]:
            lines[i] = edited
            changed.append(k + 1)
        value = result
    last = steps[min(len(steps), len(problem.operations)) - 1][0]  # the last step kept
    missing = [
        f"Step {k + 1}: {v} {op} {n} = {r}\n"
        for k, ((op, n), v, r) in enumerate(
            zip(problem.operations, [problem.start, *problem.values()], problem.values())
        )
        if k >= len(steps)
    ]
    if missing:
        changed.append(len(steps) + 1)
        lines[last] = _with_newline(lines[last]) + "".join(missing)
    if answer_at < len(lines):
        match = ANSWER.search(lines[answer_at])
        if int(match.group(1)) != problem.answer:
            lines[answer_at] = _replace(lines[answer_at], [(match.span(1), str(problem.answer))])
            changed.append(len(problem.operations) + 1)
    else:
        after = "\n" if any(lines[last + 1 :]) else ""  # more text follows the last step
        lines[last] = _with_newline(lines[last]) + f"The answer is {problem.answer}" + after
        changed.append(len(problem.operations) + 1)
    return "".join(lines), min(changed) if changed else None


def _edit_step(line: str, match: re.Match, a: int, op: str, b: int, c: int) -> str:
    """``line`` with each of a, op, b, c replaced only where it differs from the expected value (the whole equation
    when it is not one operation)."""
    if "body" in match.groupdict():
        return _replace(line, [(match.span("body"), f"{a} {op} {b} = {c}")])
    written_op = match.group("op") if match.group("op") in "+-" else "*"
    if written_op == op != "-" and (int(match.group("b")), int(match.group("a"))) == (a, b):
        a, b = b, a  # commuted operands of + or *: the same step, kept as written
    edits = []
    if int(match.group("a")) != a:
        edits.append((match.span("a"), str(a)))
    if written_op != op:
        edits.append((match.span("op"), op))
    if int(match.group("b")) != b:
        edits.append((match.span("b"), str(b)))
    if int(match.group("c")) != c:
        edits.append((match.span("c"), str(c)))
    return _replace(line, edits)


def _replace(text: str, edits: list[tuple[tuple[int, int], str]]) -> str:
    for (start, end), new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _with_newline(line: str) -> str:
    return line if line.endswith("\n") else line + "\n"
