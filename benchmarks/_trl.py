"""What the TRL arms of ``vs_trl`` share: the VADER reward as a TRL reward function and a per-step timer callback.
Imported only inside TRL arms' processes (TRL is a benchmark-only dependency)."""

from __future__ import annotations

import time
from collections.abc import Callable


def vader_reward_func():
    """VADER sentiment as TRL's ``reward_funcs`` entry (``(prompts, completions, **kwargs) -> scores``)."""
    from lit_critic_rl.rewards import VaderSentiment

    vader = VaderSentiment()

    def reward(prompts, completions, **_):
        return vader(prompts, completions)

    return reward


def step_timer(on_step_end: Callable[[float], None] | None = None):
    """A ``TrainerCallback`` whose ``times`` are the wall seconds of each optimizer step; ``on_step_end`` gets each."""
    from transformers import TrainerCallback

    class StepTimes(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []

        def on_step_begin(self, *_, **__) -> None:
            self.start = time.perf_counter()

        def on_step_end(self, *_, **__) -> None:
            self.times.append(time.perf_counter() - self.start)
            if on_step_end is not None:
                on_step_end(self.times[-1])

    return StepTimes()
