"""Sample efficiency: sparse PPO vs dense PPO (critic spans) on the quickstart sentiment task, same seeds and samples.

Each (arm, seed) is one ``fit`` of ``configs/quickstart.yaml`` in its own process. The PPO arms differ only in
``model.critic`` (and, for ``*_separate``, in ``model.model.value_mode``: the value head on the policy's trunk, the
default, against a separate value adapter). The ``grpo_*`` arms run GRPO
(``configs/objective/grpo.yaml``) on the same samples per iteration as groups of ``GROUP`` samples of a quarter of the
prompts; ``grpo_lexicon`` carries the lexicon's token rewards per token, ``grpo_lexicon_collapsed`` sums them into the
outcome before the group baseline (the naive way, as an ablation). Each family is compared with its own sparse arm
(``sparse`` or ``grpo_sparse``). Output (in ``--out``): ``curves.png`` (mean train reward vs samples seen, band =
min..max over seeds), ``summary.md`` (final rewards and the samples each arm needs to reach its sparse arm's final and
best reward).

    python -m benchmarks.sample_efficiency --quick          # sparse + lexicon, 1 seed, 5 iterations of 4 prompts
    python -m benchmarks.sample_efficiency --arms sparse lexicon selfcritique --seeds 0 1 2   # the published run
    python -m benchmarks.sample_efficiency --arms grpo_sparse grpo_lexicon grpo_lexicon_collapsed --seeds 0 1 2
    python -m benchmarks.sample_efficiency --arms sparse sparse_separate lexicon lexicon_separate --seeds 0 1 2
    python -m benchmarks.sample_efficiency --arms sparse lexicon lexicon_noisy0.2 lexicon_noisy0.4 lexicon_noisy0.6

The ``lexicon_noisy<p>`` arms wrap the lexicon critic in ``NoisyCritic`` (``configs/critic/noisy_lexicon.yaml``: each
mark dropped, flipped or moved with probability p); the summary gives each one's measured precision and recall
against the lexicon, and ``gain_vs_precision.png`` plots the gain in final reward over sparse against that precision.

The full run is the quickstart shrunk to fit a 2-core CPU: 40 iterations of 8 prompts (320 samples per arm and seed),
one 8-sample minibatch, no validation passes (the curves are train rewards). On 2 AVX-512 cores a sparse or lexicon
run takes about 4 min and a self-critique run about 10 min (its critic generates with the same CPU), so the published
run takes about 55 min. On the AVX2-only machine of 2026-11-24 a sparse run took about 7 min.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[1]
GROUP = 4  # samples per prompt of the GRPO arms
LEXICON = ["--model.critic", str(REPO / "configs/critic/lexicon.yaml")]
SEPARATE = ["--model.model.value_mode", "separate_adapter"]
GRPO = ["--model.objective", str(REPO / "configs/objective/grpo.yaml")]
ARMS = {
    "sparse": [],
    "lexicon": LEXICON,
    "selfcritique": ["--model.critic", str(REPO / "configs/critic/selfcritique.yaml")],
    "sparse_separate": SEPARATE,
    "lexicon_separate": [*LEXICON, *SEPARATE],
    "grpo_sparse": GRPO,
    "grpo_lexicon": [*GRPO, *LEXICON],
    "grpo_lexicon_collapsed": [*GRPO, *LEXICON, "--model.objective.init_args.dense", "collapsed"],
}
NOISE = (0.2, 0.4, 0.6)
NOISY_LEXICON = str(REPO / "configs/critic/noisy_lexicon.yaml")
ARMS |= {f"lexicon_noisy{p:g}": ["--model.critic", NOISY_LEXICON, "--model.critic.init_args.p", str(p)] for p in NOISE}
FULL = [
    "--trainer.max_epochs",
    "4",
    "--trainer.limit_train_batches",
    "10",
    "--trainer.limit_val_batches",
    "0",
    "--data.init_args.batch_size",
    "8",
    "--model.ppo.minibatch_size",
    "8",
]
QUICK = [
    "--trainer.max_epochs",
    "1",
    "--trainer.limit_train_batches",
    "5",
    "--trainer.limit_val_batches",
    "0",
    "--data.init_args.batch_size",
    "4",
    "--model.ppo.minibatch_size",
    "4",
]
SMOOTH = 5  # iterations in the moving average of the per-iteration mean reward
# The module's top-level phases; update_backward/update_optimizer are parts of update. The arms' critics run in the
# training step (not in a background thread), so their time is the critic phase, not hidden under another one.
PHASES = ("generate", "reward", "critic", "teacher_forced", "update")


def baseline(arm: str) -> str:
    """The sparse arm an arm is compared with: its objective's."""
    return "grpo_sparse" if arm.startswith("grpo") else "sparse"


def shape_args(arm: str, quick: bool) -> list[str]:
    """The budget's options; a GRPO arm samples ``GROUP`` responses for each of a ``GROUP``-th of the prompts, so
    every arm sees the same samples per iteration."""
    opts = list(QUICK if quick else FULL)
    if arm.startswith("grpo"):
        at = opts.index("--data.init_args.batch_size") + 1
        opts[at] = str(int(opts[at]) // GROUP)
        opts += ["--model.generation.samples_per_prompt", str(GROUP)]
    return opts


def iterations(quick: bool) -> int:
    opts = QUICK if quick else FULL
    names = ("--trainer.max_epochs", "--trainer.limit_train_batches")
    epochs, batches = (int(opts[opts.index(name) + 1]) for name in names)
    return epochs * batches


def logged_iterations(root: Path) -> dict[Path, int]:
    """Iterations logged by each metrics file of the run folder ``root``."""
    return {
        m: sum(1 for r in csv.DictReader(m.open()) if r.get("train/reward_extrinsic"))
        for m in root.glob("csv/version_*/metrics.csv")
    }


def finished(root: Path, quick: bool, counts: dict[Path, int] | None = None) -> Path | None:
    """The run's metrics file if a previous invocation completed this (arm, seed), else None."""
    counts = logged_iterations(root) if counts is None else counts
    return next((m for m, n in counts.items() if n == iterations(quick)), None)


def run_arm(arm: str, seed: int, out: Path, quick: bool) -> Path:
    root = out / f"{arm}-seed{seed}"
    counts = logged_iterations(root)
    done = finished(root, quick, counts)
    if done is not None:  # re-running the benchmark resumes: completed (arm, seed) runs are reused
        print(f"  reusing {done}", flush=True)
        return done
    longer = [m for m, n in counts.items() if n > iterations(quick)]
    if longer:  # never delete a finished run of another length (a full run when --quick, say)
        raise RuntimeError(
            f"{longer[0]} holds a longer run than this invocation's {iterations(quick)} iterations; use another --out"
        )
    if root.exists():
        shutil.rmtree(root)  # a partial run: start it again from scratch
    config = root / "config.yaml"
    root.mkdir(parents=True, exist_ok=True)
    config.write_text((REPO / "configs/quickstart.yaml").read_text().replace("runs/quickstart", str(root)))
    args = [
        sys.executable,
        "-m",
        "lit_critic_rl.cli",
        "fit",
        "--config",
        str(config),
        "--seed_everything",
        str(seed),
        *ARMS[arm],
        *shape_args(arm, quick),
    ]
    with (root / "stdout.log").open("w") as log:
        subprocess.run(args, check=True, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    done = finished(root, quick)
    if done is None:
        raise RuntimeError(f"{root}: the run ended without {iterations(quick)} logged iterations")
    return done


class Curve(NamedTuple):
    samples: list[float]
    smooth: list[float]
    """Moving average (``SMOOTH`` iterations) of the mean train reward."""
    seconds: float
    """Median seconds per iteration: the sum of the top-level phases (``PHASES``)."""
    intrinsic: float
    """Mean intrinsic reward per sample."""
    spans: float
    """Located critic spans per iteration."""
    dropped: float
    """Critic quotes per iteration that matched nothing in the response."""
    precision: float | None = None
    """The critic's realised precision over the whole run, where it measures one (``NoisyCritic``: against the
    critic it wraps); None otherwise."""
    recall: float | None = None


def curve(metrics: Path) -> Curve:
    rows = [r for r in csv.DictReader(metrics.open()) if r.get("train/reward_extrinsic")]
    rewards = [float(r["train/reward_extrinsic"]) for r in rows]

    def mean_of(key: str) -> float:
        return statistics.mean(float(r.get(key) or 0.0) for r in rows)

    return Curve(
        samples=[float(r["train/samples_seen"]) for r in rows],
        smooth=[statistics.mean(rewards[max(0, i - SMOOTH + 1) : i + 1]) for i in range(len(rewards))],
        seconds=statistics.median(sum(float(r.get(f"perf/{p}_s") or 0.0) for p in PHASES) for r in rows),
        intrinsic=mean_of("train/reward_intrinsic"),
        spans=mean_of("train/critic_spans"),
        dropped=mean_of("train/critic_spans_dropped"),
        precision=last_of(rows, "train/critic_precision"),
        recall=last_of(rows, "train/critic_recall"),
    )


def last_of(rows: list[dict[str, str]], key: str) -> float | None:
    """The last logged value of ``key`` (a run-so-far total, so the last is the whole run's), or None."""
    values = [float(r[key]) for r in rows if r.get(key)]
    return values[-1] if values else None


def samples_to_reach(samples: list[float], rewards: list[float], level: float) -> float | None:
    return next((s for s, r in zip(samples, rewards) if r >= level), None)


class Band(NamedTuple):
    samples: list[float]
    mean: list[float]
    low: list[float]
    high: list[float]


def mean_curves(curves: dict[str, list[Curve]]) -> dict[str, Band]:
    """Per arm: mean, min and max over seeds of the smoothed reward, cut to the shortest seed."""
    bands = {}
    for arm, runs in curves.items():
        n = min(len(run.samples) for run in runs)
        at = [[run.smooth[i] for run in runs] for i in range(n)]  # smoothed reward of every seed at iteration i
        bands[arm] = Band(
            runs[0].samples[:n], [statistics.mean(v) for v in at], [min(v) for v in at], [max(v) for v in at]
        )
    return bands


def summary_lines(curves: dict[str, list[Curve]], bands: dict[str, Band]) -> list[str]:
    """The markdown table: final rewards and the samples each arm needs to reach two levels of its sparse arm's mean
    curve (:func:`baseline`), its final value (the issue's metric) and its best value (robust when the sparse curve
    peaks early and decays, which makes "final" a level every arm touches early)."""
    levels = {
        name: {"final": band.mean[-1], "best": max(band.mean)}
        for name, band in bands.items()
        if name in {baseline(arm) for arm in bands}
    }
    need_of = {
        name: {k: samples_to_reach(bands[name].samples, bands[name].mean, v) for k, v in lv.items()}
        for name, lv in levels.items()
    }
    head = "; ".join(f"{name} final {lv['final']:+.3f}, {name} best {lv['best']:+.3f}" for name, lv in levels.items())
    lines = [
        head or "no sparse arm: no levels",
        "",
        "| arm | final reward (mean over seeds) | per seed | samples to sparse final | ratio "
        "| samples to sparse best | ratio | intrinsic reward / sample | spans located / it | quotes dropped / it "
        "| critic precision / recall | s / iteration |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for arm, band in bands.items():
        cells = []
        base = baseline(arm)
        for key in ("final", "best"):
            need = samples_to_reach(band.samples, band.mean, levels[base][key]) if base in levels else None
            sparse_need = need_of.get(base, {}).get(key)
            ratio = f"{need / sparse_need:.2f}" if need and sparse_need else "n/a"
            cells += [f"{need:.0f}" if need is not None else "not reached", ratio]
        runs = curves[arm]
        per_seed = " / ".join(f"{run.smooth[-1]:+.3f}" for run in runs)
        intrinsic, spans, dropped, seconds = (
            statistics.mean(getattr(r, f) for r in runs) for f in ("intrinsic", "spans", "dropped", "seconds")
        )
        quality = critic_quality(arm, runs)
        measured = f"{quality[0]:.3f} / {quality[1]:.3f}" if quality else "n/a"
        lines.append(
            f"| {arm} | {band.mean[-1]:+.3f} | {per_seed} | {' | '.join(cells)} | {intrinsic:+.3f} "
            f"| {spans:.1f} | {dropped:.1f} | {measured} | {seconds:.1f} |"
        )
    return lines


def critic_quality(arm: str, runs: list[Curve]) -> tuple[float, float] | None:
    """The arm's critic precision and recall against the lexicon, mean over seeds: measured by ``NoisyCritic`` for
    the ``lexicon_noisy*`` arms, 1 and 1 for ``lexicon`` itself (it is the reference); None for the other arms."""
    if arm == "lexicon":
        return 1.0, 1.0
    if not arm.startswith("lexicon_noisy"):
        return None
    measured = [(r.precision, r.recall) for r in runs if r.precision is not None and r.recall is not None]
    if not measured:
        return None
    return statistics.mean(m[0] for m in measured), statistics.mean(m[1] for m in measured)


class GainPoint(NamedTuple):
    arm: str
    precision: float
    gains: list[float]
    """Per seed: the final (smoothed) train reward minus the sparse arm's mean final reward."""


def gain_points(curves: dict[str, list[Curve]], bands: dict[str, Band]) -> list[GainPoint]:
    """The lexicon-family PPO arms placed on the gain-against-precision curve, most precise first; empty without a
    ``sparse`` arm or without two such arms."""
    if "sparse" not in bands:
        return []
    sparse = bands["sparse"].mean[-1]
    points = []
    for arm, runs in curves.items():
        quality = critic_quality(arm, runs)
        if quality is not None:
            points.append(GainPoint(arm, quality[0], [run.smooth[-1] - sparse for run in runs]))
    return sorted(points, key=lambda p: -p.precision) if len(points) > 1 else []


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--arms", nargs="+", default=["sparse", "lexicon"], choices=sorted(ARMS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, help="default: benchmarks/results/sample_efficiency[_quick]")
    args = parser.parse_args()
    args.out = args.out or REPO / "benchmarks" / "results" / (
        "sample_efficiency_quick" if args.quick else "sample_efficiency"
    )
    curves: dict[str, list[Curve]] = {}
    for seed in args.seeds:  # interleaved: seed-major, so a partial run still compares arms on equal seeds
        for arm in args.arms:
            print(f"running {arm} seed {seed}", flush=True)
            curves.setdefault(arm, []).append(curve(run_arm(arm, seed, args.out, args.quick)))
    bands = mean_curves(curves)
    lines = [f"seeds {args.seeds}, smoothing {SMOOTH} iterations, quick={args.quick}", *summary_lines(curves, bands)]
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
    for arm, band in bands.items():  # band: min..max over seeds
        ax.plot(band.samples, band.mean, label=arm)
        ax.fill_between(band.samples, band.low, band.high, alpha=0.2)
    ax.set_xlabel("samples seen")
    ax.set_ylabel(f"train reward (VADER, {SMOOTH}-iteration mean)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "curves.png", dpi=120)
    print(f"plot: {args.out / 'curves.png'}")
    points = gain_points(curves, bands)
    if points:
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.axhline(0.0, color="grey", linestyle="--", label="sparse")
        ax.plot([p.precision for p in points], [statistics.mean(p.gains) for p in points], marker="o", label="mean")
        for point in points:
            ax.scatter([point.precision] * len(point.gains), point.gains, color="black", s=10)
            ax.annotate(point.arm, (point.precision, statistics.mean(point.gains)), fontsize=7)
        ax.set_xlabel("critic precision against the lexicon (NoisyCritic, measured)")
        ax.set_ylabel("final train reward - sparse final")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.out / "gain_vs_precision.png", dpi=120)
        print(f"plot: {args.out / 'gain_vs_precision.png'}")


if __name__ == "__main__":
    main()
