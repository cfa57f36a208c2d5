"""benchmarks.first_run: the README's commands as the script reads them, and the checks of the train step."""

from pathlib import Path

import pytest

from benchmarks.first_run import check_train, quickstart_commands

REPO = Path(__file__).resolve().parents[2]


def test_the_readme_quickstart_has_the_three_steps_the_script_runs():
    commands = quickstart_commands((REPO / "README.md").read_text())
    assert commands["install"][0].startswith("python3 -m venv .venv")
    assert commands["train"][0].startswith("python cli.py fit --config configs/quickstart.yaml")
    assert commands["test"] == ["python -m pytest -q"]
    # the CI script installs with the same pip lines as the README's install step
    ci = (REPO / ".ci" / "run").read_text()
    for part in " && ".join(commands["install"]).split(" && "):
        if part.startswith("pip install"):
            assert part.replace("pip install", "pip install -q", 1) in ci, part


def test_commands_are_grouped_by_their_numbered_comment():
    readme = (
        "x\n## Quick start\n```bash\n# 1. a\necho one\n# note\necho two\n# 2. b\necho three\n# 3. c\necho four\n```\n"
    )
    assert quickstart_commands(readme) == {
        "install": ["echo one", "echo two"],
        "train": ["echo three"],
        "test": ["echo four"],
    }


def test_a_readme_without_a_step_is_an_error_naming_it():
    with pytest.raises(ValueError, match=r"\['test'\]"):
        quickstart_commands("## Quick start\n```bash\n# 1. a\necho one\n# 2. b\necho two\n```\n")


def _metrics(root: Path, values: list[str]) -> None:
    run = root / "runs" / "quickstart" / "csv" / "version_0"
    run.mkdir(parents=True)
    rows = ["val/reward,train/iteration"] + [f"{v}," if v else ",1" for v in values]
    (run / "metrics.csv").write_text("\n".join(rows) + "\n")


def test_train_check_passes_on_a_rise_and_names_what_did_not_rise(tmp_path):
    _metrics(tmp_path, ["0.05", "", "0.12"])
    assert check_train("mean train reward: first 3 iterations +0.101 -> last 3 +0.250\n", tmp_path) == []
    flat = check_train("mean train reward: first 3 iterations +0.101 -> last 3 +0.090\n", tmp_path)
    assert flat == ["train reward did not rise: +0.101 -> +0.090"]
    assert check_train("no summary", tmp_path)[0].startswith("no 'mean train reward")


def test_train_check_reads_val_reward_from_the_csv_log(tmp_path):
    _metrics(tmp_path, ["0.20", "", "0.10"])
    problems = check_train("mean train reward: first 1 iterations +0.1 -> last 1 +0.2", tmp_path)
    assert problems == ["val/reward did not rise: +0.200 -> +0.100"]
