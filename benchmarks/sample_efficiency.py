"""Sample efficiency: sparse PPO vs dense PPO (critic spans) on the quickstart sentiment task, same seeds and samples.

Each (arm, seed) is one ``fit`` of ``configs/quickstart.yaml`` in its own process; arms differ only in
``model.critic``. Output (in ``--out``): ``curves.png`` (mean train reward vs samples seen, band = min..max over
seeds), ``summary.md`` (final rewards and the samples each arm needs to reach the sparse arm's final reward).

    python -m benchmarks.sample_efficiency --quick          # 1 seed, 10 iterations of 8 prompts (~2 min)
    python -m benchmarks.sample_efficiency --seeds 0 1 2    # full: 60 iterations x 16 prompts (~8 min a run)
    python -m benchmarks.sample_efficiency --arms sparse lexicon selfcritique --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ARMS = {
    "sparse": [],
    "lexicon": ["--model.critic", str(REPO / "configs/critic/lexicon.yaml")],
    "selfcritique": ["--model.critic", str(REPO / "configs/critic/selfcritique.yaml")],
}
QUICK = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "10", "--trainer.limit_val_batches", "1",
         "--data.init_args.batch_size", "8", "--model.ppo.minibatch_size", "8"]
SMOOTH = 5  # iterations in the moving average of the per-iteration mean reward


def run_arm(arm: str, seed: int, out: Path, quick: bool) -> Path:
    root = out / f"{arm}-seed{seed}"
    config = root / "config.yaml"
    root.mkdir(parents=True, exist_ok=True)
    config.write_text((REPO / "configs/quickstart.yaml").read_text().replace("runs/quickstart", str(root)))
    args = [sys.executable, "-m", "lit_critic_rl.cli", "fit", "--config", str(config), "--seed_everything", str(seed),
            *ARMS[arm], *(QUICK if quick else [])]
    with (root / "stdout.log").open("w") as log:
        subprocess.run(args, check=True, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    return next(root.glob("csv/version_*/metrics.csv"))


def curve(metrics: Path) -> tuple[list[float], list[float]]:
    rows = [r for r in csv.DictReader(metrics.open()) if r.get("train/reward_extrinsic")]
    samples = [float(r["train/samples_seen"]) for r in rows]
    rewards = [float(r["train/reward_extrinsic"]) for r in rows]
    smooth = [statistics.mean(rewards[max(0, i - SMOOTH + 1) : i + 1]) for i in range(len(rewards))]
    return samples, smooth


def samples_to_reach(samples: list[float], rewards: list[float], level: float) -> float | None:
    return next((s for s, r in zip(samples, rewards) if r >= level), None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--arms", nargs="+", default=["sparse", "lexicon"], choices=sorted(ARMS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "sample_efficiency")
    args = parser.parse_args()
    curves: dict[str, list[tuple[list[float], list[float]]]] = {}
    for seed in args.seeds:  # interleaved: seed-major, so a partial run still compares arms on equal seeds
        for arm in args.arms:
            print(f"running {arm} seed {seed}", flush=True)
            curves.setdefault(arm, []).append(curve(run_arm(arm, seed, args.out, args.quick)))
    mean = {}
    for arm, runs in curves.items():
        n = min(len(s) for s, _ in runs)
        mean[arm] = (runs[0][0][:n], [statistics.mean(r[i] for _, r in runs) for i in range(n)],
                     [min(r[i] for _, r in runs) for i in range(n)], [max(r[i] for _, r in runs) for i in range(n)])
    target = mean["sparse"][1][-1] if "sparse" in mean else None
    lines = [f"seeds {args.seeds}, smoothing {SMOOTH} iterations, quick={args.quick}", "",
             "| arm | final reward (mean over seeds) | samples to reach sparse final | ratio vs sparse |",
             "|---|---:|---:|---:|"]
    sparse_need = samples_to_reach(mean["sparse"][0], mean["sparse"][1], target) if target is not None else None
    for arm, (samples, avg, _, _) in mean.items():
        need = samples_to_reach(samples, avg, target) if target is not None else None
        ratio = f"{need / sparse_need:.2f}" if need and sparse_need else "n/a"
        lines.append(f"| {arm} | {avg[-1]:+.3f} | {need if need is not None else 'not reached'} | {ratio} |")
    (args.out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed (pip install -e .[bench]): no plot")
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for arm, (samples, avg, low, high) in mean.items():
        ax.plot(samples, avg, label=arm)
        ax.fill_between(samples, low, high, alpha=0.2)
    ax.set_xlabel("samples seen")
    ax.set_ylabel(f"train reward (VADER, {SMOOTH}-iteration mean)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "curves.png", dpi=120)
    print(f"plot: {args.out / 'curves.png'}")


if __name__ == "__main__":
    main()
