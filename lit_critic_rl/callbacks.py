"""Callbacks the PPO module always adds (via ``configure_callbacks``): adapter export, sample log, run summary."""

from __future__ import annotations

import json
from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only

from lit_critic_rl.logs import get_logger

log = get_logger(__name__)

REPORT_NAME = "report.html"
"""The run report's file name in the run directory (written by :class:`lit_critic_rl.report.RunReport`)."""


def run_dir(trainer: Trainer) -> Path:
    """The first logger's version folder (else the root dir): ``trainer.log_dir`` without its broadcast, which would
    deadlock a multi-process run when called from a rank-zero-only hook."""
    if not trainer.loggers:
        return Path(trainer.default_root_dir)
    logger = trainer.loggers[0]
    folder = getattr(logger, "log_dir", None) if isinstance(logger, (CSVLogger, TensorBoardLogger)) else logger.save_dir
    return Path(folder or trainer.default_root_dir)


class AdapterExport(Callback):
    """Save the adapters with PEFT's ``save_pretrained`` (loadable by plain ``peft``) plus the value head, in
    ``<run dir>/adapters``, whenever a checkpoint is written and when training ends."""

    def export(self, trainer: Trainer, pl_module: LightningModule) -> Path:
        import torch

        target = run_dir(trainer) / "adapters"
        pl_module.lm.peft.save_pretrained(str(target), selected_adapters=None)
        torch.save(pl_module.lm.value_head.state_dict(), target / "value_head.pt")
        pl_module.tokenizer.save_pretrained(str(target))
        return target

    @rank_zero_only
    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict) -> None:
        self.export(trainer, pl_module)

    @rank_zero_only
    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.export(trainer, pl_module)


class SampleLog(Callback):
    """Append every iteration's samples (prompt, response, rewards) to ``<run dir>/samples.jsonl`` and show the
    first few as a table in TensorBoard."""

    def __init__(self, tensorboard_rows: int = 4) -> None:
        self.tensorboard_rows = tensorboard_rows

    @rank_zero_only
    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx: int) -> None:
        samples = pl_module.last_samples
        if not samples:
            return
        path = run_dir(trainer) / "samples.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as f:
            for row in samples:
                f.write(json.dumps(row) + "\n")
        for logger in trainer.loggers:
            experiment = getattr(logger, "experiment", None)
            if hasattr(experiment, "add_text"):
                rows = ["| prompt | response | extrinsic | total |", "|---|---|---|---|"]
                rows += [
                    f"| {s['prompt']} | {s['response']!r} | {s['reward_extrinsic']:.3f} | {s['reward_total']:.3f} |"
                    for s in samples[: self.tensorboard_rows]
                ]
                experiment.add_text("samples", "\n".join(rows), global_step=pl_module.iteration)


class RunSummary(Callback):
    """Log where logs, adapters, samples and the report went, and the reward at the start and end of the run;
    after ``test``, where its samples and the report went (one message, :mod:`lit_critic_rl.logs`)."""

    def __init__(self) -> None:
        self.rewards: list[float] = []

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx: int) -> None:
        metric = trainer.callback_metrics.get("train/reward_extrinsic")
        if metric is not None:
            self.rewards.append(float(metric))

    @rank_zero_only
    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        root = run_dir(trainer)
        lines = [f"logs:     {root}", f"adapters: {root / 'adapters'}", f"samples:  {root / 'samples.jsonl'}"]
        lines += report_line(root)
        if len(self.rewards) >= 2:
            k = max(1, len(self.rewards) // 4)
            first, last = self.rewards[:k], self.rewards[-k:]
            lines.append(
                f"mean train reward: first {k} iterations {sum(first) / k:+.3f} -> last {k} {sum(last) / k:+.3f}"
            )
        log.info("run finished\n" + "\n".join(lines))

    @rank_zero_only
    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        root = run_dir(trainer)
        lines = [f"logs:     {root}", f"samples:  {root / 'test_samples.jsonl'}", *report_line(root)]
        log.info("test finished\n" + "\n".join(lines))


def report_line(root: Path) -> list[str]:
    """The report's line of the end-of-run summary, when ``RunReport`` has written it (open it in a browser)."""
    path = root / REPORT_NAME
    return [f"report:   {path.resolve()}"] if path.is_file() else []
