"""The PPO peer: TRL 0.11.4's ``PPOTrainer`` (the classic ``step`` API the dense-reward paper's code forked), ours and
plain HF ``generate``, each in the shape of ``../shared/bench/trl011/ppo_bench.py``.

Shape (issue 15): SmolLM2-135M-Instruct, LoRA r 8 / alpha 16 on q, k, v and o, the 8 prompts below x exactly 32 new
tokens (min = max), temperature 1 with no top-k/top-p, 4 PPO epochs over one minibatch of 8, lr 1.41e-5, adaptive
KL from 0.2 towards 6 over 10,000 samples, a value head on the policy trunk, and the same trivial reward (the
fraction of vowels among the letters; the reward's cost is not what is measured).

TRL 0.11 needs transformers 4.46 and peft 0.13, so it runs in its own venv, built by
``bash ../shared/bench/trl011/install.sh ../trl011-env``. Its arm runs that venv's ``ppo_bench.py`` as a subprocess.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from pathlib import Path

PROMPTS = [
    "The movie was",
    "I watched this film and",
    "Honestly, the acting in this movie",
    "This film is one of those",
    "The plot of the movie",
    "After seeing this film, I",
    "The director of this movie",
    "My favorite part of the film was",
]
NEW_TOKENS = 32
LORA = {"r": 8, "alpha": 16, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}
PPO = {
    "learning_rate": 1.41e-5,
    "epochs": 4,
    "minibatch_size": 8,
    "kl_coef": 0.2,
    "adaptive_kl": True,
    "target_kl": 6.0,
    "kl_horizon": 10000,
}
ENV_VAR = "LIT_CRITIC_RL_TRL011_ENV"


def vowel_fraction(prompts: list[str], responses: list[str]) -> list[float]:
    """ppo_bench.py's reward: the fraction of a response's letters that are vowels (0 without letters)."""
    scores = []
    for text in responses:
        letters = [c for c in text if c.isalpha()]
        scores.append(sum(c in "aeiouAEIOU" for c in letters) / len(letters) if letters else 0.0)
    return scores


def default_trl011_env() -> Path:
    """``$LIT_CRITIC_RL_TRL011_ENV``, else ``trl011-env`` next to the repository (where the README builds it)."""
    return Path(os.environ.get(ENV_VAR) or Path(__file__).resolve().parents[2] / "trl011-env")


def check_trl011_env(env: Path) -> tuple[Path, Path]:
    """The venv's python and its ``ppo_bench.py``; a SystemExit that says how to build the venv when missing."""
    python, script = env / "venv" / "bin" / "python", env / "ppo_bench.py"
    missing = [str(p) for p in (python, script) if not p.is_file()]
    if missing:
        raise SystemExit(
            f"--peer ppo011 needs the TRL 0.11.4 venv at {env} (missing {', '.join(missing)}).\n"
            f"Build it once (about 3 min): bash ../shared/bench/trl011/install.sh {env}\n"
            f"or point --trl011-env (or ${ENV_VAR}) at an existing one."
        )
    return python, script


def run_trl011(env: Path, steps: int, threads: int, process_env: dict[str, str] | None = None) -> dict:
    """One ``ppo_bench.py`` process: 1 warm-up + ``steps - 1`` timed iterations, generate batch 8, in
    ``process_env`` (default: this process's environment)."""
    python, script = check_trl011_env(env)
    cmd = [str(python), str(script), "--gen-batch-size", "8", "--steps", str(max(steps - 1, 1))]
    out = subprocess.run(cmd + ["--threads", str(threads)], capture_output=True, text=True, cwd=env, env=process_env)
    if out.returncode != 0:
        raise SystemExit(f"trl_ppo011 failed:\n{out.stderr[-3000:]}")
    lines = out.stdout.splitlines()
    rows = [json.loads(line.split(" ", 2)[2]) for line in lines if line.startswith("STEP ")]
    result = json.loads(next(line for line in lines if line.startswith("RESULT "))[len("RESULT ") :])
    last = rows[-1]
    return {
        "step_s": [r["total_s"] for r in rows],
        "phases": {"generate": last["gen_s"], "update": last["step_s"]},
        "peak_rss_mib": result["peak_rss_mb"],
    }


def run_ours_ppo011(
    steps: int,
    model: dict | None = None,
    ppo: dict | None = None,
    callbacks: list | None = None,
    generation: dict | None = None,
) -> tuple[list[float], dict]:
    """Our PPO in the peer's shape; ``model`` / ``ppo`` / ``generation`` override ``ModelArgs`` / ``PPOArgs`` /
    ``GenerationArgs`` fields (the rest are the library defaults)."""
    from benchmarks._ours import run_ours

    times, phases = run_ours(
        prompts=len(PROMPTS),
        samples_per_prompt=1,
        new_tokens=NEW_TOKENS,
        steps=steps,
        model=model,
        ppo={**PPO, **(ppo or {})},
        adapter=LORA,
        reward=vowel_fraction,
        prompt_list=PROMPTS,
        callbacks=callbacks,
        generation=generation,
    )
    keep = ("perf/generate_s", "perf/teacher_forced_s", "perf/update_s")
    return times, {k.removeprefix("perf/").removesuffix("_s"): v for k, v in phases.items() if k in keep}


def run_hf_generate(
    steps: int,
    dtype: str = "float32",
    compiled: bool = False,
    prompts: list[str] = PROMPTS,
    new_tokens: int = NEW_TOKENS,
) -> tuple[list[float], dict]:
    """Plain HF ``generate`` of the base model (no adapter) in the same shape: the rollout's floor. ``compiled``:
    a static KV cache with ``torch.compile`` of the decode step (HF compiles only on accelerators unless told to);
    the first (warm-up) call then includes the compilation, reported as ``first_call``. ``prompts`` (one row each)
    and ``new_tokens`` default to this peer's shape."""
    import torch
    from transformers import CompileConfig

    from benchmarks._ours import MODEL
    from lit_critic_rl.models.loading import load_causal_lm, load_tokenizer

    torch.manual_seed(0)
    tokenizer = load_tokenizer(MODEL)
    model = load_causal_lm(MODEL, dtype=dtype).eval()
    enc = tokenizer(prompts, return_tensors="pt", padding=True)
    compile_config = CompileConfig()
    compile_config._compile_all_devices = True  # HF's switch to compile on CPU too (a class attribute, not an arg)
    static = {"cache_implementation": "static", "compile_config": compile_config}
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        with torch.inference_mode():
            model.generate(
                **enc,
                **(static if compiled else {}),
                do_sample=True,
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                top_k=0,
                top_p=1.0,
                pad_token_id=tokenizer.pad_token_id,
            )
        times.append(time.perf_counter() - start)
    return times, {"generate": statistics.median(times[1:] or times), "first_call": times[0]}
