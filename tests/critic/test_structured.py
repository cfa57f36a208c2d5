"""Structured critic outputs: the schema built from a template's labels, and OpenAICritic requesting it with the real
``openai`` client against the loopback server on 127.0.0.1 (servers that answer only schema requests, that reject
``response_format``, that ignore it)."""

import json
import logging

import pytest

from lit_critic_rl.critic.constrained import critique_grammar
from lit_critic_rl.critic.openai_api import OpenAICritic, rejects_structured
from lit_critic_rl.critic.parsing import parse_critique
from lit_critic_rl.critic.structured import (
    output_instruction,
    request_fields,
    response_format,
    response_schema,
    sample_name,
)
from lit_critic_rl.critic.templates import load_template
from lit_critic_rl.testing.chat_server import ChatServer, sample_text

RESPONSES = [" we loved it, but the end was dull", " a table in a room", " a great start", " boring"]


def make(server, tmp_path, **kw):
    kw = {
        "model": "loopback",
        "base_url": server.base_url,
        "api_key_env": None,
        "timeout": 5.0,
        "max_retries": 0,
        "cache_path": str(tmp_path / "cache.sqlite"),
        "concurrency": 2,
        **kw,
    }
    return OpenAICritic(**kw)


def marked(out, responses):
    return [[(r[s.start : s.end], s.label) for s in c.spans] for c, r in zip(out, responses)]


def test_schema_is_built_from_the_template_labels():
    expected = {
        "type": "object",
        "properties": {
            "spans": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "quote": {"type": "string"},
                        "label": {"type": "string", "enum": ["factually incorrect", "irrelevant", "incoherent"]},
                    },
                    "required": ["quote", "label"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["spans"],
        "additionalProperties": False,
    }
    template = load_template("summarization_relc")
    assert response_schema(template) == expected
    fmt = response_format(template, "json_schema")
    assert fmt == {
        "type": "json_schema",
        "json_schema": {"name": "critique_summarization_relc", "strict": True, "schema": expected},
    }
    assert response_format(template, "json_object") == {"type": "json_object"}
    assert response_format(template, "none") is None
    assert response_schema(load_template("toxicity"))["properties"]["spans"]["items"]["properties"]["label"] == {
        "type": "string",
        "enum": ["toxic"],
    }


@pytest.mark.parametrize("name", ["sentiment", "sentiment_relc", "toxicity_relc", "summarization"])
def test_the_json_reader_reads_answers_of_the_schema(name):
    template = load_template(name)
    labels = list(template.labels)
    response = "one two three"
    answer = json.dumps({"spans": [{"quote": "two", "label": labels[-1]}, {"quote": "one", "label": labels[0]}]})
    critique = parse_critique(answer, response, template)
    assert critique.outcome == "ok"
    assert [(s.text, s.label) for s in critique.spans] == [("two", labels[-1]), ("one", labels[0])]
    assert parse_critique('{"spans": []}', response, template).outcome == "empty"


def test_instruction_names_the_sample_the_labels_and_none():
    template = load_template("summarization")
    text = output_instruction(template, "json_schema")
    assert sample_name(template) == "summary" and sample_name(load_template("toxicity_relc")) == "text"
    assert '"factually incorrect", "irrelevant", "incoherent"' in text and '{"spans": []}' in text
    assert output_instruction(template, "json_object") == text and output_instruction(template, "none") == ""
    with pytest.raises(ValueError, match="critic.structured"):
        output_instruction(template, "xml")


def test_free_text_prompts_are_unchanged_and_the_instruction_follows_the_sample():
    template = load_template("sentiment")
    plain = template.render("Review start", "we loved it")
    assert template.render("Review start", "we loved it", None, "") == plain
    assert plain.endswith("Continuation: we loved it\n")
    asked = template.render("Review start", "we loved it", None, "Say JSON.")
    assert asked == plain + "\nSay JSON.\n"
    assert sample_text(template.render("p", "so good", None, output_instruction(template, "json_schema"))) == (
        " so good\n"
    )


def test_schema_request_is_answered_and_read_as_spans(tmp_path):
    with ChatServer(structured_only=True) as server:
        critic = make(server, tmp_path)
        out = critic.critique(["p"] * 4, RESPONSES)
        body = server.last_body
    assert [c.outcome for c in out] == ["ok", "empty", "ok", "ok"]
    assert marked(out, RESPONSES)[0] == [("loved", "positive"), ("dull", "negative")]
    assert body["response_format"] == response_format(critic.template, "json_schema")
    assert body["messages"][-1]["content"].rstrip().endswith('return {"spans": []}.')
    assert critic.stats() == {
        "critic_generated_total": 4.0,
        "critic_cache_hits_total": 0.0,
        "critic_structured_fallbacks": 0.0,
    }


def test_a_structured_only_server_refuses_free_text_requests(tmp_path):
    with ChatServer(structured_only=True) as server:
        out = make(server, tmp_path, structured="none").critique(["p"], ["good"])
    assert out[0].outcome == "failed" and out[0].error == "BadRequestError"


def test_a_server_rejecting_response_format_costs_one_retry_and_the_critic_stays_in_free_text(tmp_path, caplog):
    with caplog.at_level(logging.WARNING), ChatServer(reject_response_format=True) as server:
        critic = make(server, tmp_path, concurrency=1)
        first = critic.critique(["p"] * 2, RESPONSES[:2])
        formats_first = list(server.formats)
        later = critic.critique(["p"] * 2, RESPONSES[2:])
        formats_all = list(server.formats)
        prompt = server.last_body["messages"][-1]["content"]
    # request 1 is rejected; request 2 of the batch is not sent; both are retried once as free text
    assert formats_first == ["json_schema", None, None]
    assert formats_all == ["json_schema", None, None, None, None]
    assert [c.outcome for c in first + later] == ["ok", "empty", "ok", "ok"]
    assert marked(first, RESPONSES[:2])[0] == [("loved", "positive"), ("dull", "negative")]
    assert critic.structured == "none" and critic.structured_fallbacks == 1
    assert critic.stats()["critic_structured_fallbacks"] == 1.0
    assert prompt == critic.template.render("p", RESPONSES[3])  # the template's own prompt, byte for byte
    warnings = [r for r in caplog.records if "rejected response_format" in r.getMessage()]
    assert len(warnings) == 1 and "127.0.0.1" not in warnings[0].getMessage()


def test_concurrent_rejections_fall_back_once(tmp_path, caplog):
    with caplog.at_level(logging.WARNING), ChatServer(reject_response_format=True, latency=0.05) as server:
        critic = make(server, tmp_path, concurrency=4)
        out = critic.critique(["p"] * 4, RESPONSES)
        n_structured = sum(f == "json_schema" for f in server.formats)
    assert [c.outcome for c in out] == ["ok", "empty", "ok", "ok"]
    assert critic.structured_fallbacks == 1 and 1 <= n_structured <= 4
    assert sum("rejected response_format" in r.getMessage() for r in caplog.records) == 1


def test_a_400_after_structured_requests_worked_is_an_ordinary_failure(tmp_path):
    with ChatServer(structured_only=True) as server:
        critic = make(server, tmp_path)
        assert critic.critique(["p"], ["good"])[0].outcome == "ok"
        server.fail_statuses = [400]  # e.g. a prompt too long, not a rejection of response_format
        out = critic.critique(["p"], ["bad"])
    assert out[0].error == "BadRequestError" and critic.structured == "json_schema"
    assert critic.structured_fallbacks == 0


def test_json_object_mode_asks_for_an_object_and_gives_the_shape_in_the_prompt(tmp_path):
    with ChatServer(reply_format="json") as server:
        critic = make(server, tmp_path, structured="json_object")
        out = critic.critique(["p"], RESPONSES[:1])
        body = server.last_body
    assert body["response_format"] == {"type": "json_object"}
    assert output_instruction(critic.template, "json_object") in body["messages"][-1]["content"]
    assert marked(out, RESPONSES[:1]) == [[("loved", "positive"), ("dull", "negative")]]


def test_none_mode_sends_no_response_format_and_the_plain_prompt(tmp_path):
    with ChatServer() as server:
        critic = make(server, tmp_path, structured="none")
        out = critic.critique(["p"], RESPONSES[:1])
        body = server.last_body
    assert "response_format" not in body
    assert body["messages"][-1]["content"] == critic.template.render("p", RESPONSES[0])
    assert out[0].outcome == "ok"


def test_generate_stays_plain_text_in_any_mode(tmp_path):
    with ChatServer() as server:
        critic = make(server, tmp_path)
        assert critic.generate(["Continuation: good"]) == ['positive: "good"']
        assert "response_format" not in server.last_body


def test_cache_key_differs_by_mode(tmp_path):
    with ChatServer() as server:
        for mode in ("json_schema", "json_object", "grammar", "none", "json_schema"):
            make(server, tmp_path, structured=mode).critique(["p"], ["good"])
        requests = server.requests
    assert requests == 4  # the second json_schema critic hits the cache; the other modes do not share its entry
    modes = ("json_schema", "json_object", "grammar", "none")
    identities = {make(server, tmp_path, structured=m).identity for m in modes}
    assert len(identities) == 4
    assert make(server, tmp_path, structured="grammar", max_spans=2).identity.endswith("|grammar2")
    assert make(server, tmp_path, structured="none").identity == "openai|" + server.base_url + "|loopback|64|0.0"


def test_a_server_that_ignores_the_schema_and_answers_prose_is_read_as_free_text(tmp_path):
    with ChatServer() as server:  # the default server ignores response_format
        critic = make(server, tmp_path)
        out = critic.critique(["p"] * 2, RESPONSES[:2])
        server.malformed = True
        unreadable = critic.critique(["p"], ["terrible"])
    assert [c.outcome for c in out] == ["ok", "empty"] and critic.structured_fallbacks == 0
    assert marked(out, RESPONSES[:1]) == [[("loved", "positive"), ("dull", "negative")]]
    assert unreadable[0].outcome == "failed" and unreadable[0].error == "UnparseableCritique"


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ('{"spans": [{"quote": "good", "label": "positive"}', "TruncatedCritique"),
        ('{"spans": [{"quote": 3, "label": "positive"}]}', "MalformedJSONCritique"),
    ],
)
def test_malformed_json_answers_are_counted_failures(tmp_path, answer, error):
    with ChatServer() as server:
        server.reply = lambda prompt: answer
        out = make(server, tmp_path).critique(["p"], ["good"])
    assert out[0].outcome == "failed" and out[0].error == error


def test_an_unknown_mode_is_refused_naming_the_field():
    with pytest.raises(ValueError, match="critic.structured must be one of"):
        OpenAICritic(model="m", api_key_env=None, structured="xml")


def test_server_modes_exclude_each_other():
    with pytest.raises(ValueError, match="exclude each other"):
        ChatServer(structured_only=True, reject_response_format=True)


def test_request_fields_of_each_mode():
    template = load_template("sentiment")
    grammar = request_fields(template, "grammar", RESPONSES[0], max_spans=2)
    assert grammar == {"structured_outputs": {"grammar": critique_grammar(RESPONSES[0], template, 2)}}
    assert request_fields(template, "json_schema", "x") == {"response_format": response_format(template, "json_schema")}
    assert request_fields(template, "none", "x") == {}
    assert output_instruction(template, "grammar") == ""  # the template's own line format


def test_grammar_mode_sends_each_response_its_grammar_and_the_template_prompt(tmp_path):
    with ChatServer() as server:
        critic = make(server, tmp_path, structured="grammar", max_spans=3, concurrency=1)
        out = critic.critique(["p"], RESPONSES[:1])
        body = server.last_body
    assert body["structured_outputs"] == {"grammar": critique_grammar(RESPONSES[0], critic.template, 3)}
    assert "response_format" not in body
    assert body["messages"][-1]["content"] == critic.template.render("p", RESPONSES[0])
    assert marked(out, RESPONSES[:1]) == [[("loved", "positive"), ("dull", "negative")]]


def test_a_grammar_answer_cut_by_the_token_limit_keeps_its_finished_lines(tmp_path):
    with ChatServer() as server:
        server.reply = lambda prompt: 'positive: "loved"\nnegative: "the e'
        server.finish_reason = "length"
        cut = make(server, tmp_path, structured="grammar").critique(["p"], RESPONSES[:1])
        server.finish_reason = "stop"  # a finished answer is kept whole
        whole = make(server, tmp_path, structured="grammar").critique(["q"], RESPONSES[:1])
    assert cut[0].raw == 'positive: "loved"' and marked(cut, RESPONSES[:1]) == [[("loved", "positive")]]
    assert whole[0].raw == 'positive: "loved"\nnegative: "the e'


def test_a_grammar_request_rejected_first_falls_back_to_free_text(tmp_path):
    with ChatServer() as server:
        server.fail_statuses = [400]  # an OpenAI-style 400 to the unknown structured_outputs field
        critic = make(server, tmp_path, structured="grammar", concurrency=1)
        out = critic.critique(["p"], RESPONSES[:1])
        body = server.last_body
    assert critic.structured == "none" and critic.structured_fallbacks == 1
    assert "structured_outputs" not in body and out[0].outcome == "ok"


class _Status(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status


def test_a_rejection_names_the_field_of_the_mode():
    err = _Status(400, "Unrecognized request argument supplied: structured_outputs")
    assert rejects_structured(err, structured_ever_ok=True, field="structured_outputs")
    assert not rejects_structured(err, structured_ever_ok=True, field="response_format")
    assert rejects_structured(err, structured_ever_ok=False)  # before any success, any 400 counts
    assert not rejects_structured(_Status(500, "structured_outputs"), structured_ever_ok=False)
