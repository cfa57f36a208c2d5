"""The critic-output corpus (tests/critic/corpus/*.yaml): raw critic outputs, each with the outcome and the token
rewards a correct reading gives, checked case by case; plus the parser's span precision and recall over the corpus,
which must be 1.0 on the well-formed cases.

Case fields: ``template``, ``prompt``, ``tokens`` (the response as its tokens, separated by ``|``; a piece written
``0x...`` is raw bytes, so a character can be split over tokens as byte-level BPE does), ``raw`` (or ``raw_repeat:
[text, n]``), ``outcome``, ``error`` (failed cases), ``spans`` (``[label, text]`` or ``[label, text, n]`` for the
n-th occurrence, what the parser must locate), ``intended`` (what a human reader of the critique meant, when that
differs: it scores precision/recall), ``dropped`` (the drop reasons, in order), ``rewards`` (one per token),
``shaping`` (ShapingArgs overrides) and ``well_formed`` (default true).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lit_critic_rl.args import ShapingArgs
from lit_critic_rl.critic.parsing import parse_critique
from lit_critic_rl.critic.shaping import critique_token_rewards, token_char_ranges
from lit_critic_rl.critic.templates import load_template

CORPUS = Path(__file__).parent / "corpus"
CASES = [case for f in sorted(CORPUS.glob("*.yaml")) for case in yaml.safe_load(f.read_text())]


class PieceTokenizer:
    """Decodes ids that index ``pieces`` (byte strings) the way a byte-level tokenizer does: bytes joined, then
    decoded with replacement characters for an incomplete UTF-8 sequence."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return b"".join(self.pieces[i] for i in ids).decode("utf-8", errors="replace")


def pieces_of(case: dict) -> list[bytes]:
    return [bytes.fromhex(p[2:]) if p.startswith("0x") else p.encode() for p in case["tokens"].split("|")]


def raw_of(case: dict) -> str:
    if "raw_repeat" in case:
        text, n = case["raw_repeat"]
        return case.get("raw", "") + text * n
    return case["raw"]


def expected_spans(case: dict, key: str, response: str) -> set[tuple[str, int, int]]:
    out = set()
    for label, text, *nth in case.get(key, []):
        start = -1
        for _ in range((nth[0] if nth else 0) + 1):
            start = response.index(text, start + 1)
        out.add((label, start, start + len(text)))
    return out


def read(case: dict):
    pieces = pieces_of(case)
    response = b"".join(pieces).decode("utf-8")
    template = load_template(case["template"], case.get("input"))
    critique = parse_critique(raw_of(case), response, template, case.get("prompt", ""))
    return critique, response, pieces


def test_corpus_is_big_and_covers_every_form():
    assert len(CASES) >= 60 and len({c["id"] for c in CASES}) == len(CASES)
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
    }
    assert wanted <= tags, wanted - tags


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case):
    critique, response, pieces = read(case)
    assert critique.outcome == case["outcome"], (critique.error, critique.dropped)
    if case["outcome"] == "failed":
        assert critique.error == case["error"]
        return
    got = {(s.label, s.start, s.end) for s in critique.spans}
    assert got == expected_spans(case, "spans", response)
    assert [d.reason for d in critique.dropped] == case.get("dropped", [])
    ranges = token_char_ranges(PieceTokenizer(pieces), list(range(len(pieces))))
    texts = [p.decode("utf-8", errors="replace") for p in pieces]
    rewards = critique_token_rewards(critique, ranges, len(pieces), ShapingArgs(**case.get("shaping", {})), texts)
    assert rewards.tolist() == pytest.approx([float(r) for r in case["rewards"]]), list(zip(texts, rewards.tolist()))


def precision_recall(cases: list[dict]) -> tuple[float, float, int, int]:
    hits = predicted = wanted = 0
    for case in cases:
        critique, response, _ = read(case)
        got = {(s.label, s.start, s.end) for s in critique.spans}
        truth = expected_spans(case, "intended" if "intended" in case else "spans", response)
        hits, predicted, wanted = hits + len(got & truth), predicted + len(got), wanted + len(truth)
    return hits / max(predicted, 1), hits / max(wanted, 1), predicted, wanted


def test_span_precision_and_recall(capsys):
    well = [c for c in CASES if c.get("well_formed", True)]
    p_well, r_well, n_pred, n_true = precision_recall(well)
    p_all, r_all, m_pred, m_true = precision_recall(CASES)
    with capsys.disabled():
        print(
            f"\ncritic corpus: {len(well)} well-formed cases: span precision {p_well:.3f} recall {r_well:.3f} "
            f"({n_pred} predicted, {n_true} expected); all {len(CASES)} cases: precision {p_all:.3f} "
            f"recall {r_all:.3f} ({m_pred} predicted, {m_true} intended)"
        )
    assert p_well == 1.0 and r_well == 1.0
