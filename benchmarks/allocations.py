"""Where the memory of one PPO iteration goes, in the PPO peer's shape (:mod:`benchmarks.ppo011`).

Two views of one process running 2 iterations (the second is the measured one):

- **RSS by phase.** A thread reads ``/proc/self/statm`` every 5 ms and files each reading under the phase the module
  is in (its ``perf/*`` timer's phase), so the table says which phase sets the process's peak RSS, and how far RSS
  sits above what tensors hold (glibc's heap keeps freed memory).
- **The operators that keep the most memory** in the second iteration (``torch.profiler``, allocated minus freed
  by each operator itself), and with ``--categories`` the live tensors by category at their peak (parameters,
  optimizer state, activations kept for backward, gradients, temporaries): torch's memory-timeline post-processing
  did not finish in 8 min for one iteration on 2 cores, so it is opt-in.

    python -m benchmarks.allocations                          # library defaults
    python -m benchmarks.allocations --model dtype=float32    # any ModelArgs field=value (repeatable)
    python -m benchmarks.allocations --no-profile             # RSS by phase only (the profiler slows the iteration)
    python -m benchmarks.allocations --categories             # + live tensors by category (slow)
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections import defaultdict

PAGE = os.sysconf("SC_PAGE_SIZE")


class RssSampler:
    """Background thread: the process's resident set size every ``interval`` seconds, filed under ``self.phase``."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval, self.phase = interval, "load"  # until the first phase starts
        self.peaks: dict[str, float] = defaultdict(float)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with open("/proc/self/statm") as statm:
            while not self._stop.is_set():
                statm.seek(0)
                rss = int(statm.read().split()[1]) * PAGE / 2**20
                self.peaks[self.phase] = max(self.peaks[self.phase], rss)
                time.sleep(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()


def label_phases(sampler: RssSampler) -> None:
    """Make every ``PhaseTimer`` phase also set ``sampler.phase`` (benchmark-only instrumentation)."""
    from contextlib import contextmanager

    from lit_critic_rl import perf

    original = perf.PhaseTimer.__call__

    @contextmanager
    def labelled(self, phase: str):
        previous, sampler.phase = sampler.phase, phase
        try:
            with original(self, phase):
                yield
        finally:
            sampler.phase = "between phases" if previous == "load" else previous

    perf.PhaseTimer.__call__ = labelled


def profiler_callback(result: dict, categories: bool = False):
    """A Lightning callback that profiles memory of the second training batch into ``result``."""
    import torch
    from lightning.pytorch.callbacks import Callback

    class ProfileSecond(Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
            if batch_idx == 1:
                self.prof = torch.profiler.profile(
                    activities=[torch.profiler.ProfilerActivity.CPU],
                    profile_memory=True,
                    record_shapes=True,
                    with_stack=True,
                )
                self.prof.__enter__()

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
            if batch_idx == 1:
                self.prof.__exit__(None, None, None)
                result.update(summarise_profile(self.prof, categories))

    return ProfileSecond()


def summarise_profile(prof, categories: bool = False) -> dict:
    """The top allocating operators and, with ``categories``, bytes per category at the peak of live tensor memory
    (torch's memory timeline: its post-processing did not finish in 8 min for one PPO iteration here)."""
    ops = sorted(prof.key_averages(), key=lambda e: e.self_cpu_memory_usage, reverse=True)
    top = [(e.key, e.self_cpu_memory_usage / 2**20, e.count) for e in ops[:15] if e.self_cpu_memory_usage > 0]
    if not categories:
        return {"top_ops": top}
    from torch.profiler._memory_profiler import _CATEGORY_TO_INDEX, MemoryProfileTimeline

    times, sizes = MemoryProfileTimeline(prof._memory_profile())._coalesce_timeline("cpu")
    totals = [sum(s) for s in sizes]
    peak = max(range(len(totals)), key=totals.__getitem__)
    names = ["unknown"] + [c.name.lower() if c is not None else "uncategorised" for c in _CATEGORY_TO_INDEX]
    by_category = {names[i]: sizes[peak][i] / 2**20 for i in range(len(names)) if sizes[peak][i]}
    return {"peak_live_mib": totals[peak] / 2**20, "by_category": by_category, "top_ops": top}


def parse_overrides(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key] = {"true": True, "false": False, "none": None}.get(value.lower(), value)
        if isinstance(out[key], str) and out[key].isdigit():
            out[key] = int(out[key])
    return out


def main() -> None:
    import torch

    from benchmarks._ours import peak_rss_mib
    from benchmarks.ppo011 import run_ours_ppo011

    parser = argparse.ArgumentParser()
    parser.add_argument("--model", action="append", default=[], help="ModelArgs field=value")
    parser.add_argument("--ppo", action="append", default=[], help="PPOArgs field=value")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--categories", action="store_true", help="live tensors by category (slow post-processing)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    profile: dict = {}
    with RssSampler() as sampler:
        label_phases(sampler)
        callbacks = [] if args.no_profile else [profiler_callback(profile, args.categories)]
        run_ours_ppo011(2, parse_overrides(args.model), parse_overrides(args.ppo), callbacks)
    print(f"model {args.model or 'defaults'}, ppo {args.ppo or 'defaults'}: peak RSS {peak_rss_mib():.0f} MiB")
    print("| phase | peak RSS in the phase (MiB) |\n|---|---:|")
    for phase, rss in sampler.peaks.items():
        print(f"| {phase} | {rss:.0f} |")
    if "by_category" in profile:
        print(f"\nlive tensors at their peak in iteration 2: {profile['peak_live_mib']:.0f} MiB")
        print("| category | MiB |\n|---|---:|")
        for name, mib in sorted(profile["by_category"].items(), key=lambda kv: -kv[1]):
            print(f"| {name} | {mib:.0f} |")
    if profile:
        print("\n| operator | MiB kept by the op itself (allocated - freed), summed | calls |\n|---|---:|---:|")
        for key, mib, count in profile["top_ops"]:
            print(f"| `{key}` | {mib:.0f} | {count} |")


if __name__ == "__main__":
    main()
