"""Peak RSS of policy + value + reference on ONE shared base vs a lone base model's inference, and vs three copies.

Each setting runs in its own process (peak RSS is per process), interleaved over repeats, with the same shapes:
16 prompts, 16 new tokens. Every process fixes glibc's mmap threshold at 64 KiB (``model.malloc_mmap_threshold`` of
the lean preset; off by default), so freed tensors leave RSS at once and the ratios compare what the models hold, not
how much freed memory glibc's heap happens to keep.

- ``lone_base_inference``: load the base, ``generate``;
- ``shared_rollout_and_scoring``: base + policy and value LoRA adapters; generate with the policy, then the
  teacher-forced policy, value and reference (adapters off) passes; ``shared_trunk_...``: the same with the value
  head on the policy adapter (``value_mode: shared_trunk``, one adapter);
- ``three_copies_inference``: three separately loaded copies, each generating;
- ``full_iteration`` / ``full_iteration_checkpointing``: one real PPO iteration of ``DenseRewardPPO`` under Lightning
  (rollout, reward, scoring, one PPO epoch with backward and AdamW), shared-trunk value, without / with activation
  checkpointing. These processes also import Lightning, which the others do not.

    python -m benchmarks.memory            # SmolLM2-135M, 2 repeats (3.3 min on 2 AVX-512 cores)
    python -m benchmarks.memory --quick    # 1 repeat of lone_base_inference and shared_trunk_rollout_and_scoring
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys

SETTINGS = [
    "lone_base_inference",
    "shared_rollout_and_scoring",
    "shared_trunk_rollout_and_scoring",
    "three_copies_inference",
    "full_iteration",
    "full_iteration_checkpointing",
]


def measure(setting: str, model: str) -> float:
    import torch

    from lit_critic_rl.args import AdapterArgs, GenerationArgs
    from lit_critic_rl.memory import set_malloc_mmap_threshold
    from lit_critic_rl.models.loading import load_causal_lm, load_tokenizer
    from lit_critic_rl.models.policy import PolicyValueModel
    from lit_critic_rl.ppo.rollout import sample, teacher_force

    set_malloc_mmap_threshold(65536)
    if setting.startswith("full_iteration"):
        from benchmarks._ours import run_ours

        run_ours(
            prompts=16,
            samples_per_prompt=1,
            new_tokens=16,
            steps=1,
            model={"activation_checkpointing": setting.endswith("checkpointing")},
        )
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    torch.manual_seed(0)
    tokenizer = load_tokenizer(model)
    prompts = [f"I watched movie number {i} on a Sunday afternoon and" for i in range(16)]
    enc = tokenizer(prompts, return_tensors="pt", padding=True)
    if setting.startswith("shared"):
        mode = "shared_trunk" if setting.startswith("shared_trunk") else "separate_adapter"
        lm = PolicyValueModel(load_causal_lm(model), AdapterArgs(r=16, alpha=32), mode).eval()
        teacher_force(lm, sample(lm, tokenizer, prompts, GenerationArgs(max_new_tokens=16, min_new_tokens=16)), 1.0, 8)
    else:
        copies = [load_causal_lm(model).eval() for _ in range(1 if setting == "lone_base_inference" else 3)]
        with torch.inference_mode():
            for m in copies:
                m.generate(
                    **enc, do_sample=True, max_new_tokens=16, min_new_tokens=16, pad_token_id=tokenizer.pad_token_id
                )
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--model", default="asset:smollm2-135m-instruct")
    parser.add_argument("--settings", nargs="+", default=SETTINGS, choices=SETTINGS)
    parser.add_argument("--child", choices=SETTINGS)
    args = parser.parse_args()
    if args.quick:
        args.settings = ["lone_base_inference", "shared_trunk_rollout_and_scoring"]
    if args.child:
        print(json.dumps({"peak_rss_mib": measure(args.child, args.model)}))
        return
    peaks: dict[str, list[float]] = {s: [] for s in args.settings}
    for _ in range(1 if args.quick else 2):
        for setting in args.settings:  # interleaved
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.memory", "--child", setting, "--model", args.model],
                capture_output=True,
                text=True,
                check=True,
            )
            peaks[setting].append(json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mib"])
    base = statistics.median(peaks["lone_base_inference"])
    print(f"model {args.model}, median peak RSS over {len(peaks[args.settings[0]])} runs")
    print("| setting | peak RSS (MiB) | vs lone base inference |")
    print("|---|---:|---:|")
    for setting, values in peaks.items():
        med = statistics.median(values)
        print(f"| {setting} | {med:.0f} | {med / base:.2f}x |")


if __name__ == "__main__":
    main()
