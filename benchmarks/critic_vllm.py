"""SmolLM2-135M-Instruct as an ``OpenAICritic`` behind a vLLM server: the 52 sentences of
:mod:`benchmarks.critic_constrained`, the ``sentiment`` template, greedy, all 52 sent in one batch at concurrency
16, once per ``structured`` mode (``none``, ``json_schema``, ``grammar``). The columns are those of
``critic_constrained`` (failed critiques, located / named quotes, polarity agreement with VADER), then the seconds
per critique (the batch's wall time over 52; no cache, one warm-up request first), the most requests the server ran
at once (``vllm:num_requests_running``, sampled every 0.1 s) and why critiques failed and quotes were dropped.

    python -m benchmarks.critic_vllm --url http://127.0.0.1:8000/v1   # a server started by serve-rollouts
    python -m benchmarks.critic_vllm --start-server                    # starts one from .venv-vllm (1-2 min)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.critic_constrained import SENTENCES, Summary, summarize
from lit_critic_rl.critic.base import Critique

MODES = ("none", "json_schema", "grammar")
MAX_NEW_TOKENS = {"none": 48, "json_schema": 128, "grammar": 48}
"""Tokens per critique: 48 as in ``critic_constrained``; a JSON span costs about twice as many (``openai.yaml``)."""
SERVED_NAME = "smollm2-135m-instruct"


def outcome_counts(critiques: list[Critique]) -> Counter:
    """``failed:<error>`` per failed critique and ``dropped:<reason>`` per dropped quote, counted."""
    counts = Counter(f"failed:{c.error}" for c in critiques if not c.ok)
    counts.update(f"dropped:{d.reason}" for c in critiques for d in c.dropped)
    return counts


def measure(
    url: str, model: str, mode: str, concurrency: int, limit: int = len(SENTENCES)
) -> tuple[Summary, list[Critique], float | None, int]:
    """The summary of one mode on the first ``limit`` sentences, its critiques, the peak of running requests and the
    structured fallbacks."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from lit_critic_rl.critic.openai_api import OpenAICritic
    from lit_critic_rl.rollout_engines.vllm_client import VLLMClient
    from lit_critic_rl.testing.peak import PeakWatcher

    vader, server = SentimentIntensityAnalyzer(), VLLMClient(url)
    prompts, responses = [p for p, _ in SENTENCES[:limit]], [r for _, r in SENTENCES[:limit]]
    with tempfile.TemporaryDirectory() as tmp:
        critic = OpenAICritic(
            model,
            url,
            api_key_env=None,
            structured=mode,
            max_new_tokens=MAX_NEW_TOKENS[mode],
            concurrency=concurrency,
            timeout=600.0,
            cache_path=f"{tmp}/c.sqlite",
        )
        critic.critique([prompts[0]], [responses[0] + " (warm-up)"])  # the connection, the first grammar
        with PeakWatcher(lambda: server.metric("vllm:num_requests_running")) as watch:
            start = time.perf_counter()
            critiques = critic.critique(prompts, responses)
            wall = time.perf_counter() - start
        fallbacks = critic.structured_fallbacks
        critic.close()
    seconds = [wall / len(critiques)] * len(critiques)
    summary = summarize(critiques, seconds, lambda t: vader.polarity_scores(t)["compound"])
    return summary, critiques, watch.peak, fallbacks


def start_own_server(log: Path):
    """A ``serve-rollouts``-style server of the SmolLM2 asset on a free port: (its ``/v1`` URL, its process)."""
    import socket

    from lit_critic_rl.models.loading import SMOLLM2_ALIAS, materialize_asset
    from lit_critic_rl.rollout_engines.server import served_names, server_command, start_server, vllm_python

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    folder = str(materialize_asset(SMOLLM2_ALIAS))
    names = served_names(SMOLLM2_ALIAS, folder)
    command = server_command(vllm_python(), folder, url, adapter_r=16, max_model_len=1024, names=names)
    return url + "/v1", start_server(command, url, log)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="the server's /v1 URL")
    where.add_argument("--start-server", action="store_true", help="start a vLLM server of the SmolLM2 asset")
    parser.add_argument("--model", default=SERVED_NAME, help="the model name the server answers to")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--limit", type=int, default=len(SENTENCES), help="first N sentences only")
    args = parser.parse_args()
    proc = None
    url = args.url
    if args.start_server:
        from lit_critic_rl.rollout_engines.server import stop_server

        log = Path(tempfile.mkdtemp()) / "vllm_server.log"
        print(f"starting vLLM (log: {log})", flush=True)
        url, proc = start_own_server(log)
    try:
        for mode in args.modes:
            s, critiques, peak, fallbacks = measure(url, args.model, mode, args.concurrency, args.limit)
            print(
                f"{mode:11s} critiques {s.n}  failed {s.failed} ({s.failed_rate:.0%})  "
                f"located {s.located}/{s.named} ({s.located_rate:.0%})  VADER agreement {s.agree}/{s.scored} "
                f"({s.agreement:.0%}; {s.located - s.scored} located quotes VADER scores 0)  "
                f"{s.median_seconds:.2f} s/critique  peak running {peak}  fallbacks {fallbacks}",
                flush=True,
            )
            print("    ", dict(outcome_counts(critiques).most_common()))
            for c in critiques[:3]:
                print("    raw:", repr(c.raw[:140]))
    finally:
        if proc is not None:
            stop_server(proc)


if __name__ == "__main__":
    main()
