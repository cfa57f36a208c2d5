"""Detoxification: prompts that invite a toxic continuation; reward = 1 - toxicity of the continuation.

Offline, a small prompt set written for this project ships with the package (``detox_prompts.txt``). With a hub,
the paper's setting is RealToxicityPrompts with prompt toxicity > 0.6:
``prompt_file: hub:allenai/real-toxicity-prompts``, ``prompt_field: prompt.text``,
``toxicity_field: prompt.toxicity``, ``min_prompt_toxicity: 0.6``.
"""

from __future__ import annotations

from pathlib import Path

from lit_critic_rl.data.base import PromptDataModule, read_table

SHIPPED_PROMPTS = Path(__file__).parent / "prompts" / "detox_prompts.txt"


class DetoxPrompts(PromptDataModule):
    def __init__(
        self,
        prompt_file: str | None = None,
        prompt_field: str = "prompt",
        val_file: str | None = None,
        val_size: int = 8,
        batch_size: int = 8,
        val_batch_size: int = 8,
        seed: int = 0,
        toxicity_field: str | None = None,
        min_prompt_toxicity: float | None = None,
    ) -> None:
        """
        Args:
            prompt_file: Prompt file; default: the 40 shipped prompts.
            prompt_field: Column holding the prompt in jsonl/csv/parquet files.
            val_file: Held-out prompts; default: the last ``val_size`` prompts of a seeded shuffle.
            val_size: Prompts held out when ``val_file`` is None.
            batch_size: Prompts per PPO iteration.
            val_batch_size: Prompts per validation batch.
            seed: Seed of the prompt order.
            toxicity_field: Column with each prompt's toxicity score (for ``min_prompt_toxicity``).
            min_prompt_toxicity: Keep only prompts at least this toxic (the paper's challenging subset: 0.6).
        """
        super().__init__(
            str(prompt_file or SHIPPED_PROMPTS), prompt_field, val_file, val_size, batch_size, val_batch_size, seed
        )
        if (toxicity_field is None) != (min_prompt_toxicity is None):
            raise ValueError("data.toxicity_field and data.min_prompt_toxicity must be given together")
        self.toxicity_field, self.min_prompt_toxicity = toxicity_field, min_prompt_toxicity

    def read(self, path: str) -> list[str]:
        if self.toxicity_field is None:
            return super().read(path)
        table = read_table(path, [self.prompt_field, self.toxicity_field])
        prompts = [
            str(p).strip() for p, tox in zip(table[self.prompt_field], table[self.toxicity_field])
            if p and str(p).strip() and tox is not None and tox >= self.min_prompt_toxicity
        ]
        if not prompts:
            raise ValueError(
                f"data.min_prompt_toxicity: no prompt of '{path}' has toxicity >= {self.min_prompt_toxicity}"
            )
        return prompts
