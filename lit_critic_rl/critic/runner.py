"""The critic runner: asks a critic about a rollout's samples, in a background thread when the critic waits on I/O.

It owns the thread pool and the timing (``perf/critic_s``: the critic's own time; ``perf/critic_wait_s``: how long the
trainer waited for an off-thread critic after its teacher-forced passes). Critics that share the trainer's model
(self-critique) or compute on the CPU run in the caller's thread, since overlapping them would only contend.
A critic that reads references gets each sample's from the runner, which takes the datamodule's through
:class:`~lit_critic_rl.rewards.references.UsesReferences` at setup.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from torch import Tensor

from lit_critic_rl.critic.base import CriticBackend, Critique
from lit_critic_rl.perf import PhaseTimer
from lit_critic_rl.rewards.references import UsesReferences


class PendingCritiques:
    """Critiques of one rollout, one per sample in order; None where the gate did not ask the critic."""

    def __init__(self, result: Callable[[], list[Critique | None]], timer: PhaseTimer, off_thread: bool) -> None:
        self._result, self._timer, self._off_thread = result, timer, off_thread

    def wait(self) -> list[Critique | None]:
        if not self._off_thread:
            return self._result()
        with self._timer("critic_wait"):
            return self._result()


class CriticRunner(UsesReferences):
    def __init__(self, critic: CriticBackend, timer: PhaseTimer, gate_threshold: float | None = None) -> None:
        """
        Args:
            critic: The critic to run.
            timer: Where the critic's time and the wait for it are recorded.
            gate_threshold: Ask the critic only about samples whose extrinsic score is <= this (None = all).
        """
        self.critic, self.timer, self.gate_threshold = critic, timer, gate_threshold
        self._pool: ThreadPoolExecutor | None = None

    def asked(self, scores: Tensor) -> list[int]:
        """Indices of the samples the gate lets through."""
        gate = self.gate_threshold
        return [i for i in range(len(scores)) if gate is None or float(scores[i]) <= gate]

    def _run(
        self, prompts: list[str], responses: list[str], scores: Tensor, references: list[str] | None = None
    ) -> list[Critique | None]:
        start = time.perf_counter()
        asked = self.asked(scores)
        chosen = ([prompts[i] for i in asked], [responses[i] for i in asked], [float(scores[i]) for i in asked])
        if self.critic.reads_references:
            if references is None or len(references) != len(prompts):
                raise ValueError(f"model.critic ({type(self.critic).__name__}) reads references, none were given")
            critiques = self.critic.critique(*chosen, references=[references[i] for i in asked])
        else:
            critiques = self.critic.critique(*chosen)
        if len(critiques) != len(asked):
            name = type(self.critic).__name__
            raise RuntimeError(f"model.critic ({name}) returned {len(critiques)} critiques for {len(asked)} samples")
        out: list[Critique | None] = [None] * len(prompts)
        for i, critique in zip(asked, critiques):
            out[i] = critique
        self.timer.add("critic", time.perf_counter() - start)
        return out

    @property
    def reads_references(self) -> bool:
        return bool(self.critic.reads_references)

    def reader_name(self) -> str:
        return type(self.critic).__name__

    def start(
        self, prompts: list[str], responses: list[str], scores: Tensor, references: list[str] | None = None
    ) -> PendingCritiques:
        """Start the critic on the samples (with each one's reference when the critic reads them: ``references``,
        else the handed-over table's); :meth:`PendingCritiques.wait` returns its critiques."""
        if references is None:
            references = self.stage_references(self.critic, prompts, "model.critic")
        if not self.critic.runs_off_thread:
            result = self._run(prompts, responses, scores, references)
            return PendingCritiques(lambda: result, self.timer, off_thread=False)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="critic")
        future: Future = self._pool.submit(self._run, prompts, responses, scores, references)
        return PendingCritiques(future.result, self.timer, off_thread=True)

    def close(self) -> None:
        """Stop the thread pool and close the critic."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.critic.close()
