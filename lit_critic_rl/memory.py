"""Process memory policy: make glibc hand large freed blocks back to the OS.

PyTorch's CPU allocator is plain ``malloc``. glibc serves blocks of at least ``M_MMAP_THRESHOLD`` bytes with their own
mapping (returned to the OS on ``free``) and smaller ones from its heap, where freed memory stays resident. The
threshold starts at 128 KiB but rises, up to 32 MiB, every time a mapped block is freed, so after the first few
forward passes a model's multi-megabyte temporaries all live in the heap and peak RSS keeps the high-water mark of
every freed temporary. Fixing the threshold stops that rise (measured in docs/benchmarks.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_MMAP_THRESHOLD = -3  # from glibc's malloc.h


def set_malloc_mmap_threshold(nbytes: int) -> bool:
    """Fix glibc's mmap threshold at ``nbytes`` for this process; False (and no change) where there is no glibc."""
    if nbytes <= 0:
        raise ValueError(f"model.malloc_mmap_threshold must be a positive number of bytes, got {nbytes}")
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other libcs have no mallopt
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, int(nbytes)))
