"""Distinct-n (Li et al. 2016): unique n-grams / all n-grams over a set of generations (whitespace tokens).

Corpus-level, as in the dense-reward paper's evaluation: one ratio over all texts, not a mean of per-text ratios.
"""

from __future__ import annotations


def ngrams(text: str, n: int) -> list[tuple[str, ...]]:
    words = text.split()
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]


def distinct_n(texts: list[str], n: int) -> float:
    """Unique / total n-grams over ``texts``; 0.0 when there are none."""
    grams = [g for t in texts for g in ngrams(t, n)]
    return len(set(grams)) / len(grams) if grams else 0.0


class DistinctN:
    """Accumulates n-gram counts over batches (``update``) and returns distinct-1..max_n (``compute``)."""

    def __init__(self, max_n: int = 3) -> None:
        self.max_n = max_n
        self.reset()

    def reset(self) -> None:
        self.unique: list[set] = [set() for _ in range(self.max_n)]
        self.total = [0] * self.max_n

    def update(self, texts: list[str]) -> None:
        for k in range(self.max_n):
            for text in texts:
                grams = ngrams(text, k + 1)
                self.unique[k].update(grams)
                self.total[k] += len(grams)

    def compute(self) -> dict[str, float]:
        return {f"distinct_{k + 1}": len(self.unique[k]) / self.total[k] if self.total[k] else 0.0
                for k in range(self.max_n)}
