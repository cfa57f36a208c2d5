"""The ``serve-rollouts`` command line and environment (no vLLM needed)."""

import pytest

from lit_critic_rl.rollout_engines.server import (
    host_port,
    lora_rank,
    served_names,
    server_command,
    server_env,
    vllm_python,
)


def test_server_command_serves_the_folder_with_lora_at_the_url():
    command = server_command("/v/bin/python", "/models/smol", "http://127.0.0.1:8123", adapter_r=12)
    assert command[:3] == ["/v/bin/python", "-m", "vllm.entrypoints.openai.api_server"]
    rest = [a for a in command[3:] if a != "--enable-lora"]
    flags = dict(zip(rest[::2], rest[1::2]))
    assert flags["--model"] == "/models/smol" and flags["--dtype"] == "float32"
    assert flags["--host"] == "127.0.0.1" and flags["--port"] == "8123"
    assert flags["--max-lora-rank"] == "16"  # 12 is not a rank vLLM accepts; 16 is the next one
    assert flags["--logprobs-mode"] == "processed_logprobs" and "--enable-lora" in command


def test_served_names_put_the_config_name_first_and_keep_the_folder():
    folder = "/cache/smollm2-135m-instruct"
    assert served_names("asset:smollm2-135m-instruct", folder) == ["smollm2-135m-instruct", folder]
    assert served_names("/models/smol", "/models/smol") == ["/models/smol"]  # a local folder: one name
    command = server_command("/v/bin/python", folder, "http://127.0.0.1:8123", 16, names=["smol", folder])
    assert command[command.index("--served-model-name") :] == ["--served-model-name", "smol", folder]
    assert "--served-model-name" not in server_command("/v/bin/python", folder, "http://127.0.0.1:8123", 16)


def test_lora_rank_is_the_smallest_allowed_at_or_above_r():
    assert [lora_rank(r) for r in (1, 2, 8, 16, 17, 64)] == [1, 8, 8, 16, 32, 64]
    with pytest.raises(ValueError, match="model.adapter.r"):
        lora_rank(1000)


def test_server_env_adds_the_runtime_lora_switch_without_overriding_the_user():
    env = server_env({"VLLM_CPU_KVCACHE_SPACE": "4", "PATH": "/bin"})
    assert env["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] == "True"
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "4" and env["PATH"] == "/bin"


def test_missing_vllm_venv_and_portless_url_are_named(tmp_path, monkeypatch):
    monkeypatch.delenv("LIT_CRITIC_RL_VLLM_PYTHON", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="scripts/install_vllm.sh"):
        vllm_python()
    with pytest.raises(ValueError, match="model.generation.engine_url"):
        host_port("http://localhost")


def test_engine_fields_are_checked_when_the_config_is_read():
    from lit_critic_rl.args import GenerationArgs

    with pytest.raises(ValueError, match="model.generation.engine must be 'hf' or 'vllm'"):
        GenerationArgs(engine="sglang")
    with pytest.raises(ValueError, match="model.generation.engine_url must be an http"):
        GenerationArgs(engine_url="127.0.0.1:8000")
    with pytest.raises(ValueError, match="model.generation.engine_timeout"):
        GenerationArgs(engine_timeout=0)
