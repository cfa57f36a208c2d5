"""The console entry point's first step: run under jemalloc (or tcmalloc) when the machine has it.

PyTorch's CPU tensors come from ``malloc``. Under glibc's allocator a PPO update leaves hundreds of MiB of freed
activations in the heap (``docs/benchmarks.md``, "Where the memory goes"), and the only glibc setting that removes
them (``model.malloc_mmap_threshold``) makes every large tensor a fresh mapping, +42% of the iteration's time.
jemalloc and tcmalloc reuse freed blocks across sizes and return pages to the OS themselves. An allocator can only
be swapped before the process starts (``LD_PRELOAD``), so :func:`run` re-executes the same command once with it,
before anything heavy is imported.

``LIT_CRITIC_RL_ALLOCATOR`` chooses: ``auto`` (the default: jemalloc, else tcmalloc, else glibc's, silently),
``jemalloc`` or ``tcmalloc`` (an error when it is not installed) or ``system`` (glibc's; no re-execution). The
libraries come with the OS (``apt install libjemalloc2`` / ``libtcmalloc-minimal4``, ``dnf install jemalloc``,
``conda install jemalloc``). A process already running under one (in ``LD_PRELOAD``) is left as it is, and so are
the processes it starts (DDP ranks inherit the environment).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ALLOCATOR_ENV = "LIT_CRITIC_RL_ALLOCATOR"
CHOICES = ("auto", "jemalloc", "tcmalloc", "system")
LIBRARIES = {
    "jemalloc": ("libjemalloc.so.2", "libjemalloc.so"),
    "tcmalloc": ("libtcmalloc_minimal.so.4", "libtcmalloc.so.4", "libtcmalloc_minimal.so", "libtcmalloc.so"),
}
INSTALL_HINT = {
    "jemalloc": "apt install libjemalloc2 (Debian/Ubuntu), dnf install jemalloc, or conda install jemalloc",
    "tcmalloc": "apt install libtcmalloc-minimal4 (Debian/Ubuntu), dnf install gperftools-libs, or conda install "
    "gperftools",
}


def library_dirs(env: dict[str, str]) -> list[Path]:
    """Where the OS and the environments put shared libraries, the active ones first."""
    dirs = [Path(sys.prefix) / "lib"]
    if env.get("CONDA_PREFIX"):
        dirs.append(Path(env["CONDA_PREFIX"]) / "lib")
    dirs += [Path(p) for p in env.get("LD_LIBRARY_PATH", "").split(":") if p]
    dirs += [Path(p) for p in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib")]
    dirs += [Path("/usr/local/lib"), Path("/opt/homebrew/lib")]
    return dirs


def find_allocator(name: str, dirs: list[Path]) -> Path | None:
    """The first of ``name``'s library files in ``dirs``."""
    for folder in dirs:
        for file in LIBRARIES[name]:
            if (folder / file).is_file():
                return folder / file
    return None


def preloaded(env: dict[str, str]) -> str | None:
    """The allocator already in ``LD_PRELOAD`` (``jemalloc``/``tcmalloc``), if any."""
    for entry in env.get("LD_PRELOAD", "").replace(" ", ":").split(":"):
        for name in LIBRARIES:
            if Path(entry).name.startswith(f"lib{name}"):
                return name
    return None


def allocator_preload(env: dict[str, str], dirs: list[Path]) -> Path | None:
    """The library to preload for ``LIT_CRITIC_RL_ALLOCATOR`` (None: run as it is). ``ValueError`` names the variable
    for a value it does not know, or for an allocator it asks for by name that is not installed."""
    choice = env.get(ALLOCATOR_ENV, "auto").strip().lower() or "auto"
    if choice not in CHOICES:
        raise ValueError(f"{ALLOCATOR_ENV} must be one of {', '.join(CHOICES)}, got {env[ALLOCATOR_ENV]!r}")
    if choice == "system" or preloaded(env):
        return None
    for name in LIBRARIES if choice == "auto" else (choice,):
        found = find_allocator(name, dirs)
        if found:
            return found
    if choice != "auto":
        raise ValueError(
            f"{ALLOCATOR_ENV}={choice}, but no {' or '.join(LIBRARIES[choice])} was found in "
            f"{', '.join(str(d) for d in dirs)}: install it ({INSTALL_HINT[choice]}) or set {ALLOCATOR_ENV}=auto"
        )
    return None


def reexec_with_allocator(env: dict[str, str] | None = None) -> None:
    """Re-execute this very command with the allocator :func:`allocator_preload` picks (it never returns then);
    return at once when there is none to add."""
    env = dict(os.environ if env is None else env)
    if sys.platform != "linux":
        return
    library = allocator_preload(env, library_dirs(env))
    if library is None:
        return
    env["LD_PRELOAD"] = ":".join(p for p in (str(library), env.get("LD_PRELOAD", "")) if p)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)


def run() -> None:
    """The ``lit-critic-rl`` script and ``python cli.py``: the allocator first, then :func:`lit_critic_rl.cli.run`."""
    try:
        reexec_with_allocator()
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    from lit_critic_rl.cli import run as cli_run

    cli_run()
