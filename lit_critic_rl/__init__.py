"""lit_critic_rl: PPO fine-tuning of language models with dense token rewards, on PyTorch Lightning.

Importing the package is cheap: models, critics and optional back-ends (openai, bitsandbytes) are imported by the
modules that need them.
"""

from lit_critic_rl.library_messages import quiet_import_probes

__version__ = "0.1.0"

quiet_import_probes()
