"""The critic interface. A critic is a plain object (never an ``nn.Module``): it is not saved in checkpoints and has no
parameters in the optimizer."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field


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


@dataclass
class Critique:
    ok: bool
    """False when the critic failed (error, timeout, unparseable output); the sample then gets no intrinsic reward."""
    spans: list[Span] = field(default_factory=list)
    raw: str = ""
    """The critic's raw output text (empty for non-generative critics)."""
    n_dropped: int = 0
    """Spans the critic named that could not be located in the response."""
    error: str = ""
    """Exception class name when ``ok`` is False."""


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
