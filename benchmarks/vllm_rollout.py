"""Rollout time of the vLLM engine against HF ``generate``, one interleaved run on this machine (issue 25).

SmolLM2-135M-Instruct in fp32 with a LoRA adapter (r 16 / alpha 32 on all linear layers; ``lora_B`` moved off zero
so the adapter changes the model), exactly ``new_tokens`` per response (min = max), T 1.0, one response per prompt.
Per shape (prompts x new tokens) the arms are:

- ``hf``: :func:`lit_critic_rl.ppo.rollout.sample`, the HF path of a training iteration, in this process;
- ``vllm``: :class:`~lit_critic_rl.rollout_engines.vllm.VLLMEngine` ``sample``, the engine path of an iteration:
  save the adapter, load it into the server, sample, unload (``push_s`` is the save + load part of it);
- ``vllm_base``: the same server sampling the base model (no adapter), which separates LoRA's cost from the rest.

One vLLM server per thread setting (``--settings``): ``default`` leaves vLLM's CPU thread binding alone (one core
on this 2-core machine); ``bind01`` sets ``VLLM_CPU_OMP_THREADS_BIND=0-1 VLLM_CPU_NUM_OF_RESERVED_CPU=0``. Each
repeat starts the server, times its arms, stops it (so the idle server cannot slow the HF arm), then times ``hf``;
HF runs with ``torch.set_num_threads(--threads)``. Reported: the median seconds per rollout over repeats and the
speed of each arm relative to ``hf`` in the same shape (>1 means faster than HF).

    python -m benchmarks.vllm_rollout                        # 3 repeats, shapes 8x32 and 32x64, both settings
    python -m benchmarks.vllm_rollout --repeats 1 --shapes 4x8 --settings default    # a smoke run

Needs the vLLM venv (``scripts/install_vllm.sh``; ``--vllm-python`` or ``$LIT_CRITIC_RL_VLLM_PYTHON``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

SETTINGS = {
    "default": {},
    "bind01": {"VLLM_CPU_OMP_THREADS_BIND": "0-1", "VLLM_CPU_NUM_OF_RESERVED_CPU": "0"},
}
ARMS = ("hf", "vllm", "vllm_base")
PROMPTS = [
    "This movie was",
    "I watched the film and",
    "The acting in this",
    "My friends and I saw it last night;",
    "The director's new picture",
    "Halfway through the second act,",
    "The soundtrack",
    "Compared with the first one, the sequel",
]


def parse_shape(text: str) -> tuple[int, int]:
    """``"8x32"`` -> (8 prompts, 32 new tokens)."""
    try:
        prompts, tokens = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a shape is PROMPTSxTOKENS, e.g. 8x32, got {text!r}") from None
    if prompts < 1 or tokens < 1:
        raise argparse.ArgumentTypeError(f"a shape needs at least 1 prompt and 1 token, got {text!r}")
    return prompts, tokens


def prompts_for(n: int) -> list[str]:
    return [PROMPTS[i % len(PROMPTS)] for i in range(n)]


def table(
    times: dict[tuple[str, str, str], list[float]], shapes: list[str], settings: list[str], threads: int
) -> list[str]:
    """Markdown rows: median seconds per rollout of each (shape, arm, setting) and its speed relative to ``hf``."""
    lines = [
        "| shape (prompts x tokens) | arm | threads | s / rollout (median) | speed vs HF |",
        "|---|---|---|---:|---:|",
    ]
    for shape in shapes:
        hf = statistics.median(times[(shape, "hf", "")])
        lines.append(f"| {shape} | hf | torch {threads} | {hf:.2f} | 1.00x |")
        for setting in settings:
            for arm in ("vllm", "vllm_push", "vllm_base"):
                values = times.get((shape, arm, setting))
                if not values:
                    continue
                med = statistics.median(values)
                speed = f"{hf / med:.2f}x" if arm != "vllm_push" else ""
                lines.append(f"| {shape} | {arm} | {setting} | {med:.2f} | {speed} |")
    return lines


@contextmanager
def served(python: str, folder: str, setting: str, log: Path, max_model_len: int):
    """A vLLM server of ``folder`` with the thread setting's environment, stopped on exit."""
    from lit_critic_rl.rollout_engines.server import server_command, start_server, stop_server
    from lit_critic_rl.testing.local_http import free_port

    url = f"http://127.0.0.1:{free_port()}"
    saved = {key: os.environ.get(key) for key in SETTINGS[setting]}
    os.environ.update(SETTINGS[setting])
    try:
        proc = start_server(server_command(python, folder, url, 16, max_model_len=max_model_len), url, log)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    try:
        yield url
    finally:
        stop_server(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shapes", nargs="+", type=parse_shape, default=[(8, 32), (32, 64)])
    parser.add_argument("--settings", nargs="+", choices=sorted(SETTINGS), default=["default", "bind01"])
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the HF arm")
    parser.add_argument("--vllm-python", default=None)
    args = parser.parse_args()

    import torch

    from lit_critic_rl.args import AdapterArgs, GenerationArgs
    from lit_critic_rl.models.loading import SMOLLM2_ALIAS, load_causal_lm, load_tokenizer, materialize_asset
    from lit_critic_rl.models.policy import PolicyValueModel
    from lit_critic_rl.ppo.rollout import eos_ids, sample
    from lit_critic_rl.rollout_engines.server import vllm_python
    from lit_critic_rl.rollout_engines.vllm import VLLMEngine, sampling_settings

    python = vllm_python(args.vllm_python)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    folder = str(materialize_asset(SMOLLM2_ALIAS))
    lm = PolicyValueModel(load_causal_lm(SMOLLM2_ALIAS), AdapterArgs(r=16, alpha=32), "shared_trunk")
    with torch.no_grad():
        for name, p in lm.peft.named_parameters():
            if "lora_B" in name and ".policy." in name:
                p.normal_(0.0, 0.01)
    lm.eval()
    tokenizer = load_tokenizer(SMOLLM2_ALIAS)
    eos = eos_ids(tokenizer, lm.peft)
    shapes = [f"{p}x{t}" for p, t in args.shapes]
    longest = max(len(tokenizer(p)["input_ids"]) for p in PROMPTS) + max(t for _, t in args.shapes) + 16
    times: dict[tuple[str, str, str], list[float]] = {}

    def record(key, seconds):
        times.setdefault(key, []).append(seconds)
        print(f"  {key[0]} {key[1]} {key[2] or ''}: {seconds:.2f} s", flush=True)

    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        for repeat in range(args.repeats):
            print(f"repeat {repeat}", flush=True)
            for setting in args.settings:
                with served(python, folder, setting, work / f"vllm_{setting}.log", longest) as url:
                    engine = VLLMEngine(GenerationArgs(engine="vllm", engine_url=url))
                    for (n, tokens), shape in zip(args.shapes, shapes):
                        gen = GenerationArgs(
                            max_new_tokens=tokens, min_new_tokens=tokens, temperature=1.0, engine="vllm"
                        )
                        prompts = prompts_for(n)
                        ids = [list(x) for x in tokenizer(prompts, padding=False)["input_ids"]]
                        # warm-up: the first request of a fresh server (and of a new adapter) compiles and allocates
                        engine.sample(lm, tokenizer, prompts, gen, work)
                        engine.client.complete(folder, ids, sampling_settings(gen, eos))
                        start = time.perf_counter()
                        engine.push_adapter(lm, work)
                        push = time.perf_counter() - start
                        engine.drop_loaded()
                        record((shape, "vllm_push", setting), push)
                        start = time.perf_counter()
                        engine.sample(lm, tokenizer, prompts, gen, work)
                        record((shape, "vllm", setting), time.perf_counter() - start)
                        start = time.perf_counter()
                        engine.client.complete(folder, ids, sampling_settings(gen, eos))
                        record((shape, "vllm_base", setting), time.perf_counter() - start)
                    engine.close()
            for (n, tokens), shape in zip(args.shapes, shapes):
                gen = GenerationArgs(max_new_tokens=tokens, min_new_tokens=tokens, temperature=1.0)
                prompts = prompts_for(n)
                if repeat == 0:
                    sample(lm, tokenizer, prompts, gen)  # warm-up
                start = time.perf_counter()
                sample(lm, tokenizer, prompts, gen)
                record((shape, "hf", ""), time.perf_counter() - start)
    print(
        f"\n{args.repeats} interleaved repeats; fp32 SmolLM2-135M-Instruct + LoRA r16 on all linear layers; "
        f"HF with {args.threads} torch threads; vllm includes saving and loading the adapter (vllm_push alone)\n"
    )
    print("\n".join(table(times, shapes, args.settings, args.threads)))


if __name__ == "__main__":
    main()
