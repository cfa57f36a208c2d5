"""The framework's own messages in one place: one logger (``lit_critic_rl``), one format, on standard output.

Every module logs through :func:`get_logger` (a child of that logger), so a line of ours always reads
``lit_critic_rl: <message>`` (a multi-line message keeps its first line's prefix only). As Lightning does for its own
logger, the handler is attached on import unless the application has configured the root logger; then records
propagate to the application's handlers instead. ``logging.getLogger("lit_critic_rl").setLevel(logging.WARNING)``
silences the information lines (the memory plan, the end-of-run summary).

The handler writes to whatever ``sys.stdout`` is when a record is emitted, so redirected or captured output (pytest's
``capsys``, ``contextlib.redirect_stdout``) receives it.
"""

from __future__ import annotations

import logging
import sys

NAME = "lit_critic_rl"
FORMAT = "lit_critic_rl: %(message)s"


class CurrentStdout(logging.StreamHandler):
    """A stream handler bound to the current ``sys.stdout`` at each record, not to the one seen at import."""

    def emit(self, record: logging.LogRecord) -> None:
        self.setStream(sys.stdout)
        super().emit(record)


def get_logger(module: str) -> logging.Logger:
    """The logger of one of our modules (``__name__``), under the ``lit_critic_rl`` logger."""
    return logging.getLogger(module if module.startswith(NAME) else f"{NAME}.{module}")


def _attach() -> None:
    logger = logging.getLogger(NAME)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    if logging.getLogger().hasHandlers() or any(isinstance(h, CurrentStdout) for h in logger.handlers):
        return
    handler = CurrentStdout(sys.stdout)
    handler.setFormatter(logging.Formatter(FORMAT))
    logger.addHandler(handler)
    logger.propagate = False


_attach()
