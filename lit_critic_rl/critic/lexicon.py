"""LexiconCritic: an offline, deterministic word-list critic. It is NOT a language model.

It marks every word of the response found in the VADER sentiment lexicon with ``|valence| >= min_valence`` as a span,
positive or negative by the valence's sign. It is the dependable offline teacher for tests and benchmarks of the dense
reward machinery; an LLM critic reads context (negation, sarcasm) that a word list cannot.
"""

from __future__ import annotations

import re

from lit_critic_rl.critic.base import CriticBackend, Critique, Span

_WORD = re.compile(r"[A-Za-z][A-Za-z']*")


class LexiconCritic(CriticBackend):
    def __init__(self, min_valence: float = 1.0) -> None:
        """
        Args:
            min_valence: Smallest absolute VADER valence (scale -4..4) a word needs to be marked.
        """
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.min_valence = min_valence
        self.lexicon: dict[str, float] = SentimentIntensityAnalyzer().lexicon

    def spans(self, response: str) -> list[Span]:
        out = []
        for match in _WORD.finditer(response):
            valence = self.lexicon.get(match.group().lower())
            if valence is not None and abs(valence) >= self.min_valence:
                label = "positive" if valence > 0 else "negative"
                out.append(Span(match.start(), match.end(), label, 1.0 if valence > 0 else -1.0))
        return out

    def critique(self, prompts: list[str], responses: list[str], scores: list[float] | None = None) -> list[Critique]:
        return [Critique(ok=True, spans=self.spans(r)) for r in responses]
