"""Each spine optimisation switched on or off on its own, against a base setting: seconds per iteration and peak RSS.

One PPO iteration = 8 prompts, 16 new tokens each (min = max), VADER reward, shared-trunk value, 2 PPO epochs over
one 8-sample minibatch (the sample-efficiency benchmark's shape). Each variant runs in its own process for
``--steps`` iterations (the first is warm-up; the median of the rest counts), variants interleaved over repeats.

- ``base``: fused first forward, no activation checkpointing, glibc mmap threshold from ``--malloc-threshold``
  (default: none, i.e. the library defaults);
- ``no_fused_first_forward``: a separate teacher-forced policy pass before the PPO epochs;
- ``malloc_threshold_off`` / ``malloc_threshold_64k``: glibc's own dynamic threshold / fixed at 64 KiB;
- ``activation_checkpointing``: recompute decoder activations in the backward;
- ``critic_overlapped`` / ``critic_serial``: an OpenAI-compatible critic on the loopback server (200 ms per request,
  concurrency 1) running in a background thread during the scoring passes, or before them.

    python -m benchmarks.optimisations            # 2 repeats x 4 iterations (7 min on 2 AVX-512 cores)
    python -m benchmarks.optimisations --quick    # 1 repeat x 2 iterations, base and no_fused_first_forward
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

VARIANTS = {
    "base": {},
    "no_fused_first_forward": {"ppo": {"fuse_first_forward": False}},
    "malloc_threshold_off": {"model": {"malloc_mmap_threshold": None}},
    "malloc_threshold_64k": {"model": {"malloc_mmap_threshold": 65536}},
    "activation_checkpointing": {"model": {"activation_checkpointing": True}},
    "critic_overlapped": {"critic": True},
    "critic_serial": {"critic": False},
}


def child(variant: str, steps: int, malloc_threshold: int | None) -> None:
    from benchmarks._ours import peak_rss_mib, run_ours

    spec = VARIANTS[variant]
    ppo = {"epochs": 2, **spec.get("ppo", {})}
    model = {"malloc_mmap_threshold": malloc_threshold, **spec.get("model", {})}
    if "critic" not in spec:
        times, phases = run_ours(prompts=8, samples_per_prompt=1, new_tokens=16, steps=steps, model=model, ppo=ppo)
    else:
        from lit_critic_rl.critic.openai_api import OpenAICritic
        from lit_critic_rl.testing.chat_server import ChatServer

        with ChatServer(latency=0.2) as server:
            critic = OpenAICritic("loopback", server.base_url, api_key_env=None, concurrency=1, max_retries=0)
            critic.runs_off_thread = spec["critic"]
            times, phases = run_ours(
                prompts=8, samples_per_prompt=1, new_tokens=16, steps=steps, model=model, ppo=ppo, critic=critic
            )
    print(json.dumps({"step_s": times, "phases": phases, "peak_rss_mib": peak_rss_mib()}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--malloc-threshold", type=int, default=None, help="model.malloc_mmap_threshold of 'base'")
    parser.add_argument("--child", choices=list(VARIANTS))
    args = parser.parse_args()
    if args.child:
        child(args.child, args.steps, args.malloc_threshold)
        return
    if args.quick:
        args.repeats, args.steps, args.variants = 1, 2, ["base", "no_fused_first_forward"]
    results: dict[str, dict[str, list]] = {v: {"step": [], "rss": [], "phases": []} for v in args.variants}
    for repeat in range(args.repeats):
        for variant in args.variants:  # interleaved
            cmd = [sys.executable, "-m", "benchmarks.optimisations", "--child", variant, "--steps", str(args.steps)]
            if args.malloc_threshold is not None:
                cmd += ["--malloc-threshold", str(args.malloc_threshold)]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f"{variant} failed:\n{out.stderr[-3000:]}")
            row = json.loads(out.stdout.strip().splitlines()[-1])
            step = statistics.median(row["step_s"][1:] or row["step_s"])
            results[variant]["step"].append(step)
            results[variant]["rss"].append(row["peak_rss_mib"])
            results[variant]["phases"].append(row["phases"])
            print(
                f"repeat {repeat} {variant}: {step:.2f} s/iteration, peak RSS {row['peak_rss_mib']:.0f} MiB", flush=True
            )
    print(f"\n{args.repeats} interleaved repeats, median of {args.steps - 1} post-warm-up iterations per process\n")
    print("| variant | s / iteration | peak RSS (MiB) | phases of each process's last iteration, median (s) |")
    print("|---|---:|---:|---|")
    for variant, r in results.items():
        keys = sorted(set().union(*r["phases"]))
        phases = {k: statistics.median(p.get(k, 0.0) for p in r["phases"]) for k in keys}
        text = ", ".join(f"{k.removeprefix('perf/').removesuffix('_s')} {v:.2f}" for k, v in phases.items())
        print(f"| {variant} | {statistics.median(r['step']):.2f} | {statistics.median(r['rss']):.0f} | {text} |")


if __name__ == "__main__":
    main()
