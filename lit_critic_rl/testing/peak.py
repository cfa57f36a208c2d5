"""The largest value a gauge takes while a block of code runs, sampled in a thread: for instance how many requests
a vLLM server runs at once (``VLLMClient.metric("vllm:num_requests_running")``) while a critic sends a batch. A
sampled peak can miss a short spike, never invent one, so ``peak > 1`` is evidence that requests overlapped."""

from __future__ import annotations

import threading
from collections.abc import Callable


class PeakWatcher:
    """``with PeakWatcher(read) as watch: ...`` calls ``read()`` every ``interval`` seconds until the block ends
    (and once more at the start); ``watch.peak`` is the largest value read (None if every read failed), ``reads`` the
    number of reads that succeeded. A read that raises is skipped: the gauge's server may answer slowly under load."""

    def __init__(self, read: Callable[[], float], interval: float = 0.1) -> None:
        self.read, self.interval = read, interval
        self.peak: float | None = None
        self.reads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-watcher", daemon=True)

    def _sample(self) -> None:
        try:
            value = float(self.read())
        except Exception:  # a failed read is no value, not an error of the code being watched
            return
        self.reads += 1
        self.peak = value if self.peak is None else max(self.peak, value)

    def _run(self) -> None:
        self._sample()
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> PeakWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
