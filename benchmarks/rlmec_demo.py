"""RLMEC's demonstration on the arithmetic task: three arms on one sample budget, several seeds, test accuracy.

Arms (each ``fit`` then ``test`` in its own process, seeds interleaved across arms):

- ``sparse``: PPO on the exact-match reward (``configs/experiment/arith_sparse.yaml``);
- ``ppo_grm``: the same plus the GRM's token rewards through the critic interface (``configs/critic/grm.yaml``);
- ``rlmec``: RLMEC's objective on the GRM's token rewards alone (``shaping.extrinsic_weight 0``) plus imitation of
  the exact teacher's minimum-edit rewrites (``configs/experiment/arith_rlmec_online.yaml``);
- ``rlmec_offline``: the paper's recipe (``configs/experiment/arith_rlmec_offline.yaml``): no sampling, the same
  number of saved base samples from the teacher-data file (``--teacher``), the ratio against the base that sampled
  it, the GRM's token rewards and the GRM's own rewrites as imitation targets.

``base`` is the untrained policy's test accuracy (the same test problems and sampling seed). ``--rlmec-lr`` with
several rates runs one RLMEC arm per rate (``rlmec_lr<rate>``). Every policy is tested on ``--test-size`` held-out
problems with ``--test-samples`` samples each (default 300 x 4). Prerequisites: a GRM adapter
(``python cli.py grm fit --config configs/experiment/arith_grm_sft.yaml``)::

    python -m benchmarks.rlmec_demo --grm runs/arith_grm/csv/version_0/adapters/grm --out runs/rlmec_demo

Results go to ``<out>/results.jsonl`` (one line per finished run; a rerun skips them): the test metrics and, for a
trained arm, its training diagnostics from the run's ``metrics.csv`` (largest sequence KL and clip fraction, the
range of the RLMEC ratio's mean, the exact-match reward of the first and last three iterations), and how many
samples of each test problem were right, from which each run's gain over the untrained policy gets a paired standard
error. The summary tables and the plot (``--plot``) are printed from it.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import subprocess
import sys
from pathlib import Path

ARMS = ("sparse", "ppo_grm", "rlmec", "rlmec_offline")


def rlmec_arm(lr: float | None) -> str:
    """The arm name of RLMEC at learning rate ``lr`` (None: the experiment config's own rate)."""
    return "rlmec" if lr is None else f"rlmec_lr{lr:g}"


def arm_rate(arm: str) -> float | None:
    """The learning rate an arm name asks for (``rlmec_lr5e-05`` -> 5e-05); None for the config's own."""
    return float(arm.removeprefix("rlmec_lr")) if arm.startswith("rlmec_lr") else None


def arm_args(
    arm: str,
    grm: str,
    iterations: int,
    batch: int,
    test_size: int,
    test_samples: int = 1,
    teacher: str = "runs/rlmec/teacher_train.jsonl",
) -> list[str]:
    """The CLI arguments of one arm (``sparse``, ``ppo_grm``, ``rlmec``, ``rlmec_lr<rate>`` or ``rlmec_offline``,
    which replays ``teacher``'s saved samples instead of sampling)."""
    if arm == "rlmec_offline":
        return offline_args(grm, iterations, batch, test_size, test_samples, teacher)
    rlmec_lr = arm_rate(arm)
    arm = "rlmec" if rlmec_lr is not None else arm
    experiment = "arith_rlmec_online" if arm == "rlmec" else "arith_sparse"
    args = [
        "--config", "configs/quickstart.yaml",
        "--config", f"configs/experiment/{experiment}.yaml",
        "--trainer.max_epochs", "1",
        "--trainer.limit_train_batches", str(iterations),
        "--trainer.limit_val_batches", "0",
        "--data.init_args.batch_size", str(batch),
        "--data.init_args.test_size", str(test_size),
        "--data.init_args.val_batch_size", "16",
        "--model.evaluation.samples_per_prompt", str(test_samples),
        "--data.init_args.max_steps", "3",
        "--model.ppo.minibatch_size", str(batch),
    ]  # fmt: skip
    if arm in ("ppo_grm", "rlmec"):
        args += ["--model.critic", "configs/critic/grm.yaml", "--model.critic.init_args.adapter_path", grm]
    if arm == "rlmec":
        args += ["--model.shaping.extrinsic_weight", "0.0", "--model.ppo.log_kl", "true"]  # RLMEC logs no KL unasked
        args += ["--model.ppo.learning_rate", str(rlmec_lr)] if rlmec_lr is not None else []
    return args


def offline_args(grm: str, iterations: int, batch: int, test_size: int, test_samples: int, teacher: str) -> list[str]:
    """The offline preset on the online arms' budget: ``iterations`` batches of ``batch`` saved samples, one pass.
    The replay datamodule serves validate/test from its ``eval_data`` (the arithmetic task), hence the nested keys."""
    eval_data = "--data.init_args.eval_data.init_args"
    return [
        "--config", "configs/quickstart.yaml",
        "--config", "configs/experiment/arith_rlmec_online.yaml",
        "--config", "configs/experiment/arith_rlmec_offline.yaml",
        "--trainer.max_epochs", "1",
        "--trainer.limit_train_batches", str(iterations),
        "--trainer.limit_val_batches", "0",
        "--data.init_args.rollout_file", teacher,
        "--data.init_args.batch_size", str(batch),
        f"{eval_data}.test_size", str(test_size),
        f"{eval_data}.val_batch_size", "16",
        "--model.evaluation.samples_per_prompt", str(test_samples),
        "--model.ppo.minibatch_size", str(batch),
        "--model.critic.init_args.adapter_path", grm,
        "--model.ppo.log_kl", "true",
    ]  # fmt: skip


def child(argv: list[str], train: bool, ckpt: str | None = None) -> dict[str, float]:
    """One run in this process: fit (unless ``train`` is False), then test (the policy of checkpoint ``ckpt`` when
    given); prints ``RESULT {json}`` and returns the test metrics."""
    from lit_critic_rl.cli import main

    cli = main(argv, run=False)
    if train:
        cli.trainer.fit(cli.model, cli.datamodule)
    (metrics,) = cli.trainer.test(cli.model, cli.datamodule, ckpt_path=ckpt, verbose=False)
    result = {k: float(v) for k, v in metrics.items()}
    print("RESULT " + json.dumps(result), flush=True)
    return result


def run_child(argv: list[str], mode: str, timeout: float, name: str) -> dict[str, float]:
    """:func:`child` in its own process (``mode``: ``fit``, ``test`` or ``test:<ckpt>``); its test metrics."""
    cmd = [sys.executable, "-m", "benchmarks.rlmec_demo", "--child", mode, "--", *argv]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    result = next((line for line in out.stdout.splitlines() if line.startswith("RESULT ")), None)
    if result is None:
        raise RuntimeError(f"{name} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(result[len("RESULT ") :])


def run(arm: str, seed: int, args: argparse.Namespace, retest: int | None = None) -> dict:
    """Fit and test one arm and seed; with ``retest``, only test its finished run's last checkpoint on ``retest``
    test problems instead (``base``: the untrained policy)."""
    root = Path(args.out) / arm / f"seed{seed}"
    test_size = retest or args.test_size
    argv = arm_args(
        "sparse" if arm == "base" else arm,
        args.grm,
        args.iterations,
        args.batch,
        test_size,
        args.test_samples,
        args.teacher,
    )
    mode = "test" if arm == "base" or retest else "fit"
    if retest and arm != "base":
        ckpt = root / "checkpoints" / "last.ckpt"
        if not ckpt.is_file():
            raise FileNotFoundError(f"--retest needs {ckpt}: run the demonstration (without --retest) first")
        mode = f"test:{ckpt}"
    if retest:
        root = root / f"retest{retest}"
    argv += ["--seed_everything", str(seed), "--trainer.default_root_dir", str(root)]
    row = {"arm": arm, "seed": seed, **run_child(argv, mode, args.timeout, f"{arm} seed {seed}")}
    row["correct_per_problem"] = correct_per_problem(latest_metrics(root).with_name("test_samples.jsonl"))
    return {**row, **training_diagnostics(latest_metrics(root))} if mode == "fit" else row


def correct_per_problem(samples: Path) -> list[int]:
    """How many of each test problem's samples were right (exact-match reward 1), problems in the order the test
    split serves them: what a paired comparison of two policies on the same problems needs."""
    counts: dict[str, int] = {}
    for line in samples.read_text().splitlines():
        sample = json.loads(line)
        counts[sample["prompt"]] = counts.get(sample["prompt"], 0) + (sample["reward"] > 0.5)
    return list(counts.values())


def paired_gain(arm: list[int], base: list[int], samples: int) -> tuple[float, float]:
    """The accuracy gain of ``arm`` over ``base`` on the same problems (correct counts out of ``samples`` each) and
    its standard error from the per-problem differences, which holds however the samples of one problem correlate."""
    if len(arm) != len(base) or len(arm) < 2:
        raise ValueError(f"paired_gain needs the same >= 2 problems in both, got {len(arm)} and {len(base)}")
    diffs = [(a - b) / samples for a, b in zip(arm, base, strict=True)]
    return statistics.mean(diffs), statistics.stdev(diffs) / math.sqrt(len(diffs))


def paired_summary(rows: list[dict], samples: int) -> str:
    """One line per trained run with per-problem counts: its gain over the untrained policy (``base``) on the same
    test problems, with the paired standard error."""
    base = next((r["correct_per_problem"] for r in rows if r["arm"] == "base" and "correct_per_problem" in r), None)
    lines = ["| arm | seed | gain over base (accuracy points) | paired standard error |", "|---|---:|---:|---:|"]
    for arm in arms_in(rows):
        for r in rows:
            if base is not None and arm != "base" and r["arm"] == arm and "correct_per_problem" in r:
                gain, se = paired_gain(r["correct_per_problem"], base, samples)
                lines.append(f"| {arm} | {r['seed']} | {100 * gain:+.1f} | {100 * se:.1f} |")
    return "\n".join(lines)


def latest_metrics(root: Path) -> Path:
    """The ``metrics.csv`` of the newest CSVLogger version under a run folder (a rerun adds ``version_1``...)."""
    versions = sorted((root / "csv").glob("version_*"), key=lambda v: int(v.name.removeprefix("version_")))
    if not versions or not (versions[-1] / "metrics.csv").is_file():
        raise FileNotFoundError(f"no {root}/csv/version_*/metrics.csv: the run logged nothing")
    return versions[-1] / "metrics.csv"


def _column(rows: list[dict[str, str]], name: str) -> list[float]:
    return [float(r[name]) for r in rows if r.get(name) not in (None, "")]


def training_diagnostics(metrics_csv: Path) -> dict[str, float]:
    """What a run's ``metrics.csv`` says about its training: the largest sequence KL to the reference and clip
    fraction over the iterations, the smallest and largest mean RLMEC ratio (absent for PPO), and the mean
    exact-match reward of the first and of the last three iterations."""
    with metrics_csv.open() as f:
        rows = list(csv.DictReader(f))
    out: dict[str, float] = {}
    for key, name in (("kl_max", "train/kl"), ("clipfrac_max", "train/clipfrac")):
        values = _column(rows, name)
        out |= {key: max(values)} if values else {}
    ratio = _column(rows, "train/ratio_mean")
    out |= {"ratio_mean_min": min(ratio), "ratio_mean_max": max(ratio)} if ratio else {}
    reward = _column(rows, "train/reward_extrinsic")
    if reward:
        out |= {"reward_first3": statistics.mean(reward[:3]), "reward_last3": statistics.mean(reward[-3:])}
    return out


def arms_in(rows: list[dict]) -> list[str]:
    """The standard arms first, then any others found in the results (e.g. a renamed earlier setting)."""
    extra = sorted({r["arm"] for r in rows} - {"base", *ARMS})
    return [a for a in ("base", *ARMS, *extra) if any(r["arm"] == a for r in rows)]


def summary(rows: list[dict]) -> str:
    lines = ["| arm | seeds | test accuracy per seed | mean |", "|---|---:|---|---:|"]
    for arm in arms_in(rows):
        acc = [r["test/accuracy"] for r in rows if r["arm"] == arm]
        if acc:
            lines.append(f"| {arm} | {len(acc)} | {', '.join(f'{a:.3f}' for a in acc)} | {statistics.mean(acc):.3f} |")
    return "\n".join(lines)


def _per_seed(rows: list[dict], key: str, digits: int) -> str:
    return " / ".join(f"{r[key]:.{digits}f}" if key in r and math.isfinite(r[key]) else "-" for r in rows)


def diagnostics_summary(rows: list[dict]) -> str:
    """One line per trained arm: its seeds' largest KL and clip fraction, the RLMEC ratio's range and the train
    reward (first 3 -> last 3 iterations), each listed per seed."""
    lines = [
        "| arm | max KL (nats) | max clip fraction | ratio mean, min-max | train reward, first 3 -> last 3 |",
        "|---|---|---|---|---|",
    ]
    for arm in arms_in(rows):
        runs = [r for r in rows if r["arm"] == arm and "kl_max" in r]
        if not runs:
            continue
        ratio = " / ".join(
            f"{r['ratio_mean_min']:.3f}-{r['ratio_mean_max']:.3f}" if "ratio_mean_min" in r else "-" for r in runs
        )
        reward = " / ".join(f"{r['reward_first3']:.2f} -> {r['reward_last3']:.2f}" for r in runs if "reward_last3" in r)
        kl, clip = _per_seed(runs, "kl_max", 2), _per_seed(runs, "clipfrac_max", 2)
        lines.append(f"| {arm} | {kl} | {clip} | {ratio} | {reward} |")
    return "\n".join(lines)


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = arms_in(rows)
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for x, arm in enumerate(arms):
        acc = [r["test/accuracy"] for r in rows if r["arm"] == arm]
        ax.scatter([x] * len(acc), acc, color="tab:blue", alpha=0.7)
        ax.hlines(statistics.mean(acc), x - 0.25, x + 0.25, color="black")
    ax.set_xticks(range(len(arms)), arms, rotation=15)
    ax.set_ylabel("test accuracy (exact answer)")
    ax.set_title("Arithmetic, SmolLM2-135M\none dot per seed (overlapping dots are equal), bar = mean", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    if "--child" in sys.argv:
        mode = sys.argv[sys.argv.index("--child") + 1]
        ckpt = mode.partition(":")[2] or None
        child(sys.argv[sys.argv.index("--") + 1 :], train=mode == "fit", ckpt=ckpt)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grm", required=True, help="GRM adapter folder (adapters/grm of a grm fit run)")
    parser.add_argument("--out", default="runs/rlmec_demo")
    parser.add_argument(
        "--teacher",
        default="runs/rlmec/teacher_train.jsonl",
        help="the teacher-data file the rlmec_offline arm replays (the GRM's SFT file: the base sampled it)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", default=["base", *ARMS], choices=["base", *ARMS])
    parser.add_argument("--iterations", type=int, default=6, help="PPO/RLMEC iterations per run")
    parser.add_argument("--batch", type=int, default=8, help="prompts per iteration")
    parser.add_argument("--test-size", type=int, default=300, help="held-out test problems per policy")
    parser.add_argument("--test-samples", type=int, default=4, help="samples per test problem")
    parser.add_argument(
        "--rlmec-lr",
        type=float,
        nargs="+",
        default=None,
        help="the rlmec arm's learning rates, one arm rlmec_lr<rate> each (default: one arm at "
        "arith_rlmec_online.yaml's 5e-4, the PPO arms' rate)",
    )
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--plot", default=None, help="write the plot here (png)")
    parser.add_argument(
        "--retest",
        type=int,
        default=None,
        metavar="N",
        help="no training: test every finished run's last checkpoint on N test problems (results_testN.jsonl)",
    )
    args = parser.parse_args()
    if "rlmec_offline" in args.arms and args.retest is None and not Path(args.teacher).is_file():
        parser.error(f"--teacher {args.teacher}: no such file (the rlmec_offline arm replays it; or leave the arm out)")
    results = Path(args.out) / ("results.jsonl" if args.retest is None else f"results_test{args.retest}.jsonl")
    results.parent.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    done = {(r["arm"], r["seed"]) for r in rows}
    rlmec_arms = [rlmec_arm(lr) for lr in args.rlmec_lr] if args.rlmec_lr else ["rlmec"]
    arms = [name for arm in args.arms for name in (rlmec_arms if arm == "rlmec" else [arm])]
    for seed in args.seeds:
        for arm in arms:
            if arm == "base" and seed != args.seeds[0] or (arm, seed) in done:
                continue  # the untrained policy's test sampling does not depend on the training seed
            row = run(arm, seed, args, args.retest)
            rows.append(row)
            with results.open("a") as f:
                f.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)
    print(summary(rows))
    print(diagnostics_summary(rows))
    print(paired_summary(rows, args.test_samples))
    if args.plot:
        plot(rows, args.plot)


if __name__ == "__main__":
    main()
