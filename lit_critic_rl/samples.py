"""JSON-ready records of an iteration's samples, for the samples file (``SampleLog``) and the run report."""

from __future__ import annotations

from torch import Tensor

from lit_critic_rl.types import Rollout, TokenRewards


def sample_records(
    iteration: int,
    rollout: Rollout,
    scores: Tensor,
    rewards: TokenRewards,
    critiques: list,
    ranges: list[list[tuple[int, int]]],
) -> list[dict]:
    """One JSON-ready record per sample for the samples file: texts, rewards per token with their character ranges,
    and what the critic said (None when no critic was asked)."""
    records = []
    mask, total = rollout.response_mask.cpu(), rewards.total
    for b in range(len(rollout)):
        n = int(mask[b].sum())
        records.append(
            {
                "iteration": iteration,
                "prompt": rollout.prompts[b],
                "response": rollout.responses[b],
                "reward_extrinsic": float(scores[b]),
                "reward_total": float(total[b].sum()),
                "token_rewards": [round(float(v), 6) for v in total[b, :n]],
                "token_ranges": [list(r) for r in ranges[b]],
                "critique": critique_record(critiques[b]),
            }
        )
        if rollout.group is not None:
            records[-1]["group"] = int(rollout.group[b])
    return records


def critique_record(critique) -> dict | None:
    if critique is None:
        return None
    return {
        "outcome": critique.outcome,
        "raw": critique.raw,
        "error": critique.error,
        "spans": [{"start": s.start, "end": s.end, "label": s.label, "polarity": s.polarity} for s in critique.spans],
        "dropped": [{"quote": d.quote, "label": d.label, "reason": d.reason} for d in critique.dropped],
    }
