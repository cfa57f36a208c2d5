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
from pathlib import Path
from typing import Any, Literal

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
class TokenValue:
    """A value the critic gives one of ITS tokens of the response, located by characters so it can be moved onto
    the policy's tokens whatever the two tokenizers are (:func:`lit_critic_rl.critic.shaping.values_on_tokens`)."""

    start: int
    """Character offset into the response text (inclusive)."""
    end: int
    """Character offset into the response text (exclusive); ``start == end`` for a token with no text (EOS)."""
    value: float


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
    token_values: list[TokenValue] = field(default_factory=list)
    """Per-token values (a generative reward model's, e.g. RLMEC's ``MinEditGRM``), beside or instead of spans."""

    @property
    def n_dropped(self) -> int:
        return len(self.dropped)

    @property
    def outcome(self) -> Literal["ok", "empty", "failed"]:
        """'failed' when not ok; 'empty' when the critic named nothing at all (every section said none, or a
        non-generative critic found nothing); 'ok' otherwise, even if every quote it named was dropped."""
        if not self.ok:
            return "failed"
        return "ok" if self.spans or self.dropped or self.token_values else "empty"


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
    rank: int = 0
    """This process's rank in a multi-process run (0 in one process)."""
    world_size: int = 1
    """Processes in the run; each runs its own critic on its slice of the batch (budgets are split by rank)."""


class CriticBackend(ABC):
    """One batched call: ``critique(prompts, responses, scores) -> list[Critique]``, one per sample, in order.

    ``scores`` are the samples' extrinsic scores (the summarization template shows them to the critic); backends
    that do not need them ignore them.

    Lifecycle, called by the PPO module: :meth:`setup` once the model exists and the run directory is known,
    :meth:`close` when the run ends; :meth:`state_dict`/:meth:`load_state_dict` travel in checkpoints. All are no-ops
    by default.
    """

    reads_references: bool = False
    """True when ``critique`` takes a ``references`` argument (one reference solution per sample, e.g. RLMEC's GRM
    trained with them): the runner then passes each prompt's reference from the task datamodule."""

    runs_off_thread: bool = False
    """True when ``critique`` mostly waits on I/O and shares no model with the trainer: the critic runner then runs it
    in a background thread, overlapped with the teacher-forced passes."""

    def setup(self, context: CriticSetup) -> None:
        """Attach to the run (model, tokenizer, run directory)."""

    def close(self) -> None:
        """Release connections, threads and files."""

    def stats(self) -> dict[str, float]:
        """Counters of the critic's life so far (calls, cache hits, fallbacks...), logged as ``train/<name>`` each
        iteration (averaged over ranks). The same keys on every rank; none by default."""
        return {}

    def state_dict(self) -> dict:
        """What a checkpoint keeps of the critic (plain types only)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""

    @abstractmethod
    def critique(
        self, prompts: list[str], responses: list[str], scores: list[float] | None = None
    ) -> list[Critique]: ...
