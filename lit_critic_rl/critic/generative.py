"""Machinery shared by critics that write text (HF model, OpenAI-compatible API, self-critique): prompt rendering,
caching, parsing and failure accounting. A backend only implements ``generate``: rendered prompts in, raw texts (or
the exception that prevented one) out."""

from __future__ import annotations

import math
from abc import abstractmethod
from pathlib import Path

from lit_critic_rl.critic.base import CriticBackend, CriticSetup, Critique
from lit_critic_rl.critic.cache import CritiqueCache, cache_key
from lit_critic_rl.critic.parsing import parse_critique
from lit_critic_rl.critic.templates import InputMode, load_template


def score_to_scale(score: float, low: float, high: float) -> int:
    """Map an extrinsic score in [low, high] to the 1..10 scale the summarization critic reads (clamped)."""
    if not math.isfinite(score) or high <= low:
        return 1
    frac = min(max((score - low) / (high - low), 0.0), 1.0)
    return 1 + round(frac * 9)


class GenerativeCritic(CriticBackend):
    def __init__(
        self,
        template: str = "sentiment",
        cache_path: str | None = None,
        score_range: tuple[float, float] = (0.0, 1.0),
        template_input: InputMode | None = None,
    ) -> None:
        """
        Args:
            template: Shipped template name (sentiment, toxicity, summarization, sentiment_relc, toxicity_relc,
                summarization_relc) or a template file path.
            cache_path: sqlite file of cached critiques; None = ``critic_cache.sqlite`` in the trainer's root dir.
            score_range: Range of the extrinsic score, mapped onto the template's 1-10 ``{score}`` field.
            template_input: 'separate' shows prompt and response apart, 'joined' as one text (the paper's
                sentiment critic); None = the template's own ``# input:``.
        """
        self.template = load_template(template, template_input)
        self.cache_path = cache_path
        self.score_range = tuple(score_range)
        self._cache: CritiqueCache | None = None
        self.calls = 0
        self.cache_hits = 0

    @property
    @abstractmethod
    def identity(self) -> str:
        """Backend class and model name: part of the cache key."""

    @abstractmethod
    def generate(self, texts: list[str]) -> list[str | BaseException]:
        """Raw critic outputs, one per rendered prompt; an exception instance where a call failed for good."""

    @property
    def output_instruction(self) -> str:
        """Text appended to every rendered prompt to say what to return ('' = the template's own format)."""
        return ""

    def generate_for_critique(self, texts: list[str], responses: list[str]) -> list[str | BaseException]:
        """Raw outputs for rendered critique prompts, with the responses under critique alongside: :meth:`generate`
        unless the backend asks for a structured answer or constrains decoding to quotes of the response
        (``generate`` itself stays plain text generation, which other users such as ``LLMRewriter`` call)."""
        return self.generate(texts)

    def stats(self) -> dict[str, float]:
        """Counters since the critic was built: generated outputs and cache hits (``train/critic_calls`` is the
        per-iteration count of samples asked)."""
        return {"critic_generated_total": float(self.calls), "critic_cache_hits_total": float(self.cache_hits)}

    def setup(self, context: CriticSetup) -> None:
        """Cache in ``critic_cache.sqlite`` under the run directory unless ``cache_path`` was given."""
        if self.cache_path is None:
            self.cache_path = str(Path(context.run_dir) / "critic_cache.sqlite")

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    def state_dict(self) -> dict:
        return {"cache_path": self.cache_path}

    def load_state_dict(self, state: dict) -> None:
        if self.cache_path is None and state.get("cache_path"):
            self.cache_path = state["cache_path"]  # keep using the run's cache after a resume

    @property
    def cache(self) -> CritiqueCache | None:
        if self._cache is None and self.cache_path is not None:
            self._cache = CritiqueCache(self.cache_path)
        return self._cache

    def critique(self, prompts: list[str], responses: list[str], scores: list[float] | None = None) -> list[Critique]:
        scale = [score_to_scale(s, *self.score_range) for s in scores] if scores is not None else [None] * len(prompts)
        instruction = self.output_instruction
        rendered = [self.template.render(p, r, s, instruction) for p, r, s in zip(prompts, responses, scale)]
        keys = [cache_key(self.identity, self.template.name, self.template.version, t) for t in rendered]
        raws: dict[str, str] = self.cache.get_many(keys) if self.cache is not None else {}
        self.cache_hits += sum(k in raws for k in keys)
        todo = [i for i, k in enumerate(keys) if k not in raws]
        failures: dict[int, BaseException] = {}
        if todo:
            outputs = self.generate_for_critique([rendered[i] for i in todo], [responses[i] for i in todo])
            if len(outputs) != len(todo):
                raise RuntimeError(f"{type(self).__name__}.generate returned {len(outputs)} outputs for {len(todo)}")
            self.calls += len(todo)
            fresh = {}
            for i, out in zip(todo, outputs):
                if isinstance(out, BaseException):
                    failures[i] = out
                else:
                    fresh[keys[i]] = out
            if fresh and self.cache is not None:
                self.cache.put_many(fresh)
            raws.update(fresh)
        critiques = []
        for i, (key, prompt, response) in enumerate(zip(keys, prompts, responses)):
            if i in failures:
                critiques.append(Critique(ok=False, error=type(failures[i]).__name__))
            else:
                critiques.append(parse_critique(raws[key], response, self.template, prompt))
        return critiques

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_cache"] = None  # sqlite connections do not pickle; reopened lazily
        return state
