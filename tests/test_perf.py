from lit_critic_rl.perf import PhaseTimer


def test_after_runs_once_per_outermost_phase_and_is_timed():
    calls: list[str] = []
    timer = PhaseTimer(after=lambda: calls.append("after"))
    with timer("update"):
        with timer("update_backward"):
            calls.append("backward")
        with timer("update_optimizer"):
            calls.append("optimizer")
    with timer("generate"):
        calls.append("generate")
    assert calls == ["backward", "optimizer", "after", "generate", "after"]
    assert set(timer.pop()) == {"perf/update_s", "perf/update_backward_s", "perf/update_optimizer_s", "perf/generate_s"}


def test_after_runs_when_the_phase_raises():
    calls: list[str] = []
    timer = PhaseTimer(after=lambda: calls.append("after"))
    try:
        with timer("generate"):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert calls == ["after"]
    with timer("reward"):  # the depth went back to 0
        pass
    assert calls == ["after", "after"]
