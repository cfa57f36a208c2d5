"""LLMRewriter: an LLM teacher that finds the first wrong step of a solution, then rewrites it with minimal edits.

The paper's teacher works in two calls, both given the problem, a reference solution and the numbered prediction:
the first names the first wrong step k; the second rewrites the prediction with minimal changes, the steps before k
pre-filled in the answer. Chat servers do not all accept a pre-filled assistant turn, so here the kept steps are
shown in the prompt and the model writes only what follows them; the rewrite is the solution's own text up to step
k, verbatim, followed by that continuation. The prompts are written for this project.

Text generation is delegated to a generative critic backend (:class:`~lit_critic_rl.critic.openai_api.OpenAICritic`
for an OpenAI-compatible server: async, concurrency and rate limits, retries, a budget; or
:class:`~lit_critic_rl.critic.hf.HFCritic` for a local model), whose ``template`` is unused. Raw replies are cached
in sqlite by (backend identity, prompt version, rendered prompt), so a rerun makes no request it made before.

Solutions whose final number already equals the reference's are identity rewrites, without a call. Everything
else that goes wrong (a failed call, a reply naming no step, a step out of range, a rewrite that writes the kept
steps again but changed, a rewrite without a final number or with a wrong one) is a
:class:`~lit_critic_rl.rlmec.rewriter.Rewrite` with ``ok=False``, counted in ``failures`` by reason.

Any task with reference solutions works (arithmetic, GSM8K's ``#### N`` answers): the answer check is the final
number of the rewrite against the reference's (:func:`~lit_critic_rl.rewards.exact_match.final_number`). In
training the references come from the task datamodule (:func:`~lit_critic_rl.rlmec.targets.references_for`).
"""

from __future__ import annotations

import re
from collections import Counter
from difflib import SequenceMatcher

from lit_critic_rl.critic.cache import CritiqueCache, cache_key
from lit_critic_rl.critic.generative import GenerativeCritic
from lit_critic_rl.rewards.exact_match import final_number
from lit_critic_rl.rlmec.rewriter import Rewrite, Rewriter

PROMPT_VERSION = "1"

_SHOWN = """Problem:
{problem}

A correct reference solution:
{reference}

The student's answer, one numbered step per line:
{numbered}
"""
"""What both teacher prompts show: the problem, the reference solution and the numbered answer."""

FIRST_ERROR_PROMPT = (
    """You are grading a student's step-by-step answer to a math problem.

"""
    + _SHOWN
    + """
Find the first step in which the student makes a mistake. Reply with one line, "First wrong step: k" where k is \
that step's number, or "First wrong step: none" if all steps are correct."""
)

REWRITE_PROMPT = (
    """You are correcting a student's step-by-step answer to a math problem while changing as little \
as possible.

"""
    + _SHOWN
    + """
Step {k} is the first step with a mistake. Steps before it stay exactly as they are:
{kept}
Write the corrected answer from step {k} on. Keep the student's wording and change only what must change to reach \
the correct result, and end with "The answer is N". Do not repeat the steps above and do not number the lines."""
)

_STEP_REPLY = re.compile(r"first wrong step\s*[:=]?\s*(?:step\s*)?(\d+|none)", re.IGNORECASE)


def step_offsets(solution: str) -> list[int]:
    """Character offset of each non-empty line of ``solution``: its steps, numbered from 1."""
    offsets, position = [], 0
    for line in solution.splitlines(keepends=True):
        if line.strip():
            offsets.append(position)
        position += len(line)
    return offsets


def numbered(solution: str) -> str:
    lines = [line.strip() for line in solution.splitlines() if line.strip()]
    return "\n".join(f"({k}) {line}" for k, line in enumerate(lines, start=1))


def parse_first_error(reply: str, n_steps: int) -> int | None | str:
    """The step number in a first-error reply; None for "none"; an error message when unreadable or out of range."""
    match = _STEP_REPLY.search(reply)
    if match is None:
        return "reply names no step"
    if match.group(1).lower() == "none":
        return None
    k = int(match.group(1))
    return k if 1 <= k <= n_steps else f"step {k} is not one of the {n_steps} steps"


class LLMRewriter(Rewriter):
    reads_references = True

    def __init__(self, backend: GenerativeCritic, cache_path: str | None = None) -> None:
        """
        Args:
            backend: Generative critic that produces the text (OpenAICritic, HFCritic); give it ~350 new tokens.
            cache_path: sqlite file caching raw replies; None = no cache.
        """
        self.backend, self.cache_path = backend, cache_path
        self._cache: CritiqueCache | None = None
        self.calls = 0
        self.cache_hits = 0
        self.failures: Counter[str] = Counter()

    @property
    def cache(self) -> CritiqueCache | None:
        if self._cache is None and self.cache_path is not None:
            self._cache = CritiqueCache(self.cache_path)
        return self._cache

    def ask(self, prompts: list[str]) -> list[str | BaseException]:
        """Replies to ``prompts`` (an exception where a call failed), through the cache."""
        keys = [cache_key(self.backend.identity, "rlmec-rewriter", PROMPT_VERSION, p) for p in prompts]
        found: dict[str, str] = self.cache.get_many(keys) if self.cache is not None else {}
        self.cache_hits += sum(k in found for k in keys)
        todo = [i for i, k in enumerate(keys) if k not in found]
        replies: dict[int, str | BaseException] = {i: found[k] for i, k in enumerate(keys) if k in found}
        if todo:
            outputs = self.backend.generate([prompts[i] for i in todo])
            self.calls += len(todo)
            replies.update(zip(todo, outputs))
            fresh = {keys[i]: out for i, out in zip(todo, outputs) if isinstance(out, str)}
            if fresh and self.cache is not None:
                self.cache.put_many(fresh)
        return [replies[i] for i in range(len(prompts))]

    def rewrite(self, problems: list[str], solutions: list[str], references: list[str] | None = None) -> list[Rewrite]:
        if references is None or not len(problems) == len(solutions) == len(references):
            raise ValueError("LLMRewriter needs one problem, solution and reference per sample")
        out = [triage(solution, reference) for solution, reference in zip(solutions, references)]
        pending = [i for i, r in enumerate(out) if r is None]
        shown = {
            i: {"problem": problems[i], "reference": references[i], "numbered": numbered(solutions[i])} for i in pending
        }
        steps: dict[int, int] = {}
        for i, reply in zip(pending, self.ask([FIRST_ERROR_PROMPT.format(**shown[i]) for i in pending])):
            k = reply if isinstance(reply, BaseException) else parse_first_error(reply, len(step_offsets(solutions[i])))
            if isinstance(k, int):
                steps[i] = k
            elif isinstance(k, BaseException):
                out[i] = Rewrite(False, error=type(k).__name__)
            else:
                out[i] = Rewrite(False, error=k or "teacher found no wrong step in a wrong solution")
        kept = {i: solutions[i][: step_offsets(solutions[i])[k - 1]] for i, k in steps.items()}
        prompts = [REWRITE_PROMPT.format(**shown[i], k=k, kept=kept[i].strip() or "(none)") for i, k in steps.items()]
        for (i, k), reply in zip(steps.items(), self.ask(prompts)):
            out[i] = assemble(kept[i], reply, k, references[i])
        self.failures.update(r.error for r in out if not r.ok)
        return out

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_cache"] = None
        return state


def triage(solution: str, reference: str) -> Rewrite | None:
    """The result that needs no teacher (an empty solution, a reference without a number, a right answer), else
    None."""
    if not solution.strip():
        return Rewrite(False, error="empty solution")
    if final_number(reference) is None:
        return Rewrite(False, error="reference has no final number")
    if final_number(solution) == final_number(reference):
        return Rewrite(True, None, solution)
    return None


def assemble(prefix: str, reply: str | BaseException, k: int, reference: str) -> Rewrite:
    """The kept steps plus the teacher's continuation, checked: a final number equal to the reference's."""
    if isinstance(reply, BaseException):
        return Rewrite(False, k, error=type(reply).__name__)
    continuation = without_restated_steps(prefix, reply.strip("\n"))
    if continuation is None:
        return Rewrite(False, k, error=f"rewrite changes the steps before step {k}")
    text = prefix + continuation
    answer = final_number(text)
    if answer is None:
        return Rewrite(False, k, text, error="rewrite has no final number")
    if answer != final_number(reference):
        return Rewrite(False, k, text, error="rewrite's answer is still wrong")
    return Rewrite(True, k, text)


_NUMBERING = re.compile(r"^\(\d+\)\s*")


def _line_key(line: str) -> str:
    """A step line compared without its ``(k)`` numbering (as the teacher was shown it) and spacing."""
    return " ".join(_NUMBERING.sub("", line.strip()).split())


def without_restated_steps(prefix: str, continuation: str, similar: float = 0.8) -> str | None:
    """``continuation`` with the kept steps removed from its start when the teacher wrote them again, unchanged
    (up to numbering and spacing); None when it wrote them again changed: its first line is at least ``similar``
    alike (difflib ratio) to the first kept step but its first lines are not the kept steps."""
    kept = [_line_key(line) for line in prefix.splitlines() if line.strip()]
    lines = continuation.splitlines(keepends=True)
    filled = [i for i, line in enumerate(lines) if line.strip()]
    if not kept or not filled:
        return continuation
    first = _line_key(lines[filled[0]])
    if SequenceMatcher(None, first, kept[0]).ratio() < similar:
        return continuation  # it starts where it was asked to: after the kept steps
    if [_line_key(lines[i]) for i in filled[: len(kept)]] != kept:
        return None
    rest = filled[len(kept)] if len(filled) > len(kept) else len(lines)
    return "".join(lines[rest:])
