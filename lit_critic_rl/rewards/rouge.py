"""ROUGE F-measure of the response against the reference summary (torchmetrics), as the summarization reward.
The references come from the datamodule (``data.reference_field``).

Scores are on a 0-1 scale by default, 0-100 with ``scale: 100`` as in the paper's runs. (The dense-reward paper's
code mixed a x100 ROUGE scale into the critic's 1-10 score, which saturated it at 10/10; keep the critic's
``score_range`` equal to the reward's scale.)
"""

from __future__ import annotations

from lit_critic_rl.rewards.base import Reward
from lit_critic_rl.rewards.references import UsesReferences


class RougeReward(UsesReferences, Reward):
    def __init__(self, rouge_key: str = "rouge1", scale: float = 1.0) -> None:
        """
        Args:
            rouge_key: 'rouge1', 'rouge2' or 'rougeL'.
            scale: Multiplier of the F-measure: 1 for 0-1, 100 for the paper's 0-100 ROUGE (then give the critic a
                ``score_range`` of [0, 100] and consider ``model.ppo.score_scaling``).
        """
        from torchmetrics.functional.text import rouge_score

        if rouge_key not in ("rouge1", "rouge2", "rougeL"):
            raise ValueError(f"model.reward.rouge_key must be rouge1, rouge2 or rougeL, got '{rouge_key}'")
        if not scale > 0:
            raise ValueError(f"model.reward.scale must be > 0, got {scale}")
        self.rouge_key, self._rouge, self.scale = rouge_key, rouge_score, scale

    def __call__(self, prompts: list[str], responses: list[str]) -> list[float]:
        return [
            self.scale * float(self._rouge(r, ref, rouge_keys=self.rouge_key)[f"{self.rouge_key}_fmeasure"])
            for r, ref in zip(responses, self.references_for(prompts))
        ]
