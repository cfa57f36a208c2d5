"""Machine facts for the header of docs/benchmarks.md: CPU, vector extensions, matmul speed, package versions.

Absolute seconds from two machines are not comparable (an AVX-512 core ran these benchmarks 2 to 3 times faster than an
AVX2-only one here), so every benchmark reports ratios taken in one run; this prints what the ratios were taken on.

    python -m benchmarks.machine
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import statistics
import time


def cpu_model_and_flags() -> tuple[str, list[str]]:
    model, flags = platform.processor() or "unknown", []
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = sorted({f for f in value.split() if f.startswith(("avx", "fma", "amx"))})
                    break
    except OSError:
        pass
    return model, flags


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times) / 1e9


def python_loop_s(n: int = 10**7) -> float:
    start = time.perf_counter()
    total = 0
    for i in range(n):
        total += i
    return time.perf_counter() - start


def main() -> None:
    import torch

    model, flags = cpu_model_and_flags()
    print(f"cpu: {model}, {os.cpu_count()} logical cores, torch threads {torch.get_num_threads()}")
    print(f"vector extensions: {' '.join(flags) or 'none reported'}")
    print(f"memory: {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f} GiB")
    print(f"fp32 2048x2048 matmul: {matmul_gflops():.0f} GFLOP/s (median of 5)")
    print(f"pure-Python loop of 10^7 additions: {python_loop_s():.2f} s")
    versions = []
    for name in ("torch", "transformers", "peft", "lightning", "trl", "openai"):
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} not installed")
    print(f"python {platform.python_version()}; " + ", ".join(versions))


if __name__ == "__main__":
    main()
