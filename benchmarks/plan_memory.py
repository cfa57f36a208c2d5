"""The memory planner against measured peak RSS on CPU: SmolLM2-135M (fp32), three shapes.

Each shape runs in its own process. It loads the base and touches every weight (safetensors maps them lazily, so an
untouched base is not yet resident and its pages would be counted as the run's), then resets the kernel's peak-RSS
mark (``/proc/self/clear_refs``, value 5) and reads the resident set. It then runs two PPO iterations (rollout,
teacher-forced passes, advantages, one PPO epoch with backward and an AdamW step; the second runs with AdamW's moments
already allocated, as every later iteration of a run does) through the pure pipeline (no Lightning). The measured
value is the new peak (``VmHWM``) minus that resident set. glibc's mmap threshold is fixed at 64 KiB (as
``benchmarks/memory.py``), so freed tensors leave RSS and the peak follows live memory. The planner's figure is
``MemoryPlan.over_base()``: its peak minus the base weights.

    python -m benchmarks.plan_memory            # 3 shapes, a few minutes on 2 cores
    python -m benchmarks.plan_memory --large    # the plan alone for Llama-style 7B/8B/13B in NF4 (no download)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from lit_critic_rl.memory_plan import ModelShape, RunShape, plan

MODEL = "asset:smollm2-135m-instruct"
SHAPES = {
    "4x16 separate": {"samples": 4, "new": 16, "value_mode": "separate_adapter", "ckpt": False},
    "8x32 shared": {"samples": 8, "new": 32, "value_mode": "shared_trunk", "ckpt": False},
    "16x32 shared ckpt": {"samples": 16, "new": 32, "value_mode": "shared_trunk", "ckpt": True},
}
PROMPT = "I watched this movie on a rainy Sunday afternoon with my whole family, and honestly"


def status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def measure(name: str) -> dict:
    import gc

    import torch

    from lit_critic_rl.args import AdapterArgs, GenerationArgs, PPOArgs
    from lit_critic_rl.memory import set_malloc_mmap_threshold
    from lit_critic_rl.models.loading import load_causal_lm, load_tokenizer
    from lit_critic_rl.models.policy import PolicyValueModel
    from lit_critic_rl.objectives import PPOObjective
    from lit_critic_rl.ppo.rollout import sample, teacher_force
    from lit_critic_rl.rl.kl import rollout_kl
    from lit_critic_rl.rl.loop import UpdateLoop
    from lit_critic_rl.rl.update import OptimizerStepper
    from lit_critic_rl.types import TokenRewards

    shape = SHAPES[name]
    set_malloc_mmap_threshold(65536)
    torch.manual_seed(0)
    tokenizer = load_tokenizer(MODEL)
    base = load_causal_lm(MODEL)
    with torch.no_grad():  # safetensors weights are mapped lazily: touch them all, so "loaded" means resident
        sum(float(p.sum()) for p in base.parameters())
        base(input_ids=torch.tensor([[1, 2, 3]]))
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    start = status_kib("VmRSS")
    n, new = shape["samples"], shape["new"]
    ppo = PPOArgs(epochs=1, minibatch_size=n, teacher_force_chunk_size=8)
    lm = PolicyValueModel(base, AdapterArgs(r=16, alpha=32), shape["value_mode"], shape["ckpt"])
    objective, loop = PPOObjective(), UpdateLoop(ppo)
    stepper = OptimizerStepper(torch.optim.AdamW(lm.trainable_parameters(), lr=1e-4), 1.0)
    for _ in range(2):  # the second iteration runs with AdamW's moments allocated: the steady state of a run
        lm.eval()
        rollout = sample(lm, tokenizer, [PROMPT] * n, GenerationArgs(max_new_tokens=new, min_new_tokens=new))
        fused = loop.fuses(objective, n)
        rollout = teacher_force(lm, rollout, 1.0, ppo.teacher_force_chunk_size, policy=not fused)
        first = None
        if fused:
            rollout, first = loop.first_forward(objective, lm, rollout)
        extrinsic = torch.zeros_like(rollout.response_mask)
        extrinsic[:, -1] = torch.randn(n)
        rewards = TokenRewards(extrinsic, torch.zeros_like(extrinsic))
        adv = objective.advantages(rollout, rewards, rollout_kl(rollout), 0.2)
        loop.run(objective, lm, stepper, rollout, adv, first)
        del rollout, first, adv
    measured = (status_kib("VmHWM") - start) * 1024
    prompt_tokens = len(tokenizer(PROMPT)["input_ids"])
    return {"measured": measured, "prompt_tokens": prompt_tokens}


def planned(name: str, prompt_tokens: int) -> float:
    from lit_critic_rl.models.loading import load_model_config
    from lit_critic_rl.plan_memory import model_shape

    shape = SHAPES[name]
    run = RunShape(
        samples=shape["samples"],
        prompt_tokens=prompt_tokens,
        new_tokens=shape["new"],
        minibatch=shape["samples"],
        teacher_force_chunk=8,
        adapters=2 if shape["value_mode"] == "separate_adapter" else 1,
        activation_checkpointing=shape["ckpt"],
    )
    return plan(model_shape(load_model_config(MODEL)), run).over_base()


LARGE = {  # public config.json values of the Llama family (architecture only; nothing is downloaded)
    "Llama-2-7B": ModelShape(4096, 11008, 32, 32, 32, 32000, tied_embeddings=False),
    "Llama-3-8B": ModelShape(4096, 14336, 32, 32, 8, 128256, tied_embeddings=False),
    "Llama-2-13B": ModelShape(5120, 13824, 40, 40, 40, 32000, tied_embeddings=False),
}
LARGE_RUN = RunShape(
    samples=8,
    prompt_tokens=256,
    new_tokens=128,
    minibatch=4,
    teacher_force_chunk=4,
    quantization="nf4",
    dtype="bfloat16",
    lora_r=16,
    adapters=2,
)


def large() -> None:
    gib = 1024**3
    print(f"per process: {LARGE_RUN}")
    names = list(LARGE)
    rows: dict[str, list[str]] = {}
    for name in names:
        for ckpt in (False, True):
            run = RunShape(**{**LARGE_RUN.__dict__, "activation_checkpointing": ckpt})
            memory = plan(LARGE[name], run)
            for term, value in memory.terms.items():
                rows.setdefault(term, []).append(f"{value / gib:.2f}")
            rows.setdefault("**peak**", []).append(f"**{memory.peak / gib:.1f}**")
    heads = [f"{n} {'ckpt' if c else 'no ckpt'}" for n in names for c in (False, True)]
    print("| GiB | " + " | ".join(heads) + " |")
    print("|---|" + "---:|" * len(heads))
    for term, values in rows.items():
        print(f"| {term} | " + " | ".join(values) + " |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", choices=list(SHAPES))
    parser.add_argument("--large", action="store_true")
    args = parser.parse_args()
    if args.large:
        large()
        return
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    print("| shape (samples x new tokens, value, checkpointing) | planned (MiB) | measured (MiB) | planned/measured |")
    print("|---|---:|---:|---:|")
    for name in SHAPES:
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.plan_memory", "--child", name], capture_output=True, text=True
        )
        if out.returncode:
            raise SystemExit(out.stderr[-2000:])
        got = json.loads(out.stdout.strip().splitlines()[-1])
        plan_bytes = planned(name, got["prompt_tokens"])
        mib = 1024**2
        ratio = plan_bytes / got["measured"]
        print(f"| {name} | {plan_bytes / mib:.0f} | {got['measured'] / mib:.0f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
