"""``ServerOverlap`` against a stand-in for a server's request-time histogram (the server is the outside world):
requests run in threads and record their running seconds when they finish, as vLLM does."""

import threading
import time

import pytest

from lit_critic_rl.testing.overlap import RUNNING_SECONDS, ServerOverlap


class Histogram:
    """A server's ``_sum``/``_count`` pair, recorded ``lag`` seconds after each request ends."""

    def __init__(self, lag: float = 0.0) -> None:
        self.values = {RUNNING_SECONDS + "_sum": 5.0, RUNNING_SECONDS + "_count": 3.0}  # earlier requests
        self.lag, self.lock = lag, threading.Lock()

    def read(self, name: str) -> float:
        with self.lock:
            return self.values[name]

    def request(self, hold: float) -> None:
        start = time.perf_counter()
        time.sleep(hold)
        ran = time.perf_counter() - start

        def record() -> None:
            time.sleep(self.lag)
            with self.lock:
                self.values[RUNNING_SECONDS + "_sum"] += ran
                self.values[RUNNING_SECONDS + "_count"] += 1

        threading.Thread(target=record).start()


def run(histogram: Histogram, holds: list[float], together: bool) -> None:
    if together:
        workers = [threading.Thread(target=histogram.request, args=(h,)) for h in holds]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    else:
        for h in holds:
            histogram.request(h)


def test_four_requests_at_once_overlap_about_four_times():
    server = Histogram()
    with ServerOverlap(server.read, expected=4) as o:
        run(server, [0.3] * 4, together=True)
    assert o.finished == 4
    assert o.running_seconds == pytest.approx(1.2, abs=0.1)  # 4 x 0.3 s, the earlier 5 s not counted
    assert 3.0 < o.overlap <= 4.05


def test_requests_one_after_another_never_overlap():
    server = Histogram()
    with ServerOverlap(server.read, expected=3) as o:
        run(server, [0.1, 0.2, 0.1], together=False)
    assert o.finished == 3 and o.overlap <= 1.0


def test_exit_waits_for_requests_the_server_records_late():
    server = Histogram(lag=0.3)
    with ServerOverlap(server.read, expected=2) as o:
        run(server, [0.2, 0.2], together=True)
    assert o.finished == 2 and o.overlap > 1.5  # read at once, the count would be 0


def test_a_server_that_never_records_gives_up_after_settle():
    server = Histogram()
    start = time.perf_counter()
    with ServerOverlap(server.read, expected=1, settle=0.2) as o:
        time.sleep(0.05)
    assert o.finished == 0 and o.overlap == 0.0 and time.perf_counter() - start < 1.0
