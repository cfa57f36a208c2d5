"""The same short quickstart fit in two checkouts of the project, and a digit-for-digit diff of the logged metrics.

Each checkout's own ``cli.py`` runs in its own process, with that checkout first on ``PYTHONPATH`` (checked: the
child reports where ``lit_critic_rl`` came from), the same seed (the quickstart's), the same thread count and the
quickstart's settings apart from the length of the run (``--steps`` iterations, no validation) and the loggers (one
CSV logger). Every ``train/*`` metric the two runs share is compared as the CSV holds it, i.e. digit for digit;
timers (``perf/*``) are left out, and metrics only one side logs are listed.

    git worktree add --detach /tmp/base <commit>
    python -m benchmarks.compare_checkouts --base /tmp/base --head . --steps 3
    python -m benchmarks.compare_checkouts --base /tmp/base --head . -- --model.critic configs/critic/lexicon.yaml
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SHOWN = ("train/reward_extrinsic", "train/kl", "train/policy_loss", "train/value_loss", "train/advantages_std")


def fit(checkout: Path, root: Path, steps: int, extra: list[str]) -> list[dict[str, str]]:
    """The quickstart fit of ``steps`` iterations in ``checkout``; its rows with ``train/iteration``."""
    env = {**os.environ, "PYTHONPATH": str(checkout), "OMP_NUM_THREADS": "2", "LIT_CRITIC_RL_DEBUG": "1"}
    where = subprocess.run(
        [sys.executable, "-c", "import lit_critic_rl; print(lit_critic_rl.__file__)"],
        cwd=checkout, env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    if not Path(where).resolve().is_relative_to(checkout.resolve()):
        raise RuntimeError(f"{checkout}: lit_critic_rl imports from {where}, not from the checkout")
    args = [
        sys.executable, str(checkout / "cli.py"), "fit", "--config", str(checkout / "configs" / "quickstart.yaml"),
        "--trainer.max_epochs", "1", "--trainer.limit_train_batches", str(steps), "--trainer.limit_val_batches", "0",
        "--trainer.default_root_dir", str(root), "--trainer.logger", "lightning.pytorch.loggers.CSVLogger",
        "--trainer.logger.init_args.name", "csv", "--trainer.callbacks", "null",
        "--trainer.enable_progress_bar", "false",
        *extra,
    ]  # fmt: skip
    out = subprocess.run(args, cwd=checkout, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{checkout}: fit failed\n{out.stderr[-3000:]}")
    metrics = next(root.rglob("metrics.csv"))
    return [r for r in csv.DictReader(metrics.open()) if r.get("train/iteration")]


def compare(base: list[dict[str, str]], head: list[dict[str, str]]) -> tuple[list[str], set[str], set[str]]:
    """``(differences, keys only in base, keys only in head)`` over the ``train/*`` metrics of every iteration."""
    keys = lambda rows: {k for r in rows for k, v in r.items() if v and k.startswith("train/")}  # noqa: E731
    shared = sorted(keys(base) & keys(head))
    diffs = [
        f"iteration {i + 1} {k}: {b.get(k)} != {h.get(k)}"
        for i, (b, h) in enumerate(zip(base, head))
        for k in shared
        if b.get(k) != h.get(k)
    ]
    if len(base) != len(head):
        diffs.append(f"{len(base)} iterations in base, {len(head)} in head")
    return diffs, keys(base) - keys(head), keys(head) - keys(base)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--head", type=Path, default=Path("."))
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("extra", nargs="*", help="further fit arguments for both runs (after --)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        checkouts = {"base": args.base, "head": args.head}
        runs = {name: fit(path, Path(tmp) / name, args.steps, args.extra) for name, path in checkouts.items()}
    diffs, only_base, only_head = compare(runs["base"], runs["head"])
    for i, (b, h) in enumerate(zip(runs["base"], runs["head"])):
        for k in SHOWN:
            if b.get(k) or h.get(k):
                print(f"iteration {i + 1}  {k:24s} base {b.get(k) or '-':>22s}  head {h.get(k) or '-':>22s}")
    n_shared = len({k for r in runs["base"] for k, v in r.items() if v and k.startswith("train/")} - only_base)
    print(f"{n_shared} train/* metrics compared over {len(runs['head'])} iterations: {len(diffs)} differences")
    print("\n".join(diffs[:50]))
    print(f"only in base: {sorted(only_base)}\nonly in head: {sorted(only_head)}")
    return 1 if diffs else 0


if __name__ == "__main__":
    raise SystemExit(main())
