"""A newcomer's first run, timed: the README's quick-start commands, verbatim, on a clean clone.

The commands are read from the README's "Quick start" block (so the script and the README cannot drift apart): the
lines under ``# 1.`` (install), ``# 2.`` (train) and ``# 3.`` (test). Each step runs in ``bash`` inside a fresh clone
of this repository's committed ``HEAD``, with the venv the install step made activated, and with a fresh model cache
(``LIT_CRITIC_RL_CACHE``), so the first run's GGUF conversion is part of the train step as it is for a newcomer.
pip's own download cache is the machine's: say so when quoting the install time.

    python -m benchmarks.first_run                 # all three steps
    python -m benchmarks.first_run --skip-tests    # install and train only
    python -m benchmarks.first_run --keep /tmp/fr  # keep the clone there

It checks what the README promises: every step exits 0, the train step prints the first-vs-last mean train reward and
the last is higher, ``val/reward`` at the end of the run is above the one at step 0, and the test step passes. It
prints one table (step, seconds, result) and exits 1 when any check fails. Run it alone on the machine: two
compute-heavy processes on 2 cores slow each other several times.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STEPS = {"1": "install", "2": "train", "3": "test"}
REWARD_LINE = re.compile(r"mean train reward: first (\d+) iterations ([+-]\d+\.\d+) -> last \d+ ([+-]\d+\.\d+)")


def quickstart_commands(readme: str) -> dict[str, list[str]]:
    """The README's quick-start commands by step name, from the first bash block after the "Quick start" heading."""
    section = readme.split("## Quick start", 1)
    if len(section) < 2:
        raise ValueError("README.md has no '## Quick start' section")
    block = re.search(r"```bash\n(.*?)```", section[1], re.S)
    if block is None:
        raise ValueError("README.md's Quick start section has no ```bash block")
    commands: dict[str, list[str]] = {}
    step = None
    for line in block.group(1).splitlines():
        header = re.match(r"#\s*(\d+)\.", line.strip())
        if header:
            step = STEPS.get(header.group(1))
        elif line.strip() and not line.lstrip().startswith("#") and step is not None:
            commands.setdefault(step, []).append(line.strip())
    missing = [s for s in STEPS.values() if s not in commands]
    if missing:
        raise ValueError(f"README.md's Quick start block has no commands for step(s) {missing} (after '# 1.' ...)")
    return commands


def run_step(commands: list[str], cwd: Path, env: dict[str, str], log: Path) -> tuple[float, int, str]:
    """Run one step's commands in one bash (venv activated when it exists); seconds, exit code and stdout."""
    script = "set -e\n[ -f .venv/bin/activate ] && . .venv/bin/activate\n" + "\n".join(commands) + "\n"
    start = time.perf_counter()
    with log.open("w") as err:
        proc = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
    seconds = time.perf_counter() - start
    log.with_suffix(".out").write_text(proc.stdout)
    return seconds, proc.returncode, proc.stdout


def val_rewards(clone: Path) -> list[float]:
    """``val/reward`` in logging order from the quickstart's CSV log (first is step 0, last the end of the run)."""
    logs = sorted((clone / "runs").glob("*/csv/version_*/metrics.csv"))
    if not logs:
        return []
    with logs[-1].open() as f:
        return [float(r["val/reward"]) for r in csv.DictReader(f) if r.get("val/reward")]


def check_train(stdout: str, clone: Path) -> list[str]:
    """What the README promises of the train step; an empty list when all of it holds."""
    problems = []
    match = REWARD_LINE.search(stdout)
    if match is None:
        problems.append("no 'mean train reward: first ... -> last ...' line in fit's output")
    elif float(match.group(3)) <= float(match.group(2)):
        problems.append(f"train reward did not rise: {match.group(2)} -> {match.group(3)}")
    val = val_rewards(clone)
    if len(val) < 2:
        problems.append(f"expected val/reward at step 0 and at the end, found {len(val)} value(s)")
    elif val[-1] <= val[0]:
        problems.append(f"val/reward did not rise: {val[0]:+.3f} -> {val[-1]:+.3f}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-tests", action="store_true", help="run the install and train steps only")
    parser.add_argument("--keep", type=Path, help="make the clone here (must not exist) and keep it")
    args = parser.parse_args(argv)

    commands = quickstart_commands((REPO / "README.md").read_text())
    steps = [s for s in STEPS.values() if not (args.skip_tests and s == "test")]
    work = args.keep or Path(tempfile.mkdtemp(prefix="first_run_")) / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(work)], check=True)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=work, capture_output=True, text=True).stdout
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    env["LIT_CRITIC_RL_CACHE"] = str(work.parent / "model_cache")  # fresh: the GGUF conversion is timed

    rows, failed = [], False
    for step in steps:
        seconds, code, stdout = run_step(commands[step], work, env, work.parent / f"{step}.log")
        problems = [] if code == 0 else [f"exit code {code} (stderr in {work.parent / (step + '.log')})"]
        details = []
        if step == "train" and code == 0:
            problems += check_train(stdout, work)
            match, val = REWARD_LINE.search(stdout), val_rewards(work)
            if match:
                details.append(("  train reward", f"first {match.group(2)} -> last {match.group(3)}"))
            if len(val) >= 2:
                details.append(("  val/reward", f"step 0 {val[0]:+.3f} -> end {val[-1]:+.3f}"))
        if step == "test":
            summary = [line for line in stdout.splitlines() if " passed" in line or " failed" in line]
            details.append(("  tests", summary[-1].strip("= ") if summary else "no pytest summary"))
        result = "ok" if not problems else "; ".join(problems)
        rows += [(step, f"{seconds:.0f} s ({seconds / 60:.1f} min)", result), *((n, v, "") for n, v in details)]
        failed |= bool(problems)
        if code != 0:
            break
    print(f"first run of {REPO.name} @ {head.strip()} in {work}")
    for name, value, result in rows:
        print(f"{name:<16} {value:<40} {result}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
