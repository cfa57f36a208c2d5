"""LexiconCritic: an offline, deterministic word-list critic. It is NOT a language model.

``mode="sentiment"`` marks every word of the response found in the VADER sentiment lexicon with
``|valence| >= min_valence`` as a span, positive or negative by the valence's sign. ``mode="profanity"`` marks every
word or phrase of the ``better-profanity`` word list (944 entries) as a negative ``toxic`` span. It is the dependable
offline teacher for tests and benchmarks of the dense-reward machinery; an LLM critic reads context (negation,
sarcasm, implicit toxicity) that a word list cannot.
"""

from __future__ import annotations

import importlib.resources
import re
from typing import Literal

from lit_critic_rl.critic.base import CriticBackend, Critique, Span

_WORD = re.compile(r"[A-Za-z][A-Za-z']*")


class LexiconCritic(CriticBackend):
    def __init__(self, mode: Literal["sentiment", "profanity"] = "sentiment", min_valence: float = 1.0) -> None:
        """
        Args:
            mode: 'sentiment' (VADER lexicon, positive and negative spans) or 'profanity' (toxic spans).
            min_valence: Smallest absolute VADER valence (scale -4..4) a word needs to be marked (sentiment mode).
        """
        if mode not in ("sentiment", "profanity"):
            raise ValueError(f"critic.mode must be 'sentiment' or 'profanity', got '{mode}'")
        self.mode, self.min_valence = mode, min_valence
        if mode == "sentiment":
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            self.lexicon: dict[str, float] = SentimentIntensityAnalyzer().lexicon
        else:
            words = (importlib.resources.files("better_profanity") / "profanity_wordlist.txt").read_text()
            phrases = sorted({w.strip().lower() for w in words.splitlines() if w.strip()}, key=len, reverse=True)
            self.profanity = re.compile(
                r"(?<![A-Za-z0-9])(?:" + "|".join(re.escape(p) for p in phrases) + r")(?![A-Za-z0-9])", re.IGNORECASE
            )

    def spans(self, response: str) -> list[Span]:
        if self.mode == "profanity":
            return [Span(m.start(), m.end(), "toxic", -1.0) for m in self.profanity.finditer(response)]
        out = []
        for match in _WORD.finditer(response):
            valence = self.lexicon.get(match.group().lower())
            if valence is not None and abs(valence) >= self.min_valence:
                label = "positive" if valence > 0 else "negative"
                out.append(Span(match.start(), match.end(), label, 1.0 if valence > 0 else -1.0))
        return out

    def critique(self, prompts: list[str], responses: list[str], scores: list[float] | None = None) -> list[Critique]:
        return [Critique(ok=True, spans=self.spans(r)) for r in responses]
