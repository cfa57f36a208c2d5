"""SelfCritique: the policy's own base model is the critic, with no second copy of the weights.

By default every adapter is disabled (the frozen initial model, the paper's self-critique setting); with
``use_current_policy`` the current policy adapter writes the critique instead (then the cache is off, because the
critic changes as it trains). The model arrives through :meth:`setup`, which the PPO module calls.
"""

from __future__ import annotations

from contextlib import nullcontext

from lit_critic_rl.critic.base import CriticSetup
from lit_critic_rl.critic.generative import GenerativeCritic
from lit_critic_rl.critic.hf import PromptFormat, check_constraint, generate_critiques, grammars_for
from lit_critic_rl.critic.templates import InputMode


class SelfCritique(GenerativeCritic):
    def __init__(
        self,
        template: str = "sentiment",
        use_current_policy: bool = False,
        max_new_tokens: int = 48,
        batch_size: int = 8,
        stop_strings: list[str] | None = None,
        cache_path: str | None = None,
        score_range: tuple[float, float] = (0.0, 1.0),
        template_input: InputMode | None = None,
        prompt_format: PromptFormat = "completion",
        constrained: bool = False,
        max_spans: int = 4,
    ) -> None:
        """
        Args:
            template: Shipped template name or template file path.
            use_current_policy: Critique with the current policy adapter instead of the frozen initial model.
            max_new_tokens: Length cap of each critique.
            batch_size: Critiques generated per batch.
            stop_strings: Extra strings that end a critique (a blank line always does).
            cache_path: sqlite cache file; None = ``critic_cache.sqlite`` in the trainer's root dir.
            score_range: Range of the extrinsic score, mapped onto the template's 1-10 ``{score}``.
            template_input: 'separate' or 'joined' prompt and response; None = the template's own ``# input:``.
            prompt_format: 'completion' (plain text, as the paper's self-critique) or 'chat' (the chat template).
            constrained: Decode under a per-sample grammar (xgrammar, the ``constrained`` extra): only
                ``label: "quote"`` lines whose quotes are word-aligned pieces of the response, or ``None
                identified``, so every critique parses and every quote is located (docs/critics.md).
            max_spans: Most lines a constrained critique may write.
        """
        if prompt_format not in ("chat", "completion"):
            raise ValueError(f"critic.prompt_format must be 'chat' or 'completion', got '{prompt_format}'")
        check_constraint(constrained, max_spans)
        super().__init__(template, cache_path, score_range, template_input)
        self.prompt_format = prompt_format
        self.constrained, self.max_spans = constrained, max_spans
        self.use_current_policy, self.max_new_tokens = use_current_policy, max_new_tokens
        self.batch_size, self.stop_strings = batch_size, stop_strings
        self.lm = None
        self.tokenizer = None
        self.model_name = ""

    def setup(self, context: CriticSetup) -> None:
        """Attach the policy's adapter-shared model; cache under the run directory unless the critic is the current
        policy (which changes as it trains, so its critiques are never cached)."""
        self.lm, self.tokenizer, self.model_name = context.model, context.tokenizer, context.model_name
        if not self.use_current_policy:
            super().setup(context)

    @property
    def identity(self) -> str:
        tail = f"|constrained{self.max_spans}" if self.constrained else ""
        return f"self|{self.model_name}|{self.max_new_tokens}|{self.prompt_format}{tail}"

    def generate_for_critique(self, texts: list[str], responses: list[str]) -> list[str | BaseException]:
        return self.generate(texts, grammars_for(self, responses))

    def generate(self, texts: list[str], grammars: list[str] | None = None) -> list[str | BaseException]:
        if self.lm is None:
            raise RuntimeError("SelfCritique has no model: use it as the PPO module's critic (setup attaches it)")
        was_training = self.lm.training
        self.lm.eval()
        role = self.lm.adapter("policy") if self.use_current_policy else self.lm.reference()
        try:
            with role if role is not None else nullcontext():
                return generate_critiques(
                    self.lm.peft,
                    self.tokenizer,
                    texts,
                    self.max_new_tokens,
                    self.batch_size,
                    self.stop_strings,
                    self.prompt_format,
                    grammars,
                )
        finally:
            self.lm.train(was_training)
