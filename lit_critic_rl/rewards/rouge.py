"""ROUGE F-measure of the response against the reference summary (torchmetrics), as the summarization reward.

Scores are on a 0-1 scale by default, 0-100 with ``scale: 100`` as in the paper's runs. (The dense-reward paper's
code mixed a x100 ROUGE scale into the critic's 1-10 score, which saturated it at 10/10; keep the critic's
``score_range`` equal to the reward's scale.)
"""

from __future__ import annotations

from lit_critic_rl.rewards.base import Reward
from lit_critic_rl.rewards.references import load_reference_table, lookup


class RougeReward(Reward):
    def __init__(
        self,
        reference_file: str | None = None,
        source_field: str = "post",
        reference_field: str = "summary",
        prompt_template: str = "{source}\nTL;DR:",
        rouge_key: str = "rouge1",
        scale: float = 1.0,
    ) -> None:
        """
        Args:
            reference_file: File with sources and reference summaries; default: the shipped summarization set.
            source_field: Column holding the text to summarise.
            reference_field: Column holding the reference summary.
            prompt_template: How a source becomes a prompt (``{source}``); must match the datamodule's.
            rouge_key: 'rouge1', 'rouge2' or 'rougeL'.
            scale: Multiplier of the F-measure: 1 for 0-1, 100 for the paper's 0-100 ROUGE (then give the critic a
                ``score_range`` of [0, 100] and consider ``model.ppo.score_scaling``).
        """
        from torchmetrics.functional.text import rouge_score

        from lit_critic_rl.data.summarization import SHIPPED_POSTS

        if rouge_key not in ("rouge1", "rouge2", "rougeL"):
            raise ValueError(f"model.reward.rouge_key must be rouge1, rouge2 or rougeL, got '{rouge_key}'")
        self.reference_file = reference_file or str(SHIPPED_POSTS)
        self.references = load_reference_table(self.reference_file, source_field, reference_field, prompt_template)
        if not scale > 0:
            raise ValueError(f"model.reward.scale must be > 0, got {scale}")
        self.rouge_key, self._rouge, self.scale = rouge_key, rouge_score, scale

    def __call__(self, prompts: list[str], responses: list[str]) -> list[float]:
        refs = lookup(self.references, prompts, self.reference_file)
        return [
            self.scale * float(self._rouge(r, ref, rouge_keys=self.rouge_key)[f"{self.rouge_key}_fmeasure"])
            for r, ref in zip(responses, refs)
        ]
