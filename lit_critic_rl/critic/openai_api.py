"""OpenAICritic: any OpenAI-compatible chat-completions server (OpenAI, vLLM, llama.cpp server, ...) via the official
``openai`` SDK.

Requests run concurrently on asyncio under a concurrency limit and optional requests-per-minute / tokens-per-minute
limits. Retries with exponential backoff on 429, 5xx, connection errors and timeouts are the SDK's own
(``max_retries``). A total budget of requests and/or tokens stops calling once spent: further samples get failed
critiques (error ``BudgetExhausted``), which mask their intrinsic reward, and a warning says so once.
The API key is read from the environment variable named by ``api_key_env`` when the first batch is sent; it lives only
inside the SDK client, which is never pickled, and never reaches configs, checkpoints or logs.

Limits are for the whole run. In a run of ``W`` processes every rank has its own critic object and its own
connection, so at setup each takes its share: ``max_requests``, ``max_total_tokens`` and ``concurrency`` are split
into integer shares that sum to the configured totals (the first ranks take the remainder; concurrency is at least 1
per rank), and ``requests_per_minute`` / ``tokens_per_minute`` are divided by ``W``. A rank that spends its share
stops calling even if another rank has some left: the split is static, with no traffic between ranks.

Structured outputs (``structured``): critique requests carry a ``response_format`` asking for JSON in the template's
labels (:mod:`~lit_critic_rl.critic.structured`), and the prompt ends with an instruction saying so; or, with
``grammar`` (vLLM only), ``structured_outputs.grammar`` with the response's quote grammar, and the template's own
prompt: an answer the token limit cut keeps its finished lines (``finish_reason`` other than ``stop``), as the local
constrained critics do. A server that rejects the field (HTTP 400 or 422 naming it, or any 400/422 before a
structured request has ever succeeded) costs one retry per rejected sample, with the template's own prompt and no
structured field; from then on the critic stays in free text (``structured_fallbacks`` counts the switch, logged as
``train/critic_structured_fallbacks``, with one warning). A server that ignores the parameter and answers prose is read
as free text. The mode is part of the cache key (free text keeps the key it always had). :meth:`generate` itself is
plain text generation, as other users of the backend (``LLMRewriter``) expect.

One event loop (in a daemon thread) and one SDK client serve every batch of a critic, so kept-alive connections are
reused: a fresh client per batch cost 50-100 ms on a 2-core CPU, which capped concurrency-16 throughput.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import deque
from typing import Literal

from lit_critic_rl.critic.base import CriticSetup, Critique
from lit_critic_rl.critic.constrained import complete_lines
from lit_critic_rl.critic.generative import GenerativeCritic
from lit_critic_rl.critic.structured import MODES, REQUEST_FIELD, StructuredMode, output_instruction, request_fields
from lit_critic_rl.critic.templates import InputMode
from lit_critic_rl.distributed import rank_share
from lit_critic_rl.logs import get_logger

log = get_logger(__name__)


class BudgetExhausted(RuntimeError):
    """The critic's request or token budget is spent."""


class StructuredOutputRejected(RuntimeError):
    """The server refused a structured request (or it was not sent after another was refused): retried as free text."""


def rejects_structured(err: BaseException, structured_ever_ok: bool, field: str = "response_format") -> bool:
    """Whether a failed request says the server does not take the structured ``field``: a 400/422 that names it, or
    any 400/422 while no structured request has succeeded yet."""
    status = getattr(err, "status_code", None)
    if status not in (400, 422):
        return False
    return not structured_ever_ok or field in str(err).lower()


class RateLimiter:
    """Spaces request starts to ``requests_per_minute`` and waits while the last minute used ``tokens_per_minute``."""

    def __init__(
        self, requests_per_minute: float | None, tokens_per_minute: float | None, window: float = 60.0
    ) -> None:
        self.window = window
        self.interval = window / requests_per_minute if requests_per_minute else 0.0
        self.tokens_per_minute = tokens_per_minute
        self.next_start = 0.0
        self.used: deque[tuple[float, int]] = deque()
        self.lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self.lock:
            now = time.monotonic()
            if self.tokens_per_minute:
                while True:
                    while self.used and self.used[0][0] <= now - self.window:
                        self.used.popleft()
                    if sum(n for _, n in self.used) < self.tokens_per_minute:
                        break
                    await asyncio.sleep(self.used[0][0] + self.window - now)
                    now = time.monotonic()
            if self.next_start > now:
                await asyncio.sleep(self.next_start - now)
                now = time.monotonic()
            self.next_start = now + self.interval

    def record(self, tokens: int) -> None:
        self.used.append((time.monotonic(), tokens))


class OpenAICritic(GenerativeCritic):
    runs_off_thread = True  # network-bound: overlapped with the teacher-forced passes

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key_env: str | None = "OPENAI_API_KEY",
        template: str = "sentiment",
        max_new_tokens: int = 64,
        temperature: float = 0.0,
        concurrency: int = 8,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        max_requests: int | None = None,
        max_total_tokens: int | None = None,
        cache_path: str | None = None,
        score_range: tuple[float, float] = (0.0, 1.0),
        template_input: InputMode | None = None,
        structured: Literal["json_schema", "json_object", "grammar", "none"] = "json_schema",
        max_spans: int = 4,
    ) -> None:
        """
        Args:
            model: Model name sent to the server.
            base_url: Server URL, e.g. ``http://127.0.0.1:8000/v1``; None = the SDK's default (OpenAI).
            api_key_env: Name of the environment variable holding the key; None for servers that need none.
            template: Shipped template name or template file path.
            max_new_tokens: ``max_tokens`` of each completion.
            temperature: Sampling temperature (0 = greedy, as in the paper).
            concurrency: Requests in flight at once (over all processes of the run).
            requests_per_minute: Cap on request starts per minute over all processes (None = none).
            tokens_per_minute: Cap on tokens (prompt + completion, as reported) per minute over all processes
                (None = none).
            timeout: Seconds per request attempt.
            max_retries: SDK retries (exponential backoff) on 429, 5xx, connection errors and timeouts.
            max_requests: Total request budget of the run, all processes together (None = unlimited).
            max_total_tokens: Total token budget of the run, all processes together (None = unlimited).
            cache_path: sqlite cache file; None = ``critic_cache.sqlite`` in the trainer's root dir.
            score_range: Range of the extrinsic score, mapped onto the template's 1-10 ``{score}``.
            template_input: 'separate' or 'joined' prompt and response; None = the template's own ``# input:``.
            structured: Ask for JSON in the template's labels through ``response_format``: ``json_schema`` (a strict
                schema; OpenAI, vLLM, SGLang), ``json_object`` (any JSON object; the prompt gives the shape) or
                ``grammar`` (vLLM's ``structured_outputs.grammar``, not OpenAI's API: the template's ``label: "quote"``
                lines with quotes of the response only, as ``constrained: true`` of a local critic) or ``none`` (the
                template's free-text format). A server that rejects it falls back to ``none`` once.
            max_spans: Most lines of a ``grammar`` critique.
        """
        super().__init__(template, cache_path, score_range, template_input)
        if structured not in MODES:
            raise ValueError(f"critic.structured must be one of {MODES}, got '{structured}'")
        if max_spans < 1:
            raise ValueError(f"critic.max_spans must be at least 1, got {max_spans}")
        if concurrency < 1:
            raise ValueError(f"critic.concurrency must be >= 1, got {concurrency}")
        if api_key_env is not None and not os.environ.get(api_key_env):
            raise ValueError(f"critic.api_key_env: the environment variable '{api_key_env}' is not set")
        self.model, self.base_url, self.api_key_env = model, base_url, api_key_env
        self.max_new_tokens, self.temperature = max_new_tokens, temperature
        self.concurrency, self.timeout, self.max_retries = concurrency, timeout, max_retries
        self.requests_per_minute, self.tokens_per_minute = requests_per_minute, tokens_per_minute
        self.max_requests, self.max_total_tokens = max_requests, max_total_tokens
        self.run_limits = {
            "concurrency": concurrency,
            "requests_per_minute": requests_per_minute,
            "tokens_per_minute": tokens_per_minute,
            "max_requests": max_requests,
            "max_total_tokens": max_total_tokens,
        }
        """The configured limits of the whole run; the attributes above hold this rank's share after setup."""
        self.max_spans = max_spans
        self.structured: StructuredMode = structured
        """The mode asked for now: the configured one until a server rejects it, then ``none``."""
        self.structured_fallbacks = 0
        self._structured_ok = False
        self.requests_made = 0
        self.tokens_used = 0
        self._warned_budget = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client = None
        self._limiter: RateLimiter | None = None

    @property
    def identity(self) -> str:
        base = f"openai|{self.base_url}|{self.model}|{self.max_new_tokens}|{self.temperature}"
        if self.structured == "grammar":
            return f"{base}|grammar{self.max_spans}"
        return base if self.structured == "none" else f"{base}|{self.structured}"

    @property
    def output_instruction(self) -> str:
        return output_instruction(self.template, self.structured)

    def stats(self) -> dict[str, float]:
        return {**super().stats(), "critic_structured_fallbacks": float(self.structured_fallbacks)}

    def __repr__(self) -> str:
        return f"OpenAICritic(model={self.model!r}, base_url={self.base_url!r}, api_key_env={self.api_key_env!r})"

    def setup(self, context: CriticSetup) -> None:
        """Take this rank's share of the run's limits (see the module docstring)."""
        super().setup(context)
        for name, value in rank_limits(self.run_limits, context.rank, context.world_size).items():
            setattr(self, name, value)

    def budget_left(self) -> bool:
        if self.max_requests is not None and self.requests_made >= self.max_requests:
            return False
        return self.max_total_tokens is None or self.tokens_used < self.max_total_tokens

    def generate(self, texts: list[str]) -> list[str | BaseException]:
        """Plain completions of ``texts`` (no structured field)."""
        return self._run(texts, "none", [""] * len(texts))

    def generate_for_critique(self, texts: list[str], responses: list[str]) -> list[str | BaseException]:
        return self._run(texts, self.structured, responses)

    def _run(self, texts: list[str], mode: StructuredMode, responses: list[str]) -> list[str | BaseException]:
        work = self._generate_all(texts, mode, responses)
        return asyncio.run_coroutine_threadsafe(work, self._event_loop()).result()

    def critique(self, prompts: list[str], responses: list[str], scores: list[float] | None = None) -> list[Critique]:
        """As :meth:`GenerativeCritic.critique`; samples whose structured request was rejected are asked once more
        in free text (the critic has fallen back by then)."""
        out = super().critique(prompts, responses, scores)
        redo = [i for i, c in enumerate(out) if c.error == StructuredOutputRejected.__name__]
        if redo:
            again = super().critique(
                [prompts[i] for i in redo],
                [responses[i] for i in redo],
                [scores[i] for i in redo] if scores is not None else None,
            )
            for i, critique in zip(redo, again):
                out[i] = critique
        return out

    def _fall_back(self, mode: StructuredMode, err: BaseException) -> None:
        """Switch to free text for the rest of the run (once): count it and warn without the server's message."""
        if self.structured == "none":
            return
        self.structured = "none"
        self.structured_fallbacks += 1
        log.warning(
            "critic: the server rejected %s (%s) with %s (HTTP %s); retrying as free text and "
            "staying in free text for the rest of the run",
            REQUEST_FIELD[mode],
            mode,
            type(err).__name__,
            getattr(err, "status_code", "?"),
        )

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="openai-critic-loop", daemon=True).start()
            self._loop = loop
        return self._loop

    def close(self) -> None:
        """Close the HTTP client, stop the event loop (a later batch starts new ones) and close the cache."""
        super().close()
        loop, client, self._loop, self._client, self._limiter = self._loop, self._client, None, None, None
        if loop is None:
            return
        if client is not None:
            asyncio.run_coroutine_threadsafe(client.close(), loop).result()
        loop.call_soon_threadsafe(loop.stop)

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state["_loop"] = state["_client"] = state["_limiter"] = None  # the client holds the key; none pickles
        return state

    async def _generate_all(
        self, texts: list[str], mode: StructuredMode, responses: list[str]
    ) -> list[str | BaseException]:
        import openai

        if self._client is None:
            key = os.environ.get(self.api_key_env, "") if self.api_key_env else "unused"
            self._client = openai.AsyncOpenAI(
                api_key=key, base_url=self.base_url, timeout=self.timeout, max_retries=self.max_retries
            )
        client = self._client
        gate = asyncio.Semaphore(self.concurrency)
        if self._limiter is None:  # one limiter for the critic's life, so rate caps hold across batches too
            self._limiter = RateLimiter(self.requests_per_minute, self.tokens_per_minute)
        limiter = self._limiter

        async def one(text: str, response: str) -> str | BaseException:
            async with gate:
                if mode != "none" and self.structured == "none":  # another request of the batch was rejected
                    return StructuredOutputRejected("not sent: the server rejected response_format")
                if not self.budget_left():
                    if not self._warned_budget:
                        log.warning(
                            "critic budget spent (%d requests, %d tokens): no more critic calls; "
                            "samples get no intrinsic reward",
                            self.requests_made,
                            self.tokens_used,
                        )
                        self._warned_budget = True
                    return BudgetExhausted("critic budget spent")
                await limiter.acquire()
                self.requests_made += 1
                try:
                    reply = await client.chat.completions.create(
                        model=self.model,
                        messages=[{"role": "user", "content": text}],
                        max_tokens=self.max_new_tokens,
                        temperature=self.temperature,
                        extra_body=request_fields(self.template, mode, response, self.max_spans),
                    )
                except Exception as err:  # the SDK has retried already; the failure is data, not a crash
                    if mode != "none" and rejects_structured(err, self._structured_ok, REQUEST_FIELD[mode]):
                        self._fall_back(mode, err)
                        return StructuredOutputRejected(type(err).__name__)
                    return err
                if mode != "none":
                    self._structured_ok = True
                tokens = reply.usage.total_tokens if reply.usage is not None else 0
                self.tokens_used += tokens
                limiter.record(tokens)
                content = reply.choices[0].message.content if reply.choices else None
                if not isinstance(content, str):
                    return ValueError("empty completion")
                if mode == "grammar":  # keep the finished lines of an answer the token limit cut
                    return complete_lines(content, reply.choices[0].finish_reason == "stop")
                return content

        return list(await asyncio.gather(*(one(t, r) for t, r in zip(texts, responses))))


def rank_limits(limits: dict, rank: int, world: int) -> dict:
    """One rank's share of the run's critic limits: integer budgets and concurrency split into shares that sum to the
    total (concurrency at least 1), per-minute rates divided evenly; None (no limit) stays None."""
    share = {k: rank_share(limits[k], rank, world) for k in ("max_requests", "max_total_tokens", "concurrency")}
    share["concurrency"] = max(1, share["concurrency"])
    for k in ("requests_per_minute", "tokens_per_minute"):
        share[k] = None if limits[k] is None else limits[k] / world
    return share
