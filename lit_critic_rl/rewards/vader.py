"""VADER compound sentiment (Hutto & Gilbert 2014) as an offline extrinsic reward in [-1, 1]."""

from __future__ import annotations

from lit_critic_rl.rewards.base import Reward


class VaderSentiment(Reward):
    """Reward = VADER compound score of the response (or of prompt + response)."""

    def __init__(self, include_prompt: bool = False) -> None:
        """
        Args:
            include_prompt: Score the prompt followed by the response instead of the response alone.
        """
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.include_prompt = include_prompt
        self._analyzer = SentimentIntensityAnalyzer()

    def __call__(self, prompts: list[str], responses: list[str]) -> list[float]:
        texts = [p + r for p, r in zip(prompts, responses)] if self.include_prompt else responses
        return [self._analyzer.polarity_scores(t)["compound"] for t in texts]
