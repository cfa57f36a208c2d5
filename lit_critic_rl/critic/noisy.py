"""NoisyCritic: any critic made worse by a known amount, to measure how good a critic must be to help.

It asks the wrapped critic, then corrupts each of its marks (spans) independently with probability ``p``: the mark
is dropped, its sign flipped, or moved to a random other word or number of the response (``\\w+``, one that no mark
of the critique touches), chosen by the ``*_weight`` mix. A move with nowhere to go drops the mark. Per-token values
(a generative reward model's), failed critiques and the wrapped critic's dropped quotes pass unchanged.

The noise is one seeded stream (``seed``, offset by the rank in a multi-process run) whose state travels in
checkpoints, so a run resumed from ``last.ckpt`` draws what the uninterrupted run would have drawn.

Its realised quality against the wrapped critic, over the run so far, is logged each iteration as
``train/critic_precision`` and ``train/critic_recall``, with the mark totals behind them
(:mod:`lit_critic_rl.critic.agreement`). Dropping only lowers recall (to ``1 - p`` on average); flipping and moving
lower both.
"""

from __future__ import annotations

import random
import re
from dataclasses import replace

from lit_critic_rl.critic.agreement import Agreement, agreement
from lit_critic_rl.critic.base import CriticBackend, CriticSetup, Critique, Span

_UNIT = re.compile(r"\w+")
KINDS = ("drop", "flip", "move")


def corrupt(spans: list[Span], response: str, rng: random.Random, p: float, weights: tuple[float, ...]) -> list[Span]:
    """``spans`` with each corrupted with probability ``p``, the kind drawn from ``weights`` over :data:`KINDS`.

    Draws per span, in order: one uniform (corrupt or not), then for a corrupted one the kind, then for a move the
    target among the free units of ``response`` (its ``\\w+`` matches that overlap no span of ``spans``).
    """
    free = [
        m.span() for m in _UNIT.finditer(response) if not any(s.start < m.end() and m.start() < s.end for s in spans)
    ]
    out = []
    for span in spans:
        if rng.random() >= p:
            out.append(span)
            continue
        kind = rng.choices(KINDS, weights=weights)[0]
        if kind == "flip":
            out.append(replace(span, polarity=-span.polarity))
        elif kind == "move" and free:
            start, end = rng.choice(free)
            out.append(replace(span, start=start, end=end, text=response[start:end]))
    return out


class NoisyCritic(CriticBackend):
    def __init__(
        self,
        critic: CriticBackend,
        p: float = 0.2,
        drop_weight: float = 1.0,
        flip_weight: float = 1.0,
        move_weight: float = 1.0,
        seed: int = 0,
    ) -> None:
        """
        Args:
            critic: The critic whose marks are corrupted (its own ``class_path`` and ``init_args``).
            p: Probability that a mark is corrupted (0 = the wrapped critic unchanged).
            drop_weight: Relative weight of dropping a corrupted mark.
            flip_weight: Relative weight of flipping its sign.
            move_weight: Relative weight of moving it to a random other word or number of the response.
            seed: Seed of the noise (offset by the rank in a multi-process run).
        """
        if not isinstance(critic, CriticBackend):
            raise TypeError(f"critic.critic must be a CriticBackend, got {type(critic).__name__}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"critic.p must be in [0, 1], got {p}")
        self.weights = (drop_weight, flip_weight, move_weight)
        if min(self.weights) < 0 or sum(self.weights) <= 0:
            raise ValueError(f"critic: drop/flip/move_weight must be >= 0 and not all 0, got {self.weights}")
        self.critic, self.p, self.seed = critic, p, seed
        self.runs_off_thread = critic.runs_off_thread
        self.rng = random.Random(seed)
        self.counts = Agreement()

    def setup(self, context: CriticSetup) -> None:
        if context.rank:
            self.rng = random.Random(self.seed + 1_000_003 * context.rank)
        self.critic.setup(context)

    def close(self) -> None:
        self.critic.close()

    def stats(self) -> dict[str, float]:
        return {**self.critic.stats(), **self.counts.stats()}

    def state_dict(self) -> dict:
        version, internal, gauss = self.rng.getstate()
        counts = [self.counts.right, self.counts.marks, self.counts.found, self.counts.reference]
        return {"critic": self.critic.state_dict(), "rng": [version, list(internal), gauss], "counts": counts}

    def load_state_dict(self, state: dict) -> None:
        self.critic.load_state_dict(state.get("critic", {}))
        if "rng" in state:
            version, internal, gauss = state["rng"]
            self.rng.setstate((version, tuple(internal), gauss))
        if "counts" in state:
            self.counts = Agreement(*state["counts"])

    def critique(self, prompts: list[str], responses: list[str], scores: list[float] | None = None) -> list[Critique]:
        out = []
        for critique, response in zip(self.critic.critique(prompts, responses, scores), responses, strict=True):
            if not critique.ok:
                out.append(critique)
                continue
            spans = corrupt(critique.spans, response, self.rng, self.p, self.weights)
            self.counts += agreement(critique.spans, spans)
            out.append(replace(critique, spans=spans))
        return out
