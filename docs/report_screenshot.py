"""Make ``docs/img/report.png``: a short quickstart run with the lexicon critic, its ``report.html``, and a screenshot
of the report in headless Chromium (``apt-get install chromium``). About 5 minutes on 2 CPU cores.

    python docs/report_screenshot.py                      # train, report, screenshot
    python docs/report_screenshot.py --run-dir runs/x/csv/version_0   # report and screenshot of an existing run

Rows of ``samples.jsonl`` written before the training loop recorded token rewards are filled in first (a copy of the
file is kept as ``samples.orig.jsonl``): the lexicon critic is deterministic, so re-running it on the response text
gives the spans training used; the token ranges come from re-tokenizing the response, which can differ from the
sampled ids in rare cases. The token rewards filled in are the critic's (intrinsic) ones.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def train(root: Path) -> Path:
    from lit_critic_rl.callbacks import run_dir
    from lit_critic_rl.cli import main

    cli = main(
        [
            "fit",
            "--config",
            str(REPO / "configs" / "quickstart.yaml"),
            "--model.critic",
            str(REPO / "configs" / "critic" / "lexicon.yaml"),
            "--trainer.default_root_dir",
            str(root),
            "--trainer.max_epochs",
            "3",
            "--trainer.limit_train_batches",
            "4",
            "--trainer.limit_val_batches",
            "1",
            "--data.init_args.batch_size",
            "8",
            "--data.init_args.val_batch_size",
            "8",
        ]
    )
    return run_dir(cli.trainer)


def fill_token_rewards(folder: Path, model: str = "asset:smollm2-135m-instruct") -> None:
    from lit_critic_rl.args import ShapingArgs
    from lit_critic_rl.critic.lexicon import LexiconCritic
    from lit_critic_rl.critic.shaping import critique_token_rewards, token_char_ranges
    from lit_critic_rl.models.loading import load_tokenizer

    path = folder / "samples.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if all("token_rewards" in r for r in rows):
        return
    shutil.copy(path, folder / "samples.orig.jsonl")
    tokenizer, critic, shaping = load_tokenizer(model), LexiconCritic("sentiment"), ShapingArgs()
    for row in rows:
        if "token_rewards" in row:
            continue
        critique = critic.critique([row["prompt"]], [row["response"]])[0]
        ranges = token_char_ranges(tokenizer, tokenizer(row["response"], add_special_tokens=False)["input_ids"])
        rewards = critique_token_rewards(critique, ranges, len(ranges), shaping).tolist()
        row["token_rewards"], row["token_ranges"] = rewards, [list(r) for r in ranges]
        row["critique"] = {
            "outcome": "ok" if critique.spans else "empty",
            "raw": critique.raw,
            "error": critique.error,
            "spans": [
                {
                    "start": s.start,
                    "end": s.end,
                    "label": s.label,
                    "value": shaping.positive_value if s.polarity > 0 else shaping.negative_value,
                }
                for s in critique.spans
            ],
            "dropped": [],
        }
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def screenshot(report: Path, target: Path, size: str = "1280,1600") -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        raise SystemExit("no chromium on PATH: apt-get install -y chromium")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--screenshot={target}",
                f"--window-size={size}",
                report.resolve().as_uri(),
            ],
            check=True,
            timeout=120,
            capture_output=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", type=Path, default=None, help="an existing run's version folder (skips training)")
    parser.add_argument("--root", type=Path, default=Path("runs/report_demo"), help="root dir of the training run")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "img" / "report.png")
    args = parser.parse_args()
    from lit_critic_rl.report import write_report

    folder = args.run_dir or train(args.root)
    fill_token_rewards(folder)
    report = write_report(folder, samples_per_iteration=3)
    screenshot(report, args.output)
    print(f"report: {report}\nscreenshot: {args.output}")


if __name__ == "__main__":
    main()
