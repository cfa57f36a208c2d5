"""Critic I/O: OpenAICritic critiques/s against the loopback chat-completions server at a fixed latency, for several
concurrency limits, plus the cache-hit path (which must make no request).

    python -m benchmarks.critic_io            # 64 critiques per setting, 200 ms latency, 3 repeats (~1 min)
    python -m benchmarks.critic_io --quick    # 32 critiques, 1 repeat
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from lit_critic_rl.critic.openai_api import OpenAICritic
from lit_critic_rl.testing.chat_server import ChatServer


def run(n: int, latency: float, concurrencies: list[int], repeats: int) -> None:
    responses = [f"sample {i}: the acting was good but the ending was dull" for i in range(n)]
    prompts = ["The film opens with"] * n
    rates: dict[int, list[float]] = {c: [] for c in concurrencies}
    with ChatServer(latency=latency) as server:
        for _ in range(repeats):
            for c in concurrencies:  # interleaved: every repeat visits every setting
                critic = OpenAICritic("loopback", server.base_url, api_key_env=None, concurrency=c, max_retries=0)
                start = time.perf_counter()
                out = critic.critique(prompts, responses)
                rates[c].append(n / (time.perf_counter() - start))
                failed = [o.error for o in out if not o.ok]
                assert not failed, f"concurrency {c}: {len(failed)} failed critiques, e.g. {failed[0]}"
        with tempfile.TemporaryDirectory() as tmp:
            critic = OpenAICritic(
                "loopback", server.base_url, api_key_env=None, concurrency=16, cache_path=f"{tmp}/cache.sqlite"
            )
            critic.critique(prompts, responses)
            before = server.requests
            start = time.perf_counter()
            critic.critique(prompts, responses)
            hit_rate = n / (time.perf_counter() - start)
            hit_requests = server.requests - before
    base = statistics.median(rates[concurrencies[0]])
    print(f"loopback server latency {latency * 1000:.0f} ms, {n} critiques per run, {repeats} repeats (median)")
    print("| concurrency | critiques/s | x concurrency 1 |")
    print("|---:|---:|---:|")
    for c in concurrencies:
        med = statistics.median(rates[c])
        print(f"| {c} | {med:.1f} | {med / base:.1f}x |")
    print(f"cache-hit path: {hit_rate:.0f} critiques/s, {hit_requests} requests made")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args()
    n, repeats = (32, 1) if args.quick else (64, 3)
    run(n, args.latency, [1, 4, 16], repeats)


if __name__ == "__main__":
    main()
