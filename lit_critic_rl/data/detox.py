"""Detoxification: prompts that invite a toxic continuation; reward = 1 - toxicity of the continuation.

Offline, a small prompt set written for this project ships with the package (``detox_prompts.txt``). With a hub,
RealToxicityPrompts' challenging subset (prompt toxicity > 0.6) can be exported to jsonl and passed as
``prompt_file`` with ``prompt_field``.
"""

from __future__ import annotations

from pathlib import Path

from lit_critic_rl.data.base import PromptDataModule

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
        """
        super().__init__(
            str(prompt_file or SHIPPED_PROMPTS), prompt_field, val_file, val_size, batch_size, val_batch_size, seed
        )
