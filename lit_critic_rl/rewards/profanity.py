"""Offline toxicity reward: 1 - P(profane) from ``alt-profanity-check`` (a linear model on character n-grams)."""

from __future__ import annotations

from lit_critic_rl.rewards.base import Reward


class ProfanityReward(Reward):
    """Reward = 1 - toxicity, toxicity = ``profanity_check.predict_prob(response)`` in [0, 1]."""

    def __init__(self) -> None:
        try:
            from profanity_check import predict_prob
        except ImportError as err:
            raise ImportError("ProfanityReward needs `pip install alt-profanity-check`") from err
        self._predict = predict_prob

    def toxicity(self, texts: list[str]) -> list[float]:
        return [float(p) for p in self._predict(list(texts))] if texts else []

    def __call__(self, prompts: list[str], responses: list[str]) -> list[float]:
        return [1.0 - t for t in self.toxicity(responses)]
