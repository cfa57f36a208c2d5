"""Data that travels between the rollout, the rewards and the PPO update. Shapes: B samples, P prompt tokens
(left-padded), T response tokens (right-padded after the first EOS)."""

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
    logprobs: Tensor | None = None
    """``[B, T]`` log-probs of the sampled ids under the policy that sampled them (teacher-forced)."""
    ref_logprobs: Tensor | None = None
    """``[B, T]`` log-probs under the reference (adapters disabled)."""
    values: Tensor | None = None
    """``[B, T]`` value estimates at rollout time."""

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
    """The reward currency: everything that rewards samples produces per-token rewards plus a validity mask."""

    rewards: Tensor
    """``[B, T]`` float rewards on response tokens (0 on padding)."""
    valid: Tensor
    """``[B]`` bool: False where the source could not judge the sample (its rewards are all 0 and must be ignored)."""
    stats: dict[str, float] = field(default_factory=dict)
    """Counters to log (e.g. critic failures, dropped spans)."""
