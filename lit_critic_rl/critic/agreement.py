"""How well one critic's marks agree with a reference critic's on the same responses: precision and recall.

A mark is a span with a sign (its polarity's). A mark is RIGHT when it overlaps (shares at least one character
with) a reference mark of the same sign; a reference mark is FOUND when a mark of the same sign overlaps it. So a
mark moved elsewhere or given the opposite sign is wrong and loses its reference mark, a dropped mark only loses it.

    precision = right marks / marks            recall = found reference marks / reference marks

(1.0 when the denominator is 0: no marks means none wrong, no reference marks means none missed.) Per-token values
(a generative reward model's) become marks with :func:`value_marks`, so such a critic is measured the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from lit_critic_rl.critic.base import Span, TokenValue


@dataclass
class Agreement:
    """Counts summed over responses; add two with ``+``."""

    right: int = 0
    """Marks that overlap a reference mark of the same sign."""
    marks: int = 0
    found: int = 0
    """Reference marks overlapped by a mark of the same sign."""
    reference: int = 0

    def __add__(self, other: Agreement) -> Agreement:
        return Agreement(
            self.right + other.right,
            self.marks + other.marks,
            self.found + other.found,
            self.reference + other.reference,
        )

    def stats(self) -> dict[str, float]:
        """What a measuring critic logs (``train/critic_*``); the totals tell a ratio of 0/0 (logged as 1.0) apart."""
        return {
            "critic_precision": self.precision,
            "critic_recall": self.recall,
            "critic_marks_total": float(self.marks),
            "critic_reference_marks_total": float(self.reference),
        }

    @property
    def precision(self) -> float:
        return self.right / self.marks if self.marks else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.reference if self.reference else 1.0


def _agrees(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end and (a.polarity > 0) == (b.polarity > 0)


def agreement(reference: list[Span], marks: list[Span]) -> Agreement:
    """The counts of one response (see the module docstring)."""
    right = sum(any(_agrees(m, r) for r in reference) for m in marks)
    found = sum(any(_agrees(r, m) for m in marks) for r in reference)
    return Agreement(right, len(marks), found, len(reference))


def value_marks(values: list[TokenValue]) -> list[Span]:
    """Per-token values as marks: each run of consecutive nonzero values of one sign becomes one span over their
    characters (zero values and empty-range values end a run and are not marks)."""
    out: list[Span] = []
    run: list[TokenValue] = []
    for value in [*sorted(values, key=lambda v: v.start), TokenValue(0, 0, 0.0)]:
        same = run and value.end > value.start and value.value != 0 and (value.value > 0) == (run[0].value > 0)
        if run and not same:
            out.append(Span(run[0].start, run[-1].end, "", 1.0 if run[0].value > 0 else -1.0))
            run = []
        if value.end > value.start and value.value != 0:
            run.append(value)
    return out
