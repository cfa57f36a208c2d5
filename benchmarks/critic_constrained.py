"""Does constrained decoding make SmolLM2-135M-Instruct a critic that quotes its response? HFCritic with the
``sentiment`` template on 52 review continuations (the 20 of ``critic_prompt_format`` and 32 more below: positive,
negative and mixed), greedy, completion prompt, once unconstrained and once ``constrained: true``. Reports per
mode: failed-critique rate, located-quote rate (located / all quotes named), polarity agreement with VADER (the sign
of the compound score of each located quote against its label's polarity, over the quotes VADER does not score 0)
and the median seconds per critique (each batch's time over its size, no cache).

    OMP_NUM_THREADS=2 python -m benchmarks.critic_constrained      # a few minutes on 2 cores
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass

from benchmarks.critic_prompt_format import SENTENCES as FIRST_20
from lit_critic_rl.critic.base import Critique

MORE = [
    ("We went for the late show, and", " the two leads have no chemistry at all."),
    ("The animation studio's new feature", " is a joy from start to finish."),
    ("Based on a best-selling novel, the film", " captures the book's warmth but loses its humour."),
    ("The horror sequel arrives ten years late, and", " the scares are cheap and predictable."),
    ("My parents picked this one, and", " I have to admit the script is sharp and funny."),
    ("The war epic runs almost three hours, and", " every minute of it feels earned."),
    ("Critics have been kind to it, but", " I thought the editing was sloppy and the sound mix awful."),
    ("The musical numbers", " are dazzling, although the story between them is thin."),
    ("Told from a child's point of view,", " the film is tender, honest and quietly devastating."),
    ("The comedy's premise is simple, and", " the jokes land far more often than they miss."),
    ("Shot entirely on a phone,", " the picture is ugly and the shaky camera gave me a headache."),
    ("The heist thriller", " is slick, stylish and completely forgettable."),
    ("Its young star", " gives a fearless, astonishing performance."),
    ("The courtroom drama", " drowns a strong cast in endless, repetitive speeches."),
    ("I expected little from this sequel, and", " it still managed to disappoint me."),
    ("The nature documentary", " offers stunning footage and a gentle, moving narration."),
    ("After a promising first act", " the romance turns silly and the ending is absurd."),
    ("The spy film has a great villain, and", " the action scenes are inventive and tense."),
    ("The costumes are lavish, but", " the characters are flat and the dialogue is stiff."),
    ("This low-budget indie", " is a small miracle of honest, heartfelt storytelling."),
    ("The superhero team-up", " is loud, bloated and exhausting."),
    ("The family film", " is sweet, but its message is heavy-handed."),
    ("On the second viewing", " I noticed how clever and careful the plotting is."),
    ("The biopic of the famous singer", " is respectful, dull and far too safe."),
    ("The cast clearly had fun, and", " their energy makes the weak script bearable."),
    ("The ending", " is beautiful and left the whole audience in silence."),
    ("The disaster movie", " has terrible effects and even worse acting."),
    ("Its quiet first hour", " tested my patience, but the finale is superb."),
    ("The western", " looks gorgeous and the score is haunting."),
    ("The teen comedy", " is crude, lazy and not funny at all."),
    ("The thriller's twist", " is clever, though the road to it is tedious."),
    ("The restored classic", " remains a brilliant, timeless masterpiece."),
]
SENTENCES = FIRST_20 + MORE


@dataclass
class Summary:
    n: int
    failed: int
    named: int
    located: int
    scored: int
    """Located quotes VADER gives a nonzero compound score."""
    agree: int
    median_seconds: float

    @property
    def failed_rate(self) -> float:
        return self.failed / self.n if self.n else float("nan")

    @property
    def located_rate(self) -> float:
        return self.located / self.named if self.named else float("nan")

    @property
    def agreement(self) -> float:
        return self.agree / self.scored if self.scored else float("nan")


def summarize(critiques: list[Critique], seconds: list[float], compound) -> Summary:
    """Counts over ``critiques``; ``compound(text)`` is VADER's score in [-1, 1] (0 = no sentiment)."""
    located = [s for c in critiques for s in c.spans]
    scores = [(compound(s.text), s.polarity) for s in located]
    scored = [(v, p) for v, p in scores if v != 0]
    return Summary(
        n=len(critiques),
        failed=sum(not c.ok for c in critiques),
        named=len(located) + sum(len(c.dropped) for c in critiques),
        located=len(located),
        scored=len(scored),
        agree=sum((v > 0) == (p > 0) for v, p in scored),
        median_seconds=statistics.median(seconds) if seconds else float("nan"),
    )


def measure(constrained: bool, max_new_tokens: int, limit: int, batch_size: int) -> tuple[Summary, list[Critique]]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from lit_critic_rl.critic.hf import HFCritic

    vader = SentimentIntensityAnalyzer()
    with tempfile.TemporaryDirectory() as tmp:
        critic = HFCritic(
            "asset:smollm2-135m-instruct",
            constrained=constrained,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            cache_path=f"{tmp}/c.sqlite",
        )
        critic.critique([SENTENCES[0][0]], [SENTENCES[0][1] + " (warm-up)"])  # first call builds the tables
        critiques, seconds = [], []
        for first in range(0, limit, batch_size):
            batch = SENTENCES[first : min(first + batch_size, limit)]
            start = time.perf_counter()
            critiques += critic.critique([p for p, _ in batch], [r for _, r in batch])
            seconds += [(time.perf_counter() - start) / len(batch)] * len(batch)
    return summarize(critiques, seconds, lambda t: vader.polarity_scores(t)["compound"]), critiques


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--limit", type=int, default=len(SENTENCES), help="first N sentences only")
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    for constrained in (False, True):
        s, critiques = measure(constrained, args.max_new_tokens, min(args.limit, len(SENTENCES)), args.batch_size)
        print(
            f"constrained={constrained!s:5s} critiques {s.n}  failed {s.failed} ({s.failed_rate:.0%})  "
            f"located {s.located}/{s.named} ({s.located_rate:.0%})  VADER agreement {s.agree}/{s.scored} "
            f"({s.agreement:.0%}; {s.located - s.scored} located quotes VADER scores 0)  "
            f"median {s.median_seconds:.2f} s/critique",
            flush=True,
        )
        for c in critiques[:3]:
            print("    raw:", repr(c.raw[:140]))


if __name__ == "__main__":
    main()
