"""Calling an extrinsic reward safely: one finite score per sample, or an error naming the reward."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

ExtrinsicReward = Callable[[list[str], list[str]], list[float]]
"""Any callable mapping (prompts, responses) to one float per sample."""


class RewardError(ValueError):
    """An extrinsic reward returned something PPO cannot train on."""


def reward_name(fn: ExtrinsicReward) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__qualname__


def score_samples(fn: ExtrinsicReward, prompts: list[str], responses: list[str]) -> Tensor:
    """Call ``fn`` and check its output: one finite number per sample, else :class:`RewardError` naming ``fn``."""
    scores = list(fn(prompts, responses))
    name = reward_name(fn)
    if len(scores) != len(responses):
        raise RewardError(f"model.reward ({name}) returned {len(scores)} scores for {len(responses)} samples")
    bad = [i for i, s in enumerate(scores) if not isinstance(s, (int, float)) or not math.isfinite(float(s))]
    if bad:
        raise RewardError(
            f"model.reward ({name}) returned non-finite or non-numeric scores at samples {bad[:5]}: "
            f"{[scores[i] for i in bad[:5]]}"
        )
    return torch.tensor([float(s) for s in scores], dtype=torch.float32)


class Reward:
    """Base class of the shipped reward components. Not required: any callable works as a reward; subclassing only
    lets a config pass the component as a YAML file (``--model.reward configs/reward/x.yaml``)."""

    def __call__(self, prompts: list[str], responses: list[str]) -> list[float]:
        raise NotImplementedError
