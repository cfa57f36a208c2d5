"""Cheap wall-clock phase timers, logged as ``perf/<phase>_s`` every step."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class PhaseTimer:
    def __init__(self, after: Callable[[], object] | None = None) -> None:
        """``after``: called at the end of every outermost phase, inside its time (e.g. ``memory.trim_malloc``)."""
        self.seconds: dict[str, float] = {}
        self.after, self._depth = after, 0

    @contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        start = time.perf_counter()
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self.after is not None and self._depth == 0:
                self.after()
            self.add(phase, time.perf_counter() - start)

    def add(self, phase: str, seconds: float) -> None:
        """Add time measured elsewhere (e.g. in a background thread)."""
        self.seconds[phase] = self.seconds.get(phase, 0.0) + seconds

    def pop(self) -> dict[str, float]:
        out = {f"perf/{k}_s": v for k, v in self.seconds.items()}
        self.seconds = {}
        return out
