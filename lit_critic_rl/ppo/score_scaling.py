"""Reward scaling by a running standard deviation (``model.ppo.score_scaling``), as TRL's ``use_score_scaling``,
which the dense-reward paper's summarization runs used.

The running moments cover every real response token's reward (extrinsic plus intrinsic, before the KL penalty) seen
so far; each batch's token rewards are divided by the running standard deviation after the batch is added. Batches
are merged with the parallel-variance formula of Chan et al. (1979): for a running (n, mean, M2) and a batch
(m, mean_b, M2_b) with ``delta = mean_b - mean``, the merged values are ``n + m``, ``mean + delta * m / (n + m)`` and
``M2 + M2_b + delta^2 * n * m / (n + m)``; the standard deviation is ``sqrt(M2 / (n + m - 1))``. Statistics are
reduced over processes (``reduce``), so every rank scales by the same number.
"""

from __future__ import annotations

import math

from torch import Tensor

from lit_critic_rl.rl.masked import Reduce, no_reduce


class RunningMoments:
    def __init__(self) -> None:
        self.count, self.mean, self.m2 = 0.0, 0.0, 0.0

    @property
    def std(self) -> float:
        """Bessel-corrected standard deviation of everything seen; 1.0 until two values have been seen."""
        if self.count < 2:
            return 1.0
        return math.sqrt(self.m2 / (self.count - 1))

    def update(self, x: Tensor, mask: Tensor, reduce: Reduce = no_reduce) -> None:
        """Add the entries of ``x`` where ``mask`` is 1 (over every process)."""
        x, mask = x.double(), mask.double()
        m = float(reduce(mask.sum()))
        if m == 0:
            return
        batch_mean = float(reduce((x * mask).sum())) / m
        batch_m2 = float(reduce((((x - batch_mean) ** 2) * mask).sum()))
        total = self.count + m
        delta = batch_mean - self.mean
        self.m2 += batch_m2 + delta * delta * self.count * m / total
        self.mean += delta * m / total
        self.count = total

    def state_dict(self) -> dict[str, float]:
        return {"count": self.count, "mean": self.mean, "m2": self.m2}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.count, self.mean, self.m2 = float(state["count"]), float(state["mean"]), float(state["m2"])


def scale_by_running_std(rewards: Tensor, mask: Tensor, moments: RunningMoments, reduce: Reduce = no_reduce) -> Tensor:
    """Add ``rewards``' real tokens to ``moments``, then return ``rewards / std`` (``std`` floored at 1e-8)."""
    moments.update(rewards, mask, reduce)
    return rewards / max(moments.std, 1e-8)


__all__ = ["RunningMoments", "scale_by_running_std"]
