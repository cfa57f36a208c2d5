"""Where rollouts are sampled (``model.generation.engine``): ``hf`` runs HF ``generate`` in the trainer's process
(:func:`lit_critic_rl.ppo.rollout.sample_groups`); ``vllm`` asks a vLLM server with the current policy adapter
(:mod:`lit_critic_rl.rollout_engines.vllm`). Both are built from ``model.generation``, take the policy, the
tokenizer, the prompts and the run dir, and return the same ``Rollout``; the teacher-forced passes that follow are
the same for both.
"""

from __future__ import annotations

from pathlib import Path

from lit_critic_rl.args import GenerationArgs
from lit_critic_rl.ppo.rollout import sample_groups
from lit_critic_rl.types import Rollout


class HFEngine:
    """Sampling with HF ``generate`` on the policy itself."""

    def __init__(self, gen: GenerationArgs) -> None:
        self.gen = gen

    def sample_groups(self, lm, tokenizer, prompts: list[str], workdir: Path) -> Rollout:
        """``gen.samples_per_prompt`` responses to each of ``prompts`` (``Rollout.group`` set)."""
        return sample_groups(lm, tokenizer, prompts, self.gen)

    def close(self) -> None:
        pass


def rollout_engine(gen: GenerationArgs):
    """The engine ``gen.engine`` names (the vLLM client is imported only when asked for)."""
    if gen.engine == "vllm":
        from lit_critic_rl.rollout_engines.vllm import VLLMEngine

        return VLLMEngine(gen)
    return HFEngine(gen)
