"""Task datamodules: they yield prompt strings; rewards are separate callables."""

from lit_critic_rl.data.arithmetic import ArithmeticPrompts
from lit_critic_rl.data.base import PromptDataModule
from lit_critic_rl.data.detox import DetoxPrompts
from lit_critic_rl.data.gsm8k import GSM8KPrompts
from lit_critic_rl.data.replay import RolloutReplay
from lit_critic_rl.data.sentiment import SentimentPrompts
from lit_critic_rl.data.summarization import SummarizationPrompts

__all__ = [
    "ArithmeticPrompts",
    "DetoxPrompts",
    "GSM8KPrompts",
    "RolloutReplay",
    "PromptDataModule",
    "SentimentPrompts",
    "SummarizationPrompts",
]
