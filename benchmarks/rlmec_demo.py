"""RLMEC's demonstration on the arithmetic task: three arms on one sample budget, several seeds, test accuracy.

Arms (each ``fit`` then ``test`` in its own process, seeds interleaved across arms):

- ``sparse``: PPO on the exact-match reward (``configs/experiment/arith_sparse.yaml``);
- ``ppo_grm``: the same plus the GRM's token rewards through the critic interface (``configs/critic/grm.yaml``);
- ``rlmec``: RLMEC's objective on the GRM's token rewards alone (``shaping.extrinsic_weight 0``) plus imitation of
  the exact teacher's minimum-edit rewrites (``configs/experiment/arith_rlmec_online.yaml``).

``base`` is the untrained policy's test accuracy (the same test problems and sampling seed). Prerequisites: a GRM
adapter (``python cli.py grm fit --config configs/experiment/arith_grm_sft.yaml``)::

    python -m benchmarks.rlmec_demo --grm runs/arith_grm/csv/version_0/adapters/grm --out runs/rlmec_demo

Results go to ``<out>/results.jsonl`` (one line per finished run; a rerun skips them) and the summary table and plot
(``--plot``) are printed from it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ARMS = ("sparse", "ppo_grm", "rlmec")


def arm_args(
    arm: str, grm: str, iterations: int, batch: int, test_size: int, rlmec_lr: float | None = None
) -> list[str]:
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
        "--data.init_args.max_steps", "3",
        "--model.ppo.minibatch_size", str(batch),
    ]  # fmt: skip
    if arm in ("ppo_grm", "rlmec"):
        args += ["--model.critic", "configs/critic/grm.yaml", "--model.critic.init_args.adapter_path", grm]
    if arm == "rlmec":
        args += ["--model.shaping.extrinsic_weight", "0.0"]
        args += ["--model.ppo.learning_rate", str(rlmec_lr)] if rlmec_lr is not None else []
    return args


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
    argv = arm_args("sparse" if arm == "base" else arm, args.grm, args.iterations, args.batch, test_size, args.rlmec_lr)
    mode = "test" if arm == "base" or retest else "fit"
    if retest and arm != "base":
        ckpt = root / "checkpoints" / "last.ckpt"
        if not ckpt.is_file():
            raise FileNotFoundError(f"--retest needs {ckpt}: run the demonstration (without --retest) first")
        mode = f"test:{ckpt}"
    if retest:
        root = root / f"retest{retest}"
    argv += ["--seed_everything", str(seed), "--trainer.default_root_dir", str(root)]
    return {"arm": arm, "seed": seed, **run_child(argv, mode, args.timeout, f"{arm} seed {seed}")}


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
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", default=["base", *ARMS], choices=["base", *ARMS])
    parser.add_argument("--iterations", type=int, default=6, help="PPO/RLMEC iterations per run")
    parser.add_argument("--batch", type=int, default=8, help="prompts per iteration")
    parser.add_argument("--test-size", type=int, default=48)
    parser.add_argument(
        "--rlmec-lr",
        type=float,
        default=None,
        help="the rlmec arm's learning rate (default: arith_rlmec_online.yaml's 5e-4, the PPO arms' rate)",
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
    results = Path(args.out) / ("results.jsonl" if args.retest is None else f"results_test{args.retest}.jsonl")
    results.parent.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    done = {(r["arm"], r["seed"]) for r in rows}
    for seed in args.seeds:
        for arm in args.arms:
            if arm == "base" and seed != args.seeds[0] or (arm, seed) in done:
                continue  # the untrained policy's test sampling does not depend on the training seed
            row = run(arm, seed, args, args.retest)
            rows.append(row)
            with results.open("a") as f:
                f.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)
    print(summary(rows))
    if args.plot:
        plot(rows, args.plot)


if __name__ == "__main__":
    main()
