"""The run report: the HTML parses and is self-contained, token colours match the samples file, old rows degrade
to plain text, and ``lit-critic-rl report RUN_DIR`` rebuilds it."""

import base64
import json
from html.parser import HTMLParser

import pytest

from lit_critic_rl.report import find_run_dir, series, write_report

RESPONSE = "a great film, awful end"
# tokens: "a" " great" " film" "," " awful" " end"
RANGES = [[0, 1], [1, 7], [7, 12], [12, 13], [13, 19], [19, 23]]


def sample_row(iteration: int, k: int) -> dict:
    rewards = [0.0, 0.5, 0.0, 0.0, -0.5 * (k + 1), 0.25 * iteration]
    return {
        "iteration": iteration,
        "prompt": f"Prompt {k} <b>",
        "response": RESPONSE,
        "reward_extrinsic": 0.25 * iteration,
        "reward_total": sum(rewards),
        "token_rewards": rewards,
        "token_ranges": RANGES,
        "critique": {
            "outcome": "ok",
            "raw": "Positive: great\nNegative: awful <end>",
            "error": "",
            "spans": [
                {"start": 2, "end": 7, "label": "positive", "value": 0.5},
                {"start": 14, "end": 19, "label": "negative", "polarity": -1.0},  # as module.py records it
            ],
            "dropped": [{"quote": "superb", "label": "positive", "reason": "not found in the response"}],
        },
    }


@pytest.fixture
def run_dir(tmp_path):
    folder = tmp_path / "runs" / "demo" / "csv" / "version_0"
    folder.mkdir(parents=True)
    rows = [sample_row(i, k) for i in range(1, 6) for k in range(2)]
    rows[-1]["critique"] = {"outcome": "failed", "raw": "", "error": "TimeoutError", "spans": [], "dropped": []}
    rows.append({"iteration": 5, "prompt": "old", "response": "plain <text>", "reward_extrinsic": 0.1})
    (folder / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "metrics.csv").write_text(
        "step,train/iteration,train/reward_extrinsic,train/reward_intrinsic,train/reward_total,train/kl,train/kl_coef,"
        "val/reward\n"
        "0,,,,,,,0.1\n"  # the untrained baseline, logged before the first iteration at the same step
        "0,1,0.2,0.1,0.3,0.01,0.2,\n"
        "1,2,0.4,0.2,0.6,0.03,0.19,\n"
        "1,,,,,,,0.5\n"
    )
    (folder / "config.yaml").write_text("model:\n  critic: lexicon  # <keep>\n")
    return folder


class Collector(HTMLParser):
    """Samples rows (``tr.sample``) with their ``span.tok`` tokens (reward, style, text), and every src/href."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict] = []
        self.links: list[str] = []
        self.token: dict | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.links += [attrs[k] for k in ("src", "href") if k in attrs]
        if tag == "tr" and attrs.get("class") == "sample":
            self.rows.append({"iteration": int(attrs["data-iteration"]), "tokens": [], "text": ""})
        elif tag == "span" and attrs.get("class") == "tok" and "data-reward" in attrs and self.rows:
            self.token = {"reward": float(attrs["data-reward"]), "style": attrs["style"], "text": ""}

    def handle_endtag(self, tag):
        if tag == "span" and self.token is not None:
            self.rows[-1]["tokens"].append(self.token)
            self.token = None

    def handle_data(self, data):
        if self.token is not None:
            self.token["text"] += data
        if self.rows:
            self.rows[-1]["text"] += data


def parse(path) -> Collector:
    collector = Collector()
    collector.feed(path.read_text())
    collector.close()
    return collector


def test_report_parses_and_is_self_contained(run_dir):
    path = write_report(run_dir)
    assert path == run_dir / "report.html"
    page = parse(path)
    images = [link for link in page.links if link.startswith("data:image/png;base64,")]
    assert len(images) == 2 and images == page.links  # rewards and KL plots inline; no other src or href
    assert all(base64.b64decode(i.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    text = path.read_text()
    assert "model:\n  critic: lexicon  # &lt;keep&gt;" in text  # the run's config, escaped
    assert (run_dir / "machine.json").is_file() and "logical cores" in text


def test_coloured_tokens_match_the_token_rewards_of_the_samples_file(run_dir):
    rows = [json.loads(x) for x in (run_dir / "samples.jsonl").read_text().splitlines()]
    page = parse(write_report(run_dir, samples_per_iteration=2))
    assert [r["iteration"] for r in page.rows] == [1, 1, 3, 3, 5, 5]  # first, middle and last iteration
    expected = [r for r in rows if r["iteration"] in (1, 3, 5) and "token_rewards" in r]
    for shown, row in zip(page.rows, expected):
        assert [t["reward"] for t in shown["tokens"]] == pytest.approx(row["token_rewards"])
        assert [t["text"] for t in shown["tokens"]] == [RESPONSE[s:e] for s, e in row["token_ranges"]]
        for token in shown["tokens"]:
            colour = "transparent" if token["reward"] == 0 else "22,163,74" if token["reward"] > 0 else "220,38,38"
            assert colour in token["style"]


def test_rows_without_token_rewards_show_plain_text(run_dir):
    page = parse(write_report(run_dir, samples_per_iteration=3))
    old = page.rows[-1]
    assert old["iteration"] == 5 and old["tokens"] == []
    assert "plain <text>" in old["text"] and "no critique recorded" in old["text"]


def test_critic_output_dropped_quotes_and_failures_are_shown(run_dir):
    page = parse(write_report(run_dir, samples_per_iteration=2))
    first, failed = page.rows[0]["text"], page.rows[-1]["text"]
    assert "Negative: awful <end>" in first and "superb" in first and "not found in the response" in first
    assert "positive (+0.5): \u201cgreat\u201d" in first and "negative (polarity -1): \u201cawful\u201d" in first
    assert "failed" in failed and "TimeoutError" in failed


def test_validation_points_sit_at_the_iteration_they_followed(run_dir):
    from lit_critic_rl.report import read_metrics

    rows = read_metrics(run_dir)
    assert series(rows, "val/reward") == ([0.0, 2.0], [0.1, 0.5])
    assert series(rows, "train/kl_coef") == ([1.0, 2.0], [0.2, 0.19])


def test_report_subcommand_rebuilds_from_the_root_dir(run_dir, capsys):
    from lit_critic_rl.cli import main

    root = run_dir.parents[1]
    assert find_run_dir(root) == run_dir
    assert main(["report", str(root)]) is None
    assert (run_dir / "report.html").is_file() and str(run_dir / "report.html") in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["report", str(root / "missing")])


def test_a_test_run_shows_its_evaluation_samples(tmp_path):
    rows = [{"iteration": 7, "prompt": "p", "response": f"answer {k}", "reward": 0.5 * k} for k in range(3)]
    (tmp_path / "test_samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    page = parse(write_report(tmp_path))
    assert [r["iteration"] for r in page.rows] == [7, 7, 7]
    assert "answer 2" in page.rows[2]["text"] and "extrinsic +1.000" in page.rows[2]["text"]
    assert "test_samples.jsonl" in (tmp_path / "report.html").read_text()


def test_report_names_the_run_without_the_machine_s_absolute_path(run_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the run lies under the working directory: its path relative to it
    text = write_report(run_dir).read_text()
    assert ">runs/demo/csv/version_0 &middot; written" in text and str(tmp_path) not in text
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # outside it: root dir, logger, version
    text = write_report(run_dir).read_text()
    assert ">demo/csv/version_0 &middot; written" in text and str(tmp_path) not in text
