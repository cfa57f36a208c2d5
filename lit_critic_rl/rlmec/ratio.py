"""RLMEC's importance ratio, taken against the policy that sampled the tokens, at one temperature.

In the paper's one offline round ``π_ref`` is the model that sampled the data, so ``ρ_t = π_θ(y_t) / π_ref(y_t)``
is an importance weight that starts at 1 and measures how far the update has moved from the sampler. Any online or
iterated use must keep that meaning: ρ is taken against the log-probs of the policy that sampled the round being
trained on (saved with the round, or with the replay file), never against the frozen initial model, whose ratio
drifts with every update (and, for r < 0, makes ``min(ρ r, clip(ρ) r)`` grow without bound; see
:func:`~lit_critic_rl.rlmec.losses.rlmec_policy_loss`).

One temperature serves ρ, L_RL and L_IR. The reference code takes every log-prob from the raw logits (T = 1), which
is the default here (``"raw"``); ``"sampling"`` divides the logits by the sampling temperature instead, a departure
that must be named.

- :func:`logprob_temperature`: the temperature a named choice stands for;
- :func:`importance_ratio`: ``ρ = exp(logp_θ - logp_sampler)``, 1 on padding;
- :func:`sampler_logprobs`: the log-probs to save with a freshly sampled round (the policy as it is now, which is the
  policy that sampled it), or, with ``reference=True``, under the adapters-off base (for a file the base sampled).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from lit_critic_rl.types import Rollout

LogprobTemperature = Literal["raw", "sampling"]
"""Where log-probs are read: ``raw`` logits (T = 1, the paper) or logits divided by the ``sampling`` temperature."""


def logprob_temperature(choice: LogprobTemperature, sampling_temperature: float) -> float:
    """The temperature of the log-probs of ρ, L_RL and L_IR: 1.0 for ``"raw"``, ``sampling_temperature`` for
    ``"sampling"``."""
    if choice == "raw":
        return 1.0
    if choice == "sampling":
        return float(sampling_temperature)
    raise ValueError(f"logprob_temperature must be 'raw' or 'sampling', got {choice!r}")


def importance_ratio(logp: Tensor, sampler_logp: Tensor, mask: Tensor | None = None) -> Tensor:
    """``ρ_t = exp(logp_t - sampler_logp_t)``: ``[B, T], [B, T] -> [B, T]``, 1.0 where ``mask`` is 0.

    Args:
        logp: Log-probs of the sampled tokens under the policy being trained.
        sampler_logp: Log-probs of the same tokens under the policy that sampled them, at the same temperature.
        mask: 1 on real response tokens, 0 on padding (default: all real).
    """
    if logp.shape != sampler_logp.shape:
        raise ValueError(f"importance_ratio: log-probs of shape {tuple(logp.shape)} vs {tuple(sampler_logp.shape)}")
    ratio = torch.exp(logp - sampler_logp)
    return ratio if mask is None else torch.where(mask.bool(), ratio, torch.ones_like(ratio))


def sampler_logprobs(
    lm, rollout: Rollout, temperature: float = 1.0, chunk_size: int = 8, reference: bool = False
) -> Tensor:
    """``[B, T]`` log-probs of ``rollout``'s response tokens, 0 on padding, under the policy adapter as it is now
    (call it on a fresh round, before any update: that is the sampler), or under the adapters-off base with
    ``reference=True``. ``lm`` is a :class:`~lit_critic_rl.models.policy.PolicyValueModel`; no grad."""
    from lit_critic_rl.ppo.rollout import teacher_force

    filled = teacher_force(
        lm, rollout, temperature, chunk_size, policy=not reference, values=False, reference=reference
    )
    return (filled.ref_logprobs if reference else filled.logprobs).clone()


def with_sampler_logprobs(rollout: Rollout, records: list[dict] | None, source: str = "replayed records") -> Rollout:
    """``rollout`` with ``sampler_logprobs`` filled: for a fresh round (``records`` None) its own ``logprobs``, taken
    by the teacher-forced pass (or the fused first forward) before any update, so by the policy that sampled it;
    for a replayed round the log-probs saved with its ``records`` (a file, or a kept round; an error naming
    ``source`` when they lack them)."""
    from dataclasses import replace

    from lit_critic_rl.data.replay import replayed_logprobs

    if records is None:
        if rollout.logprobs is None:
            raise ValueError("with_sampler_logprobs: a fresh round needs its teacher-forced logprobs first")
        return replace(rollout, sampler_logprobs=rollout.logprobs.detach().clone())
    return replace(rollout, sampler_logprobs=replayed_logprobs(records, rollout, source))


def fill_replay_logprobs(datamodule, lm, tokenizer, temperature: float) -> int:
    """Before an offline fit: give a ``RolloutReplay`` file's records their sampler log-probs. With
    ``missing_logprobs: base`` the records that lack them get them once under the adapters-off base at
    ``temperature`` (the paper's offline case: the file was sampled by the initial policy, e.g.
    ``rlmec.teacher_data`` without ``--adapter``); with ``error`` a record without them is one error naming the
    file and the fields. Returns how many were computed."""
    from lit_critic_rl.data.replay import logprobs_under

    compute = logprobs_under(lm, tokenizer, temperature, reference=True)
    return datamodule.fill_logprobs(compute if datamodule.missing_logprobs == "base" else None)
