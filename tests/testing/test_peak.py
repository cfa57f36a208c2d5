import threading
import time

from lit_critic_rl.testing.peak import PeakWatcher


def test_peak_is_the_largest_value_read_while_the_block_runs():
    level = [0]
    lock = threading.Lock()

    def work(hold: float) -> None:
        with lock:
            level[0] += 1
        time.sleep(hold)
        with lock:
            level[0] -= 1

    with PeakWatcher(lambda: level[0], interval=0.01) as watch:
        workers = [threading.Thread(target=work, args=(0.3,)) for _ in range(3)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    assert watch.peak == 3 and watch.reads > 3 and level[0] == 0


def test_failed_reads_are_skipped():
    values = iter([1.0, RuntimeError, 4.0])

    def read() -> float:
        value = next(values, 2.0)
        if value is RuntimeError:
            raise RuntimeError("the server is busy")
        return value

    with PeakWatcher(read, interval=0.01) as watch:
        time.sleep(0.2)
    assert watch.peak == 4.0


def test_a_gauge_that_never_answers_has_no_peak():
    def read() -> float:
        raise ConnectionError

    with PeakWatcher(read, interval=0.01) as watch:
        time.sleep(0.05)
    assert watch.peak is None and watch.reads == 0
