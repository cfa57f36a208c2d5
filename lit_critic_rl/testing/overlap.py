"""How many requests a server ran at once during a block of code, read from its own request-time histogram rather
than from a sampled gauge.

A gauge such as ``vllm:num_requests_running`` is only as fresh as the engine's last stats update and the sampler's
last read: on 2 busy cores a whole batch can start and finish between two reads, and the peak reads 0. The histogram
``vllm:request_inference_time_seconds`` cannot miss a request: each finished request adds the seconds it spent
running to ``_sum`` and one to ``_count``. Its summed running time divided by the block's wall time is the mean
number of requests running at once, so a value above 1 proves the requests overlapped on the server and a server
that runs them one by one can never reach it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

RUNNING_SECONDS = "vllm:request_inference_time_seconds"


class ServerOverlap:
    """``with ServerOverlap(read, expected=16) as o: ...`` reads ``<histogram>_sum`` and ``_count`` through
    ``read(name)`` (e.g. ``VLLMClient(url).metric``) before and after the block. On exit it waits up to ``settle``
    seconds for ``expected`` requests to be counted (a server records a request just after answering it), then sets
    ``finished`` (requests counted during the block), ``running_seconds`` (their summed running time), ``wall``
    (the block's seconds) and ``overlap`` (``running_seconds / wall``)."""

    def __init__(
        self,
        read: Callable[[str], float],
        expected: int,
        histogram: str = RUNNING_SECONDS,
        settle: float = 10.0,
        poll: float = 0.05,
    ) -> None:
        self.read, self.expected, self.histogram = read, expected, histogram
        self.settle, self.poll = settle, poll
        self.finished, self.running_seconds, self.wall, self.overlap = 0, 0.0, 0.0, 0.0

    def _totals(self) -> tuple[float, float]:
        return self.read(self.histogram + "_sum"), self.read(self.histogram + "_count")

    def __enter__(self) -> ServerOverlap:
        self._sum0, self._count0 = self._totals()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self._start
        deadline = time.monotonic() + self.settle
        total, count = self._totals()
        while count - self._count0 < self.expected and time.monotonic() < deadline:
            time.sleep(self.poll)
            total, count = self._totals()
        self.finished = int(count - self._count0)
        self.running_seconds = total - self._sum0
        self.overlap = self.running_seconds / self.wall if self.wall > 0 else 0.0
