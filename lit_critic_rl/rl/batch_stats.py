"""Logged statistics of a batch, over every process of the run (``reduce``; the identity in one process).

Each function sums what it needs on its rank and reduces the sums together (one collective), so a metric logged by
rank 0 describes the global batch, not rank 0's slice of it.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lit_critic_rl.distributed import global_max, global_means
from lit_critic_rl.rl.groups import group_sizes, group_std
from lit_critic_rl.rl.masked import Reduce, no_reduce
from lit_critic_rl.types import Advantages, Rollout, TokenRewards


def sample_means(per_sample: dict[str, Tensor], reduce: Reduce = no_reduce) -> dict[str, float]:
    """Mean over every rank's samples of each ``[B]`` tensor: ``reduce(sum) / reduce(B)``."""
    if not per_sample:
        return {}
    keys = list(per_sample)
    n = len(per_sample[keys[0]])
    sums = torch.stack([per_sample[k].detach().double().cpu().sum() for k in keys] + [torch.tensor(float(n))])
    total = reduce(sums.double())
    count = float(total[-1])
    return {k: float(total[i]) / max(count, 1.0) for i, k in enumerate(keys)}


def masked_moments(x: Tensor, mask: Tensor, reduce: Reduce = no_reduce) -> tuple[float, float]:
    """``(mean, std)`` of the masked entries of ``x`` over every rank (population std, from the reduced count, sum
    and sum of squares, in float64)."""
    x, mask = x.detach().double().cpu(), mask.detach().double().cpu()
    total = reduce(torch.stack([mask.sum(), (x * mask).sum(), (x * x * mask).sum()]))
    n, s, ss = (float(v) for v in total)
    if n == 0:
        return 0.0, 0.0
    mean = s / n
    return mean, max(ss / n - mean * mean, 0.0) ** 0.5


def advantage_stats(adv: Advantages, mask: Tensor, reduce: Reduce = no_reduce) -> dict[str, float]:
    """Global mean and std of the advantages the update trains on and, for an objective with a value function, of
    its value targets (returns)."""
    stats = {}
    for name, x in (("advantages", adv.advantages), ("returns", adv.returns)):
        if x is None:
            continue
        mean, std = masked_moments(x, mask, reduce)
        stats[f"train/{name}_mean"], stats[f"train/{name}_std"] = mean, std
    return stats


def group_stats(scores: Tensor, group: Tensor | None, reduce: Reduce = no_reduce) -> dict[str, float]:
    """``train/groups``: the number of groups over every rank; ``train/flat_groups``: the share of the groups of more
    than one sample whose extrinsic scores are all equal, which a group baseline gives no signal (logged only when
    some group has more than one sample)."""
    if group is None:
        return {}
    group, scores = group.cpu(), scores.detach().double().cpu()
    ids = group.tolist()
    first = torch.tensor([ids.index(g) == i for i, g in enumerate(ids)])  # one row per group
    several = first & (group_sizes(group) > 1)
    flat = several & (group_std(scores, group) == 0)
    total = reduce(torch.tensor([float(first.sum()), float(several.sum()), float(flat.sum())], dtype=torch.float64))
    n, multi, n_flat = (float(v) for v in total)
    return {"train/groups": n} | ({"train/flat_groups": n_flat / multi} if multi else {})


def engine_gap_stats(rollout: Rollout, reduce: Reduce = no_reduce) -> dict[str, float]:
    """``train/engine_logprob_gap_mean`` and ``_max``: the mean and the largest ``|engine - trainer|`` log-prob of
    the sampled response tokens over every rank (the engine's ``Rollout.engine_logprobs`` against the teacher-forced
    ``logprobs`` the update uses); nothing when the rollout has no engine log-probs."""
    if rollout.engine_logprobs is None or rollout.logprobs is None:
        return {}
    mask = rollout.response_mask.detach().double().cpu()
    gap = (rollout.engine_logprobs.detach().double().cpu() - rollout.logprobs.detach().double().cpu()).abs() * mask
    total = reduce(torch.stack([mask.sum(), gap.sum()]))
    mean = float(total[1] / total[0].clamp_min(1.0))
    return {"train/engine_logprob_gap_mean": mean, "train/engine_logprob_gap_max": global_max(float(gap.max()))}


def iteration_metrics(
    rollout: Rollout,
    scores: Tensor,
    rewards: TokenRewards,
    adv: Advantages,
    averaged: dict[str, float],
    reduce: Reduce = no_reduce,
    several_ranks: bool = False,
) -> dict[str, float]:
    """The logged metrics of one iteration: sample means over every rank's samples (rewards, response length), the
    advantage, return and group statistics of the global batch, and ``averaged`` (per-rank statistics of the
    update, timers) averaged over the ranks."""
    per_sample = {
        "train/reward_extrinsic": scores.float(),
        "train/reward_intrinsic": rewards.intrinsic.sum(1),
        "train/reward_total": rewards.total.sum(1),
        "train/response_len": rollout.response_mask.sum(1).float().cpu(),
    }
    metrics = sample_means(per_sample, reduce)
    metrics.update(advantage_stats(adv, rollout.response_mask, reduce))
    metrics.update(group_stats(scores, rollout.group, reduce))
    metrics.update(engine_gap_stats(rollout, reduce))
    metrics.update(global_means(averaged, reduce if several_ranks else None))
    return metrics
