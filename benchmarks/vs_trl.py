"""Throughput and peak memory of one full RL iteration: lit_critic_rl's PPO vs TRL's RLOOTrainer, side by side.

Same model (SmolLM2-135M-Instruct, fp32, LoRA r 16 / alpha 32 on all linear layers), same prompts, same batch
(``--prompts`` prompts x 2 samples each), exactly ``--new-tokens`` completion tokens per sample (min = max), the same
reward (VADER) and the same thread count. TRL 1.x has no PPO trainer any more; RLOO with ``beta > 0`` is its closest
on-policy trainer with a KL-to-reference term (reference = the adapter-disabled base, as ours). One iteration is:

- ours: rollout (generate) + reward + reference pass + one PPO epoch over one minibatch (forward, backward, AdamW);
- TRL: generate + reward + reference pass + one RLOO step (``num_iterations=1``: forward, backward, AdamW).

Each arm runs in its own process (peak RSS is per process) for ``--steps`` iterations; the first is warm-up and the
median of the rest is that process's step time. Processes are interleaved A B C A B C ...; the table reports medians
over repeats. TRL is a benchmark-only dependency: ``pip install -e .[bench]``.

    python -m benchmarks.vs_trl            # 3 repeats x 4 steps, 32 new tokens
    python -m benchmarks.vs_trl --quick    # ours_fast and TRL, 1 repeat x 2 steps, 16 new tokens

``--peer ppo011`` compares with TRL 0.11.4's ``PPOTrainer`` instead, in its benchmark's shape (4 PPO epochs, LoRA on
q, k, v, o; :mod:`benchmarks.ppo011`), next to plain HF ``generate`` of the same model and shape (the rollout's
floor). TRL 0.11 runs from its own venv (``--trl011-env``, built by ``../shared/bench/trl011/install.sh``)::

    python -m benchmarks.vs_trl --peer ppo011    # TRL PPO, ours (library defaults), plain generate; 3 repeats x 4

``--peer grpo`` compares our GRPO objective (``configs/objective/grpo.yaml``, library defaults) with TRL 1.x's
``GRPOTrainer`` (its defaults) and plain ``generate``, ``--prompts`` prompts x ``--group`` samples x ``--new-tokens``
(:mod:`benchmarks.grpo_peer` says what each arm does and where the two sides' work differs)::

    python -m benchmarks.vs_trl --peer grpo            # trl_grpo, trl_grpo_kl, ours_grpo, hf_generate; 4 x 4 x 32
    python -m benchmarks.vs_trl --peer grpo --quick    # trl_grpo and ours_grpo, 1 repeat x 2 steps, 16 new tokens
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks import grpo_peer

ARMS = {
    "ours_lean": "lit_critic_rl PPO, shared-trunk value, activation checkpointing (TRL's default), malloc threshold",
    "ours_no_ckpt": "lit_critic_rl PPO, shared-trunk value, malloc threshold, no activation checkpointing",
    "ours_fast": "lit_critic_rl PPO, shared-trunk value, library defaults (no checkpointing, no malloc threshold)",
    "trl_rloo": "TRL RLOOTrainer, beta 0.04, PEFT LoRA, its defaults (activation checkpointing on)",
}
PPO011_ARMS = {
    "trl_ppo011": "TRL 0.11.4 PPOTrainer (ppo_bench.py in its venv), generate batch 8",
    "trl_ppo011_jemalloc": "TRL 0.11.4 PPOTrainer under jemalloc (LD_PRELOAD), as a TRL user could run it",
    "ours": "lit_critic_rl PPO, library defaults (as the CLI launches it: jemalloc when installed)",
    "ours_glibc": "lit_critic_rl PPO, library defaults under glibc's malloc (LIT_CRITIC_RL_ALLOCATOR=system)",
    "ours_tcmalloc": "lit_critic_rl PPO, library defaults under tcmalloc (LIT_CRITIC_RL_ALLOCATOR=tcmalloc)",
    "ours_shared_trunk": "lit_critic_rl PPO, model.value_mode shared_trunk (value head on the policy trunk)",
    "ours_separate": "lit_critic_rl PPO, model.value_mode separate_adapter (its own value adapter)",
    "ours_fp32": "lit_critic_rl PPO, model.dtype float32 (the default, spelled out)",
    "ours_bf16": "lit_critic_rl PPO, model.dtype bfloat16",
    "ours_nf4": "lit_critic_rl PPO, model.quantization nf4 (fp32 compute)",
    "ours_lean": "lit_critic_rl PPO, configs/presets/lean_memory.yaml",
    "ours_trim": "lit_critic_rl PPO, model.malloc_trim (glibc heap trimmed after each phase)",
    "ours_mmap64k": "lit_critic_rl PPO, model.malloc_mmap_threshold 65536",
    "ours_mmap256k": "lit_critic_rl PPO, model.malloc_mmap_threshold 262144",
    "ours_mem": "lit_critic_rl PPO, mmap threshold 262144 + ppo.logprob_chunk_size 512 (no logits kept for backward)",
    "ours_nf4_trim": "lit_critic_rl PPO, model.quantization nf4 and model.malloc_trim",
    "ours_merged": "lit_critic_rl PPO, generation.merge_adapter (sampling from merged weights)",
    "ours_chunked": "lit_critic_rl PPO, ppo.logprob_chunk_size 64 (no full-vocabulary logits in the epochs)",
    "hf_generate": "plain HF generate of the base model, no adapter (the rollout floor)",
    "hf_generate_static": "plain HF generate, static KV cache + torch.compile of the decode step",
}
PPO011_DEFAULT_ARMS = ["trl_ppo011", "ours", "hf_generate"]
PPO011_OURS = {  # ModelArgs / PPOArgs / GenerationArgs overrides of our arms in the PPO peer's shape
    "ours": {},
    "ours_glibc": {},
    "ours_tcmalloc": {},
    "ours_shared_trunk": {"model": {"value_mode": "shared_trunk"}},
    "ours_separate": {"model": {"value_mode": "separate_adapter"}},
    "ours_fp32": {"model": {"dtype": "float32"}},
    "ours_bf16": {"model": {"dtype": "bfloat16"}},
    "ours_nf4": {"model": {"quantization": "nf4", "dtype": "float32"}},
    "ours_lean": {"model": {"activation_checkpointing": True, "malloc_mmap_threshold": 65536}},
    "ours_trim": {"model": {"malloc_trim": True}},
    "ours_mmap64k": {"model": {"malloc_mmap_threshold": 65536}},
    "ours_mmap256k": {"model": {"malloc_mmap_threshold": 262144}},
    "ours_mem": {"model": {"malloc_mmap_threshold": 262144}, "ppo": {"logprob_chunk_size": 512}},
    "ours_nf4_trim": {"model": {"quantization": "nf4", "dtype": "float32", "malloc_trim": True}},
    "ours_merged": {"generation": {"merge_adapter": True}},
    "ours_chunked": {"ppo": {"logprob_chunk_size": 64}},
}
OURS = {  # model.* settings of our arms
    "ours_lean": {"value_mode": "shared_trunk", "activation_checkpointing": True, "malloc_mmap_threshold": 65536},
    "ours_no_ckpt": {"value_mode": "shared_trunk", "malloc_mmap_threshold": 65536},
    "ours_fast": {"value_mode": "shared_trunk"},
}
GLIBC_LEVERS = ("ours_lean", "ours_no_ckpt", "ours_trim", "ours_mmap64k", "ours_mmap256k", "ours_mem")
GLIBC_LEVERS += ("ours_nf4_trim", "ours_grpo_lean")
"""Arms whose lever is a glibc malloc setting (``malloc_trim``, ``malloc_mmap_threshold``): they run under glibc."""
ARM_ALLOCATOR = {
    "ours_glibc": "system",
    "ours_tcmalloc": "tcmalloc",
    **{arm: "system" for arm in GLIBC_LEVERS},
}
"""``LIT_CRITIC_RL_ALLOCATOR`` of an arm's process; our other arms start as the CLI does (``auto``)."""


def peer_arm(arm: str) -> bool:
    """TRL's arms and plain ``generate``: they run under glibc's malloc, as their users get them."""
    return arm.startswith(("trl_", "hf_"))


def run_ours_arm(args, arm: str) -> tuple[list[float], dict[str, float]]:
    from benchmarks._ours import run_ours

    return run_ours(
        prompts=args.prompts, samples_per_prompt=2, new_tokens=args.new_tokens, steps=args.steps, model=OURS[arm]
    )


def run_trl(args) -> tuple[list[float], dict[str, float]]:
    import tempfile

    from datasets import Dataset
    from peft import LoraConfig
    from trl import RLOOConfig, RLOOTrainer

    from benchmarks._ours import LORA, MODEL, sentiment_data
    from benchmarks._trl import step_timer, vader_reward_func
    from lit_critic_rl.models.loading import load_causal_lm, load_tokenizer

    reward, timer = vader_reward_func(), step_timer()
    with tempfile.TemporaryDirectory() as root:
        config = RLOOConfig(
            output_dir=root,
            use_cpu=True,
            report_to="none",
            save_strategy="no",
            logging_steps=1,
            seed=0,
            per_device_train_batch_size=2 * args.prompts,
            num_generations=2,
            max_steps=args.steps,
            max_completion_length=args.new_tokens,
            generation_kwargs={"min_new_tokens": args.new_tokens},
            beta=0.04,
            learning_rate=1e-5,
            temperature=1.0,
            top_k=0,
            top_p=1.0,
            bf16=False,
            fp16=False,
            dataloader_num_workers=0,
        )
        trainer = RLOOTrainer(
            model=load_causal_lm(MODEL),
            reward_funcs=reward,
            args=config,
            train_dataset=Dataset.from_dict({"prompt": sentiment_data(args.prompts).train_prompts}),
            processing_class=load_tokenizer(MODEL),
            callbacks=[timer],
            peft_config=LoraConfig(
                r=LORA["r"], lora_alpha=LORA["alpha"], target_modules="all-linear", task_type="CAUSAL_LM"
            ),
        )
        trainer.train()
    return timer.times, {}


def child(args) -> None:
    if not peer_arm(args.child):
        from lit_critic_rl.launch import reexec_with_allocator

        reexec_with_allocator()  # our arms launch as the CLI does (LIT_CRITIC_RL_ALLOCATOR set by run_arm)
    import torch

    from benchmarks._ours import peak_rss_mib

    torch.set_num_threads(args.threads)
    if args.peer == "grpo":
        from benchmarks.grpo_peer import run_grpo_arm

        times, phases = run_grpo_arm(args.child, args.prompts, args.group, args.new_tokens, args.steps)
    elif args.child == "trl_rloo":
        times, phases = run_trl(args)
    elif args.child in ("hf_generate", "hf_generate_static"):
        from benchmarks.ppo011 import run_hf_generate

        times, phases = run_hf_generate(args.steps, compiled=args.child == "hf_generate_static")
    elif args.peer == "ppo011":
        from benchmarks.ppo011 import run_ours_ppo011

        spec = PPO011_OURS[args.child]
        times, phases = run_ours_ppo011(args.steps, spec.get("model"), spec.get("ppo"), None, spec.get("generation"))
    else:
        times, phases = run_ours_arm(args, args.child)
    print(json.dumps({"step_s": times, "phases": phases, "peak_rss_mib": peak_rss_mib()}))


def arm_env(arm: str, base) -> dict[str, str]:
    """The environment of ``arm``'s process: ``base`` with its allocator choice; the TRL-under-jemalloc arm gets
    jemalloc in ``LD_PRELOAD`` directly (TRL has no launcher of its own)."""
    from lit_critic_rl.launch import ALLOCATOR_ENV, find_allocator, library_dirs

    env = dict(base)
    env.pop("LD_PRELOAD", None)
    env[ALLOCATOR_ENV] = ARM_ALLOCATOR.get(arm, "system" if peer_arm(arm) else "auto")
    if arm == "trl_ppo011_jemalloc":
        library = find_allocator("jemalloc", library_dirs(env))
        if library is None:
            sys.exit("trl_ppo011_jemalloc needs jemalloc installed (e.g. apt install libjemalloc2)")
        env["LD_PRELOAD"] = str(library)
    return env


def run_arm(args, arm: str) -> dict:
    """One process of ``arm``: its iteration times, phase times and peak RSS."""
    env = arm_env(arm, os.environ)
    if arm.startswith("trl_ppo011"):
        from benchmarks.ppo011 import run_trl011

        return run_trl011(Path(args.trl011_env), args.steps, args.threads, env)
    cmd = [sys.executable, "-m", "benchmarks.vs_trl", "--peer", args.peer, "--child", arm, "--steps", str(args.steps)]
    cmd += ["--prompts", str(args.prompts), "--new-tokens", str(args.new_tokens), "--threads", str(args.threads)]
    cmd += ["--group", str(args.group)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"{arm} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def ppo011_table(results: dict[str, dict[str, list]], tokens: int) -> list[str]:
    """Markdown rows: medians over repeats, speed and memory vs TRL's PPO, generate time vs plain ``generate``."""

    def med(arm: str, key: str) -> float | None:
        if arm not in results:
            return None
        if key == "generate":
            return statistics.median(p.get("generate", float("nan")) for p in results[arm]["phases"])
        return statistics.median(results[arm][key])

    trl_step, trl_rss, floor = med("trl_ppo011", "step_s"), med("trl_ppo011", "rss"), med("hf_generate", "generate")
    lines = [
        "| arm | s / iteration | completion tokens/s | vs TRL | peak RSS (MiB) | vs TRL | generate (s) | vs plain |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for arm in results:
        step, rss, gen = med(arm, "step_s"), med(arm, "rss"), med(arm, "generate")
        speed = f"{trl_step / step:.2f}x" if trl_step and not arm.startswith("hf_generate") else ""
        memory = f"{rss / trl_rss:.2f}x" if trl_rss else ""
        rollout = f"{gen / floor:.2f}x" if floor else ""
        lines.append(
            f"| {arm}: {PPO011_ARMS[arm]} | {step:.2f} | {tokens / step:.1f} | {speed} | {rss:.0f} | {memory} "
            f"| {gen:.2f} | {rollout} |"
        )
    return lines


def choose_arms(peer: str, known: dict[str, str], requested: list[str] | None, default: list[str]) -> list[str]:
    """``requested`` (or ``default``) after checking each is one of ``peer``'s arms (``known``); a ``ValueError``
    naming the unknown ones and the peer's arms otherwise."""
    arms = list(requested or default)
    unknown = [a for a in arms if a not in known]
    if unknown:
        raise ValueError(f"--peer {peer} has no arm(s) {unknown}; its arms: {list(known)}")
    return arms


def main() -> None:
    every_arm = sorted(set(ARMS) | set(PPO011_ARMS) | set(grpo_peer.ARMS))
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--peer",
        choices=["rloo", "ppo011", "grpo"],
        default="rloo",
        help="TRL 1.x RLOO, TRL 0.11.4 PPO or TRL 1.x GRPO",
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4, help="iterations per process; the first is warm-up")
    parser.add_argument("--prompts", type=int, default=4, help="rloo (2 samples each) and grpo: prompts per iteration")
    parser.add_argument("--group", type=int, default=grpo_peer.GROUP, help="grpo: samples per prompt")
    parser.add_argument("--new-tokens", type=int, default=32, help="rloo and grpo (ppo011 is fixed at 32)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--arms", nargs="+", choices=every_arm, help="of --peer's arms")
    parser.add_argument("--trl011-env", default=None, help="ppo011: the TRL 0.11.4 venv (default: ../trl011-env)")
    parser.add_argument("--child", choices=every_arm)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    peer_arms, default_arms, quick_arms = {
        "rloo": (ARMS, list(ARMS), ["ours_fast", "trl_rloo"]),
        "ppo011": (PPO011_ARMS, PPO011_DEFAULT_ARMS, None),
        "grpo": (grpo_peer.ARMS, grpo_peer.DEFAULT_ARMS, grpo_peer.QUICK_ARMS),
    }[args.peer]
    if args.quick:
        args.repeats, args.steps = 1, 2
        if quick_arms:
            args.new_tokens, default_arms = 16, quick_arms
    try:
        args.arms = choose_arms(args.peer, peer_arms, args.arms, default_arms)
    except ValueError as err:
        parser.error(str(err))
    if args.peer == "ppo011":
        from benchmarks.ppo011 import NEW_TOKENS, PROMPTS, check_trl011_env, default_trl011_env

        args.trl011_env = args.trl011_env or str(default_trl011_env())
        if any(arm.startswith("trl_ppo011") for arm in args.arms):
            check_trl011_env(Path(args.trl011_env))
        args.new_tokens, tokens = NEW_TOKENS, len(PROMPTS) * NEW_TOKENS
    else:
        tokens = args.prompts * (args.group if args.peer == "grpo" else 2) * args.new_tokens
    results = run_interleaved(args)
    completions = tokens // args.new_tokens
    print(
        f"\n{completions} completions x {args.new_tokens} tokens per iteration, {args.threads} threads, "
        f"{args.repeats} interleaved repeats, median step of {args.steps - 1} post-warm-up iterations per process\n"
    )
    if args.peer == "grpo":
        print("\n".join(grpo_peer.grpo_table(results, tokens)))
        print("\nPhases of the last iteration (s), medians over repeats:\n")
        print("\n".join(grpo_peer.phase_table(results)))
        return
    if args.peer == "ppo011":
        print("\n".join(ppo011_table(results, tokens)))
    else:
        print_rloo_table(results, tokens)
    for arm, r in results.items():
        if r["phases"][-1]:
            phases = r["phases"][-1].items()
            text = ", ".join(f"{k.removeprefix('perf/').removesuffix('_s')} {v:.2f} s" for k, v in phases)
            print(f"\n{arm}, phases of its last iteration: {text}")


def run_interleaved(args) -> dict[str, dict[str, list]]:
    """``args.repeats`` rounds of one process per arm (A B C, A B C, ...): per arm and repeat, the median
    post-warm-up step time, the peak RSS and the last iteration's phases."""
    results: dict[str, dict[str, list]] = {arm: {"step_s": [], "rss": [], "phases": []} for arm in args.arms}
    for repeat in range(args.repeats):
        for arm in args.arms:
            row = run_arm(args, arm)
            steps = row["step_s"][1:] or row["step_s"]  # the first step is warm-up
            step = statistics.median(steps)
            results[arm]["step_s"].append(step)
            results[arm]["rss"].append(row["peak_rss_mib"])
            results[arm]["phases"].append(row["phases"])
            print(f"repeat {repeat} {arm}: step {step:.2f} s, peak RSS {row['peak_rss_mib']:.0f} MiB", flush=True)
    return results


def print_rloo_table(results: dict[str, dict[str, list]], tokens: int) -> None:
    base = "trl_rloo" if "trl_rloo" in results else None
    print("| arm | s / iteration | completion tokens/s | vs TRL | peak RSS (MiB) | vs TRL |")
    print("|---|---:|---:|---:|---:|---:|")
    for arm, r in results.items():
        step, rss = statistics.median(r["step_s"]), statistics.median(r["rss"])
        speed = f"{statistics.median(results[base]['step_s']) / step:.2f}x" if base else "n/a"
        memory = f"{rss / statistics.median(results[base]['rss']):.2f}x" if base else "n/a"
        print(f"| {arm}: {ARMS[arm]} | {step:.2f} | {tokens / step:.1f} | {speed} | {rss:.0f} | {memory} |")


if __name__ == "__main__":
    main()
