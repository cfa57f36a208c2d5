"""Grammar-constrained decoding for the local critics, through xgrammar (the optional ``constrained`` extra).

A :class:`GrammarCompiler` is built once per critic and tokenizer (about 0.25 s for SmolLM2's 49k tokens); each
sample's grammar then compiles in milliseconds. :class:`GrammarLogitsProcessor` is a transformers logits processor
with one grammar per batch row: before every step it masks the tokens the row's grammar does not allow, after it
feeds the chosen token to the row's matcher. Why xgrammar and not outlines-core or lm-format-enforcer is measured in
docs/critics.md.
"""

from __future__ import annotations

import weakref

import torch
from transformers import LogitsProcessor

INSTALL_HINT = (
    "pip install 'lit-critic-rl[constrained]' (on a CPU-only machine `pip install --no-deps xgrammar "
    "apache-tvm-ffi` is enough and skips the ~0.9 GB triton wheel xgrammar declares)"
)


def require_xgrammar(field: str = "critic.constrained"):
    """The xgrammar module, or an ImportError that names ``field`` and the extra to install."""
    try:
        import xgrammar
    except ImportError as err:
        raise ImportError(f"{field}: true needs the xgrammar package: {INSTALL_HINT}") from err
    return xgrammar


def stop_token_ids(model, tokenizer) -> list[int]:
    """The token ids that end a generation: the model's generation config's eos ids and the tokenizer's eos id."""
    ids: list[int] = []
    config = getattr(model, "generation_config", None)
    eos = getattr(config, "eos_token_id", None)
    for token in [*(eos if isinstance(eos, (list, tuple)) else [eos]), tokenizer.eos_token_id]:
        if token is not None and int(token) not in ids:
            ids.append(int(token))
    if not ids:
        raise ValueError("critic.constrained: the critic model's tokenizer has no eos token to end a critique")
    return ids


class GrammarCompiler:
    """xgrammar's tokenizer tables for one tokenizer, and the compiler that turns EBNF text into token masks."""

    def __init__(self, tokenizer, vocab_size: int, stop_ids: list[int]) -> None:
        xgr = require_xgrammar()
        self.vocab_size, self.stop_ids = vocab_size, stop_ids
        info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size, stop_token_ids=stop_ids)
        self._compiler = xgr.GrammarCompiler(info, cache_enabled=False)

    def compile(self, grammar: str):
        return self._compiler.compile_grammar(grammar)


_COMPILERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def compiler_for(model, tokenizer) -> GrammarCompiler:
    """The compiler for ``model``'s vocabulary and ``tokenizer``, built on first use and kept while the tokenizer
    lives (one per critic in practice)."""
    vocab_size = int(model.config.vocab_size)
    stop_ids = stop_token_ids(model, tokenizer)
    cached = _COMPILERS.setdefault(tokenizer, {})
    key = (vocab_size, tuple(stop_ids))
    if key not in cached:
        cached[key] = GrammarCompiler(tokenizer, vocab_size, stop_ids)
    return cached[key]


class GrammarLogitsProcessor(LogitsProcessor):
    """Masks each row's scores to the tokens its grammar allows next (a transformers ``LogitsProcessor``).

    ``terminated[i]`` is True once row ``i`` wrote a complete critique and its stop token."""

    def __init__(self, compiler: GrammarCompiler, grammars: list[str]) -> None:
        self._xgr = require_xgrammar()
        self.matchers = [self._xgr.GrammarMatcher(compiler.compile(g)) for g in grammars]
        self.vocab_size = compiler.vocab_size
        self._bitmask = self._xgr.allocate_token_bitmask(len(grammars), compiler.vocab_size)
        self._prompt_len: int | None = None

    @property
    def terminated(self) -> list[bool]:
        return [m.is_terminated() for m in self.matchers]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self._prompt_len is None:
            self._prompt_len = input_ids.shape[1]
        else:
            for matcher, token in zip(self.matchers, input_ids[:, -1].tolist()):
                if not matcher.is_terminated() and not matcher.accept_token(token):
                    raise RuntimeError(f"critic.constrained: the grammar refused token {token} it had allowed")
        self._bitmask.fill_(-1)  # all allowed: rows that finished are padded by generate whatever they score
        for i, matcher in enumerate(self.matchers):
            if not matcher.is_terminated():
                matcher.fill_next_token_bitmask(self._bitmask, i)
        self._xgr.apply_token_bitmask_inplace(scores, self._bitmask.to(scores.device), vocab_size=self.vocab_size)
        return scores


def grammar_accepts(grammar: str, text: str) -> bool:
    """Whether ``text`` is a complete sentence of the EBNF ``grammar`` (checked character by character, without a
    tokenizer)."""
    xgr = require_xgrammar()
    compiled = xgr.GrammarCompiler(xgr.TokenizerInfo([]), cache_enabled=False).compile_grammar(grammar)
    matcher = xgr.GrammarMatcher(compiled, terminate_without_stop_token=True)
    return bool(matcher.accept_string(text)) and matcher.is_terminated()
