"""The critic interface and what a critique carries. A critic is a plain object (never an ``nn.Module``): it is not
saved in checkpoints and has no parameters in the optimizer.

A critique has one of three outcomes (:attr:`Critique.outcome`):

- ``ok``: the critic answered and marked spans (some of its quotes may have been dropped, see ``dropped``);
- ``empty``: the critic answered and explicitly marked nothing (``None identified`` for every section it was asked
  for): a real zero, trained on like any other judgement;
- ``failed``: an error, no recognisable structure, or a section left without spans and without an explicit "none":
  the sample's intrinsic reward is masked.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Literal

DROP_REASONS = ("not_found", "few_shot_echo", "prompt_only", "crosses_prompt_boundary", "unknown_label")
"""Why a quote the critic named was not turned into a span (documented in docs/critics.md)."""


@dataclass(frozen=True)
class Span:
    start: int
    """Character offset into the response text (inclusive)."""
    end: int
    """Character offset into the response text (exclusive)."""
    label: str = ""
    """What the critic called it, e.g. 'positive', 'toxic', 'factually incorrect'."""
    polarity: float = -1.0
    """Sign (and optionally strength) of the judgement: > 0 rewards the span's tokens, < 0 penalises them."""
    text: str = ""
    """The response text the span covers, when the critic quoted it ('' for critics that give only offsets)."""


@dataclass(frozen=True)
class DroppedQuote:
    quote: str
    """The text the critic quoted."""
    label: str
    """The label it gave (as written when the label is unknown)."""
    reason: str
    """One of :data:`DROP_REASONS`."""


@dataclass
class Critique:
    ok: bool
    """False when the critic failed (error, timeout, unparseable output); the sample then gets no intrinsic reward."""
    spans: list[Span] = field(default_factory=list)
    raw: str = ""
    """The critic's raw output text (empty for non-generative critics)."""
    dropped: list[DroppedQuote] = field(default_factory=list)
    """Quotes the critic named that did not become spans, each with its reason."""
    error: str = ""
    """Exception or failure class name when ``ok`` is False."""

    @property
    def n_dropped(self) -> int:
        return len(self.dropped)

    @property
    def outcome(self) -> Literal["ok", "empty", "failed"]:
        """'failed' when not ok; 'empty' when the critic named nothing at all (every section said none, or a
        non-generative critic found nothing); 'ok' otherwise, even if every quote it named was dropped."""
        if not self.ok:
            return "failed"
        return "ok" if self.spans or self.dropped else "empty"


class CriticBackend(ABC):
    """One batched call: ``critique(prompts, responses, scores) -> list[Critique]``, one per sample, in order.

    ``scores`` are the samples' extrinsic scores (the summarization template shows them to the critic); backends
    that do not need them ignore them.
    """

    runs_off_thread: bool = False
    """True when ``critique`` mostly waits on I/O and shares no model with the trainer: the module then runs it in a
    background thread, overlapped with the teacher-forced passes."""

    @abstractmethod
    def critique(
        self, prompts: list[str], responses: list[str], scores: list[float] | None = None
    ) -> list[Critique]: ...
