import inspect
import json

import pytest

from lit_critic_rl.rlmec.rewriter import Rewrite
from lit_critic_rl.rlmec.teacher_data import balanced, generate, read_records, records, unique_samples


def _row(step, ok=True):
    return {"prompt": "p", "response": "y", "ok": ok, "first_error_step": step, "rewrite": "r" if ok else ""}


def test_records_mark_correctness_and_keep_failures():
    rows = records(
        ["a", "b"], ["x", ""], [1.0, 0.0], [Rewrite(True, None, "x"), Rewrite(False, error="empty solution")]
    )
    assert [r["correct"] for r in rows] == [True, False]
    assert rows[1]["ok"] is False and rows[1]["rewrite"] == "" and rows[1]["error"] == "empty solution"
    with pytest.raises(ValueError, match="2 prompts, 1 responses"):
        records(["a", "b"], ["x"], [1.0, 0.0], [Rewrite(True)] * 2)


def test_balanced_keeps_every_fix_and_about_as_many_identities():
    rows = [_row(None) for _ in range(10)] + [_row(2), _row(1), _row(None, ok=False), _row(3)]
    kept = balanced(rows, seed=0)
    assert sum(r["first_error_step"] is not None for r in kept) == 3  # all fixes
    assert sum(r["first_error_step"] is None for r in kept) == 3  # identities cut from 10 to 3
    assert all(r["ok"] for r in kept)
    assert len(balanced(rows, identity_ratio=2.0)) == 3 + 6
    assert sum(r["first_error_step"] is None for r in balanced([_row(None)] * 4)) == 1  # no fix: one identity kept


def test_read_records_names_the_file_and_line(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(_row(1)) + "\n{not json\n")
    with pytest.raises(ValueError, match="line 2: not JSON"):
        read_records(path)
    path.write_text(json.dumps({"prompt": "p"}) + "\n")
    with pytest.raises(KeyError, match="line 1: missing field"):
        read_records(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_records(tmp_path / "absent.jsonl")
    path.write_text("\n")
    with pytest.raises(ValueError, match="holds no records"):
        read_records(path)


def test_unique_samples_drop_repeats_of_a_problem_only():
    prompts = ["a", "a", "a", "b", "b"]
    responses = ["x", "x \n", "y", "x", "x"]
    # ("a","x") first at 0, again at 1 (after stripping); ("a","y") at 2; ("b","x") at 3, again at 4
    assert unique_samples(prompts, responses) == [0, 2, 3]


def test_teacher_data_samples_as_the_reference_by_default():
    defaults = {k: p.default for k, p in inspect.signature(generate).parameters.items()}
    assert (defaults["temperature"], defaults["top_p"], defaults["samples"]) == (0.7, 0.95, 5)
