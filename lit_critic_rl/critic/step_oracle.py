"""StepOracle: the exact step checker of the arithmetic task as a critic (offline, deterministic; not a model).

It reads a solution as :class:`~lit_critic_rl.rlmec.rewriter.ArithmeticRewriter` does (the step lines before the
first ``The answer is N`` line, in order; lines that are neither are ignored, as is everything after the answer line)
and judges each step against the problem read back from the prompt. Step k is right when it is
``v_{k-1} op_k n_k = v_k`` with ``v`` the TRUE running values (``v_0`` the start); commuted operands of ``+`` and
``*`` are right. Each mark is a span over the step's result number (polarity +1 or -1):

- every step before the first wrong one: ``correct step``, +1;
- the first wrong step: ``wrong step``, -1 (a wrong result, a miscopied operand, the wrong operation, an equation
  that is not one operation); a line that starts with ``Step`` but holds no equation ending in a number
  (``Step 2: 12 * 3 =``) is marked whole as ``malformed step``, -1;
- every later step whose result is not the true running value inherits the error: ``inherited error``, -1; a later
  step that lands back on the true value is left unmarked (it neither makes nor carries the error);
- steps beyond the problem's operations: ``surplus step``, -1;
- the answer line's number: ``correct answer``, +1, when it is right and every step was right and none missing;
  ``wrong answer``, -1, when it is wrong; unmarked when it is right after a wrong or missing step.

A missing step (fewer step lines than operations) has no text to mark: it counts as the first error, so the
answer line after it earns nothing when right. An empty response, or one with no steps and no answer line, is an
``empty`` critique (a real zero); a prompt that states no problem is a ``failed`` one.

The VALUES of the marks are ``model.shaping.positive_value`` / ``negative_value``, like every critic's; the
experiment preset ``configs/experiment/arith_step_oracle.yaml`` sets them (see its comment for the arithmetic).
"""

from __future__ import annotations

import re

from lit_critic_rl.critic.base import CriticBackend, Critique, Span
from lit_critic_rl.data.arithmetic import (
    ANSWER,
    LOOSE_STEP,
    STEP,
    STEP_START,
    ArithmeticProblem,
    apply,
    parse_problem,
)

_LAST_NUMBER = re.compile(r"-?\d+(?=\s*$)")


def _step_is_right(match: re.Match, a: int, op: str, b: int) -> bool:
    """Whether a parsed one-operation step is exactly ``a op b = apply(a, op, b)`` (+ and * may be commuted)."""
    written = (int(match.group("a")), int(match.group("b")))
    written_op = match.group("op") if match.group("op") in "+-" else "*"
    operands_ok = written == (a, b) or (op != "-" and written == (b, a))
    return written_op == op and operands_ok and int(match.group("c")) == apply(a, op, b)


def _result_span(match: re.Match, offset: int) -> tuple[int, int, int]:
    """``(start, end, value)`` of the step's result number in the response."""
    if "c" in match.groupdict():
        return offset + match.start("c"), offset + match.end("c"), int(match.group("c"))
    number = _LAST_NUMBER.search(match.group("body"))
    start = offset + match.start("body") + number.start()
    return start, start + len(number.group()), int(number.group())


def judge(problem: ArithmeticProblem, response: str) -> list[Span]:
    """The oracle's marks on ``response`` as a solution of ``problem`` (see the module docstring), in text order."""
    lines = response.splitlines(keepends=True)
    starts = [sum(len(line) for line in lines[:i]) for i in range(len(lines))]
    answer_at = next((i for i, line in enumerate(lines) if ANSWER.search(line)), len(lines))
    truth = problem.values()
    spans: list[Span] = []
    wrong = False  # a wrong, malformed or missing step came before

    def mark(start: int, end: int, label: str, polarity: float) -> None:
        spans.append(Span(start, end, label, polarity, response[start:end]))

    k = 0  # steps read so far
    for i, line in enumerate(lines[:answer_at]):
        body = line.rstrip("\r\n")
        match = STEP.match(body) or LOOSE_STEP.match(body)
        if match is None:
            if STEP_START.match(body):
                left = len(body) - len(body.lstrip())
                mark(starts[i] + left, starts[i] + len(body.rstrip()), "malformed step", -1.0)
                wrong, k = True, k + 1
            continue
        start, end, result = _result_span(match, starts[i])
        if k >= len(problem.operations):
            mark(start, end, "surplus step", -1.0)
        elif not wrong:
            op, n = problem.operations[k]
            right = "c" in match.groupdict() and _step_is_right(match, ([problem.start, *truth])[k], op, n)
            mark(start, end, "correct step" if right else "wrong step", 1.0 if right else -1.0)
            wrong = not right
        elif result != truth[k]:
            mark(start, end, "inherited error", -1.0)
        k += 1
    wrong = wrong or k < len(problem.operations)
    if answer_at < len(lines):
        match = ANSWER.search(lines[answer_at])
        start, end = starts[answer_at] + match.start(1), starts[answer_at] + match.end(1)
        if int(match.group(1)) != problem.answer:
            mark(start, end, "wrong answer", -1.0)
        elif not wrong:
            mark(start, end, "correct answer", 1.0)
    return spans


class StepOracle(CriticBackend):
    """The arithmetic task's exact step checker (see the module docstring). It has no settings: what a mark is worth
    is ``model.shaping``'s business."""

    def critique(self, prompts: list[str], responses: list[str], scores: list[float] | None = None) -> list[Critique]:
        out = []
        for prompt, response in zip(prompts, responses, strict=True):
            problem = parse_problem(prompt)
            if problem is None:
                out.append(Critique(ok=False, error="no arithmetic problem in the prompt"))
            else:
                out.append(Critique(ok=True, spans=judge(problem, response)))
        return out
