"""Extrinsic rewards: plain callables ``(prompts, responses) -> list[float]`` and their placement on tokens."""

from lit_critic_rl.rewards.arithmetic import ArithmeticReward
from lit_critic_rl.rewards.base import ExtrinsicReward, Reward, RewardError, score_samples
from lit_critic_rl.rewards.vader import VaderSentiment

__all__ = ["ArithmeticReward", "ExtrinsicReward", "Reward", "RewardError", "VaderSentiment", "score_samples"]
