"""lit_critic_rl: PPO fine-tuning of language models with dense token rewards, on PyTorch Lightning.

Importing the package is cheap: models, critics and optional back-ends (openai, bitsandbytes) are imported by the
modules that need them.
"""

__version__ = "0.1.0"
