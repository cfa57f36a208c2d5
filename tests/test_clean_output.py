"""What a user reads: ``cli.py fit`` in a subprocess prints no warning, deprecation or tip line that is not ours, and
Lightning's own flags for two processes (``--trainer.devices 2 --trainer.strategy ddp``) run as the preset does.

Both runs are the quickstart on the tiny model for 2 iterations (``configs/debug/fast.yaml``). Every line of stdout and
stderr (a progress bar's frames split at carriage returns) that looks like a warning fails the test unless it is one
of ours (:data:`EXPECTED`).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from lit_critic_rl.library_messages import strip_progress_bars
from tests.test_distributed import cli_fit

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
SUSPECT = re.compile(
    r"warn|deprecat|tip\b|💡|will override|module\(s\) in eval mode|future|failed to|\.py:\d+: ", re.IGNORECASE
)
"""What a line to ignore looks like: Python warnings (``UserWarning``, ``FutureWarning``), deprecations, Lightning's
tips and its notes about overridden callbacks or modules in eval mode, and libraries' "failed to" notes (bitsandbytes'
kernel probe), and any line that starts like a Python warning (``/path/cli.py:553: ...``, as Lightning prints its
own without a category)."""
EXPECTED: list[re.Pattern] = []
"""Our own lines that may match :data:`SUSPECT` in these runs (none do today; add a pattern here with the reason)."""


def fit(root: Path, model: str, *extra: str) -> subprocess.CompletedProcess:
    args = [
        *("--config", str(CONFIGS / "quickstart.yaml"), "--config", str(CONFIGS / "debug" / "fast.yaml")),
        *("--trainer.default_root_dir", str(root), "--trainer.limit_val_batches", "1"),
        *("--model.model.name_or_path", model, *extra),
    ]
    return cli_fit(args)


def unexpected_lines(out: subprocess.CompletedProcess) -> list[str]:
    lines = [piece for text in (out.stdout, out.stderr) for line in text.splitlines() for piece in line.split("\r")]
    return [line for line in lines if SUSPECT.search(line) and not any(pattern.search(line) for pattern in EXPECTED)]


def test_fit_prints_no_line_to_ignore(tiny_model_path, tmp_path):
    out = fit(tmp_path, tiny_model_path)
    assert unexpected_lines(out) == []
    # our lines come through one logger, in one format: the memory plan and the end-of-run summary
    assert "lit_critic_rl: memory plan of" in out.stdout and "lit_critic_rl: run finished" in out.stdout
    assert "report:" in out.stdout and (tmp_path / "csv" / "version_0" / "report.html").is_file()


def test_lightning_flags_for_two_processes_run(tiny_model_path, tmp_path):
    """Two gloo processes from Lightning's flags alone, with a separate value adapter (DDP must find unused
    parameters): the framework sets both settings and says so in one line."""
    out = fit(
        tmp_path,
        tiny_model_path,
        *("--trainer.devices", "2", "--trainer.strategy", "ddp", "--model.model.value_mode", "separate_adapter"),
    )
    said = [line for line in out.stdout.splitlines() if "use_distributed_sampler=False" in line]
    assert said == [
        "lit_critic_rl: 2 processes: use_distributed_sampler=False (each rank takes its slice of the batch), "
        "find_unused_parameters=True (separate value adapter)"
    ]
    assert unexpected_lines(out) == []
    rows = (tmp_path / "csv" / "version_0" / "metrics.csv").read_text().splitlines()
    iterations = [r for r in rows[1:] if r.split(",")[rows[0].split(",").index("train/iteration")]]
    assert len(iterations) == 2


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        # two bars (several frames each, the last ended by a newline) around a warning that must survive
        (
            "Converting...:   0%|          | 0/272 [00:00<?, ?it/s]\rConverting...: 100%|██| 272/272 [00:06<00:00]\n"
            "x.py:3: UserWarning: real\n  warnings.warn(\n"
            "Writing model shards: 100%|██████████| 1/1 [00:02<00:00,  2.06s/it]\n",
            "x.py:3: UserWarning: real\n  warnings.warn(\n",
        ),
        ("no bar at all\n", "no bar at all\n"),
        ("", ""),
    ],
)
def test_progress_bar_frames_are_dropped_and_other_text_kept(text, kept):
    assert strip_progress_bars(text) == kept


def test_bitsandbytes_kernel_probe_is_dropped_and_its_other_messages_kept(caplog):
    import logging

    import lit_critic_rl  # noqa: F401  (installs the filter on import)
    from lit_critic_rl.library_messages import BITSANDBYTES_KERNEL_PROBE, quiet_import_probes

    quiet_import_probes()  # a second call adds no second filter
    logger = logging.getLogger("bitsandbytes.backends.cpu.ops")
    assert sum(getattr(f, "prefix", None) == BITSANDBYTES_KERNEL_PROBE for f in logger.filters) == 1
    with caplog.at_level(logging.WARNING):
        logger.warning("%s: %s. Please make sure ...", BITSANDBYTES_KERNEL_PROBE, "trust status")
        logger.warning("Failed to load something else")
    assert [r.getMessage() for r in caplog.records] == ["Failed to load something else"]
