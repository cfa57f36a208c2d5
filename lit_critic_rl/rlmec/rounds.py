"""Iterated data rounds (``model.ppo.regenerate_every: N``): sample fresh solutions every N iterations, replay the
last round's samples, with their rewrites, in the iterations between.

The round is kept as plain records (prompt, response, rewrite fields), the same form ``RolloutReplay`` reads from a
file, so a replayed iteration builds its rollout with :func:`~lit_critic_rl.data.replay.replayed_rollout`, and the
records travel in checkpoints: a resumed run replays exactly what an uninterrupted one would.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from lit_critic_rl.data.replay import is_replay, replay_records, replayed_rollout
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


class SampleRounds:
    def __init__(self, every: int = 1) -> None:
        self.every = every
        self.records: list[dict] = []

    def due(self, iteration: int) -> bool:
        """Whether iteration ``iteration`` (0-based) samples a new round."""
        return self.every == 1 or not self.records or iteration % self.every == 0

    def take(self, batch: list[str] | list[dict], iteration: int, lm, tokenizer, engine, workdir) -> Round:
        """This iteration's samples: the batch's saved records (a replay file), the kept round's (between two
        sampled rounds), or a fresh sample of the batch's prompts from ``lm`` through the rollout ``engine``
        (:mod:`lit_critic_rl.rollout_engines`; ``workdir`` is where it may save the adapter it pushes)."""
        if is_replay(batch) or not self.due(iteration):
            records = batch if is_replay(batch) else self.records
            rollout, rewrites = replayed_rollout(records, tokenizer, lm.value_head.weight.device)
            return Round(rollout, rewrites, records, from_file=is_replay(batch))
        return Round(engine.sample_groups(lm, tokenizer, batch, workdir))

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
