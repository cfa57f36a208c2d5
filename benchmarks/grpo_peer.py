"""The GRPO peer (issue 21): TRL 1.x ``GRPOTrainer`` against our GRPO objective, with plain HF ``generate`` as the
rollout's floor; ``python -m benchmarks.vs_trl --peer grpo``.

Shape, the same on every arm: SmolLM2-135M-Instruct fp32 on the CPU, LoRA r 16 / alpha 32 on every linear layer
(ours: the ``AdapterArgs`` defaults; TRL: a PEFT ``LoraConfig`` with the same r, alpha and targets), ``--prompts``
sentiment prompts x a group of ``--group`` samples each (TRL's ``num_generations``), exactly ``--new-tokens`` new
tokens per sample (min = max), temperature 1 without top-k/top-p (both sides' defaults), VADER as the reward, and one
optimizer step over the whole batch per iteration (TRL's defaults: ``num_iterations`` 1 and one generation per step;
ours: ``ppo.epochs`` 1 over one minibatch of the batch, the update loop's only setting changed from its defaults).

One iteration, each side as its library ships it:

- ``trl_grpo``: generate, reward, group advantages, one forward + backward + AdamW step. TRL's defaults otherwise:
  ``beta`` 0 (so no reference model and no reference pass), the ``dapo`` loss (token mean over the batch), and
  activation checkpointing on. No separate pass for the old log-probs (``num_iterations`` 1: the ratio is 1).
- ``ours_grpo``: ``configs/objective/grpo.yaml`` as a user gets it (GRPO's defaults: k3 KL to the reference in the
  loss with ``kl_coef`` 0.04, each response's token mean) and the ``ModelArgs`` defaults (no activation
  checkpointing; a separate value adapter is created but never run, GRPO has no value). Generate, reward, a
  reference pass (adapters off, no grad), one forward + backward + AdamW step; the first update forward also gives
  the rollout's log-probs (fused first forward), as TRL's does.

So the headline pair is not the same work: with its defaults TRL does no reference pass and ours does one (a no-grad
forward of the whole batch). ``trl_grpo_kl`` (``beta`` 0.04, DeepSeekMath's and our preset's) is TRL doing our work, and
``ours_grpo_kl0`` (``kl_coef: 0``) is ours doing TRL's: nothing reads the KL, so ``needs_reference`` is false and no
reference pass runs (no ``train/kl`` either). Both sides log per-iteration statistics (ours: entropy, clip
fraction, KL...; TRL: its metrics and the entropy of every token), and both learning rates stay at their defaults
(ours 1e-4, TRL 1e-6), which changes no timing.

Phases of the last iteration (TRL's by timing its ``_generate``, ``_calculate_rewards`` and ``_prepare_inputs``
methods): ``generate``, ``reward``, ``teacher_forced`` (TRL: the rest of the rollout, i.e. the reference pass when
there is one, tokenising and the advantages; ours: the reference pass), ``update`` (forward, backward, optimizer
step; TRL's is the whole step after the rollout) and ``other`` (ours: the iteration's untimed rest, i.e. rewards
assembly, advantages and logging; TRL: 0, its rest is in ``update``).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

GROUP = 4
GRPO_YAML = Path(__file__).resolve().parents[1] / "configs" / "objective" / "grpo.yaml"
ARMS = {
    "trl_grpo": "TRL GRPOTrainer, its defaults (beta 0: no reference pass; activation checkpointing on)",
    "trl_grpo_kl": "TRL GRPOTrainer, beta 0.04 (a reference pass, as ours)",
    "trl_grpo_no_ckpt": "TRL GRPOTrainer, its defaults but gradient_checkpointing off",
    "ours_grpo": "lit_critic_rl GRPO, library defaults (configs/objective/grpo.yaml: k3 KL 0.04 in the loss)",
    "ours_grpo_kl0": "lit_critic_rl GRPO, kl_coef 0 (no reference pass, as TRL's defaults)",
    "ours_grpo_lean": "lit_critic_rl GRPO, configs/presets/lean_memory.yaml (checkpointing + malloc threshold)",
    "hf_generate": "plain HF generate of the base model, no adapter (the rollout floor)",
}
DEFAULT_ARMS = ["trl_grpo", "trl_grpo_kl", "ours_grpo", "hf_generate"]
QUICK_ARMS = ["trl_grpo", "ours_grpo"]
BASELINE, SAME_WORK = "trl_grpo", ("ours_grpo", "trl_grpo_kl")
PHASES = ("generate", "reward", "teacher_forced", "update", "other")
TRL = {  # GRPOConfig overrides of the TRL arms
    "trl_grpo": {},
    "trl_grpo_kl": {"beta": 0.04},
    "trl_grpo_no_ckpt": {"gradient_checkpointing": False},
}
OURS = {  # GRPOObjective / ModelArgs overrides of our arms
    "ours_grpo": ({}, {}),
    "ours_grpo_kl0": ({"kl_coef": 0.0}, {}),
    "ours_grpo_lean": ({}, {"activation_checkpointing": True, "malloc_mmap_threshold": 65536}),
}


def grpo_objective(overrides: dict):
    """The objective ``configs/objective/grpo.yaml`` builds (its ``class_path`` with its ``init_args``), with
    ``overrides`` on top."""
    import importlib

    import yaml

    spec = yaml.safe_load(GRPO_YAML.read_text())
    module, name = spec["class_path"].rsplit(".", 1)
    return getattr(importlib.import_module(module), name)(**{**spec["init_args"], **overrides})


def run_ours_grpo(arm: str, prompts: int, group: int, new_tokens: int, steps: int) -> tuple[list[float], dict]:
    """Our arm ``arm``: library defaults apart from the shape (batch, new tokens) and one epoch over one minibatch."""
    from dataclasses import asdict

    from benchmarks._ours import run_ours
    from lit_critic_rl.args import ModelArgs, PPOArgs

    objective, model = OURS[arm]
    ppo = {**asdict(PPOArgs()), "epochs": 1, "minibatch_size": prompts * group}
    times, phases = run_ours(
        prompts=prompts,
        samples_per_prompt=group,
        new_tokens=new_tokens,
        steps=steps,
        model={"value_mode": ModelArgs().value_mode, **model},
        ppo=ppo,
        objective=grpo_objective(objective),
    )
    phases = {k.removeprefix("perf/").removesuffix("_s"): v for k, v in phases.items()}
    timed = sum(phases.get(k, 0.0) for k in PHASES[:-1])
    return times, {**phases, "other": times[-1] - timed}


class PhaseClock:
    """Wall time spent in some of an object's methods, per training step (TRL's phases)."""

    def __init__(self) -> None:
        self.step: dict[str, float] = {}
        self.last: dict[str, float] = {}

    def wrap(self, obj, method: str, phase: str) -> None:
        inner = getattr(obj, method)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.step[phase] = self.step.get(phase, 0.0) + time.perf_counter() - start

        setattr(obj, method, timed)

    def end_step(self, total: float) -> None:
        """Close a step of ``total`` seconds: its phases in :data:`PHASES`' terms become :attr:`last`."""
        got, self.step = self.step, {}
        rollout, generate, reward = got.get("rollout", 0.0), got.get("generate", 0.0), got.get("reward", 0.0)
        self.last = {
            "generate": generate,
            "reward": reward,
            "teacher_forced": rollout - generate - reward,
            "update": total - rollout,
            "other": 0.0,  # in update
        }


def run_trl_grpo(arm: str, prompts: int, group: int, new_tokens: int, steps: int) -> tuple[list[float], dict]:
    """TRL's arm ``arm``: ``GRPOTrainer`` with its defaults apart from the shape, the CPU, fp32 and the overrides in
    :data:`TRL`."""
    import tempfile

    from datasets import Dataset
    from peft import LoraConfig
    from trl import GRPOConfig, GRPOTrainer

    from benchmarks._ours import MODEL, sentiment_data
    from benchmarks._trl import step_timer, vader_reward_func
    from lit_critic_rl.args import AdapterArgs
    from lit_critic_rl.models.loading import load_causal_lm, load_tokenizer

    clock, lora = PhaseClock(), AdapterArgs()
    reward, timer = vader_reward_func(), step_timer(clock.end_step)
    with tempfile.TemporaryDirectory() as root:
        config = GRPOConfig(
            output_dir=root,
            use_cpu=True,
            bf16=False,
            fp16=False,
            report_to="none",
            save_strategy="no",
            seed=0,
            per_device_train_batch_size=prompts * group,
            num_generations=group,
            max_steps=steps,
            max_completion_length=new_tokens,
            generation_kwargs={"min_new_tokens": new_tokens},
            **TRL[arm],
        )
        trainer = GRPOTrainer(
            model=load_causal_lm(MODEL),
            reward_funcs=reward,
            args=config,
            train_dataset=Dataset.from_dict({"prompt": sentiment_data(prompts).train_prompts}),
            processing_class=load_tokenizer(MODEL),
            callbacks=[timer],
            peft_config=LoraConfig(
                r=lora.r, lora_alpha=lora.alpha, target_modules=lora.target_modules, task_type="CAUSAL_LM"
            ),
        )
        for method, phase in (
            ("_generate", "generate"),
            ("_calculate_rewards", "reward"),
            ("_prepare_inputs", "rollout"),
        ):
            clock.wrap(trainer, method, phase)
        trainer.train()
    return timer.times, clock.last


def run_grpo_arm(arm: str, prompts: int, group: int, new_tokens: int, steps: int) -> tuple[list[float], dict]:
    """Iteration times and the last iteration's phases of one arm, in this process."""
    if arm in TRL:
        return run_trl_grpo(arm, prompts, group, new_tokens, steps)
    if arm in OURS:
        return run_ours_grpo(arm, prompts, group, new_tokens, steps)
    from benchmarks._ours import sentiment_data
    from benchmarks.ppo011 import run_hf_generate

    batch = [p for p in sentiment_data(prompts).train_prompts[:prompts] for _ in range(group)]
    return run_hf_generate(steps, prompts=batch, new_tokens=new_tokens)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def grpo_table(results: dict[str, dict[str, list]], tokens: int) -> list[str]:
    """Markdown rows, one per arm: medians over repeats of s/iteration and peak RSS, completion tokens/s, their
    ratios to :data:`BASELINE` (TRL with its defaults) when it ran, and a closing line for the same-work pair."""
    base = results.get(BASELINE)
    base_step, base_rss = (_median(base["step_s"]), _median(base["rss"])) if base else (None, None)
    lines = [
        "| arm | s / iteration | completion tokens/s | vs TRL | peak RSS (MiB) | vs TRL |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for arm, r in results.items():
        step, rss = _median(r["step_s"]), _median(r["rss"])
        speed = f"{base_step / step:.2f}x" if base_step and arm != "hf_generate" else ""
        memory = f"{rss / base_rss:.2f}x" if base_rss else ""
        lines.append(f"| {arm}: {ARMS[arm]} | {step:.2f} | {tokens / step:.1f} | {speed} | {rss:.0f} | {memory} |")
    ours, peer = SAME_WORK
    if ours in results and peer in results:
        speed = _median(results[peer]["step_s"]) / _median(results[ours]["step_s"])
        memory = _median(results[ours]["rss"]) / _median(results[peer]["rss"])
        lines += [
            "",
            f"Same work (a reference pass on both): {ours} vs {peer}: {speed:.2f}x tokens/s, {memory:.2f}x RSS",
        ]
    return lines


def phase_table(results: dict[str, dict[str, list]]) -> list[str]:
    """Markdown rows of each arm's phases (:data:`PHASES`, seconds): medians over repeats of the last iteration's,
    blank where an arm has no such phase (plain ``generate`` has only ``generate``)."""
    lines = ["| arm | " + " | ".join(PHASES) + " |", "|---|" + "---:|" * len(PHASES)]
    for arm, r in results.items():
        values = [[p[k] for p in r["phases"] if k in p] for k in PHASES]
        cells = " | ".join(f"{_median(v):.2f}" if v else "" for v in values)
        lines.append(f"| {arm} | {cells} |")
    return lines
