"""HFCritic: a local Hugging Face causal LM as critic (greedy, batched).

``prompt_format`` says how the rendered template reaches the model: ``completion`` feeds it as plain text to be
continued (the paper's self-critique, which used no chat template), ``chat`` wraps it as one user turn of the model's
chat template (falling back to plain text for a model without one). Measured with SmolLM2-135M-Instruct on 20
hand-written review sentences (docs/critics.md): completion located more of its quotes, so it is the default.

The critic model is loaded once, when the critic object is built (once per process: in a multi-process run every
rank builds its own, from the config). ``device`` puts it apart from the policy, e.g. a teacher on ``cuda:1`` while
the student trains on ``cuda:0``; None leaves it where ``from_pretrained`` put it (the CPU).

``generate_critiques`` is shared with :class:`~lit_critic_rl.critic.self_critique.SelfCritique`, which runs the same
decoding on the policy's own base model.
"""

from __future__ import annotations

from typing import Literal

import torch

from lit_critic_rl.critic.constrained import complete_lines, critique_grammar
from lit_critic_rl.critic.generative import GenerativeCritic
from lit_critic_rl.critic.templates import InputMode

PromptFormat = Literal["chat", "completion"]


@torch.inference_mode()
def generate_critiques(
    model,
    tokenizer,
    texts: list[str],
    max_new_tokens: int,
    batch_size: int,
    stop_strings: list[str] | None,
    prompt_format: PromptFormat = "completion",
    grammars: list[str] | None = None,
) -> list[str]:
    """Greedy completions of ``texts`` (left-padded batches), cut at the first blank line after content. With
    ``grammars`` (EBNF text, one per text) each completion is decoded under its grammar (xgrammar) and loses the
    line the token limit cut off."""
    chat = prompt_format == "chat" and getattr(tokenizer, "chat_template", None) is not None
    if chat:
        texts = [
            tokenizer.apply_chat_template([{"role": "user", "content": t}], tokenize=False, add_generation_prompt=True)
            for t in texts
        ]
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    outputs: list[str] = []
    try:
        for start in range(0, len(texts), batch_size):
            enc = tokenizer(
                texts[start : start + batch_size], return_tensors="pt", padding=True, add_special_tokens=not chat
            )
            enc = {k: v.to(model.device) for k, v in enc.items()}
            constraint = {}
            if grammars is not None:
                constraint = _constraint(model, tokenizer, grammars[start : start + batch_size])
            out = model.generate(
                **enc,
                do_sample=False,
                max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                stop_strings=stop_strings or None,
                tokenizer=tokenizer if stop_strings else None,
                **constraint,
            )
            new = out[:, enc["input_ids"].shape[1] :]
            if grammars is None:
                outputs += tokenizer.batch_decode(new, skip_special_tokens=True)
            else:  # decoded as written: no clean-up of spaces before punctuation, which would edit the quotes
                texts_ = tokenizer.batch_decode(new, skip_special_tokens=True, clean_up_tokenization_spaces=False)
                done = constraint["logits_processor"][0].terminated
                outputs += [complete_lines(t, d) for t, d in zip(texts_, done)]
    finally:
        tokenizer.padding_side = side
    return [cut_at_blank_line(o) for o in outputs]


def _constraint(model, tokenizer, grammars: list[str]) -> dict:
    """``generate`` keywords that decode each row under its grammar and end it at the grammar's stop tokens."""
    from transformers import LogitsProcessorList

    from lit_critic_rl.critic.grammar_decoding import GrammarLogitsProcessor, compiler_for

    compiler = compiler_for(model, tokenizer)
    processor = GrammarLogitsProcessor(compiler, grammars)
    return {"logits_processor": LogitsProcessorList([processor]), "eos_token_id": compiler.stop_ids}


def cut_at_blank_line(text: str) -> str:
    stripped = text.lstrip("\n")
    return stripped.split("\n\n", 1)[0]


class HFCritic(GenerativeCritic):
    def __init__(
        self,
        name_or_path: str,
        template: str = "sentiment",
        quantization: str = "none",
        dtype: str = "float32",
        max_new_tokens: int = 48,
        batch_size: int = 8,
        stop_strings: list[str] | None = None,
        cache_path: str | None = None,
        score_range: tuple[float, float] = (0.0, 1.0),
        template_input: InputMode | None = None,
        prompt_format: PromptFormat = "completion",
        device: str | None = None,
        constrained: bool = False,
        max_spans: int = 4,
    ) -> None:
        """
        Args:
            name_or_path: Critic model: hub id, local folder or ``asset:`` alias (ideally larger than the policy).
            template: Shipped template name or template file path.
            quantization: 'none' or 'nf4' (bitsandbytes 4-bit).
            dtype: Weights dtype (compute dtype under NF4).
            max_new_tokens: Length cap of each critique.
            batch_size: Critiques generated per batch.
            stop_strings: Extra strings that end a critique (a blank line always does).
            cache_path: sqlite cache file; None = ``critic_cache.sqlite`` in the trainer's root dir.
            score_range: Range of the extrinsic score, mapped onto the template's 1-10 ``{score}``.
            template_input: 'separate' or 'joined' prompt and response; None = the template's own ``# input:``.
            prompt_format: 'completion' (plain text, the paper's self-critique) or 'chat' (the model's chat template).
            device: Where the critic model lives, e.g. ``cuda:1`` next to a policy on ``cuda:0`` (None = the CPU,
                where it loads). Under bitsandbytes NF4 the weights are placed at load time on that device.
            constrained: Decode under a per-sample grammar (xgrammar, the ``constrained`` extra): only
                ``label: "quote"`` lines whose quotes are word-aligned pieces of the response, or ``None
                identified``, so every critique parses and every quote is located (docs/critics.md).
            max_spans: Most lines a constrained critique may write.
        """
        from lit_critic_rl.models.loading import load_causal_lm, load_tokenizer

        if prompt_format not in ("chat", "completion"):
            raise ValueError(f"critic.prompt_format must be 'chat' or 'completion', got '{prompt_format}'")
        check_constraint(constrained, max_spans)
        super().__init__(template, cache_path, score_range, template_input)
        self.prompt_format = prompt_format
        self.constrained, self.max_spans = constrained, max_spans
        self.name_or_path, self.max_new_tokens, self.batch_size = name_or_path, max_new_tokens, batch_size
        self.stop_strings = stop_strings
        field = "model.critic.init_args.name_or_path"
        self.tokenizer = load_tokenizer(name_or_path, field)
        self.device = device
        self.model = load_causal_lm(name_or_path, quantization, dtype, field, device=device).eval()

    @property
    def identity(self) -> str:
        tail = f"|constrained{self.max_spans}" if self.constrained else ""
        return f"hf|{self.name_or_path}|{self.max_new_tokens}|{self.prompt_format}{tail}"

    def generate(self, texts: list[str], grammars: list[str] | None = None) -> list[str | BaseException]:
        return generate_critiques(
            self.model,
            self.tokenizer,
            texts,
            self.max_new_tokens,
            self.batch_size,
            self.stop_strings,
            self.prompt_format,
            grammars,
        )

    def generate_for_critique(self, texts: list[str], responses: list[str]) -> list[str | BaseException]:
        return self.generate(texts, grammars_for(self, responses))


def check_constraint(constrained: bool, max_spans: int) -> None:
    """Config-time checks of ``constrained``/``max_spans``: a clear error before any model loads."""
    if max_spans < 1:
        raise ValueError(f"critic.max_spans must be at least 1, got {max_spans}")
    if constrained:
        from lit_critic_rl.critic.grammar_decoding import require_xgrammar

        require_xgrammar()


def grammars_for(critic, responses: list[str]) -> list[str] | None:
    """The per-response grammars of a constrained critic (``constrained``, ``max_spans``, ``template``), else None."""
    if not critic.constrained:
        return None
    return [critique_grammar(r, critic.template, critic.max_spans) for r in responses]
