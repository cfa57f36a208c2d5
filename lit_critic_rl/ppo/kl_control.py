"""KL coefficient controllers.

The adaptive controller is Ziegler et al. (2019): ``e = clip(KL / target - 1, -0.2, 0.2)`` and
``beta <- beta * (1 + e * n / horizon)`` after a batch of ``n`` samples whose mean sequence KL is ``KL``.
"""

from __future__ import annotations


class FixedKLController:
    """Keeps beta constant."""

    def __init__(self, kl_coef: float) -> None:
        self.value = float(kl_coef)

    @property
    def reads_kl(self) -> bool:
        """The controller needs the KL to the reference: its beta is > 0 (a fixed beta of 0 weighs nothing and
        tracks nothing)."""
        return self.value > 0

    def update(self, current_kl: float, n_samples: int) -> None:
        pass

    def state_dict(self) -> dict:
        return {"value": self.value}

    def load_state_dict(self, state: dict) -> None:
        self.value = float(state["value"])


class AdaptiveKLController(FixedKLController):
    """Moves beta so that the sequence KL tracks ``target`` (proportional control, error clipped to +-20%)."""

    def __init__(self, kl_coef: float, target: float, horizon: int) -> None:
        if target <= 0 or horizon <= 0:
            raise ValueError(f"ppo.target_kl and ppo.kl_horizon must be > 0, got {target} and {horizon}")
        super().__init__(kl_coef)
        self.target, self.horizon = float(target), int(horizon)

    @property
    def reads_kl(self) -> bool:
        """Always: its update tracks the KL (from a beta of 0 the multiplicative update keeps it at 0, but an
        adaptive controller says the user wants the KL tracked)."""
        return True

    def update(self, current_kl: float, n_samples: int) -> None:
        error = min(max(current_kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + error * n_samples / self.horizon
