"""OpenAICritic with the real ``openai`` client against a chat-completions server on 127.0.0.1 started by the test."""

import pickle

import pytest

from lit_critic_rl.critic.openai_api import OpenAICritic
from lit_critic_rl.testing.chat_server import ChatServer

SECRET = "sk-test-do-not-leak-4242"


@pytest.fixture
def server():
    with ChatServer() as srv:
        yield srv


def make(server, tmp_path, **kw):
    kw = {
        "model": "loopback",
        "base_url": server.base_url,
        "api_key_env": None,
        "timeout": 5.0,
        "max_retries": 0,
        "cache_path": str(tmp_path / "cache.sqlite"),
        **kw,
    }
    return OpenAICritic(**kw)


def test_spans_come_back_located_in_the_response(server, tmp_path):
    critic = make(server, tmp_path)
    responses = ["we loved it, but the end was dull", "a table in a room"]
    out = critic.critique(["p1", "p2"], responses)
    assert [c.ok for c in out] == [True, True]
    assert [(responses[0][s.start : s.end], s.polarity) for s in out[0].spans] == [("loved", 1.0), ("dull", -1.0)]
    assert out[1].spans == [] and server.requests == 2


def test_cache_hit_makes_no_request_and_survives_a_new_critic(server, tmp_path):
    make(server, tmp_path).critique(["p"], ["a great film"])
    again = make(server, tmp_path)  # a new process after resume would open the same file
    out = again.critique(["p"], ["a great film"])
    assert server.requests == 1 and again.cache_hits == 1 and out[0].spans[0].label == "positive"


def test_429_and_500_are_retried_by_the_sdk(server, tmp_path):
    server.fail_statuses = [429, 500]
    out = make(server, tmp_path, max_retries=2).critique(["p"], ["good"])
    assert out[0].ok and server.requests == 3


def test_persistent_server_errors_become_masked_failures(server, tmp_path):
    server.fail_statuses = [500] * 10
    out = make(server, tmp_path).critique(["p", "p"], ["good", "bad"])
    assert [c.ok for c in out] == [False, False]
    assert {c.error for c in out} == {"InternalServerError"}


def test_timeouts_become_masked_failures(server, tmp_path):
    server.hang = 2.0
    out = make(server, tmp_path, timeout=0.3).critique(["p"], ["good"])
    assert not out[0].ok and out[0].error == "APITimeoutError"


def test_malformed_output_is_a_failure_not_a_zero_score(server, tmp_path):
    server.malformed = True
    out = make(server, tmp_path).critique(["p"], ["good"])
    assert not out[0].ok and out[0].error == "UnparseableCritique"


def test_budget_stops_calling(server, tmp_path, caplog):
    critic = make(server, tmp_path, max_requests=2, concurrency=1)
    out = critic.critique(["p"] * 4, ["good one", "bad two", "good three", "bad four"])
    assert [c.ok for c in out] == [True, True, False, False]
    assert out[3].error == "BudgetExhausted" and server.requests == 2
    assert "budget spent" in caplog.text


def test_requests_per_minute_spaces_calls(server, tmp_path):
    critic = make(server, tmp_path, requests_per_minute=600, concurrency=4)  # one start per 0.1 s
    import time

    start = time.monotonic()
    critic.critique(["p"] * 4, ["good a", "good b", "good c", "good d"])
    assert time.monotonic() - start >= 0.3  # a lower bound the limiter guarantees, not a speed assertion


def test_api_key_comes_from_the_environment_and_is_never_kept(server, tmp_path, monkeypatch):
    monkeypatch.setenv("LCR_TEST_KEY", SECRET)
    critic = make(server, tmp_path, api_key_env="LCR_TEST_KEY")
    assert critic.critique(["p"], ["good"])[0].ok
    assert SECRET not in repr(critic) and SECRET.encode() not in pickle.dumps(critic)
    assert SECRET not in str(vars(critic))


def test_missing_key_variable_is_named_without_a_value(monkeypatch):
    monkeypatch.delenv("LCR_MISSING_KEY", raising=False)
    with pytest.raises(ValueError, match="critic.api_key_env: the environment variable 'LCR_MISSING_KEY' is not set"):
        OpenAICritic(model="m", api_key_env="LCR_MISSING_KEY")


def test_token_budget_stops_calling(server, tmp_path):
    critic = make(server, tmp_path, max_total_tokens=1, concurrency=1)
    out = critic.critique(["p", "p"], ["good one", "good two"])
    assert [c.ok for c in out] == [True, False] and server.requests == 1 and critic.tokens_used > 1


def test_tokens_per_minute_waits_for_the_window():
    import asyncio
    import time

    from lit_critic_rl.critic.openai_api import RateLimiter

    async def scenario():
        limiter = RateLimiter(None, tokens_per_minute=10, window=0.3)
        await limiter.acquire()
        limiter.record(10)  # the window's whole allowance
        start = time.monotonic()
        await limiter.acquire()
        return time.monotonic() - start

    assert asyncio.run(scenario()) >= 0.25  # blocked until the first request leaves the window


def test_batches_share_one_client_and_one_rate_limit(server, tmp_path):
    import time

    critic = make(server, tmp_path, requests_per_minute=600, concurrency=4)  # one start per 0.1 s
    start = time.monotonic()
    assert all(c.ok for c in critic.critique(["p"] * 2, ["good a", "good b"]))
    client = critic._client
    assert all(c.ok for c in critic.critique(["p"] * 2, ["good c", "good d"]))
    assert critic._client is client  # kept-alive connections are reused across batches
    assert time.monotonic() - start >= 0.3  # 4 starts spaced 0.1 s apart: the cap holds across the two batches
    critic.close()
    assert critic._client is None and critic.critique(["p"], ["good e"])[0].ok  # a closed critic starts afresh
    critic.close()


@pytest.mark.parametrize(
    ("reply_format", "template", "expected"),
    [
        ("lines", "sentiment", [("loved", "positive"), ("dull", "negative")]),
        ("json", "sentiment", [("loved", "positive"), ("dull", "negative")]),
        ("paper_sentiment", "sentiment_relc", [("loved", "positive"), ("dull", "negative")]),
        ("paper_toxicity", "toxicity_relc", [("idiot", "toxic")]),
        ("paper_summarization", "summarization_relc", [("dull", "factually incorrect")]),
    ],
)
def test_each_paper_format_is_read_end_to_end(tmp_path, reply_format, template, expected):
    responses = [" we loved it, but the end was dull, you idiot", " a table in a room"]
    with ChatServer(reply_format=reply_format) as server:
        out = make(server, tmp_path, template=template).critique(["I saw it and", "There is"], responses, [0.2, 0.9])
    assert [c.outcome for c in out] == ["ok", "empty"]
    assert [(responses[0][s.start : s.end], s.label) for s in out[0].spans] == expected
    assert out[0].dropped == []


def test_each_rank_takes_its_share_of_the_run_limits(server, tmp_path):
    """Three ranks split a budget of 5 requests 2/2/1 and a rate of 600 rpm into 200 each; a rank stops at its share."""
    from lit_critic_rl.critic.base import CriticSetup

    shares = []
    for rank in range(3):
        critic = make(server, tmp_path, max_requests=5, requests_per_minute=600, concurrency=4)
        critic.setup(CriticSetup(None, None, "m", tmp_path, rank=rank, world_size=3))
        shares.append((critic.max_requests, critic.requests_per_minute, critic.concurrency))
    assert shares == [(2, 200.0, 2), (2, 200.0, 1), (1, 200.0, 1)]
    assert critic.run_limits["max_requests"] == 5  # the configured totals are kept, so a second setup does not re-split
    critic.setup(CriticSetup(None, None, "m", tmp_path, rank=2, world_size=3))
    out = critic.critique(["p"] * 3, ["good a", "bad b", "good c"])
    assert [c.ok for c in out] == [True, False, False] and server.requests == 1
