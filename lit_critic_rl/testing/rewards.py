"""Test support: a reward that varies on a tiny random model's output. Greedy decoding of such a model repeats one
token for most prompts, so a reward of the response alone is nearly constant; this one also reads the prompt."""

from __future__ import annotations

from lit_critic_rl.rewards.base import Reward


class VowelShare(Reward):
    """Share of vowels among the characters of prompt + response, in [0, 1]."""

    def __call__(self, prompts: list[str], responses: list[str]) -> list[float]:
        texts = [p + r for p, r in zip(prompts, responses)]
        return [sum(c in "aeiou" for c in t) / max(len(t), 1) for t in texts]
