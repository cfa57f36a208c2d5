"""Process memory policy: make glibc hand large freed blocks back to the OS.

PyTorch's CPU allocator is plain ``malloc``. glibc serves blocks of at least ``M_MMAP_THRESHOLD`` bytes with their own
mapping (returned to the OS on ``free``) and smaller ones from its heap, where freed memory stays resident. The
threshold starts at 128 KiB but rises, up to 32 MiB, every time a mapped block is freed, so after the first few
forward passes a model's multi-megabyte temporaries all live in the heap and peak RSS keeps the high-water mark of
every freed temporary. Fixing the threshold stops that rise (measured in docs/benchmarks.md), at the price of a page
fault on every page of every large tensor. ``trim_malloc`` is the cheaper alternative: called between the phases of
an iteration, it hands the free pages of the heap back once per phase instead of once per tensor.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from functools import cache

from lit_critic_rl.launch import ALLOCATOR_ENV, preloaded
from lit_critic_rl.logs import get_logger

log = get_logger(__name__)

M_MMAP_THRESHOLD = -3  # from glibc's malloc.h


@cache
def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def trim_malloc() -> bool:
    """Return the free pages of glibc's heaps to the OS (``malloc_trim(0)``); False where there is no glibc."""
    trim = getattr(_libc(), "malloc_trim", None)
    return bool(trim(0)) if trim is not None else False


def set_malloc_mmap_threshold(nbytes: int) -> bool:
    """Fix glibc's mmap threshold at ``nbytes`` for this process; False (and no change) where there is no glibc."""
    if nbytes <= 0:
        raise ValueError(f"model.malloc_mmap_threshold must be a positive number of bytes, got {nbytes}")
    mallopt = getattr(_libc(), "mallopt", None)  # musl and other libcs have no mallopt
    return bool(mallopt(M_MMAP_THRESHOLD, int(nbytes))) if mallopt is not None else False


def malloc_in_use(env: dict[str, str] | None = None) -> str:
    """``jemalloc`` or ``tcmalloc`` when preloaded (:mod:`lit_critic_rl.launch`), else ``glibc`` on Linux, else
    ``system``."""
    found = preloaded(dict(os.environ if env is None else env))
    return found or ("glibc" if sys.platform.startswith("linux") else "system")


def glibc_settings_note(mmap_threshold: int | None, trim: bool, allocator: str) -> str | None:
    """What to tell a user who set glibc's knobs in a process that runs another allocator (None: nothing)."""
    named = (("model.malloc_mmap_threshold", mmap_threshold is not None), ("model.malloc_trim", trim))
    fields = [field for field, is_set in named if is_set]
    if not fields or allocator == "glibc":
        return None
    return (
        f"{' and '.join(fields)} tune glibc's malloc, but this process runs {allocator}, which returns freed memory "
        f"itself: they do nothing here ({ALLOCATOR_ENV}=system runs glibc's)"
    )


def configure_malloc(mmap_threshold: int | None, trim: bool) -> None:
    """Apply ``model.malloc_mmap_threshold`` and say when glibc's knobs cannot act (another allocator runs)."""
    if mmap_threshold is not None:
        set_malloc_mmap_threshold(mmap_threshold)
    note = glibc_settings_note(mmap_threshold, trim, malloc_in_use())
    if note:
        log.warning(note)
