"""Sentiment continuation: neutral movie-review openings shipped with the package (written for this project).

With a hub, the paper's setting is IMDB reviews longer than 200 characters cut to their first 4-9 words
(``prompt_file: hub:imdb@train``, ``prompt_field: text``, ``first_words: [4, 9]``, ``min_chars: 200``); the paper
cut at GPT-2 tokens, this cuts at whitespace words so the prompts do not depend on the policy's tokenizer.
"""

from __future__ import annotations

import random
from pathlib import Path

from lit_critic_rl.data.base import PromptDataModule, read_prompts

SHIPPED_PROMPTS = Path(__file__).parent / "prompts" / "movie_review_openings.txt"


class SentimentPrompts(PromptDataModule):
    default_sizes = {"val_size": 32, "batch_size": 8, "val_batch_size": 16}

    def __init__(
        self,
        prompt_file: str | None = None,
        first_words: tuple[int, int] | None = None,
        min_chars: int = 0,
        **kwargs,
    ) -> None:
        """
        Args:
            prompt_file: Prompt file; default: the ~200 neutral movie-review openings shipped in the package.
            first_words: Cut each text to its first n words, n drawn (seeded) from this inclusive range.
            min_chars: Skip texts shorter than this before cutting (the paper: reviews over 200 characters).
            **kwargs: The arguments of :class:`~lit_critic_rl.data.base.PromptDataModule`.
        """
        super().__init__(str(prompt_file or SHIPPED_PROMPTS), **kwargs)
        if first_words is not None and not 1 <= first_words[0] <= first_words[1]:
            raise ValueError(f"data.first_words must be [low, high] with 1 <= low <= high, got {first_words}")
        self.first_words, self.min_chars = first_words, min_chars

    def read(self, path: str) -> list[str]:
        texts = [t for t in read_prompts(path, self.prompt_field) if len(t) >= self.min_chars]
        if not texts:
            raise ValueError(f"data.min_chars: no text of '{path}' has {self.min_chars} characters or more")
        if self.first_words is None:
            return texts
        rng = random.Random(self.seed)
        return [" ".join(t.split()[: rng.randint(*self.first_words)]) for t in texts]
