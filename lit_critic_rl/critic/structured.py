"""Structured critic outputs: the JSON schema built from a template's labels, the ``response_format`` that requests
it from an OpenAI-compatible server, the per-response grammar a vLLM server takes instead, and the instruction that
tells the critic what to return.

The answer asked for is ``{"spans": [{"quote": "...", "label": "..."}]}`` with ``label`` one of the template's labels
and ``{"spans": []}`` for "nothing to mark": the shape :mod:`~lit_critic_rl.critic.json_reading` reads (an object per
span, its text under ``quote`` and its label under ``label``; an empty list is an explicit none). The schema is strict
in OpenAI's sense (every property required, no others allowed), which OpenAI, vLLM and SGLang accept.

Modes (``OpenAICritic.structured``): ``json_schema`` sends the schema, ``json_object`` asks for any JSON object (the
instruction then carries the shape), ``grammar`` sends vLLM's ``structured_outputs.grammar`` (a vLLM extension of the
API, not OpenAI's) with the grammar of :mod:`~lit_critic_rl.critic.constrained`, built for each response: the answer
is then the template's own ``label: "quote"`` lines with every quote a piece of the response, as a local critic's
``constrained: true``; ``none`` sends nothing. ``grammar`` and ``none`` leave the template's prompt as it is.
"""

from __future__ import annotations

import json
import re
from typing import Literal

from lit_critic_rl.critic.constrained import critique_grammar
from lit_critic_rl.critic.templates import CritiqueTemplate

StructuredMode = Literal["json_schema", "json_object", "grammar", "none"]
MODES: tuple[str, ...] = ("json_schema", "json_object", "grammar", "none")
REQUEST_FIELD = {"json_schema": "response_format", "json_object": "response_format", "grammar": "structured_outputs"}
"""The request field each structured mode adds (what a server that does not take it names in its 400)."""

INSTRUCTION_START = "Answer in JSON instead of the format shown above"
"""How every output instruction begins (the loopback server cuts the sample there)."""


def response_schema(template: CritiqueTemplate) -> dict:
    """The JSON schema of a critique in ``template``'s labels (a fresh dict each call)."""
    span = {
        "type": "object",
        "properties": {
            "quote": {"type": "string"},
            "label": {"type": "string", "enum": list(template.labels)},
        },
        "required": ["quote", "label"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"spans": {"type": "array", "items": span}},
        "required": ["spans"],
        "additionalProperties": False,
    }


def schema_name(template: CritiqueTemplate) -> str:
    """``critique_<template>`` with the characters a schema name may not hold (``[A-Za-z0-9_-]``, at most 64)
    replaced by ``_``."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"critique_{template.name}")[:64]


def response_format(template: CritiqueTemplate, mode: StructuredMode) -> dict | None:
    """The chat-completions ``response_format`` of ``mode``; None for ``none``."""
    if mode == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": schema_name(template), "strict": True, "schema": response_schema(template)},
        }
    if mode == "json_object":
        return {"type": "json_object"}
    if mode in ("grammar", "none"):
        return None
    raise ValueError(f"critic.structured must be one of {MODES}, got '{mode}'")


def request_fields(template: CritiqueTemplate, mode: StructuredMode, response: str, max_spans: int = 4) -> dict:
    """The fields ``mode`` adds to the chat-completions request of a critique of ``response``: ``response_format``
    (:func:`response_format`), ``structured_outputs`` with the response's grammar (``grammar``; at most
    ``max_spans`` lines), or none."""
    if mode == "grammar":
        return {"structured_outputs": {"grammar": critique_grammar(response, template, max_spans)}}
    fmt = response_format(template, mode)
    return {} if fmt is None else {"response_format": fmt}


def sample_name(template: CritiqueTemplate) -> str:
    """What the template calls the text under review (``continuation``, ``summary``, ``text``): the head of the line
    that holds ``{response}`` (``{text}`` in joined input), lower-case, without its colon."""
    placeholder = "{text}" if template.input == "joined" else "{response}"
    for line in template.body.splitlines():
        if placeholder in line:
            head = line.partition(placeholder)[0].strip().rstrip(":").strip().lower()
            return head or "text"
    return "text"


def output_instruction(template: CritiqueTemplate, mode: StructuredMode) -> str:
    """The text appended to the rendered prompt in ``mode``: the JSON shape, the labels, and how to say "none" (''
    for ``none`` and ``grammar``, which keep the template's format)."""
    if mode in ("none", "grammar"):
        return ""
    response_format(template, mode)  # checks the mode
    sample = sample_name(template)
    labels = ", ".join(json.dumps(label) for label in template.labels)
    example = json.dumps({"spans": [{"quote": f"exact words from the {sample}", "label": next(iter(template.labels))}]})
    return (
        f"{INSTRUCTION_START}. Return only a JSON object like {example}: one item per span, the quote copied exactly "
        f'from the {sample}, the label one of {labels}. If there is nothing to mark, return {{"spans": []}}.'
    )
