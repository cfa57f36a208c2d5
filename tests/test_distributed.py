"""DDP on CPU: 2 gloo processes (``configs/trainer/ddp.yaml``) against 1 process, with the same global batch and seed.

Each run is ``python cli.py fit`` in a subprocess (Lightning's own launcher starts rank 1), on the tiny model, with
greedy decoding (``top_k: 1``), responses of a fixed length, and a reward of prompt + response (the tiny model's
greedy responses barely vary, so a reward of the response alone would be nearly the same for every sample).

Why greedy and a fixed length: sampled decoding draws different random numbers when a batch of 4 is split into 2 x 2
rows, so the responses (and everything after them) would differ by design; and with equal token counts on both ranks
the mean of the per-rank minibatch means equals the global mean, so the update's statistics and DDP's averaged
gradients match the single process exactly in exact arithmetic.

What is left are floating-point differences: each rank pads its 2 prompts to a different length than the 4-prompt
batch, so matmuls and attention sum in a different order, and the statistics are summed in another order over ranks.
The tolerance below (1e-4 relative, 1e-5 absolute) is orders of magnitude above those (~1e-7) and orders below any
real disagreement (a statistic computed on one rank's slice instead of the global batch moves the logged value by
whole percents).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lit_critic_rl.testing.local_http import free_port

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
TOLERANCE = {"rel": 1e-4, "abs": 1e-5}
COMPARED = [
    "train/reward_extrinsic",
    "train/reward_total",
    "train/response_len",
    "train/returns_mean",
    "train/returns_std",
    "train/advantages_mean",
    "train/advantages_std",
    "train/kl",
    "train/kl_coef",
    "train/policy_loss",
    "train/value_loss",
    "train/entropy",
    "train/approx_kl",
    "train/samples_seen",
]


def fit(root: Path, model: str, devices: int, epochs: int, *extra: str) -> subprocess.CompletedProcess:
    """``cli.py fit`` of 2 iterations per epoch, 4 prompts per iteration (global), 4 greedy tokens, separate value
    adapter (so each backward leaves the other adapter unused: DDP must find unused parameters)."""
    trainer = ["--trainer", str(CONFIGS / "trainer" / "ddp.yaml")] if devices > 1 else ["--trainer.devices", "1"]
    args = [
        *("--config", str(CONFIGS / "quickstart.yaml"), "--config", str(CONFIGS / "debug" / "fast.yaml"), *trainer),
        *(
            "--trainer.max_epochs",
            str(epochs),
            "--trainer.limit_train_batches",
            "2",
            "--trainer.limit_val_batches",
            "0",
        ),
        *("--trainer.default_root_dir", str(root)),
        *("--model.model.name_or_path", model, "--model.model.value_mode", "separate_adapter"),
        *("--model.reward", "lit_critic_rl.testing.rewards.VowelShare"),  # varies per prompt, even when responses don't
        *("--model.generation.top_k", "1", "--model.generation.max_new_tokens", "4"),
        *("--model.generation.min_new_tokens", "4", "--model.ppo.epochs", "1", "--model.ppo.learning_rate", "0.01"),
        *("--data.init_args.batch_size", "4", *extra),
        # a local HF critic on the tiny model, which records each construction: one per rank and run
        *("--model.critic", "lit_critic_rl.testing.counting.CountingHFCritic"),
        *("--model.critic.init_args.name_or_path", model, "--model.critic.init_args.max_new_tokens", "4"),
        *("--model.critic.init_args.count_file", str(root / "critic_builds.txt")),
    ]
    return cli_fit(args)


def fit_command(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of ``cli.py fit *args`` in a fresh process (this checkout's code, one
    thread, a free DDP port)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "MASTER_PORT": str(free_port())}
    env.pop("LOCAL_RANK", None)
    return [sys.executable, str(REPO / "cli.py"), "fit", *args], env


def cli_fit(args: list[str]) -> subprocess.CompletedProcess:
    """``cli.py fit *args`` in a fresh process (:func:`fit_command`); it must exit 0."""
    command, env = fit_command(args)
    out = subprocess.run(command, capture_output=True, text=True, timeout=420, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def train_rows(root: Path, version: int = 0) -> list[dict[str, float]]:
    rows = csv.DictReader((root / "csv" / f"version_{version}" / "metrics.csv").open())
    return [{k: float(v) for k, v in r.items() if v} for r in rows if r.get("train/iteration")]


def samples(root: Path, version: int = 0) -> list[dict]:
    path = root / "csv" / f"version_{version}" / "samples.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def runs(tiny_model_path, tmp_path_factory):
    """One process for 4 iterations; two processes for 2 iterations, then resumed for 2 more."""
    base = tmp_path_factory.mktemp("ddp")
    fit(base / "one", tiny_model_path, 1, 2)
    fit(base / "two", tiny_model_path, 2, 1)
    fit(base / "two", tiny_model_path, 2, 2, "--ckpt_path", "last")
    return base


def test_two_processes_match_one_on_the_first_iterations(runs):
    one, two = train_rows(runs / "one"), train_rows(runs / "two")
    assert len(one) == 4 and len(two) == 2
    for i in range(2):  # the second iteration also checks that the averaged gradients made the same update
        for key in COMPARED:
            assert two[i][key] == pytest.approx(one[i][key], **TOLERANCE), (i, key)
    assert one[0]["train/returns_std"] > 0.01  # the reward varies, so the statistics compared are not all zero
    first = samples(runs / "one")[:4]
    rank0, rank1 = (sum(s["reward_extrinsic"] for s in half) / 2 for half in (first[:2], first[2:]))
    assert abs(rank0 - rank1) > 1e-3  # each rank's slice has its own mean: a per-rank statistic would show
    assert [r["train/samples_seen"] for r in two] == [4.0, 8.0]  # global counts, not per rank


def test_samples_file_holds_the_global_batch_once(runs):
    """Rank 0 writes every rank's samples (gathered in rank order) and no rank writes its own run folder."""
    one, two = samples(runs / "one"), samples(runs / "two")
    assert len(two) == 8
    assert [s["prompt"] for s in two] == [s["prompt"] for s in one[:8]]
    assert [s["response"] for s in two] == [s["response"] for s in one[:8]]
    for a, b in zip(one[:8], two):
        assert b["reward_extrinsic"] == pytest.approx(a["reward_extrinsic"], **TOLERANCE)
    assert sorted(p.name for p in (runs / "two" / "csv").iterdir()) == ["version_0", "version_1"]  # run, resume
    assert (runs / "two" / "csv" / "version_0" / "adapters" / "value_head.pt").is_file()


def test_each_rank_builds_its_critic_once(runs):
    """Two 2-process runs (the run and its resume): four constructions, one per rank, each in its own process."""
    lines = (runs / "two" / "critic_builds.txt").read_text().split("\n")[:-1]
    pids, ranks = [line.split()[0] for line in lines], sorted(line.split()[1] for line in lines)
    assert len(lines) == 4 and len(set(pids)) == 4 and ranks == ["0", "0", "1", "1"]
    assert len((runs / "one" / "critic_builds.txt").read_text().splitlines()) == 1


def test_resumed_two_process_run_continues_the_run_position(runs):
    """The data position is the run's: the resumed 2-process run sees iterations 3-4 of the 1-process stream."""
    one, resumed = samples(runs / "one"), samples(runs / "two", version=1)
    assert [s["prompt"] for s in resumed] == [s["prompt"] for s in one[8:]]
    assert [s["iteration"] for s in resumed] == [3] * 4 + [4] * 4
    state = torch.load(runs / "two" / "checkpoints" / "last.ckpt", weights_only=True)["lit_critic_rl"]
    assert state["prompts_consumed"] == 16 and state["samples_seen"] == 16
    assert len(state["rng_by_rank"]) == 2
