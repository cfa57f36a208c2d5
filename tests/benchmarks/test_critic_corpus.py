"""The corpus scorer: truth and credit per case, precision/recall/outcome sums, per-style groups, the miss listing."""

import pytest
import yaml

from benchmarks.critic_corpus import by_style, load_cases, main, miss_lines, result_of, score

RESPONSE = " we loved it but the end dragged"
# character ranges in RESPONSE: "loved it" 4-12, "the end dragged" 17-32, "dragged" 25-32
CASE = {
    "id": "c1",
    "tags": ["qwen", "list"],
    "outcome": "ok",
    "spans": [["positive", "loved it"], ["negative", "the end dragged"]],
}


def test_a_case_is_scored_by_label_and_exact_range():
    r = result_of(CASE, "ok", "", [("positive", 4, 12), ("negative", 25, 32)], RESPONSE)
    assert r.truth == {("positive", 4, 12), ("negative", 17, 32)}
    assert r.outcome_right and not r.right
    assert miss_lines(r) == [
        "c1: expected ok, got ok",
        "    missed negative: 'the end dragged'@17",
        "    extra  negative: 'dragged'@25",
    ]


def test_intended_spans_are_the_truth_when_given():
    case = {**CASE, "intended": [["positive", "loved it"]]}
    assert result_of(case, "ok", "", [], RESPONSE).truth == {("positive", 4, 12)}


def test_a_failed_or_empty_case_wants_nothing_and_a_failed_reading_is_credited_nothing():
    failed = {**CASE, "outcome": "failed", "error": "TruncatedCritique", "intended": [["positive", "loved it"]]}
    r = result_of(failed, "failed", "UnknownLabel", [("positive", 4, 12)], RESPONSE)
    assert (r.truth, r.got, r.outcome_right, r.right) == (frozenset(), frozenset(), True, False)
    assert miss_lines(r) == ["c1: expected failed TruncatedCritique, got failed UnknownLabel"]
    empty = result_of({**CASE, "outcome": "empty"}, "empty", "", [], RESPONSE)
    assert empty.right and miss_lines(empty) == []


def test_score_sums_hits_predictions_wants_and_outcomes():
    a = result_of(CASE, "ok", "", [("positive", 4, 12), ("negative", 25, 32)], RESPONSE)  # 1 hit, 2 got, 2 wanted
    b = result_of({**CASE, "id": "c2", "tags": ["gpt4o"]}, "failed", "X", [], RESPONSE)  # 0 hits, 0 got, 2 wanted
    c = result_of({**CASE, "id": "c3", "tags": [], "outcome": "empty"}, "empty", "", [], RESPONSE)
    s = score([a, b, c])
    # precision 1/2, recall 1/4, outcomes right: a and c of 3
    assert (s.hits, s.predicted, s.wanted, s.outcomes_right) == (1, 2, 4, 2)
    assert (s.precision, s.recall, s.outcome_accuracy) == (0.5, 0.25, pytest.approx(2 / 3))
    groups = by_style([a, b, c])
    assert list(groups) == ["gpt4o", "qwen", "project"]
    assert (groups["gpt4o"].recall, groups["qwen"].precision, groups["project"].cases) == (0.0, 0.5, 1)


def test_nothing_predicted_or_wanted_scores_one():
    s = score([])
    assert (s.precision, s.recall, s.outcome_accuracy) == (1.0, 1.0, 1.0)


def test_main_reads_files_and_directories_and_prints_every_miss(tmp_path, capsys):
    case = {
        "id": "two-labels",
        "tags": ["claude"],
        "template": "sentiment",
        "tokens": " we| loved| it| but| the| end| dragged",
        "raw": 'positive: "loved it"\nnegative: "the end dragged"\n',
        "outcome": "ok",
        "spans": [["positive", "loved it"], ["negative", "the end dragged"]],
    }
    wrong = {**case, "id": "wrong-truth", "spans": [["negative", "loved it"]]}
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.yaml").write_text(yaml.safe_dump([case]))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump([wrong]))
    assert [c["id"] for c in load_cases([tmp_path / "d", tmp_path / "b.yaml"])] == ["two-labels", "wrong-truth"]
    results = main([str(tmp_path / "d"), str(tmp_path / "b.yaml")])
    out = capsys.readouterr().out
    assert [r.right for r in results] == [True, False]
    # 2 spans right in the first case; in the second 0 of 2 predicted hit and the 1 wanted is missed
    assert "overall      2 cases  precision 0.500 (2/4)  recall 0.667 (2/3)  outcome 1.000 (2/2)" in out
    assert "1 of 2 cases read wrong:\nwrong-truth: expected ok, got ok\n    missed negative: 'loved it'@4" in out


def test_a_file_that_is_not_a_list_of_cases_is_named(tmp_path):
    (tmp_path / "bad.yaml").write_text("id: x\n")
    with pytest.raises(ValueError, match="bad.yaml"):
        load_cases([tmp_path / "bad.yaml"])
