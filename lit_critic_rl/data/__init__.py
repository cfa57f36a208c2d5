"""Task datamodules: they yield prompt strings; rewards are separate callables."""

from lit_critic_rl.data.base import PromptDataModule
from lit_critic_rl.data.sentiment import SentimentPrompts

__all__ = ["PromptDataModule", "SentimentPrompts"]
