"""Summarization: posts -> TL;DR. Offline, 20 short advice-forum-style posts with reference summaries written for this
project ship with the package; with a hub, export Reddit TL;DR (posts <= 2000 chars) to jsonl with ``post`` and
``summary`` fields. The datamodule holds the reference summaries and hands them to
:class:`~lit_critic_rl.rewards.rouge.RougeReward` and the ROUGE metrics at setup."""

from __future__ import annotations

from pathlib import Path

from lit_critic_rl.data.base import PromptDataModule

SHIPPED_POSTS = Path(__file__).parent / "prompts" / "reddit_style_posts.jsonl"


class SummarizationPrompts(PromptDataModule):
    default_sizes = {"val_size": 4, "batch_size": 4, "val_batch_size": 4}

    def __init__(
        self,
        prompt_file: str | None = None,
        prompt_field: str = "post",
        reference_field: str = "summary",
        prompt_template: str = "{source}\nTL;DR:",
        **kwargs,
    ) -> None:
        """
        Args:
            prompt_file: jsonl/csv/parquet with posts and reference summaries; default: the 20 shipped posts.
            prompt_field: Column holding the post.
            reference_field: Column holding the reference summary (ROUGE rewards and metrics receive them).
            prompt_template: How a post becomes a prompt (``{source}``).
            **kwargs: The other arguments of :class:`~lit_critic_rl.data.base.PromptDataModule`.
        """
        if "{source}" not in prompt_template:
            raise ValueError("data.prompt_template must contain '{source}'")
        self.prompt_template = prompt_template
        super().__init__(str(prompt_file or SHIPPED_POSTS), prompt_field, reference_field=reference_field, **kwargs)

    def format_prompt(self, source: str) -> str:
        return self.prompt_template.format(source=source)
