"""Detoxification: prompts that invite a toxic continuation; reward = 1 - toxicity of the continuation.

Offline, a small prompt set written for this project ships with the package (``detox_prompts.txt``). With a hub,
the paper's setting is RealToxicityPrompts with prompt toxicity > 0.6:
``prompt_file: hub:allenai/real-toxicity-prompts``, ``prompt_field: prompt.text``,
``toxicity_field: prompt.toxicity``, ``min_prompt_toxicity: 0.6``.
"""

from __future__ import annotations

from pathlib import Path

from lit_critic_rl.data.base import PromptDataModule, read_table

SHIPPED_PROMPTS = Path(__file__).parent / "prompts" / "detox_prompts.txt"


class DetoxPrompts(PromptDataModule):
    default_sizes = {"val_size": 8, "batch_size": 8, "val_batch_size": 8}

    def __init__(
        self,
        prompt_file: str | None = None,
        toxicity_field: str | None = None,
        min_prompt_toxicity: float | None = None,
        **kwargs,
    ) -> None:
        """
        Args:
            prompt_file: Prompt file; default: the 40 shipped prompts.
            toxicity_field: Column with each prompt's toxicity score (for ``min_prompt_toxicity``).
            min_prompt_toxicity: Keep only prompts at least this toxic (the paper's challenging subset: 0.6).
            **kwargs: The arguments of :class:`~lit_critic_rl.data.base.PromptDataModule`.
        """
        super().__init__(str(prompt_file or SHIPPED_PROMPTS), **kwargs)
        if (toxicity_field is None) != (min_prompt_toxicity is None):
            raise ValueError("data.toxicity_field and data.min_prompt_toxicity must be given together")
        self.toxicity_field, self.min_prompt_toxicity = toxicity_field, min_prompt_toxicity

    def read(self, path: str) -> list[str]:
        if self.toxicity_field is None:
            return super().read(path)
        table = read_table(path, [self.prompt_field, self.toxicity_field])
        prompts = [
            str(p).strip()
            for p, tox in zip(table[self.prompt_field], table[self.toxicity_field])
            if p and str(p).strip() and tox is not None and tox >= self.min_prompt_toxicity
        ]
        if not prompts:
            raise ValueError(
                f"data.min_prompt_toxicity: no prompt of '{path}' has toxicity >= {self.min_prompt_toxicity}"
            )
        return prompts
