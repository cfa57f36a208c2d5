"""A small HTTP client of a vLLM OpenAI-compatible server: readiness, LoRA adapters loaded and unloaded at run time,
and ``/v1/completions`` on token-id prompts returning the sampled ids and their log-probs.

It uses the standard library (``urllib``), so it needs nothing the project does not already have, and every request
has a bounded timeout. A request that fails (connection refused, timeout, HTTP 5xx or 429) is retried ``retries``
times with a short back-off; after that, or on any other HTTP error, one :class:`EngineError` names the config field
to look at. Nothing here knows about tokenizers or tensors: :mod:`lit_critic_rl.rollout_engines.vllm` turns the
answers into a ``Rollout``.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

RETRIED_STATUSES = (429, 500, 502, 503, 504)
URL_FIELD = "model.generation.engine_url"
TIMEOUT_FIELD = "model.generation.engine_timeout"


class EngineError(RuntimeError):
    """The rollout server is down, too slow, or answered something the engine cannot use."""


@dataclass
class Completion:
    """One sampled response as the server returned it."""

    token_ids: list[int]
    logprobs: list[float]
    """Log-prob of each sampled token under the server's model (``--logprobs-mode`` decides which distribution)."""
    finish_reason: str | None


class VLLMClient:
    """``url`` is the server's root (``http://127.0.0.1:8000``, with or without ``/v1``)."""

    def __init__(self, url: str, timeout: float = 120.0, retries: int = 2, backoff: float = 0.5) -> None:
        root = url.rstrip("/")
        self.root = root[: -len("/v1")] if root.endswith("/v1") else root
        self.timeout, self.retries, self.backoff = timeout, retries, backoff

    # ------------------------------------------------------------------ transport
    def _send(self, method: str, path: str, body: dict | None, timeout: float) -> str:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.root + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read().decode()

    def request(self, method: str, path: str, body: dict | None = None, timeout: float | None = None) -> str:
        """The response text of ``method path``; retried on connection errors, timeouts, 429 and 5xx."""
        timeout = self.timeout if timeout is None else timeout
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * attempt)
            try:
                return self._send(method, path, body, timeout)
            except urllib.error.HTTPError as err:
                detail = err.read().decode(errors="replace")[:300]
                if err.code not in RETRIED_STATUSES:
                    raise EngineError(f"{self.root}{path} answered HTTP {err.code}: {detail}") from err
                last = f"HTTP {err.code}: {detail}"
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as err:
                reason = getattr(err, "reason", err)
                last = f"timed out after {timeout:g} s" if isinstance(reason, TimeoutError) else str(reason)
        raise EngineError(
            f"rollout server {self.root} failed {self.retries + 1} times on {path} ({last}); check {URL_FIELD} "
            f"(is the server up? `lit-critic-rl serve-rollouts --config ...` starts one) or raise {TIMEOUT_FIELD}"
        )

    def post_json(self, path: str, body: dict) -> dict:
        text = self.request("POST", path, body)
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise EngineError(f"{self.root}{path} did not answer JSON: {text[:200]!r}") from err

    # ------------------------------------------------------------------ endpoints
    def ready(self, timeout: float = 2.0) -> bool:
        """Whether ``GET /health`` answers 200 right now (no retries)."""
        try:
            self._send("GET", "/health", None, timeout)
            return True
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError):
            return False

    def wait_ready(self, deadline_s: float, poll_s: float = 1.0, alive=lambda: True) -> None:
        """Poll ``/health`` until it answers, ``alive()`` turns False (a server process that exited), or
        ``deadline_s`` seconds pass; the last two raise :class:`EngineError`."""
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if self.ready():
                return
            if not alive():
                raise EngineError(f"the rollout server for {self.root} exited before it was ready (see its log)")
            time.sleep(poll_s)
        raise EngineError(f"rollout server {self.root} not ready after {deadline_s:g} s; check {URL_FIELD}")

    def metric(self, name: str) -> float:
        """The value of the Prometheus metric ``name`` on ``GET /metrics`` (summed over its labels), e.g.
        ``vllm:num_requests_running``: how many requests the server is running at once right now."""
        return metric_value(self.request("GET", "/metrics"), name)

    def load_adapter(self, name: str, path: str) -> None:
        """``POST /v1/load_lora_adapter``: the PEFT folder ``path`` becomes the model ``name`` (the server needs
        ``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`` and ``--enable-lora``)."""
        self.request("POST", "/v1/load_lora_adapter", {"lora_name": name, "lora_path": path})

    def unload_adapter(self, name: str) -> None:
        self.request("POST", "/v1/unload_lora_adapter", {"lora_name": name})

    def complete(self, model: str, prompts: list[list[int]], settings: dict, n: int = 1) -> list[Completion]:
        """One ``/v1/completions`` request sampling ``n`` responses to each token-id prompt: prompt 0's ``n``
        first, then prompt 1's... (vLLM's ``index`` order).

        ``settings`` holds the sampling fields (``max_tokens``, ``temperature``, ``stop``, ``seed``...);
        ``logprobs`` and ``return_token_ids`` are added here. An answer without ids or log-probs for every response
        is an error.
        """
        body = {"model": model, "prompt": prompts, **settings, "logprobs": 0, "return_token_ids": True, "n": n}
        answer = self.post_json("/v1/completions", body)
        return parse_completions(answer, len(prompts) * n)


def metric_value(text: str, name: str) -> float:
    """The sum of the samples of metric ``name`` in Prometheus text format (``name{labels} value`` or ``name value``
    lines; ``#`` lines are comments); KeyError when there is none."""
    samples = [line.rsplit(None, 1) for line in text.splitlines() if line.startswith((name + "{", name + " "))]
    if not samples:
        raise KeyError(f"no metric {name!r} in the server's /metrics")
    return sum(float(value) for _, value in samples)


def parse_completions(answer: dict, expected: int) -> list[Completion]:
    """The ``expected`` completions of a vLLM ``/v1/completions`` answer, ordered by ``index``."""
    choices = answer.get("choices")
    if not isinstance(choices, list) or len(choices) != expected:
        got = len(choices) if isinstance(choices, list) else answer.get("error", answer)
        raise EngineError(f"rollout server answered {got!r} choices where {expected} responses were asked for")
    out: list[Completion | None] = [None] * expected
    for choice in choices:
        ids = choice.get("token_ids")
        logprobs = (choice.get("logprobs") or {}).get("token_logprobs")
        if (
            not isinstance(ids, list)
            or not isinstance(logprobs, list)
            or len(ids) != len(logprobs)
            or any(x is None for x in logprobs)
        ):
            raise EngineError(
                "rollout server answered without token_ids and one log-prob per token: is it vLLM >= 0.10 "
                "(`return_token_ids`)?"
            )
        out[int(choice.get("index", 0))] = Completion(
            [int(i) for i in ids], [float(x) for x in logprobs], choice.get("finish_reason")
        )
    if any(c is None for c in out):
        raise EngineError("rollout server answered duplicate choice indices")
    return out
