"""The vLLM rollout engine against a stand-in server on 127.0.0.1 (``lit_critic_rl.testing.vllm_server``): the
requests it sends, the rollout it builds, and what it does when the server fails, hangs or answers short."""

import csv
import shutil
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger

from lit_critic_rl.args import GenerationArgs, ModelArgs, PPOArgs
from lit_critic_rl.data import SentimentPrompts
from lit_critic_rl.models.loading import load_causal_lm
from lit_critic_rl.models.policy import PolicyValueModel
from lit_critic_rl.module import DenseRewardPPO
from lit_critic_rl.rl.batch_stats import engine_gap_stats
from lit_critic_rl.rollout_engines.vllm import VLLMEngine, rollout_from_completions, sampling_settings
from lit_critic_rl.rollout_engines.vllm_client import Completion, EngineError, VLLMClient, metric_value
from lit_critic_rl.testing.vllm_server import FakeVLLM
from lit_critic_rl.types import Rollout


@pytest.fixture(scope="module")
def tiny_lm(tiny_model_path):
    from lit_critic_rl.args import AdapterArgs

    return PolicyValueModel(load_causal_lm(tiny_model_path), AdapterArgs(r=4, alpha=8), "shared_trunk")


def engine_for(fake: FakeVLLM, timeout: float = 5.0, retries: int = 2) -> VLLMEngine:
    gen = GenerationArgs(engine="vllm", engine_url=fake.url, engine_timeout=timeout, engine_retries=retries)
    return VLLMEngine(gen, VLLMClient(fake.url, timeout, retries, backoff=0.01))


def test_sampling_settings_follow_the_generation_args():
    gen = GenerationArgs(max_new_tokens=12, min_new_tokens=3, temperature=0.7, top_p=0.9, stop_strings=["\n\n"])
    settings = sampling_settings(gen, [2])
    assert settings["max_tokens"] == 12 and settings["min_tokens"] == 3
    assert settings["temperature"] == 0.7 and settings["top_p"] == 0.9
    assert settings["top_k"] == -1  # top_k 0 = off, vLLM's -1
    assert settings["stop"] == ["\n\n"] and settings["include_stop_str_in_output"] is True
    assert settings["stop_token_ids"] == [2]


def test_metric_value_sums_one_metric_over_its_labels():
    text = (
        "# HELP vllm:num_requests_running Number of requests running.\n"
        'vllm:num_requests_running{engine="0",model_name="smol"} 3.0\n'
        'vllm:num_requests_running{engine="1",model_name="smol"} 2.0\n'
        'vllm:num_requests_running_total{engine="0"} 40.0\n'
        "vllm:num_requests_waiting 7\n"
    )
    assert metric_value(text, "vllm:num_requests_running") == 5.0  # not the _total line of a longer name
    assert metric_value(text, "vllm:num_requests_waiting") == 7.0
    with pytest.raises(KeyError, match="vllm:gpu_cache_usage"):
        metric_value(text, "vllm:gpu_cache_usage")


def test_rollout_cuts_at_the_first_eos_and_pads_after_it(tiny_tokenizer):
    eos, pad = tiny_tokenizer.eos_token_id, tiny_tokenizer.pad_token_id
    completions = [Completion([10, 11, eos, 12], [-1.0, -2.0, -3.0, -4.0], "stop"), Completion([20], [-0.5], "length")]
    rollout = rollout_from_completions(["a b", "c"], tiny_tokenizer, completions, [eos], None, "cpu")
    assert rollout.response_ids.tolist() == [[10, 11, eos], [20, pad, pad]]
    assert rollout.response_mask.tolist() == [[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]
    assert rollout.engine_logprobs.tolist() == [[-1.0, -2.0, -3.0], [-0.5, 0.0, 0.0]]
    assert rollout.query_mask[1].tolist()[0] == 0  # prompts left-padded, as the HF path pads them


def test_rollout_ends_with_the_token_that_completes_a_stop_string(tiny_tokenizer):
    ids = tiny_tokenizer("good.\n\nbad more", add_special_tokens=False)["input_ids"]
    completion = Completion(ids, [-1.0] * len(ids), "stop")
    eos = [tiny_tokenizer.eos_token_id]
    rollout = rollout_from_completions(["x"], tiny_tokenizer, [completion], eos, ["\n\n"], "cpu")
    assert rollout.responses[0].endswith("\n\n") and "bad" not in rollout.responses[0]


def test_gap_is_the_mean_and_max_absolute_difference_on_response_tokens():
    # |[-1.0, -2.0] - [-1.5, -2.0]| = [0.5, 0.0]; |[-3.0, pad] - [-2.0, pad]| = [1.0, -]; mean (0.5+0+1)/3 = 0.5
    rollout = Rollout(
        ["p", "q"],
        ["", ""],
        torch.zeros(2, 1, dtype=torch.long),
        torch.ones(2, 1, dtype=torch.long),
        torch.zeros(2, 2, dtype=torch.long),
        torch.tensor([[1.0, 1.0], [1.0, 0.0]]),
        logprobs=torch.tensor([[-1.5, -2.0], [-2.0, 0.0]]),
        engine_logprobs=torch.tensor([[-1.0, -2.0], [-3.0, -9.0]]),  # -9 sits on padding: ignored
    )
    stats = engine_gap_stats(rollout)
    assert stats["train/engine_logprob_gap_mean"] == pytest.approx(0.5)
    assert stats["train/engine_logprob_gap_max"] == pytest.approx(1.0)


def test_each_iteration_loads_a_new_adapter_and_unloads_the_previous(tiny_lm, tiny_tokenizer, tmp_path):
    gen = GenerationArgs(max_new_tokens=4, samples_per_prompt=2)
    with FakeVLLM() as fake:
        engine = engine_for(fake)
        first = engine.sample(tiny_lm, tiny_tokenizer, ["a good", "the"], gen, tmp_path)
        name_1 = fake.completions_requests()[-1]["model"]
        engine.sample(tiny_lm, tiny_tokenizer, ["a good", "the"], gen, tmp_path)
        name_2 = fake.completions_requests()[-1]["model"]
        assert name_1 != name_2 and fake.adapters == {name_2}
        assert not (tmp_path / "rollout_adapters" / name_1).exists()
        assert (tmp_path / "rollout_adapters" / name_2).is_dir()
        body = fake.completions_requests()[-1]
        assert body["prompt"] == [tiny_tokenizer("a good")["input_ids"], tiny_tokenizer("the")["input_ids"]]
        assert body["n"] == 2 and body["return_token_ids"] is True and body["logprobs"] == 0
        engine.close()
        assert fake.adapters == set()
    assert len(first) == 4 and first.response_ids.shape == (4, 4)
    assert torch.equal(first.response_ids[0], first.response_ids[1])  # the stand-in answers a prompt the same


def test_server_errors_are_retried_then_reported_with_the_field(tiny_lm, tiny_tokenizer, tmp_path):
    gen = GenerationArgs(max_new_tokens=3)
    with FakeVLLM() as fake:
        engine = engine_for(fake, retries=2)
        fake.fail_statuses = [503, 500]  # two failures, then the load succeeds
        engine.sample(tiny_lm, tiny_tokenizer, ["a"], gen, tmp_path)
        assert [p for p, _ in fake.requests].count("/v1/load_lora_adapter") == 3
        fake.fail_statuses = [503] * 3
        with pytest.raises(EngineError, match="failed 3 times.*model.generation.engine_url"):
            engine.sample(tiny_lm, tiny_tokenizer, ["a"], gen, tmp_path)


def test_a_client_error_is_not_retried(tiny_tokenizer):
    with FakeVLLM() as fake:
        client = VLLMClient(fake.url, 5.0, retries=3, backoff=0.01)
        with pytest.raises(EngineError, match="HTTP 400.*adapter_config.json"):
            client.load_adapter("x", "/nonexistent")
        assert len(fake.requests) == 1


def test_a_hanging_server_times_out_instead_of_blocking(tiny_tokenizer):
    with FakeVLLM() as fake:
        fake.hang = 1.0
        client = VLLMClient(fake.url, timeout=0.2, retries=1, backoff=0.01)
        with pytest.raises(EngineError, match="timed out after 0.2 s.*model.generation.engine_timeout"):
            client.load_adapter("x", "/nonexistent")
        assert len(fake.requests) == 2  # the first try and one retry


def test_a_server_that_is_down_names_the_url_field():
    with FakeVLLM() as fake:
        url = fake.url
    client = VLLMClient(url, timeout=1.0, retries=1, backoff=0.01)  # the port is closed now
    assert not client.ready()
    with pytest.raises(EngineError, match="model.generation.engine_url"):
        client.unload_adapter("x")
    with pytest.raises(EngineError, match="not ready after"):
        client.wait_ready(0.3, poll_s=0.1)


def test_short_answers_are_asked_again_then_fail(tiny_lm, tiny_tokenizer, tmp_path):
    gen = GenerationArgs(max_new_tokens=6, samples_per_prompt=2)
    with FakeVLLM() as fake:
        engine = engine_for(fake, retries=1)
        fake.short = 1  # the seeded request comes back short; the retry is whole
        rollout = engine.sample(tiny_lm, tiny_tokenizer, ["a", "the end"], gen, tmp_path)
        retry = fake.completions_requests()[-1]
        assert len(retry["prompt"]) == 4 and retry["n"] == 1 and "seed" not in retry
        assert rollout.response_mask.sum(1).tolist() == [6.0] * 4
        fake.short = 2
        with pytest.raises(EngineError, match="4 of 4 responses shorter than model.generation.max_new_tokens"):
            engine.sample(tiny_lm, tiny_tokenizer, ["a", "the end"], gen, tmp_path)


def test_fit_with_the_vllm_engine_logs_the_log_prob_gap(tiny_model_path, tmp_path):
    L.seed_everything(0)
    with FakeVLLM(logprob=-100.0) as fake:
        module = DenseRewardPPO(
            reward=lambda prompts, responses: [float(len(r) % 3) for r in responses],
            model=ModelArgs(name_or_path=tiny_model_path, value_mode="shared_trunk", check_memory=False),
            generation=GenerationArgs(max_new_tokens=5, engine="vllm", engine_url=fake.url, engine_timeout=30.0),
            ppo=PPOArgs(epochs=1, minibatch_size=4),
        )
        trainer = L.Trainer(
            max_epochs=1,
            limit_train_batches=2,
            limit_val_batches=0,
            default_root_dir=str(tmp_path),
            logger=CSVLogger(str(tmp_path), name="csv", version=0),
            enable_progress_bar=False,
            enable_model_summary=False,
            log_every_n_steps=1,
        )
        trainer.fit(module, SentimentPrompts(batch_size=4, val_size=4, val_batch_size=4))
        assert len(fake.completions_requests()) == 2 and fake.adapters == set()  # unloaded at the end of fit
    rows = [r for r in csv.DictReader(Path(tmp_path, "csv", "version_0", "metrics.csv").open()) if r.get("train/kl")]
    gaps = [float(r["train/engine_logprob_gap_max"]) for r in rows]
    # the stand-in reports -100 for every token; the tiny model's teacher-forced log-probs are near -log(V) ~ -6
    assert len(gaps) == 2 and all(80 < g < 100 for g in gaps)
    assert all(float(r["train/engine_logprob_gap_mean"]) <= g for r, g in zip(rows, gaps))


def test_after_a_resume_the_server_gets_the_checkpoint_adapter_first(tiny_model_path, tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint
    from safetensors.torch import load_file

    def run(fake, epochs, ckpt_path=None):
        L.seed_everything(0)
        module = DenseRewardPPO(
            reward=lambda prompts, responses: [float(len(r) % 3) for r in responses],
            model=ModelArgs(name_or_path=tiny_model_path, value_mode="shared_trunk", check_memory=False),
            generation=GenerationArgs(max_new_tokens=4, engine="vllm", engine_url=fake.url),
            ppo=PPOArgs(epochs=1, minibatch_size=4, learning_rate=1e-2),
        )
        trainer = L.Trainer(
            max_epochs=epochs,
            limit_train_batches=1,
            limit_val_batches=0,
            default_root_dir=str(tmp_path),
            logger=False,
            callbacks=[ModelCheckpoint(dirpath=str(tmp_path / "ckpt"), save_last=True)],
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        trainer.fit(module, SentimentPrompts(batch_size=4, val_size=4, val_batch_size=4), ckpt_path=ckpt_path)

    with FakeVLLM() as fake:
        fake.keep_dir = tmp_path / "pushed"
        run(fake, epochs=1)
        resume_from = tmp_path / "after_epoch_1.ckpt"  # last.ckpt is written again by the resumed run
        shutil.copy(tmp_path / "ckpt" / "last.ckpt", resume_from)
        run(fake, epochs=2, ckpt_path=str(resume_from))
        first_after_resume = fake.loaded[1]
    saved = torch.load(resume_from, weights_only=True)["state_dict"]
    policy = {k: v for k, v in saved.items() if ".lora_" in k and ".policy." in k}
    pushed = load_file(next((tmp_path / "pushed" / first_after_resume).rglob("adapter_model.safetensors")))
    assert len(pushed) == len(policy) > 0
    for key, value in policy.items():  # lm.peft.<path>.lora_A.policy.weight -> <path>.lora_A.weight
        assert torch.equal(pushed[key.removeprefix("lm.peft.").replace(".policy.", ".")], value), key


def test_under_ddp_rank_zero_pushes_one_adapter_per_iteration_for_both_ranks(tiny_model_path, tmp_path):
    import os
    import socket
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with FakeVLLM() as fake:
        args = [
            *("--config", str(repo / "configs" / "quickstart.yaml"), "--config", str(repo / "configs/debug/fast.yaml")),
            *("--trainer", str(repo / "configs" / "trainer" / "ddp.yaml"), "--trainer.max_epochs", "1"),
            *("--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "0"),
            *("--trainer.default_root_dir", str(tmp_path), "--model.model.name_or_path", tiny_model_path),
            *("--model.reward", "lit_critic_rl.testing.rewards.VowelShare", "--data.init_args.batch_size", "4"),
            *("--model.generation.max_new_tokens", "4", "--model.generation.min_new_tokens", "0"),
            *("--model.generation.engine", "vllm", "--model.generation.engine_url", fake.url),
            *("--model.ppo.epochs", "1", "--model.model.check_memory", "false"),
        ]
        env = {**os.environ, "PYTHONPATH": str(repo), "OMP_NUM_THREADS": "1", "MASTER_PORT": str(port)}
        env.pop("LOCAL_RANK", None)
        command = [sys.executable, str(repo / "cli.py"), "fit", *args]
        out = subprocess.run(command, capture_output=True, text=True, timeout=420, env=env)
        assert out.returncode == 0, out.stderr[-3000:]
        requests = fake.completions_requests()
        # 2 iterations: one adapter each, loaded by rank 0 only; each rank samples its 2 prompts with it
        assert len(fake.loaded) == 2 and len(requests) == 4
        assert [r["model"] for r in requests].count(fake.loaded[0]) == 2
        assert all(len(r["prompt"]) == 2 for r in requests) and fake.adapters == set()
