"""Exact-match reward of the multi-step arithmetic task (:mod:`lit_critic_rl.data.arithmetic`).

1.0 when the number on the response's first ``The answer is N`` line equals the problem's answer, else 0.0 (also
when the line is missing). The problem is read back from the prompt, the last one stated in it, and its answer
computed exactly; so the reward needs no reference file, seed or split sizes, and cannot disagree with the
datamodule about an answer. A prompt that states no problem is an error naming it.
"""

from __future__ import annotations

from lit_critic_rl.data.arithmetic import final_answer, parse_problem
from lit_critic_rl.rewards.base import Reward


class ArithmeticReward(Reward):
    def __call__(self, prompts: list[str], responses: list[str]) -> list[float]:
        scores = []
        for prompt, response in zip(prompts, responses, strict=True):
            problem = parse_problem(prompt)
            if problem is None:
                raise ValueError(f"model.reward (ArithmeticReward): no arithmetic problem in prompt {prompt[-80:]!r}")
            scores.append(1.0 if final_answer(response) == problem.answer else 0.0)
        return scores
