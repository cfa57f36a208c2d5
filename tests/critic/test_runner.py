"""The critic runner: gating, background thread for I/O-bound critics, timing, and a wrong critique count."""

import threading

import pytest
import torch

from lit_critic_rl.critic.base import CriticBackend, Critique, Span
from lit_critic_rl.critic.runner import CriticRunner
from lit_critic_rl.perf import PhaseTimer


class ThreadRecordingCritic(CriticBackend):
    def __init__(self, off_thread: bool, drop_one: bool = False):
        self.runs_off_thread, self.drop_one = off_thread, drop_one
        self.threads, self.asked = [], []
        self.closed = False

    def critique(self, prompts, responses, scores=None):
        self.threads.append(threading.current_thread().name)
        self.asked.append(list(responses))
        out = [Critique(ok=True, spans=[Span(0, 1, "good", 1.0)]) for _ in responses]
        return out[:-1] if self.drop_one else out

    def close(self):
        self.closed = True


@pytest.mark.parametrize("off_thread", [True, False])
def test_runner_asks_gated_samples_in_the_right_thread_and_times_it(off_thread):
    critic = ThreadRecordingCritic(off_thread)
    timer = PhaseTimer()
    runner = CriticRunner(critic, timer, gate_threshold=0.5)
    pending = runner.start(["p1", "p2", "p3"], ["a", "b", "c"], torch.tensor([0.2, 0.9, 0.5]))
    critiques = pending.wait()
    assert critic.asked == [["a", "c"]]  # 0.9 > gate
    assert [c is None for c in critiques] == [False, True, False]
    assert critic.threads[0].startswith("critic") is off_thread
    timings = timer.pop()
    assert "perf/critic_s" in timings and ("perf/critic_wait_s" in timings) is off_thread
    runner.close()
    assert critic.closed


def test_a_critic_returning_the_wrong_count_is_an_error_naming_it():
    runner = CriticRunner(ThreadRecordingCritic(False, drop_one=True), PhaseTimer())
    with pytest.raises(RuntimeError, match="ThreadRecordingCritic.*returned 1 critiques for 2 samples"):
        runner.start(["p", "q"], ["a", "b"], torch.tensor([0.0, 0.0]))
