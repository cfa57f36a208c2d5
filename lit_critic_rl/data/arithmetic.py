"""Multi-step arithmetic: problems generated from a seed, exact answers, and the solution format a policy must write.

A problem is a start value and 2-4 chained operations (``+ n``, ``- n``, ``* n`` over small non-negative integers)::

    Start with 7. Add 5. Multiply by 3. Subtract 4. What is the result?

A solution is one line per operation, then the answer line (spaces are free; ``x`` and ``×`` also mean ``*``)::

    Step 1: 7 + 5 = 12
    Step 2: 12 * 3 = 36
    Step 3: 36 - 4 = 32
    The answer is 32

A step written as a longer expression (``Step 1: 7 + 5 * 3 = 22``) is read as a wrong step, not as a format
error. The first ``The answer is N`` line ends the solution; anything after it is ignored by the reward and kept
unchanged by the rewriter. The format lives here once; the reward
(:class:`~lit_critic_rl.rewards.arithmetic.ArithmeticReward`) and the minimum-edit teacher
(:class:`~lit_critic_rl.rlmec.rewriter.ArithmeticRewriter`) parse with the functions below.

Splits: a problem's split is fixed by a hash of its question text (10% test, 10% validation, 80% train), so no seed
and no split size can put one question in two splits; ``problem_seed`` only chooses which problems are drawn.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from typing import Literal

from lit_critic_rl.data.base import PromptDataModule

Split = Literal["train", "val", "test"]
_VERBS = {"+": "Add", "-": "Subtract", "*": "Multiply by"}
_SYMBOLS = {verb: op for op, verb in _VERBS.items()}
_QUESTION = re.compile(r"Start with (\d+)\.((?:\s*(?:Add|Subtract|Multiply by) \d+\.)+)\s*What is the result\?")
_OPERATION = re.compile(r"(Add|Subtract|Multiply by) (\d+)\.")
STEP = re.compile(
    r"^(?P<lead>\s*Step\s*(?P<label>\d+)\s*:\s*)(?P<a>-?\d+)\s*(?P<op>[-+*x×])\s*(?P<b>-?\d+)\s*=\s*"
    r"(?P<c>-?\d+)\s*\.?\s*$"
)
"""One step line; the named groups are the parts a rewrite may edit."""
STEP_START = re.compile(r"^\s*Step\b", re.IGNORECASE)
LOOSE_STEP = re.compile(r"^(?P<lead>\s*Step\s*\d+\s*:\s*)(?P<body>[^=]*\S\s*=\s*-?\d+)\s*\.?\s*$")
"""A step line whose equation is not one operation (``7 + 5 * 3 = 22``): its body can be replaced whole."""
ANSWER = re.compile(r"[Tt]he answer is[ \t]*:?[ \t]*(-?\d+)")  # on one line


@dataclass(frozen=True)
class ArithmeticProblem:
    start: int
    operations: tuple[tuple[str, int], ...]
    """``(op, operand)`` pairs, op one of ``+ - *``."""

    @property
    def question(self) -> str:
        ops = " ".join(f"{_VERBS[op]} {n}." for op, n in self.operations)
        return f"Start with {self.start}. {ops} What is the result?"

    def values(self) -> list[int]:
        """The running value after each operation (the last one is the answer)."""
        out, value = [], self.start
        for op, n in self.operations:
            value = apply(value, op, n)
            out.append(value)
        return out

    @property
    def answer(self) -> int:
        return self.values()[-1]

    def solution(self) -> str:
        """The reference solution in the task's format."""
        lines, value = [], self.start
        for k, ((op, n), result) in enumerate(zip(self.operations, self.values()), start=1):
            lines.append(f"Step {k}: {value} {op} {n} = {result}")
            value = result
        return "\n".join([*lines, f"The answer is {self.answer}"])

    @property
    def split(self) -> Split:
        bucket = int.from_bytes(hashlib.sha256(self.question.encode()).digest()[:4], "big") % 10
        return "test" if bucket == 0 else "val" if bucket == 1 else "train"


def apply(a: int, op: str, b: int) -> int:
    """``a op b`` with ``op`` in ``+ - *`` (``x`` and ``×`` are read as ``*``)."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op in ("*", "x", "×"):
        return a * b
    raise ValueError(f"unknown operation {op!r}")


def parse_problem(text: str) -> ArithmeticProblem | None:
    """The LAST problem stated in ``text`` (a prompt shows a worked example first), or None."""
    found = list(_QUESTION.finditer(text))
    if not found:
        return None
    match = found[-1]
    ops = tuple((_SYMBOLS[verb], int(n)) for verb, n in _OPERATION.findall(match.group(2)))
    return ArithmeticProblem(int(match.group(1)), ops)


def final_answer(solution: str) -> int | None:
    """The number on the first ``The answer is N`` line, or None."""
    match = ANSWER.search(solution)
    return int(match.group(1)) if match else None


def random_problem(rng: random.Random, min_steps: int = 2, max_steps: int = 4) -> ArithmeticProblem:
    """Start 2-20; add or subtract 1-20 (never below 0); multiply by 2-5."""
    value = start = rng.randint(2, 20)
    ops = []
    for _ in range(rng.randint(min_steps, max_steps)):
        op = rng.choice("+-*")
        n = rng.randint(2, 5) if op == "*" else rng.randint(1, 20)
        if op == "-" and n > value:
            op = "+"
        value = apply(value, op, n)
        ops.append((op, n))
    return ArithmeticProblem(start, tuple(ops))


EXAMPLE = ArithmeticProblem(3, (("+", 4), ("*", 2)))
"""The worked example every prompt shows; it is never drawn into a split."""


def generate_splits(
    sizes: dict[Split, int], seed: int = 0, min_steps: int = 2, max_steps: int = 4
) -> dict[Split, list[ArithmeticProblem]]:
    """Distinct problems for each split, drawn from one seeded stream and routed by :attr:`ArithmeticProblem.split`."""
    if not 1 <= min_steps <= max_steps:
        raise ValueError(f"data: need 1 <= min_steps <= max_steps, got {min_steps}, {max_steps}")
    rng, seen = random.Random(seed), {EXAMPLE.question}
    out: dict[Split, list[ArithmeticProblem]] = {split: [] for split in sizes}
    for _ in range(200 * (sum(sizes.values()) + 10)):
        if all(len(out[s]) >= n for s, n in sizes.items()):
            return out
        problem = random_problem(rng, min_steps, max_steps)
        if problem.question in seen or problem.split not in out or len(out[problem.split]) >= sizes[problem.split]:
            continue
        seen.add(problem.question)
        out[problem.split].append(problem)
    raise ValueError(f"data: could not draw {sizes} distinct problems with {min_steps}-{max_steps} steps")


PROMPT_TEMPLATE = (
    'Solve the problem step by step. Write one line per operation as "Step k: a op b = c", then a last line '
    '"The answer is N".\n\nProblem: {example}\n{solution}\n\nProblem: {question}\n'
)


def format_prompt(problem: ArithmeticProblem, template: str = PROMPT_TEMPLATE) -> str:
    return template.format(example=EXAMPLE.question, solution=EXAMPLE.solution(), question=problem.question)


class ArithmeticPrompts(PromptDataModule):
    def __init__(
        self,
        train_size: int = 2000,
        val_size: int = 64,
        test_size: int = 256,
        min_steps: int = 2,
        max_steps: int = 4,
        problem_seed: int = 0,
        prompt_template: str = PROMPT_TEMPLATE,
        batch_size: int = 8,
        val_batch_size: int = 16,
        seed: int = 0,
    ) -> None:
        """
        Args:
            train_size: Training problems.
            val_size: Validation problems (``validate`` and validation during ``fit``).
            test_size: Held-out test problems (``test``).
            min_steps: Fewest operations in a problem.
            max_steps: Most operations in a problem.
            problem_seed: Seed of the problem draw; keep it fixed across training seeds to compare runs.
            prompt_template: How a problem becomes a prompt (``{example}``, ``{solution}``, ``{question}``).
            batch_size: Prompts per PPO iteration.
            val_batch_size: Prompts per validation batch.
            seed: Seed of the training order.
        """
        super().__init__("<generated arithmetic>", "question", None, val_size, batch_size, val_batch_size, seed)
        if "{question}" not in prompt_template:
            raise ValueError("data.prompt_template must contain '{question}'")
        self.sizes: dict[Split, int] = {"train": train_size, "val": val_size, "test": test_size}
        self.min_steps, self.max_steps, self.problem_seed = min_steps, max_steps, problem_seed
        self.prompt_template = prompt_template
        self.problems: dict[Split, list[ArithmeticProblem]] = {}
        self.test_prompts: list[str] = []

    def setup(self, stage: str | None = None) -> None:
        if self.problems:
            return
        self.problems = generate_splits(self.sizes, self.problem_seed, self.min_steps, self.max_steps)
        prompts = {s: [format_prompt(p, self.prompt_template) for p in ps] for s, ps in self.problems.items()}
        self.train_prompts, self.val_prompts, self.test_prompts = prompts["train"], prompts["val"], prompts["test"]

    def all_prompts(self) -> list[str]:
        self.setup()
        return self.train_prompts + self.val_prompts + self.test_prompts

    def test_dataloader(self):
        from torch.utils.data import DataLoader

        from lit_critic_rl.data.base import _collate

        return DataLoader(self.test_prompts, batch_size=self.val_batch_size, collate_fn=_collate)
