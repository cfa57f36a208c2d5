"""Where an iteration's samples come from: a rollout source, chosen once at setup (:func:`rollout_source`).

- :class:`SampleRounds` (any prompt datamodule): iterated data rounds (``model.ppo.regenerate_every: N``) sample
  fresh solutions every N iterations and replay the last round's samples, with their rewrites, in the iterations
  between; with N = 1 (the default) every iteration samples afresh.
- :class:`ReplayFile` (``data: RolloutReplay``): every batch is saved records of a file, replayed as they are.

The round is kept as plain records (prompt, response, rewrite fields), the same form ``RolloutReplay`` reads from a
file, so a replayed iteration builds its rollout with :func:`~lit_critic_rl.data.replay.replayed_rollout`, and the
records travel in checkpoints: a resumed run replays exactly what an uninterrupted one would.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from torch import Tensor

from lit_critic_rl.checks import check_offline
from lit_critic_rl.data.replay import RolloutReplay, replay_records, replayed_rollout
from lit_critic_rl.rlmec.ratio import fill_replay_logprobs
from lit_critic_rl.rlmec.rewriter import Rewrite
from lit_critic_rl.types import Rollout


@dataclass
class Round:
    """The samples one iteration trains on, and where they came from."""

    rollout: Rollout
    rewrites: list[Rewrite] | None = None
    """Rewrites saved with replayed samples (a file's, the teacher's; a kept round's, its own stage's)."""
    records: list[dict] | None = None
    """The replayed records (their saved sampler log-probs are the ratio's denominator); None for a fresh round."""
    from_file: bool = False
    """Replayed from a ``RolloutReplay`` file rather than from the last kept round."""

    @property
    def fresh(self) -> bool:
        return self.records is None

    @property
    def source(self) -> str:
        return "data.init_args.rollout_file" if self.from_file else "the kept round (model.ppo.regenerate_every)"


class RolloutSource(ABC):
    """An iteration's samples (:meth:`take`), and what the source checks, prepares and keeps around them."""

    @abstractmethod
    def take(self, batch: list, iteration: int, lm, tokenizer, engine, workdir) -> Round:
        """This iteration's samples for the loader's ``batch`` (prompts, or a replay file's records); fresh ones are
        drawn from ``lm`` through the rollout ``engine`` (:mod:`lit_critic_rl.rollout_engines`; ``workdir`` is where
        it may save the adapter it pushes)."""

    def check(self, objective, imitation) -> None:
        """Before fit, without weights: whether the objective (and the rewrite stage, or None) can train on it."""

    def prepare(self, lm, tokenizer, objective) -> None:
        """At the start of fit, with weights: anything the source computes once."""

    def remember(self, taken: Round, rollout: Rollout, rewrites: list[Rewrite] | None) -> None:
        """After the rewrite stage and the ratio's log-probs: what later iterations replay of this one."""


class ReplayFile(RolloutSource):
    """Every batch is records of a ``RolloutReplay`` file, replayed with their saved rewrites."""

    def __init__(self, datamodule: RolloutReplay) -> None:
        self.datamodule = datamodule

    def take(self, batch: list[dict], iteration: int, lm, tokenizer, engine, workdir) -> Round:
        rollout, rewrites = replayed_rollout(batch, tokenizer, lm.value_head.weight.device)
        return Round(rollout, rewrites, batch, from_file=True)

    def check(self, objective, imitation) -> None:
        check_offline(objective)
        if imitation is not None:
            imitation.check_replay()

    def prepare(self, lm, tokenizer, objective) -> None:
        """The file's sampler log-probs (:func:`~lit_critic_rl.rlmec.ratio.fill_replay_logprobs`), for an
        objective whose ratio is taken against them."""
        if objective.off_policy:
            fill_replay_logprobs(self.datamodule, lm, tokenizer, objective.loss_temperature)


class SampleRounds(RolloutSource):
    def __init__(self, every: int = 1) -> None:
        self.every = every
        self.records: list[dict] = []

    def due(self, iteration: int) -> bool:
        """Whether iteration ``iteration`` (0-based) samples a new round."""
        return self.every == 1 or not self.records or iteration % self.every == 0

    def take(self, batch: list[str], iteration: int, lm, tokenizer, engine, workdir) -> Round:
        """The kept round's samples (between two sampled rounds), or a fresh sample of the batch's prompts."""
        if not self.due(iteration):
            rollout, rewrites = replayed_rollout(self.records, tokenizer, lm.value_head.weight.device)
            return Round(rollout, rewrites, self.records)
        return Round(engine.sample_groups(lm, tokenizer, batch, workdir))

    def remember(self, taken: Round, rollout: Rollout, rewrites: list[Rewrite] | None) -> None:
        if taken.fresh:
            self.keep(rollout, rewrites, rollout.sampler_logprobs)

    def keep(self, rollout: Rollout, rewrites: list[Rewrite] | None, logprobs: Tensor | None = None) -> None:
        """Remember this round's samples (and rewrites) for the iterations that replay it; with ``logprobs``
        (``[B, T]``, the sampler's log-probs of the fresh round, :func:`~lit_critic_rl.rlmec.ratio.sampler_logprobs`)
        also the sampled ids and those log-probs, so a replayed iteration's ratio is taken against the policy that
        sampled the round (:func:`~lit_critic_rl.data.replay.replayed_logprobs`), in checkpoints too."""
        if self.every == 1:
            return
        if logprobs is not None:
            self.records = replay_records(rollout, logprobs, rewrites)
            return
        self.records = [{"prompt": p, "response": y} for p, y in zip(rollout.prompts, rollout.responses)]
        for record, rewrite in zip(self.records, rewrites or []):
            record.update(ok=rewrite.ok, first_error_step=rewrite.first_error_step, rewrite=rewrite.text)

    def state_dict(self) -> dict:
        return {"records": list(self.records)}

    def load_state_dict(self, state: dict) -> None:
        self.records = list(state.get("records", []))


def rollout_source(datamodule, rounds: SampleRounds) -> RolloutSource:
    """The run's source: a ``RolloutReplay`` datamodule's file, else the module's ``rounds`` (kept in checkpoints)."""
    return ReplayFile(datamodule) if isinstance(datamodule, RolloutReplay) else rounds
