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
