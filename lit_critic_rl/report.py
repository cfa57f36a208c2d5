"""The run report: one self-contained ``report.html`` in the run directory, readable offline (PNG plots inline as
base64, CSS inline, no script, nothing fetched).

It holds the reward curves (extrinsic, intrinsic, total and validation reward; KL and the KL coefficient) read from
the CSV logger's ``metrics.csv``; the last evaluation metrics; samples of the first, middle and last iterations of
``samples.jsonl`` with each response token coloured by its reward (green positive, red negative, stronger for larger
values) beside the critic's raw output, its located spans, the quotes it dropped with the reason, and its failures;
the run's ``config.yaml`` and the machine it ran on.

``RunReport`` writes it at the end of ``fit`` and ``test`` (and sends the plots to TensorBoard as images);
``lit-critic-rl report RUN_DIR`` rebuilds it from the files. Rows of ``samples.jsonl`` without ``token_rewards``,
``token_ranges`` or ``critique`` are shown as plain text.
"""

from __future__ import annotations

import argparse
import base64
import csv
import html
import io
import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_only

from lit_critic_rl.callbacks import REPORT_NAME, run_dir
from lit_critic_rl.report_samples import samples_table

REWARD_CURVES = ("train/reward_extrinsic", "train/reward_intrinsic", "train/reward_total")
KL_CURVES = ("train/kl", "train/kl_coef")

# ----------------------------------------------------------------------------------------------- reading the run


def find_run_dir(path: str | Path) -> Path:
    """``path`` itself when it holds a run's files, else its newest ``<logger>/version_N`` folder that does."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"report: RUN_DIR '{path}' is not a folder")
    if any((path / name).is_file() for name in ("metrics.csv", "samples.jsonl", "config.yaml")):
        return path
    versions = [p.parent for p in path.glob("*/version_*/metrics.csv")]
    if not versions:
        raise FileNotFoundError(f"report: no metrics.csv or samples.jsonl in '{path}' or its */version_*/ folders")
    return max(versions, key=lambda p: (p / "metrics.csv").stat().st_mtime)


def read_metrics(run_dir: Path) -> list[dict[str, float]]:
    """Rows of ``metrics.csv`` with their empty cells left out and values as floats."""
    path = run_dir / "metrics.csv"
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(f)]


def series(rows: list[dict[str, float]], key: str) -> tuple[list[float], list[float]]:
    """``(iterations, values)`` of one metric. Rows without ``train/iteration`` (validation) are placed at the
    iteration of the training row logged before them (0 before any training). Rows are taken in logging order:
    the steps cannot order them, since an iteration's training row and the validation after it share a step."""
    xs, ys, iteration = [], [], 0.0
    for row in rows:
        iteration = row.get("train/iteration", iteration)
        if key in row:
            xs.append(iteration)
            ys.append(row[key])
    return xs, ys


def read_samples(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def samples_file(run_dir: Path) -> Path | None:
    """The training samples, or for a ``test``/``validate`` run without them, its evaluation samples."""
    names = ("samples.jsonl", "test_samples.jsonl", "val_samples.jsonl")
    return next((run_dir / n for n in names if (run_dir / n).is_file()), None)


def run_name(run_dir: Path, cwd: Path | None = None) -> str:
    """The run's name in the report: its path relative to ``cwd`` (the working directory) when it lies inside, else
    its last three parts (root dir, logger, version), so no report shows where the run sat on its machine."""
    folder = run_dir.resolve()
    try:
        return folder.relative_to((cwd or Path.cwd()).resolve()).as_posix()
    except ValueError:
        return Path(*folder.parts[-3:]).as_posix()


def machine_facts() -> dict[str, str]:
    """Facts of the machine running this: OS, Python, CPU, memory, accelerators, package versions."""
    import importlib.metadata

    facts = {
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "cpu": platform.processor() or "unknown",
        "logical cores": str(os.cpu_count()),
    }
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        facts["cpu"] = next(line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line)
        mem_kb = int(
            next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")).split()[1]
        )
        facts["memory"] = f"{mem_kb / 2**20:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    import torch

    facts["accelerators"] = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())) or "none"
    for package in ("torch", "lightning", "transformers", "peft"):
        try:
            facts[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    return facts


def machine_of(run_dir: Path) -> dict[str, str]:
    """The run's ``machine.json`` (written with its first report, so a rebuild elsewhere keeps the run's machine)."""
    path = run_dir / "machine.json"
    if path.is_file():
        return json.loads(path.read_text())
    facts = machine_facts()
    path.write_text(json.dumps(facts, indent=1))
    return facts


# ------------------------------------------------------------------------------------------------------- plots


def plot_curves(rows: list[dict[str, float]]) -> dict[str, bytes]:
    """PNG plots ``{"rewards": ..., "kl": ...}`` of the metrics present in ``rows`` (none when nothing was logged)."""
    from matplotlib.figure import Figure

    plots = {}
    val_x, val_y = series(rows, "val/reward")
    reward_lines = [(k.removeprefix("train/reward_"), *series(rows, k)) for k in REWARD_CURVES]
    if any(xs for _, xs, _ in reward_lines) or val_x:
        fig = Figure(figsize=(6.4, 3.4), dpi=100)
        ax = fig.add_subplot()
        for label, xs, ys in reward_lines:
            if xs:
                ax.plot(xs, ys, label=label, linewidth=1.4)
        if val_x:
            ax.plot(val_x, val_y, "o--", label="validation reward", color="black", markersize=4)
        ax.set(xlabel="iteration", ylabel="reward per sample", title="Rewards")
        ax.axhline(0.0, color="0.8", linewidth=0.8, zorder=0)
        ax.legend(fontsize=8)
        plots["rewards"] = _png(fig)
    kl_x, kl_y = series(rows, "train/kl")
    coef_x, coef_y = series(rows, "train/kl_coef")
    if kl_x or coef_x:
        fig = Figure(figsize=(6.4, 3.4), dpi=100)
        ax = fig.add_subplot()
        ax.plot(kl_x, kl_y, color="tab:purple", linewidth=1.4)
        ax.set(xlabel="iteration", title="KL to the reference and KL coefficient")
        ax.set_ylabel("sequence KL (nats)", color="tab:purple")
        twin = ax.twinx()
        twin.plot(coef_x, coef_y, color="tab:gray", linestyle="--", linewidth=1.4)
        twin.set_ylabel("KL coefficient beta", color="tab:gray")
        plots["kl"] = _png(fig)
    return plots


def _png(fig) -> bytes:
    from matplotlib.ticker import MaxNLocator

    for ax in fig.axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


# -------------------------------------------------------------------------------------------------------- html


def last_values_table(rows: list[dict[str, float]]) -> str:
    last: dict[str, float] = {}
    for row in rows:
        last.update({k: v for k, v in row.items() if k.startswith(("val/", "test/"))})
    if not last:
        return '<p class="muted">No validation or test metrics logged.</p>'
    cells = "".join(f"<tr><td>{html.escape(k)}</td><td class='num'>{v:.4g}</td></tr>" for k, v in sorted(last.items()))
    return f'<table class="facts">{cells}</table>'


STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1200px;
color:#1f2328;padding:0 16px}
h1{font-size:22px;margin-bottom:2px}
h2{font-size:17px;border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:28px}
.muted,.prompt{color:#6e7781}.plots img{max-width:49%;border:1px solid #d0d7de;margin:2px}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #d0d7de;padding:5px 8px;vertical-align:top;
text-align:left}table.facts{width:auto}tr.iteration th{background:#f6f8fa}td.num{white-space:nowrap;
font-variant-numeric:tabular-nums}td.text{width:48%;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;
white-space:pre-wrap}td.critique{width:40%;font-size:13px}.tok{border-radius:3px;padding:1px 0}
pre{background:#f6f8fa;padding:8px;overflow-x:auto;font-size:12px;white-space:pre-wrap;margin:4px 0}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;color:white;background:#6e7781}
.badge.ok{background:#1a7f37}.badge.failed{background:#cf222e}.badge.empty{background:#9a6700}
.error{color:#cf222e}.sub{font-weight:600;margin-top:4px}ul{margin:2px 0;padding-left:18px}
.dropped em{color:#9a6700}
"""


def build_html(run_dir: Path, plots: dict[str, bytes], samples_per_iteration: int = 4) -> str:
    rows = read_metrics(run_dir)
    source = samples_file(run_dir)
    samples = read_samples(source) if source else []
    config = run_dir / "config.yaml"
    images = "".join(
        f'<img alt="{name}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
        for name, png in plots.items()
    )
    facts = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in machine_of(run_dir).items()
    )
    written = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        "<h1>lit_critic_rl run report</h1>",
        f'<p class="muted">{html.escape(run_name(run_dir))} &middot; written {written}</p>',
        "<h2>Reward curves</h2>",
        f'<div class="plots">{images}</div>' if images else '<p class="muted">No training metrics logged.</p>',
        "<h2>Last evaluation</h2>",
        last_values_table(rows),
        f"<h2>Samples: first, middle and last iteration{f' ({source.name})' if source else ''}</h2>",
        samples_table(samples, samples_per_iteration),
        "<h2>Configuration</h2>",
        f"<pre>{html.escape(config.read_text())}</pre>" if config.is_file() else '<p class="muted">No config.yaml.</p>',
        "<h2>Machine</h2>",
        f'<table class="facts">{facts}</table>',
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>lit_critic_rl report</title>'
        f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>"
    )


def write_report(run_dir: str | Path, output: str | Path | None = None, samples_per_iteration: int = 4) -> Path:
    """Write ``report.html`` (or ``output``) for the run in ``run_dir`` and return its path."""
    run_dir = Path(run_dir)
    target = Path(output) if output is not None else run_dir / REPORT_NAME
    target.write_text(build_html(run_dir, plot_curves(read_metrics(run_dir)), samples_per_iteration))
    return target


# ------------------------------------------------------------------------------------------ callback and command


class RunReport(Callback):
    """Write ``report.html`` in the run directory at the end of ``fit`` and ``test``, and add its plots to
    TensorBoard (``report/rewards``, ``report/kl``) when a TensorBoardLogger is attached."""

    def __init__(self, samples_per_iteration: int = 4) -> None:
        self.samples_per_iteration = samples_per_iteration

    @rank_zero_only
    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.write(trainer)

    @rank_zero_only
    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.write(trainer)

    def write(self, trainer: Trainer) -> Path:
        for logger in trainer.loggers:
            logger.save()  # the CSV logger writes metrics.csv only every n steps and when saved
        folder = run_dir(trainer)
        folder.mkdir(parents=True, exist_ok=True)
        plots = plot_curves(read_metrics(folder))
        self.log_images(trainer, plots)
        path = folder / REPORT_NAME
        path.write_text(build_html(folder, plots, self.samples_per_iteration))
        return path

    @staticmethod
    def log_images(trainer: Trainer, plots: dict[str, bytes]) -> None:
        from lightning.pytorch.loggers import TensorBoardLogger
        from matplotlib.image import imread

        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                for name, png in plots.items():
                    image = imread(io.BytesIO(png), format="png")[..., :3]
                    logger.experiment.add_image(f"report/{name}", image, trainer.global_step, dataformats="HWC")


def report_main(argv: list[str]) -> Path:
    """``lit-critic-rl report RUN_DIR [--output FILE]``: rebuild a run's report from its files."""
    parser = argparse.ArgumentParser(
        prog="lit-critic-rl report",
        description="Rebuild report.html from a run's metrics.csv, samples.jsonl and config.yaml (docs/ for guides).",
    )
    parser.add_argument("run_dir", help="a run's version folder (runs/quickstart/csv/version_0) or its root dir")
    parser.add_argument("--output", default=None, help="where to write the HTML (default: RUN_DIR/report.html)")
    parser.add_argument("--samples-per-iteration", type=int, default=4, help="samples shown per chosen iteration")
    args = parser.parse_args(argv)
    try:
        folder = find_run_dir(args.run_dir)
    except FileNotFoundError as err:
        parser.error(str(err))
    path = write_report(folder, args.output, args.samples_per_iteration)
    print(f"report: {path}")
    return path
