"""The critic interface. A critic is a plain object (never an ``nn.Module``): it is not saved in checkpoints and has no
parameters in the optimizer."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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


@dataclass
class CriticSetup:
    """What a critic may need from the run it serves, handed over once before training or evaluation starts."""

    model: Any
    """The run's adapter-shared :class:`~lit_critic_rl.models.policy.PolicyValueModel` (self-critique uses it)."""
    tokenizer: Any
    """The policy's tokenizer."""
    model_name: str
    """The policy base's ``model.name_or_path`` (part of cache keys)."""
    run_dir: Path
    """The trainer's root dir: default home of caches."""


class CriticBackend(ABC):
    """One batched call: ``critique(prompts, responses, scores) -> list[Critique]``, one per sample, in order.

    ``scores`` are the samples' extrinsic scores (the summarization template shows them to the critic); backends
    that do not need them ignore them.

    Lifecycle, called by the PPO module: :meth:`setup` once the model exists and the run directory is known,
    :meth:`close` when the run ends; :meth:`state_dict`/:meth:`load_state_dict` travel in checkpoints. All are no-ops
    by default.
    """

    runs_off_thread: bool = False
    """True when ``critique`` mostly waits on I/O and shares no model with the trainer: the critic runner then runs it
    in a background thread, overlapped with the teacher-forced passes."""

    def setup(self, context: CriticSetup) -> None:
        """Attach to the run (model, tokenizer, run directory)."""

    def close(self) -> None:
        """Release connections, threads and files."""

    def state_dict(self) -> dict:
        """What a checkpoint keeps of the critic (plain types only)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""

    @abstractmethod
    def critique(
        self, prompts: list[str], responses: list[str], scores: list[float] | None = None
    ) -> list[Critique]: ...
