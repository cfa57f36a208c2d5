"""Messages that the libraries we call print although nothing is wrong with the run, filtered each by its exact text.

Each filter says which library emits the message and why its cause cannot be avoided from our side, and it is used
only around the call that triggers it. What our own code caused is fixed where it happened instead (the run report
was registered twice; the base model's modules were left in eval mode at the start of training).
"""

from __future__ import annotations

import io
import logging
import re
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr

PEFT_CHECKPOINTING = r"`is_gradient_checkpointing` is deprecated"
"""transformers 5 deprecates ``PreTrainedModel.is_gradient_checkpointing``, and PEFT (0.21) still reads it in
``PeftModel.__init__`` whatever the model: every adapter wrap prints a FutureWarning meant for PEFT's authors."""

LIGHTNING_LEAF_SPEC = r"`isinstance\(treespec, LeafSpec\)` is deprecated"
"""torch 2.13 deprecates ``LeafSpec``, and Lightning (2.6) builds one for every dataloader it combines
(``lightning/pytorch/utilities/_pytree.py``): each fit prints a FutureWarning meant for Lightning's authors."""

LIGHTNING_CLI_ARGS = r"LightningCLI's args parameter is intended to run from within Python"
"""Lightning (2.6) warns whenever ``LightningCLI(args=...)`` runs in a process that has command-line arguments. Our
CLI reads the subcommand itself and hands LightningCLI the rest as ``args``, which is what ``args`` is for; the process
keeps its ``sys.argv`` because Lightning's DDP launcher starts the other ranks from it."""

LIGHTNING_TIPS = "💡 Tip:"
"""Lightning (2.6) advertises its cloud services (litlogger, litmodels) in an information line on every fit."""

BITSANDBYTES_KERNEL_PROBE = "Failed to load CPU gemm_4bit_forward from kernels-community"
"""bitsandbytes (0.50), imported by PEFT whatever the run, on a CPU with AVX512-BF16 tries to fetch a fused 4-bit
kernel from the Hugging Face hub through ``kernels`` (which transformers 5 installs). Offline, or with that repository
not on ``kernels``' trust list, it logs this warning and keeps its own CPU kernels, the ones every other CPU runs. The
warning is not about the run, and nothing we pass can stop the probe (it runs at import)."""

PROGRESS_BAR = re.compile(r"\d+%\|.*\|\s*\d+/\d+\s*\[.*\]\s*$")
"""One frame of a tqdm bar (``desc: 42%|████ | 114/272 [00:02<00:03, 41.6it/s]``)."""


@contextmanager
def peft_wrapping() -> Iterator[None]:
    """Around ``get_peft_model`` / ``PeftModel.from_pretrained``: without :data:`PEFT_CHECKPOINTING`."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=PEFT_CHECKPOINTING, category=FutureWarning)
        yield


class DropMessage(logging.Filter):
    """Drops the records whose message starts with ``prefix``."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(self.prefix)


def quiet_import_probes() -> None:
    """Drop :data:`BITSANDBYTES_KERNEL_PROBE` from its logger for the rest of the process (the package calls this
    once on import, before anything can import bitsandbytes; adding the filter again is a no-op)."""
    logger = logging.getLogger("bitsandbytes.backends.cpu.ops")
    if not any(isinstance(f, DropMessage) and f.prefix == BITSANDBYTES_KERNEL_PROBE for f in logger.filters):
        logger.addFilter(DropMessage(BITSANDBYTES_KERNEL_PROBE))


@contextmanager
def lightning_run() -> Iterator[None]:
    """Around a LightningCLI run (trainer construction and ``fit``/``validate``/``test``): without
    :data:`LIGHTNING_LEAF_SPEC`, :data:`LIGHTNING_CLI_ARGS` and :data:`LIGHTNING_TIPS`."""
    tips = DropMessage(LIGHTNING_TIPS)
    # the logger a record is made on applies its filters (its parents' do not): Lightning's rank-zero helpers log
    # on the rank_zero logger of whichever of pytorch/fabric was imported last
    loggers = [logging.getLogger(f"lightning.{part}.utilities.rank_zero") for part in ("pytorch", "fabric")]
    for logger in loggers:
        logger.addFilter(tips)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=LIGHTNING_LEAF_SPEC, category=FutureWarning)
            warnings.filterwarnings("ignore", message=LIGHTNING_CLI_ARGS)
            yield
    finally:
        for logger in loggers:
            logger.removeFilter(tips)


@contextmanager
def without_progress_bars() -> Iterator[None]:
    """Around the one-time conversion of a GGUF asset: transformers draws three progress bars there (de-quantizing,
    loading, writing), and the GGUF one uses ``tqdm`` directly, past transformers' own switch. Standard error is
    held for the duration and written back without the bar frames, so warnings and other text still reach it."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    held = io.StringIO()
    try:
        with redirect_stderr(held):
            yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
        kept = strip_progress_bars(held.getvalue())
        if kept:
            sys.stderr.write(kept)


def strip_progress_bars(text: str) -> str:
    """``text`` without tqdm frames: a bar redraws itself after each carriage return and ends its last frame with a
    newline, so every piece between those that looks like a frame is dropped, and lines left empty go."""
    kept = []
    for line in text.split("\n"):
        pieces = [p for p in line.split("\r") if p.strip() and not PROGRESS_BAR.search(p)]
        if pieces:
            kept.append("".join(pieces))
    return "".join(f"{line}\n" for line in kept)
