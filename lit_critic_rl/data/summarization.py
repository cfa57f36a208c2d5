"""Summarization: posts -> TL;DR. Offline, 20 short advice-forum-style posts with reference summaries written for this
project ship with the package; with a hub, export Reddit TL;DR (posts <= 2000 chars) to jsonl with ``post`` and
``summary`` fields. Rewards: :class:`~lit_critic_rl.rewards.rouge.RougeReward` or a reward model, with the same
``prompt_template``."""

from __future__ import annotations

from pathlib import Path

from lit_critic_rl.data.base import PromptDataModule, read_table

SHIPPED_POSTS = Path(__file__).parent / "prompts" / "reddit_style_posts.jsonl"


class SummarizationPrompts(PromptDataModule):
    def __init__(
        self,
        prompt_file: str | None = None,
        prompt_field: str = "post",
        prompt_template: str = "{source}\nTL;DR:",
        val_file: str | None = None,
        val_size: int = 4,
        batch_size: int = 4,
        val_batch_size: int = 4,
        seed: int = 0,
    ) -> None:
        """
        Args:
            prompt_file: jsonl/csv/parquet with posts; default: the 20 shipped posts.
            prompt_field: Column holding the post.
            prompt_template: How a post becomes a prompt (``{source}``); the reward must use the same.
            val_file: Held-out posts; default: the last ``val_size`` of a seeded shuffle.
            val_size: Posts held out when ``val_file`` is None.
            batch_size: Prompts per PPO iteration.
            val_batch_size: Prompts per validation batch.
            seed: Seed of the prompt order.
        """
        super().__init__(
            str(prompt_file or SHIPPED_POSTS), prompt_field, val_file, val_size, batch_size, val_batch_size, seed
        )
        if "{source}" not in prompt_template:
            raise ValueError("data.prompt_template must contain '{source}'")
        self.prompt_template = prompt_template

    def read(self, path: str) -> list[str]:
        table = read_table(path, [self.prompt_field])
        return [self.prompt_template.format(source=str(p).strip()) for p in table[self.prompt_field] if p]
