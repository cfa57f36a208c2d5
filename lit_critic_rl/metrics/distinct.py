"""Distinct-n (Li et al. 2016), the diversity of generations: how many different n-grams they contain.

Two definitions are in use and they give different numbers, so ``DistinctN`` takes the one to compute as ``mode``:

- ``per_prompt`` (the dense-reward paper's evaluation scripts, after DExperts): for each prompt, pool its k samples,
  count the distinct n-grams among them and divide by the number of *words* in those k samples; then average over
  prompts. Dividing by words rather than by n-grams means distinct-2 and distinct-3 of a short text are below 1
  even when no n-gram repeats (a 3-word sample has 2 bigrams: 2 / 3).
- ``corpus`` (Li et al.): distinct n-grams over every sample of the evaluation divided by the number of n-grams.

Words are whitespace-separated (``str.split()``). The paper's script splits on single spaces, so there two spaces in
a row make an empty "word"; here they do not. A prompt whose samples hold no word at all is left out of the
per-prompt mean (the script's ``nanmean``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Literal


def ngrams(words: list[str], n: int) -> list[tuple[str, ...]]:
    """The n-grams of a list of words, in order (``n`` - 1 fewer than the words, or none)."""
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]


def distinct_n(texts: list[str], n: int) -> float:
    """Corpus distinct-n: distinct n-grams over ``texts`` / all n-grams of ``texts``; 0.0 when there are none."""
    grams = [g for t in texts for g in ngrams(t.split(), n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def distinct_n_per_prompt(samples: list[str], n: int) -> float | None:
    """Distinct n-grams in one prompt's ``samples`` / words in them; None when they hold no word."""
    split = [s.split() for s in samples]
    words = sum(len(w) for w in split)
    return len({g for w in split for g in ngrams(w, n)}) / words if words else None


class DistinctN:
    """Distinct-1..``max_n`` of an evaluation, accumulated over batches.

    ``update(texts, prompts)`` takes the samples and, for ``per_prompt``, the prompt each was sampled from (samples
    of one prompt may arrive in several batches); ``compute()`` returns ``{"distinct_1": ..., ...}``, 0.0 when
    nothing was counted.
    """

    def __init__(self, max_n: int = 3, mode: Literal["per_prompt", "corpus"] = "per_prompt") -> None:
        """
        Args:
            max_n: Largest n reported.
            mode: 'per_prompt' (the paper's) or 'corpus', as defined in the module docstring.
        """
        if mode not in ("per_prompt", "corpus"):
            raise ValueError(f"DistinctN mode must be 'per_prompt' or 'corpus', got {mode!r}")
        self.max_n, self.mode = max_n, mode
        self.reset()

    def reset(self) -> None:
        self.by_prompt: dict[str, list[str]] = defaultdict(list)

    def update(self, texts: list[str], prompts: list[str] | None = None) -> None:
        if prompts is None:
            if self.mode == "per_prompt":
                raise ValueError("DistinctN(mode='per_prompt') needs each sample's prompt: update(texts, prompts)")
            prompts = [""] * len(texts)
        if len(prompts) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(prompts)} prompts")
        for prompt, text in zip(prompts, texts):
            self.by_prompt[prompt].append(text)

    def compute(self) -> dict[str, float]:
        out = {}
        for n in range(1, self.max_n + 1):
            if self.mode == "corpus":
                out[f"distinct_{n}"] = distinct_n([t for texts in self.by_prompt.values() for t in texts], n)
                continue
            values = [v for texts in self.by_prompt.values() if (v := distinct_n_per_prompt(texts, n)) is not None]
            out[f"distinct_{n}"] = sum(values) / len(values) if values else 0.0
        return out
