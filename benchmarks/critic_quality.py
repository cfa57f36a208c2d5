"""How good must a critic be to help? Arithmetic with a critic of known quality, the gain against critic precision.

Arms (each with each objective, ``ppo`` and the GRPO family's ``grpo`` with token rewards per token, seeds
interleaved across arms; each run ``fit`` then ``test`` in its own process):

- ``sparse``: the exact-match reward only (``configs/experiment/arith_sparse.yaml``);
- ``oracle``: plus the exact step checker's marks (``StepOracle``, ``configs/experiment/arith_step_oracle.yaml``);
- ``noisy<p>``: the same marks through ``NoisyCritic`` at ``p`` (default 0.2, 0.4, 0.6; drop/flip/move mixed
  equally, the noise seeded by the run's seed);
- ``grm``: plus RLMEC's GRM token rewards (``MinEditGRM``, ``configs/critic/grm.yaml``), measured against the
  StepOracle on the same samples by ``MeasuredCritic`` so the GRM sits at a point of the precision axis.

Budget (the same for every arm): ``--iterations`` PPO iterations of ``--prompts`` problems with
``--samples-per-prompt`` samples each. The defaults, 40 x 8 x 4 = 1280 samples on 2-3 step problems, are chosen so
the sparse arm sees positives: SmolLM2-135M answers 3-10% of them right untrained, so 32 samples per iteration hold
1-3 right ones, where one sample per prompt (the RLMEC demonstration) held 0-2. Every policy is tested on
``--test-size`` (300) held-out problems with ``--eval-samples`` (4) samples each; validation on ``--val-size``
problems every ``--val-every`` iterations gives the accuracy curve.

Samples-to-threshold: the samples an arm has seen when its validation accuracy first reaches a level of the sparse
arm's validation curve (same objective, mean over seeds): its final value, and its best value (robust when the sparse
curve peaks and falls back, which makes "final" a level every arm touches early). Critic precision and recall are
the runs' last logged ``train/critic_precision`` / ``train/critic_recall`` (the oracle's are 1 by construction).

    python -m benchmarks.critic_quality --grm runs/arith_grm/csv/version_0/adapters/grm --out runs/critic_quality
    python -m benchmarks.critic_quality --smoke --model PATH   # every arm and objective, 1 iteration, in-process
    python -m benchmarks.critic_quality --objectives grpo --arms sparse grm --grm ADAPTER \
        --fit-arg=--model.ppo.epochs=1 --fit-arg=--model.objective.init_args.kl_coef=0   # a cheaper update

Results go to ``<out>/results.jsonl`` (one line per finished run, with its budget; a rerun with the same budget skips
them, one with another budget stops with the field that differs); ``<out>/summary.md`` holds
the table, ``<out>/gain_vs_precision.png`` the gain against critic precision and ``<out>/curves.png`` the
validation accuracy against samples seen (mean over seeds, band min..max).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from benchmarks.rlmec_demo import child, run_child
from benchmarks.sample_efficiency import samples_to_reach

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
OBJECTIVES = {"ppo": [], "grpo": ["--model.objective", str(CONFIGS / "objective" / "grpo.yaml")]}
NOISE = (0.2, 0.4, 0.6)


@dataclass(frozen=True)
class Budget:
    iterations: int = 40
    """PPO iterations per run."""
    val_every: int = 10
    """Iterations between validations (one Lightning epoch)."""
    prompts: int = 8
    """Problems per iteration."""
    samples_per_prompt: int = 4
    """Samples per problem in training."""
    val_size: int = 64
    test_size: int = 300
    eval_samples: int = 4
    """Samples per problem in validation and test."""
    max_steps: int = 3
    """Most operations in a problem (2-3: SmolLM2's untrained accuracy is a few percent, not zero)."""
    model: str = "asset:smollm2-135m-instruct"
    max_new_tokens: int | None = None
    """None = the experiment's (80)."""
    fit_args: tuple[str, ...] = ()
    """Further ``fit`` arguments every run gets last (after its critic and objective), e.g. ``--model.ppo.epochs=1`` or
    ``--model.objective.init_args.kl_coef=0`` (cheaper updates; still the same budget for every arm)."""

    def __post_init__(self) -> None:
        if self.iterations < 1 or self.val_every < 1 or self.iterations % self.val_every:
            raise ValueError(
                f"--iterations ({self.iterations}) must be a positive multiple of --val-every ({self.val_every})"
            )


BUDGET_FLAGS = ("iterations", "val_every", "prompts", "samples_per_prompt", "val_size", "test_size", "eval_samples")
"""The Budget fields that are integer command-line flags of the same name."""

SMOKE = Budget(iterations=1, val_every=1, prompts=2, samples_per_prompt=2, val_size=2, test_size=2, eval_samples=1)


def arm_names(noise: tuple[float, ...] = NOISE) -> list[str]:
    return ["sparse", "oracle", *(f"noisy{p:g}" for p in noise), "grm"]


def budget_args(budget: Budget, seed: int) -> list[str]:
    args = [
        "--config", str(CONFIGS / "quickstart.yaml"),
        "--config", str(CONFIGS / "experiment" / "arith_sparse.yaml"),
        "--seed_everything", str(seed),
        "--model.model.name_or_path", budget.model,
        "--trainer.max_epochs", str(budget.iterations // budget.val_every),
        "--trainer.limit_train_batches", str(budget.val_every),
        "--trainer.limit_val_batches", "1.0",
        "--data.init_args.batch_size", str(budget.prompts),
        "--data.init_args.val_size", str(budget.val_size),
        "--data.init_args.test_size", str(budget.test_size),
        "--data.init_args.max_steps", str(budget.max_steps),
        "--model.generation.samples_per_prompt", str(budget.samples_per_prompt),
        "--model.evaluation.samples_per_prompt", str(budget.eval_samples),
        "--model.ppo.minibatch_size", str(budget.prompts * budget.samples_per_prompt),
    ]  # fmt: skip
    if budget.max_new_tokens is not None:
        args += ["--model.generation.max_new_tokens", str(budget.max_new_tokens)]
    return args


def load_results(path: Path, budget: Budget) -> list[dict]:
    """The finished runs of ``path``; a run made with another budget stops the study (arms must share one)."""
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    want = json.loads(json.dumps(asdict(budget)))  # as a results line holds it (tuples become lists)
    for row in rows:
        had = row.get("budget")
        if had != want:
            fields = ", ".join(k for k in want if had is not None and had.get(k) != want[k])
            differ = "records none" if had is None else f"differs in {fields}"
            raise SystemExit(
                f"{path}: the run '{row['objective']} {row['arm']} seed {row['seed']}' was made with another budget "
                f"(its budget {differ}); use another --out, or the same budget to go on with the study"
            )
    return rows


def critic_args(arm: str, seed: int, grm_critic: Path | None) -> list[str]:
    """What sets the arm's critic (after the budget's configs)."""
    if arm == "sparse":
        return []
    if arm == "grm":
        if grm_critic is None:
            raise ValueError("the grm arm needs --grm (a GRM adapter folder)")
        return ["--model.critic", str(grm_critic)]
    args = ["--config", str(CONFIGS / "experiment" / "arith_step_oracle.yaml")]
    if arm.startswith("noisy"):
        p = float(arm[len("noisy") :])
        args += ["--model.critic", str(CONFIGS / "critic" / "noisy_step_oracle.yaml")]
        args += ["--model.critic.init_args.p", str(p), "--model.critic.init_args.seed", str(seed)]
    elif arm != "oracle":
        raise ValueError(f"unknown arm '{arm}' (known: sparse, oracle, noisy<p>, grm)")
    return args


def write_grm_critic(adapter: str, path: Path) -> Path:
    """A critic file: ``configs/critic/grm.yaml`` on ``adapter``, measured against the StepOracle."""
    import yaml

    grm = yaml.safe_load((CONFIGS / "critic" / "grm.yaml").read_text())
    grm["init_args"]["adapter_path"] = adapter
    spec = {
        "class_path": "lit_critic_rl.critic.measured.MeasuredCritic",
        "init_args": {"critic": grm, "reference": {"class_path": "lit_critic_rl.critic.step_oracle.StepOracle"}},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def untrained_grm_adapter(model: str, folder: Path) -> str:
    """A fresh LoRA adapter named ``grm`` on ``model``, saved as ``grm fit`` saves one (smoke runs only)."""
    from peft import LoraConfig, get_peft_model

    from lit_critic_rl.models.loading import load_causal_lm

    peft = get_peft_model(load_causal_lm(model), LoraConfig(r=4, target_modules="all-linear"), adapter_name="grm")
    peft.save_pretrained(str(folder))
    return str(folder / "grm")


def read_run(root: Path) -> dict:
    """From a run's metrics file: the validation curve ``[[samples seen, accuracy], ...]`` and the last logged
    critic precision and recall (None when not logged, or a ratio of 0/0: no marks, no reference marks)."""
    samples, out, last = 0.0, {"curve": [], "precision": None, "recall": None}, {}
    for row in csv.DictReader((root / "csv" / "version_0" / "metrics.csv").open()):
        samples = float(row.get("train/samples_seen") or samples)
        if row.get("val/accuracy"):
            out["curve"].append([samples, float(row["val/accuracy"])])
        last.update({k: float(v) for k, v in row.items() if k.startswith("train/critic_") and v})
    for key, total in (("precision", "marks_total"), ("recall", "reference_marks_total")):
        if last.get(f"train/critic_{total}"):
            out[key] = last[f"train/critic_{key}"]
    return out


def run_argv(arm: str, objective: str, seed: int, budget: Budget, grm: Path | None, root: Path) -> list[str]:
    """One run's ``fit`` arguments: the budget, the arm's critic, the objective, then the budget's ``fit_args`` (last,
    so they override what the objective's file sets)."""
    argv = [*budget_args(budget, seed), *critic_args(arm, seed, grm), *OBJECTIVES[objective], *budget.fit_args]
    return [*argv, "--trainer.default_root_dir", str(root)]


def run(arm: str, objective: str, seed: int, budget: Budget, out: Path, grm: Path | None, **how) -> dict:
    """Fit and test one (arm, objective, seed); ``how``: ``in_process`` (smoke) or a ``timeout``."""
    root = out / objective / arm / f"seed{seed}"
    argv = run_argv(arm, objective, seed, budget, grm, root)
    name = f"{objective} {arm} seed {seed}"
    metrics = child(argv, train=True) if how.get("in_process") else run_child(argv, "fit", how["timeout"], name)
    row = {"arm": arm, "objective": objective, "seed": seed, "accuracy": metrics["test/accuracy"], **read_run(root)}
    row["budget"] = asdict(budget)
    if arm == "oracle":
        row["precision"] = row["recall"] = 1.0  # the exact checker itself
    return row


def _spread(values: list[float], fmt: str) -> str:
    if not values:
        return "n/a"
    mean = format(statistics.mean(values), fmt)
    return mean if len(values) == 1 else f"{mean} [{format(min(values), fmt)}, {format(max(values), fmt)}]"


def mean_curve(runs: list[dict]) -> tuple[list[float], list[float], list[float], list[float]]:
    """Samples, mean, min and max over seeds of the validation accuracy, cut to the shortest seed (the seeds share
    the budget, so their validations fall on the same sample counts)."""
    n = min(len(r["curve"]) for r in runs)
    at = [[r["curve"][i][1] for r in runs] for i in range(n)]
    samples = [runs[0]["curve"][i][0] for i in range(n)]
    return samples, [statistics.mean(v) for v in at], [min(v) for v in at], [max(v) for v in at]


def sparse_levels(rows: list[dict]) -> dict[str, float] | None:
    """The sparse arm's final and best mean validation accuracy (None without a sparse run with a curve)."""
    sparse = [r for r in rows if r["arm"] == "sparse" and r["curve"]]
    if not sparse:
        return None
    mean = mean_curve(sparse)[1]
    return {"final": mean[-1], "best": max(mean)}


def summarise(rows: list[dict]) -> list[dict]:
    """Per (objective, arm): accuracies per seed, gain over the sparse arm's mean, precision/recall, and the samples
    each seed needed to reach the sparse arm's final and best validation accuracy (:func:`sparse_levels`)."""
    out = []
    for objective in dict.fromkeys(r["objective"] for r in rows):
        mine = [r for r in rows if r["objective"] == objective]
        sparse = [r for r in mine if r["arm"] == "sparse"]
        base = statistics.mean(r["accuracy"] for r in sparse) if sparse else None
        levels = sparse_levels(mine)
        for arm in dict.fromkeys(r["arm"] for r in mine):
            runs = [r for r in mine if r["arm"] == arm]

            def reach(key: str) -> list[float | None]:
                if levels is None:
                    return [None] * len(runs)
                return [samples_to_reach(*zip(*r["curve"]), levels[key]) if r["curve"] else None for r in runs]

            out.append(
                {
                    "objective": objective,
                    "arm": arm,
                    "accuracy": [r["accuracy"] for r in runs],
                    "gain": [r["accuracy"] - base for r in runs] if base is not None else [],
                    "precision": [r["precision"] for r in runs if r["precision"] is not None],
                    "recall": [r["recall"] for r in runs if r["recall"] is not None],
                    "reach": reach("final"),
                    "reach_best": reach("best"),
                }
            )
    return out


def table(summary: list[dict]) -> str:
    lines = [
        "| objective | arm | seeds | critic precision | critic recall | test accuracy | gain over sparse "
        "| samples to sparse final (per seed) | samples to sparse best (per seed) |",
        "|---|---|---:|---|---|---|---|---|---|",
    ]
    for s in summary:
        reach, best = (
            ", ".join("not reached" if r is None else f"{r:.0f}" for r in s[k]) for k in ("reach", "reach_best")
        )
        cells = [
            s["objective"], s["arm"], str(len(s["accuracy"])), _spread(s["precision"], ".2f"),
            _spread(s["recall"], ".2f"), _spread(s["accuracy"], ".3f"), _spread(s["gain"], "+.3f"), reach, best,
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(summary: list[dict], path: Path) -> None:
    """One line per objective through the oracle and noisy arms (gain against precision, bars = seed range), the
    GRM as a star at its measured precision."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4))
    for objective in dict.fromkeys(s["objective"] for s in summary):
        points = [s for s in summary if s["objective"] == objective and s["precision"] and s["gain"]]
        line = sorted((s for s in points if s["arm"] != "grm"), key=lambda s: statistics.mean(s["precision"]))
        for group, style in ((line, "o-"), ([s for s in points if s["arm"] == "grm"], "*")):
            if not group:
                continue
            x = [statistics.mean(s["precision"]) for s in group]
            y = [statistics.mean(s["gain"]) for s in group]
            err = [[m - min(s["gain"]) for m, s in zip(y, group)], [max(s["gain"]) - m for m, s in zip(y, group)]]
            label = f"{objective} GRM" if style == "*" else f"{objective} StepOracle + noise"
            ax.errorbar(x, y, yerr=err, fmt=style, capsize=3, label=label, markersize=12 if style == "*" else 6)
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set_xlabel("critic precision (against the StepOracle)")
    ax.set_ylabel("test accuracy gain over sparse")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def plot_curves(rows: list[dict], path: Path) -> None:
    """Validation accuracy against samples seen, one line per (objective, arm): mean over seeds, band min..max; the
    sparse arm's best level dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    objectives = list(dict.fromkeys(r["objective"] for r in rows))
    fig, axes = plt.subplots(1, len(objectives), figsize=(6.4 * len(objectives), 4), squeeze=False)
    for ax, objective in zip(axes[0], objectives):
        mine = [r for r in rows if r["objective"] == objective and r["curve"]]
        for arm in dict.fromkeys(r["arm"] for r in mine):
            runs = [r for r in mine if r["arm"] == arm]
            samples, mean, low, high = mean_curve(runs)
            ax.plot(samples, mean, marker="o", label=f"{arm} ({len(runs)} seeds)")
            ax.fill_between(samples, low, high, alpha=0.15)
        levels = sparse_levels(mine)
        if levels is not None:
            ax.axhline(levels["best"], color="grey", ls="--", lw=0.8, label="sparse best")
        ax.set_title(objective)
        ax.set_xlabel("samples seen")
        ax.set_ylabel("validation accuracy")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/critic_quality"))
    parser.add_argument("--grm", default=None, help="GRM adapter folder (smoke: an untrained one when not given)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--noise", type=float, nargs="+", default=list(NOISE), help="NoisyCritic p of the arms")
    parser.add_argument("--arms", nargs="+", default=None, help="default: every arm")
    parser.add_argument("--objectives", nargs="+", default=list(OBJECTIVES), choices=list(OBJECTIVES))
    parser.add_argument("--smoke", action="store_true", help="1 iteration of 2 problems per run, in this process")
    parser.add_argument("--model", default=None, help="policy base (default: the SmolLM2-135M asset)")
    for field in BUDGET_FLAGS:
        parser.add_argument(f"--{field.replace('_', '-')}", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=4 * 3600, help="seconds per run")
    parser.add_argument(
        "--fit-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="a further fit argument for every run, written with '=' (--fit-arg=--model.ppo.epochs=1); repeatable",
    )
    args = parser.parse_args(argv)
    budget = SMOKE if args.smoke else Budget()
    budget = replace(budget, **{f: getattr(args, f) for f in BUDGET_FLAGS if getattr(args, f) is not None})
    budget = replace(budget, **({"model": args.model} if args.model else {}), fit_args=tuple(args.fit_arg))
    if args.smoke:
        budget = replace(budget, max_new_tokens=8)
        args.seeds = args.seeds[:1]
    arms = args.arms or arm_names(tuple(args.noise))
    grm = args.grm
    if "grm" in arms and grm is None and args.smoke:
        grm = untrained_grm_adapter(budget.model, args.out / "untrained_grm")
    grm_critic = write_grm_critic(grm, args.out / "grm_critic.yaml") if grm else None
    results = args.out / "results.jsonl"
    results.parent.mkdir(parents=True, exist_ok=True)
    rows = load_results(results, budget)
    done = {(r["arm"], r["objective"], r["seed"]) for r in rows}
    for seed in args.seeds:
        for objective in args.objectives:
            for arm in arms:
                if (arm, objective, seed) in done:
                    continue
                row = run(
                    arm, objective, seed, budget, args.out, grm_critic, in_process=args.smoke, timeout=args.timeout
                )
                rows.append(row)
                with results.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                print(json.dumps(row), flush=True)
    summary = summarise(rows)
    text = f"budget: {budget}\n\n{table(summary)}\n"
    (args.out / "summary.md").write_text(text)
    print(text)
    plot(summary, args.out / "gain_vs_precision.png")
    plot_curves(rows, args.out / "curves.png")


if __name__ == "__main__":
    main()
