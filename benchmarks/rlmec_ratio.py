"""RLMEC's ratio on a short run: KL, clip fraction and mean ratio per iteration, for the online and the offline preset,
with the ratio against the policy that sampled the round (the objective as shipped) or, to compare, against the
adapters-off base (the old wiring, :class:`BaseRatioRLMEC`, kept here only as the control arm).

The GRM's token rewards are the reward (an adapter from ``--grm``; an untrained one is enough to get the r < 0 band
where the old ratio ran away), with ``extrinsic_weight`` 0 as in the paper. A short smoke-size run::

    python -m benchmarks.rlmec_ratio --model <tiny model> --grm <adapter> --preset online --ratio sampler --lr 5e-4

prints one JSON line per iteration (``kl``, ``clipfrac``, ``ratio_mean``, ``policy_loss``).
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from pathlib import Path

from lit_critic_rl.objectives import RLMECObjective
from lit_critic_rl.rl.objective import PolicyPass
from lit_critic_rl.types import Advantages, Rollout

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
FIELDS = ("kl", "clipfrac", "ratio_mean", "policy_loss", "rewarded_tokens")


class BaseRatioRLMEC(RLMECObjective):
    """The control arm: RLMEC with the ratio taken against the adapters-off base (the wiring before #22)."""

    @property
    def needs_reference(self) -> bool:
        return True  # the ratio's denominator is the reference's log-probs

    def minibatch_loss(self, lm, rollout: Rollout, adv: Advantages, idx, policy: PolicyPass, backward):
        from dataclasses import replace

        against_base = replace(rollout, sampler_logprobs=rollout.ref_logprobs)
        return super().minibatch_loss(lm, against_base, adv, idx, policy, backward)


def teacher_file(path: Path, n: int = 24) -> str:
    """A small replay file of arithmetic samples without log-probs (the base's are computed at train start)."""
    rows = []
    for k in range(n):
        prompt = f"Problem: Start with {k + 2}. Add 4. Multiply by 2. What is the result?\n"
        rows.append({"prompt": prompt, "response": f"Step 1: {k + 2} + 4 = {k + 6}\nThe answer is {k + 6}",
                     "ok": True, "first_error_step": 2, "rewrite": ""})  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def run(model: str, grm: str, preset: str, ratio: str, lr: float, iterations: int, root: Path) -> list[dict]:
    from lit_critic_rl.cli import main

    online = CONFIGS / "experiment" / "arith_rlmec_online.yaml"
    configs = ["--config", str(CONFIGS / "quickstart.yaml"), "--config", str(online)]
    if preset == "offline":
        configs += ["--config", str(CONFIGS / "experiment" / "arith_rlmec_offline.yaml")]
        configs += ["--data.init_args.rollout_file", teacher_file(root / "teacher.jsonl")]
    else:
        configs += ["--model.critic", str(CONFIGS / "critic" / "grm.yaml"), "--model.shaping.extrinsic_weight", "0.0"]
        configs += ["--model.rewriter", "null", "--model.objective.init_args.imitation_target", "grm"]
    if ratio == "base":
        configs += ["--model.objective.class_path", f"{__name__}.BaseRatioRLMEC"]
    main([
        "fit", *configs, "--model.model.name_or_path", model, "--model.critic.init_args.adapter_path", grm,
        "--model.ppo.learning_rate", str(lr), "--model.ppo.log_kl", "true", "--trainer.default_root_dir", str(root),
        "--trainer.max_epochs", "1", "--trainer.limit_train_batches", str(iterations),
        "--trainer.limit_val_batches", "0",
        "--data.init_args.batch_size", "4", "--model.ppo.minibatch_size", "4", "--model.ppo.epochs", "2",
        "--model.generation.max_new_tokens", "8", "--trainer.callbacks", "[]",
    ])  # fmt: skip
    metrics = next(root.rglob("metrics.csv"))
    rows = [r for r in csv.DictReader(metrics.open()) if r.get("train/iteration")]
    return [
        {"iteration": int(float(r["train/iteration"])), **{k: float(r[f"train/{k}"]) for k in FIELDS}} for r in rows
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--grm", required=True, help="a GRM adapter folder on --model's base")
    parser.add_argument("--preset", choices=["online", "offline"], default="online")
    parser.add_argument("--ratio", choices=["sampler", "base"], default="sampler")
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--iterations", type=int, default=6)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        for row in run(args.model, args.grm, args.preset, args.ratio, args.lr, args.iterations, Path(tmp)):
            print(json.dumps({"preset": args.preset, "ratio": args.ratio, "lr": args.lr, **row}))


if __name__ == "__main__":
    main()
