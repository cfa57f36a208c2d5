"""The critic-output corpus (tests/critic/corpus/*.yaml): raw critic outputs, each with the outcome and the spans a
correct reading gives, checked case by case; plus the parser's span precision, recall and outcome accuracy over the
corpus (scored by benchmarks/critic_corpus.py), which must reach the bar of issue #20.

Case fields: ``template``, ``prompt``, ``tokens`` (the response as its tokens, separated by ``|``; a piece written
``0x...`` is raw bytes, so a character can be split over tokens as byte-level BPE does), ``raw`` (or ``raw_repeat:
[text, n]``), ``outcome``, ``error`` (failed cases), ``spans`` (``[label, text]`` or ``[label, text, n]`` for the
n-th occurrence, what the parser must locate), ``intended`` (what a human reader of the critique meant, when that
differs: it scores precision/recall), ``dropped`` (the drop reasons, in order; checked when given), ``rewards`` (one
per token; checked when given), ``shaping`` (ShapingArgs overrides), ``well_formed`` (default true) and
``known_miss`` (why the parser still reads the case wrong: its test is then a strict xfail, so a fix turns it red
until the mark is removed).
"""

from __future__ import annotations

import pytest

from benchmarks.critic_corpus import CORPUS, STYLES, expected_spans, load_cases, read, run_case, score, score_line
from lit_critic_rl.args import ShapingArgs
from lit_critic_rl.critic.shaping import critique_token_rewards, token_char_ranges

CASES = load_cases([CORPUS])
BAR = {"precision": 0.97, "recall": 0.95, "outcome": 0.95}
"""Issue #20's bar for reading critic outputs written in other models' styles."""


class PieceTokenizer:
    """Decodes ids that index ``pieces`` (byte strings) the way a byte-level tokenizer does: bytes joined, then
    decoded with replacement characters for an incomplete UTF-8 sequence."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return b"".join(self.pieces[i] for i in ids).decode("utf-8", errors="replace")


def test_corpus_is_big_and_covers_every_form():
    assert len(CASES) >= 150 and len({c["id"] for c in CASES}) == len(CASES)
    tags = {t for c in CASES for t in c.get("tags", [])}
    wanted = {
        "project_lines",
        "paper_sentiment",
        "paper_toxicity",
        "paper_summarization",
        "list",
        "markdown",
        "json",
        "prose",
        "quotes",
        "none_one_side",
        "hallucinated",
        "near_miss",
        "few_shot_echo",
        "prompt_only",
        "crosses_boundary",
        "injection",
        "emoji",
        "cjk",
        "repeated_word",
        "overlap",
        "long",
        "empty_output",
        "bad_input",
        *STYLES,
    }
    assert wanted <= tags, wanted - tags


def param(case: dict):
    marks = [pytest.mark.xfail(strict=True, reason=case["known_miss"])] if "known_miss" in case else []
    return pytest.param(case, id=case["id"], marks=marks)


@pytest.mark.parametrize("case", [param(c) for c in CASES])
def test_case(case):
    critique, response, pieces = read(case)
    assert critique.outcome == case["outcome"], (critique.error, critique.dropped)
    if case["outcome"] == "failed":
        assert critique.error == case["error"]
        return
    got = {(s.label, s.start, s.end) for s in critique.spans}
    assert got == expected_spans(case, "spans", response)
    if "dropped" in case:
        assert [d.reason for d in critique.dropped] == case["dropped"]
    if "rewards" not in case:
        return
    ranges = token_char_ranges(PieceTokenizer(pieces), list(range(len(pieces))))
    texts = [p.decode("utf-8", errors="replace") for p in pieces]
    rewards = critique_token_rewards(critique, ranges, len(pieces), ShapingArgs(**case.get("shaping", {})), texts)
    assert rewards.tolist() == pytest.approx([float(r) for r in case["rewards"]]), list(zip(texts, rewards.tolist()))


def test_known_misses_say_why():
    assert all(isinstance(c["known_miss"], str) and c["known_miss"].strip() for c in CASES if "known_miss" in c)


def test_parser_reaches_the_bar_on_the_corpus(capsys):
    total = score(run_case(c) for c in CASES)
    with capsys.disabled():
        print("\n" + score_line("corpus", total) + "  (per style and every miss: python -m benchmarks.critic_corpus)")
    assert total.precision >= BAR["precision"]
    assert total.recall >= BAR["recall"]
    assert total.outcome_accuracy >= BAR["outcome"]
