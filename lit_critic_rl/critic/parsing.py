"""Critic output -> spans of the response text, with every quote that did not become a span kept with its reason.

Reading: a JSON answer of any reasonable shape (:mod:`~lit_critic_rl.critic.json_reading`), else free text read
quote first (:mod:`~lit_critic_rl.critic.reading`). Locating: exact or nothing, with occurrences chosen so that
spans of different labels do not overlap (:mod:`~lit_critic_rl.critic.locating`). The grammar, with one example of
each form, is in docs/critics.md.

Outcomes (see :class:`~lit_critic_rl.critic.base.Critique`): failed when the reading failed, when the output is
longer than :data:`MAX_OUTPUT_CHARS`, or when the critic quoted something but every quote was dropped
(``AllQuotesDropped``: a critique of hallucinated quotes only is not a judgement of this response); empty when it
named nothing; ok otherwise. A quote that is not located is dropped with a reason: ``few_shot_echo`` (it is in the
template's instructions or examples), ``prompt_only`` (it is in the prompt), ``crosses_prompt_boundary`` (it runs
from the prompt into the response), else ``not_found``; a quote under a label the template does not have is dropped
as ``unknown_label``.
"""

from __future__ import annotations

from functools import partial

from lit_critic_rl.critic.base import Critique, DroppedQuote, Span
from lit_critic_rl.critic.json_reading import find_json, read_json
from lit_critic_rl.critic.locating import choose, drop_reason, fits, locate, occurrences
from lit_critic_rl.critic.quotes import split_quotes
from lit_critic_rl.critic.reading import Marks, read_free_text
from lit_critic_rl.critic.templates import CritiqueTemplate

__all__ = ["MAX_OUTPUT_CHARS", "Marks", "locate", "parse_critique", "read_marks", "split_quotes"]

MAX_OUTPUT_CHARS = 20_000
"""Longer critic outputs are failed critiques (``CritiqueTooLong``): degenerate repetition, not an annotation."""


def read_marks(text: str, template: CritiqueTemplate, response: str | None = None) -> Marks:
    """What ``text`` says, in the critic's order. With ``response``, ambiguous quotes and bare lists are read the
    way that occurs in it."""
    if len(text) > MAX_OUTPUT_CHARS:
        return Marks(error="CritiqueTooLong")
    found = find_json(text)
    if found is not None:
        value, truncated = found
        if truncated:
            return Marks(error="TruncatedCritique")
        read = read_json(value, template.labels)
        structured = isinstance(value, dict) or isinstance(value, list) and any(isinstance(v, dict) for v in value)
        if not read.error or structured:
            return read
        prose = read_free_text(text, template, partial(fits, response=response) if response is not None else None)
        return prose if not prose.error and prose.marks else read
    return read_free_text(text, template, partial(fits, response=response) if response is not None else None)


def parse_critique(raw: str, response: str, template: CritiqueTemplate, prompt: str = "") -> Critique:
    """The critique ``raw`` makes of ``response`` (``prompt`` is only used to explain dropped quotes)."""
    read = read_marks(raw, template, response)
    if read.error:
        return Critique(ok=False, raw=raw, error=read.error)
    dropped = [DroppedQuote(q, name, "unknown_label") for name, q in read.unknown]
    located: list[tuple[str, str, list[tuple[int, int]]]] = []
    for label, quote in read.marks:
        options = occurrences(quote, response)
        if options:
            located.append((label, quote, options))
        else:
            dropped.append(DroppedQuote(quote, label, drop_reason(quote, prompt, response, template)))
    spans: list[Span] = []
    seen: set[tuple[int, int, str]] = set()
    for (label, _, _), (start, end) in zip(located, choose([(label, options) for label, _, options in located])):
        if (start, end, label) not in seen:
            seen.add((start, end, label))
            spans.append(Span(start, end, label, template.labels[label], response[start:end]))
    if not spans and dropped:
        return Critique(ok=False, raw=raw, dropped=dropped, error="AllQuotesDropped")
    return Critique(ok=True, spans=spans, raw=raw, dropped=dropped)
