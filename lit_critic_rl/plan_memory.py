"""``lit-critic-rl plan-memory --config X.yaml``: the memory plan of a run's config, before anything loads; and the
check ``fit`` runs first (print the plan, stop with the knobs to turn when it does not fit the device).

The plan's maths is in :mod:`lit_critic_rl.memory_plan`; this module reads shapes from configs: the model's
``config.json`` (``AutoConfig``, no weights), the module's argument groups, the datamodule's prompts and the trainer's
devices.
"""

from __future__ import annotations

import math
import os
import sys

from lit_critic_rl.memory_plan import GIB, CriticShape, MemoryPlan, ModelShape, RunShape, knobs, plan


def model_shape(config) -> ModelShape:
    """A ``transformers`` config (Llama-style decoder) as the plan's :class:`ModelShape`."""
    c = config.get_text_config() if hasattr(config, "get_text_config") else config
    heads = c.num_attention_heads
    return ModelShape(
        hidden=c.hidden_size,
        intermediate=c.intermediate_size,
        layers=c.num_hidden_layers,
        heads=heads,
        kv_heads=getattr(c, "num_key_value_heads", None) or heads,
        vocab=c.vocab_size,
        tied_embeddings=bool(getattr(c, "tie_word_embeddings", False)),
    )


def run_shape(module, prompt_tokens: int, world_size: int, batch_size: int) -> RunShape:
    """One rank's :class:`RunShape` from a ``DenseRewardPPO``'s arguments and the data's global batch."""
    samples = math.ceil(batch_size * module.generation.samples_per_prompt / world_size)
    args = module.model_args
    return RunShape(
        samples=samples,
        prompt_tokens=prompt_tokens,
        new_tokens=module.generation.max_new_tokens,
        minibatch=min(module.ppo.minibatch_size, samples),
        teacher_force_chunk=module.ppo.teacher_force_chunk_size,
        quantization=args.quantization,
        dtype=args.dtype,
        lora_r=module.adapter_args.r,
        adapters=2 if args.value_mode == "separate_adapter" else 1,
        activation_checkpointing=args.activation_checkpointing,
    )


def critic_shape(critic) -> CriticShape | None:
    """A local HF critic (its own weights on the device) as a :class:`CriticShape`; None for every other critic."""
    from lit_critic_rl.critic.hf import HFCritic

    if not isinstance(critic, HFCritic):
        return None
    return CriticShape(
        model_shape(critic.model.config),
        quantization="nf4" if getattr(critic.model, "is_loaded_in_4bit", False) else "none",
        dtype=str(critic.model.dtype).removeprefix("torch."),
        batch=critic.batch_size,
        new_tokens=critic.max_new_tokens,
    )


def device_budget(accelerator: str, local_ranks: int) -> float | None:
    """Bytes one rank may use: free CUDA memory of its device, or the machine's available RAM shared by the local
    ranks on CPU; None when unknown."""
    if accelerator in ("gpu", "cuda"):
        import torch

        if torch.cuda.is_available():
            return float(torch.cuda.mem_get_info()[0])
        return None
    try:
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f)
        return int(info["MemAvailable"].split()[0]) * 1024 / max(local_ranks, 1)
    except (OSError, KeyError, ValueError):
        return None


def module_plan(module, prompts: list[str], world_size: int, batch_size: int) -> MemoryPlan:
    """The plan of a ``DenseRewardPPO`` before :meth:`configure_model` (only the model's config is read)."""
    from lit_critic_rl.models.loading import load_model_config

    tokenizer = module.load_tokenizer()
    longest = max((len(ids) for ids in tokenizer(prompts)["input_ids"]), default=1)
    config = load_model_config(module.model_args.name_or_path)
    shape = model_shape(config)
    return plan(shape, run_shape(module, longest, world_size, batch_size), critic_shape(module.critic))


def check_fits(memory: MemoryPlan, module, budget: float | None, world_size: int, batch_size: int, prompt: int):
    """Raise a ``ValueError`` naming the knobs when the plan's peak exceeds ``budget``."""
    if budget is None or memory.peak <= budget:
        return
    shape = run_shape(module, prompt, world_size, batch_size)
    from lit_critic_rl.models.loading import load_model_config

    advice = knobs(model_shape(load_model_config(module.model_args.name_or_path)), shape)
    raise ValueError(
        f"model: the planned peak memory {memory.peak / GIB:.2f} GiB per process exceeds the "
        f"{budget / GIB:.2f} GiB available; try: {'; '.join(advice) or 'a larger device'} "
        f"(plan: lit-critic-rl plan-memory --config ...; skip this check with model.model.check_memory: false)"
    )


def plan_main(argv: list[str]) -> None:
    """``plan-memory --config X.yaml [--config Y.yaml] [overrides]``: print the plan without loading weights."""
    from lit_critic_rl.cli import main

    cli = main(argv, run=False)
    module, data, trainer = cli.model, cli.datamodule, cli.trainer
    prompts = data.all_prompts()
    memory = module_plan(module, prompts, trainer.world_size, data.batch_size)
    longest = max(len(ids) for ids in module.load_tokenizer()(prompts)["input_ids"])
    accelerator = type(trainer.accelerator).__name__.removesuffix("Accelerator").lower()
    budget = device_budget(accelerator, trainer.num_devices)
    print(f"memory plan of {module.model_args.name_or_path} per process ({trainer.world_size} process(es)):")
    print(memory.table(budget))
    if budget is not None and memory.peak > budget:
        shape = run_shape(module, longest, trainer.world_size, data.batch_size)
        from lit_critic_rl.models.loading import load_model_config

        advice = knobs(model_shape(load_model_config(module.model_args.name_or_path)), shape)
        print("does NOT fit; knobs: " + "; ".join(advice), file=sys.stderr)
        raise SystemExit(1)
    print("fits" if budget is not None else "device memory unknown")


if __name__ == "__main__":
    plan_main(sys.argv[1:] if len(sys.argv) > 1 else [os.environ.get("CONFIG", "")])
