"""Data that travels through one iteration: rollout -> token rewards -> advantages -> update. Shapes: B samples,
P prompt tokens (left-padded), T response tokens (right-padded after the first EOS).

Each stage returns a new value with more fields filled (``dataclasses.replace``) rather than mutating its input.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass
class Rollout:
    prompts: list[str]
    responses: list[str]
    """Decoded response texts (special tokens skipped); these are what rewards and critics read."""
    query_ids: Tensor
    """``[B, P]`` prompt ids, left-padded."""
    query_mask: Tensor
    """``[B, P]`` attention mask of the prompts."""
    response_ids: Tensor
    """``[B, T]`` sampled ids; padding after the first EOS."""
    response_mask: Tensor
    """``[B, T]`` float, 1.0 up to and including the first EOS."""
    group: Tensor | None = None
    """``[B]`` long group id: samples answering the same prompt share one (``lit_critic_rl.rl.groups``). Set by
    sampling (each prompt repeated ``samples_per_prompt`` times) and by replay (identical prompts); local to a
    process, since a group never spans ranks."""
    logprobs: Tensor | None = None
    """``[B, T]`` log-probs of the sampled ids under the policy that sampled them (teacher-forced)."""
    ref_logprobs: Tensor | None = None
    """``[B, T]`` log-probs under the reference (adapters disabled)."""
    sampler_logprobs: Tensor | None = None
    """``[B, T]`` log-probs of the sampled ids under the policy that SAMPLED them, kept from sampling time: a fresh
    round's own ``logprobs`` (taken before any update), a replayed round's saved ones. RLMEC's ratio reads them
    (:mod:`lit_critic_rl.rlmec.ratio`); None for an objective that does not."""
    values: Tensor | None = None
    """``[B, T]`` value estimates at rollout time."""
    engine_logprobs: Tensor | None = None
    """``[B, T]`` log-probs of the sampled ids as the rollout engine reported them (``engine: vllm``; 0 on padding):
    logged against ``logprobs``, never trained on."""
    target_ids: Tensor | None = None
    """``[B, T']`` ids of each response's rewrite (RLMEC imitation targets), right-padded; None without rewrites."""
    target_mask: Tensor | None = None
    """``[B, T']`` float, 1.0 on real rewrite tokens."""
    imitation_weights: Tensor | None = None
    """``[B, T']`` per-token imitation weights of the rewrites (1.0 edited, 0.5 kept; 0 on padding)."""

    @property
    def input_ids(self) -> Tensor:
        return torch.cat([self.query_ids, self.response_ids], dim=1)

    @property
    def attention_mask(self) -> Tensor:
        return torch.cat([self.query_mask, self.response_mask.to(self.query_mask.dtype)], dim=1)

    @property
    def response_len(self) -> int:
        return self.response_ids.shape[1]

    def __len__(self) -> int:
        return len(self.prompts)


@dataclass
class TokenRewards:
    """Per-token rewards of a rollout before the KL penalty, kept by source so each can be logged."""

    extrinsic: Tensor
    """``[B, T]`` the extrinsic score (times ``shaping.extrinsic_weight``) on each response's last real token."""
    intrinsic: Tensor
    """``[B, T]`` the critic's token values (times ``shaping.intrinsic_weight``); 0 on rows whose critique failed or
    was not asked for."""
    stats: dict[str, float] = field(default_factory=dict)
    """Counters to log as ``train/<key>`` (critic calls, failures, explicit empties, spans located and dropped)."""

    @property
    def total(self) -> Tensor:
        """``[B, T]`` extrinsic plus intrinsic."""
        return self.extrinsic + self.intrinsic


@dataclass
class Advantages:
    """What the advantage stage hands to the objective's update."""

    kl: Tensor | None
    """``[B, T]`` per-token KL estimate between the rollout policy and the reference (0 on padding); None when the
    run skips the reference pass (nothing reads the KL: ``Objective.needs_reference``), so no KL is logged."""
    advantages: Tensor
    """``[B, T]`` (whitened) advantages, 0 on padding."""
    returns: Tensor | None
    """``[B, T]`` value targets, 0 on padding; None for an objective without a value function."""
    rewards: Tensor
    """``[B, T]`` the KL-penalised token rewards the advantages were computed from."""
