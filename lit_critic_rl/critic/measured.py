"""MeasuredCritic: a critic's critiques, unchanged, with its agreement with a reference critic on the same samples.

The reference (an exact checker such as :class:`~lit_critic_rl.critic.step_oracle.StepOracle`) is asked about every
sample the critic is asked about; its critiques are only compared with, never trained on. The critic's marks are its
spans and its per-token values turned into marks (:func:`~lit_critic_rl.critic.agreement.value_marks`: each run of
consecutive nonzero values of one sign is one mark), so a generative reward model sits on the same precision/recall
axes as :class:`~lit_critic_rl.critic.noisy.NoisyCritic`. Samples where either critic failed are not counted.
Logged each iteration, over the run so far, as ``train/critic_precision`` and ``train/critic_recall``.

Caveat for per-token critics: one long run of positive values over a right solution is ONE mark overlapping every
positive reference mark, so precision is measured per run of values, not per token.
"""

from __future__ import annotations

from lit_critic_rl.critic.agreement import Agreement, agreement, value_marks
from lit_critic_rl.critic.base import CriticBackend, CriticSetup, Critique


class MeasuredCritic(CriticBackend):
    def __init__(self, critic: CriticBackend, reference: CriticBackend) -> None:
        """
        Args:
            critic: The critic the run trains on.
            reference: The critic it is measured against (only compared with).
        """
        for name, value in (("critic", critic), ("reference", reference)):
            if not isinstance(value, CriticBackend):
                raise TypeError(f"critic.{name} must be a CriticBackend, got {type(value).__name__}")
        self.critic, self.reference = critic, reference
        self.runs_off_thread = critic.runs_off_thread and reference.runs_off_thread
        self.counts = Agreement()

    def setup(self, context: CriticSetup) -> None:
        self.critic.setup(context)
        self.reference.setup(context)

    def close(self) -> None:
        self.critic.close()
        self.reference.close()

    def stats(self) -> dict[str, float]:
        return {**self.critic.stats(), **self.counts.stats()}

    def state_dict(self) -> dict:
        counts = [self.counts.right, self.counts.marks, self.counts.found, self.counts.reference]
        return {"critic": self.critic.state_dict(), "reference": self.reference.state_dict(), "counts": counts}

    def load_state_dict(self, state: dict) -> None:
        self.critic.load_state_dict(state.get("critic", {}))
        self.reference.load_state_dict(state.get("reference", {}))
        if "counts" in state:
            self.counts = Agreement(*state["counts"])

    def critique(self, prompts: list[str], responses: list[str], scores: list[float] | None = None) -> list[Critique]:
        critiques = self.critic.critique(prompts, responses, scores)
        for critique, truth in zip(critiques, self.reference.critique(prompts, responses, scores), strict=True):
            if critique.ok and truth.ok:
                self.counts += agreement(truth.spans, critique.spans + value_marks(critique.token_values))
        return critiques
