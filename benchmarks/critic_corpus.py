"""How well does the critic parser read the critic-output corpus? Span precision, span recall and outcome accuracy,
overall and per style tag, then every case the parser gets wrong (expected against got).

    python -m benchmarks.critic_corpus                            # the corpus, tests/critic/corpus/
    python -m benchmarks.critic_corpus held_out/ more.yaml        # any case files or directories of them

Cases are the YAML of ``tests/critic/corpus/`` (fields described in ``tests/critic/test_corpus.py``). The truth of a
case is its ``intended`` spans, else its ``spans``, and nothing when its outcome is not ``ok``: a critique that is
empty or failed pays no span. What the parser is credited with is likewise the spans of a critique whose outcome is
``ok`` (what the reward pays). A span counts only with the same label and the same character range. Outcome accuracy
compares ``ok`` / ``empty`` / ``failed``; a failure with another error name is listed as a miss but counted right.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from lit_critic_rl.critic.parsing import parse_critique
from lit_critic_rl.critic.templates import load_template

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "critic" / "corpus"
STYLES = ("gpt4o", "claude", "llama3", "qwen", "small1b")
"""The style tags of critic outputs written after those models; cases with none of them are reported as 'project'."""

SpanKey = tuple[str, int, int]


def load_cases(paths: Iterable[str | Path]) -> list[dict]:
    """The cases of every YAML file named, and of every ``*.yaml`` in each directory named, in sorted order."""
    files: list[Path] = []
    for p in map(Path, paths):
        files += sorted(p.glob("*.yaml")) if p.is_dir() else [p]
    cases = []
    for f in files:
        loaded = yaml.safe_load(f.read_text())
        if not isinstance(loaded, list):
            raise ValueError(f"{f}: a corpus file must hold a YAML list of cases")
        cases += loaded
    return cases


def pieces_of(case: dict) -> list[bytes]:
    """The response's tokens as bytes (``tokens`` split at ``|``; a piece written ``0x...`` is raw bytes)."""
    return [bytes.fromhex(p[2:]) if p.startswith("0x") else p.encode() for p in case["tokens"].split("|")]


def raw_of(case: dict) -> str:
    if "raw_repeat" in case:
        text, n = case["raw_repeat"]
        return case.get("raw", "") + text * n
    return case["raw"]


def expected_spans(case: dict, key: str, response: str) -> set[SpanKey]:
    """The ``[label, text]`` / ``[label, text, n]`` (n-th occurrence, from 0) entries of ``case[key]`` located in
    the response as (label, start, end)."""
    out = set()
    for label, text, *nth in case.get(key, []):
        start = -1
        for _ in range((nth[0] if nth else 0) + 1):
            start = response.index(text, start + 1)
        out.add((label, start, start + len(text)))
    return out


def read(case: dict):
    """Parses the case's raw output against its response: (critique, response, token pieces)."""
    pieces = pieces_of(case)
    response = b"".join(pieces).decode("utf-8")
    template = load_template(case["template"], case.get("input"))
    critique = parse_critique(raw_of(case), response, template, case.get("prompt", ""))
    return critique, response, pieces


@dataclass(frozen=True)
class CaseResult:
    id: str
    tags: tuple[str, ...]
    response: str
    outcome: str
    """Expected outcome."""
    got_outcome: str
    error: str
    """Expected error name ('' unless the expected outcome is failed)."""
    got_error: str
    truth: frozenset[SpanKey]
    got: frozenset[SpanKey]

    @property
    def outcome_right(self) -> bool:
        return self.outcome == self.got_outcome

    @property
    def right(self) -> bool:
        return self.outcome_right and self.error == self.got_error and self.truth == self.got


def truth_of(case: dict, response: str) -> set[SpanKey]:
    """What a correct reading pays: the intended (else expected) spans of an ``ok`` case, nothing otherwise."""
    if case["outcome"] != "ok":
        return set()
    return expected_spans(case, "intended" if "intended" in case else "spans", response)


def result_of(case: dict, outcome: str, error: str, spans: Iterable[SpanKey], response: str) -> CaseResult:
    """Scores one reading (outcome, error name, spans as (label, start, end)) against the case."""
    return CaseResult(
        id=case["id"],
        tags=tuple(case.get("tags", [])),
        response=response,
        outcome=case["outcome"],
        got_outcome=outcome,
        error=case.get("error", "") if case["outcome"] == "failed" else "",
        got_error=error if outcome == "failed" else "",
        truth=frozenset(truth_of(case, response)),
        got=frozenset(spans) if outcome == "ok" else frozenset(),
    )


def run_case(case: dict) -> CaseResult:
    critique, response, _ = read(case)
    spans = [(s.label, s.start, s.end) for s in critique.spans]
    return result_of(case, critique.outcome, critique.error, spans, response)


@dataclass(frozen=True)
class Score:
    cases: int
    hits: int
    predicted: int
    wanted: int
    outcomes_right: int

    @property
    def precision(self) -> float:
        """hits / predicted spans; 1.0 when nothing was predicted."""
        return self.hits / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        """hits / wanted spans; 1.0 when nothing was wanted."""
        return self.hits / self.wanted if self.wanted else 1.0

    @property
    def outcome_accuracy(self) -> float:
        return self.outcomes_right / self.cases if self.cases else 1.0


def score(results: Iterable[CaseResult]) -> Score:
    """Span hits, predicted and wanted counts, and right outcomes, summed over the results."""
    results = list(results)
    return Score(
        cases=len(results),
        hits=sum(len(r.got & r.truth) for r in results),
        predicted=sum(len(r.got) for r in results),
        wanted=sum(len(r.truth) for r in results),
        outcomes_right=sum(r.outcome_right for r in results),
    )


def style_of(result: CaseResult) -> str:
    return next((t for t in result.tags if t in STYLES), "project")


def by_style(results: Iterable[CaseResult]) -> dict[str, Score]:
    groups: dict[str, list[CaseResult]] = {}
    for r in results:
        groups.setdefault(style_of(r), []).append(r)
    order = [*STYLES, "project"]
    return {s: score(groups[s]) for s in order if s in groups}


def score_line(name: str, s: Score) -> str:
    return (
        f"{name:<9} {s.cases:>4} cases  precision {s.precision:.3f} ({s.hits}/{s.predicted})  "
        f"recall {s.recall:.3f} ({s.hits}/{s.wanted})  outcome {s.outcome_accuracy:.3f} ({s.outcomes_right}/{s.cases})"
    )


def _span_text(span: SpanKey, response: str) -> str:
    label, start, end = span
    return f"{label}: {response[start:end]!r}@{start}"


def miss_lines(result: CaseResult) -> list[str]:
    """What the reading got wrong, as lines: the outcome (and error) expected against got, the spans it missed and
    the spans it added. No lines for a right reading."""
    if result.right:
        return []
    want = result.outcome + (f" {result.error}" if result.error else "")
    got = result.got_outcome + (f" {result.got_error}" if result.got_error else "")
    lines = [f"{result.id}: expected {want}, got {got}"]
    lines += [f"    missed {_span_text(s, result.response)}" for s in sorted(result.truth - result.got)]
    lines += [f"    extra  {_span_text(s, result.response)}" for s in sorted(result.got - result.truth)]
    return lines


def report(results: list[CaseResult]) -> list[str]:
    lines = [score_line("overall", score(results))]
    lines += [score_line(name, s) for name, s in by_style(results).items()]
    misses = [r for r in results if not r.right]
    lines.append(f"\n{len(misses)} of {len(results)} cases read wrong:")
    for r in misses:
        lines += miss_lines(r)
    return lines


def main(argv: list[str] | None = None) -> list[CaseResult]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", default=[str(CORPUS)], help="case YAML files or directories of them")
    args = parser.parse_args(argv)
    results = [run_case(c) for c in load_cases(args.paths)]
    print("\n".join(report(results)))
    return results


if __name__ == "__main__":
    main()
