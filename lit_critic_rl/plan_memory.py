"""The memory plan of a run's config, before anything loads (``lit-critic-rl plan-memory --config X.yaml``, in
:mod:`lit_critic_rl.cli`); and the check ``fit`` runs first (print the plan, stop with the knobs to turn when it
does not fit the device).

The plan's maths is in :mod:`lit_critic_rl.memory_plan`; this module reads shapes from configs: the model's
``config.json`` (``AutoConfig``, no weights), the module's argument groups, the datamodule's prompts and the trainer's
devices.
"""

from __future__ import annotations

import math

from lit_critic_rl.logs import get_logger
from lit_critic_rl.memory import malloc_in_use
from lit_critic_rl.memory_plan import CriticShape, MemoryPlan, ModelShape, RunShape, knobs, plan

log = get_logger(__name__)


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


def longest_prompt(module, prompts: list[str]) -> int:
    return max((len(ids) for ids in module.load_tokenizer()(prompts)["input_ids"]), default=1)


def module_plan(module, prompts: list[str], world_size: int, batch_size: int) -> tuple[MemoryPlan, list[str]]:
    """The plan of a ``DenseRewardPPO`` before :meth:`configure_model` (only the model's config is read), and the
    knobs that would shrink it."""
    from lit_critic_rl.models.loading import load_model_config

    shape = model_shape(load_model_config(module.model_args.name_or_path))
    run = run_shape(module, longest_prompt(module, prompts), world_size, batch_size)
    return plan(shape, run, critic_shape(module.critic)), knobs(shape, run)


def accelerator_name(trainer) -> str:
    return type(trainer.accelerator).__name__.removesuffix("Accelerator").lower()


def plan_for_trainer(module, datamodule, trainer) -> tuple[str, bool, list[str]]:
    """``(printed plan, fits, knobs)`` of a run about to start (fits is True when the device memory is unknown)."""
    memory, advice = module_plan(module, datamodule.all_prompts(), trainer.world_size, datamodule.batch_size)
    budget = device_budget(accelerator_name(trainer), trainer.num_devices)
    name = module.model_args.name_or_path
    processes = f"{trainer.world_size} process(es), malloc: {malloc_in_use()}"
    text = f"memory plan of {name}, per process ({processes}):\n{memory.table(budget)}"
    return text, budget is None or memory.peak <= budget, advice


def check_fit(module, datamodule, trainer) -> None:
    """Log the plan (rank 0) and stop with a ``ValueError`` naming the knobs when it does not fit."""
    text, fits, advice = plan_for_trainer(module, datamodule, trainer)
    if trainer.is_global_zero:
        log.info(text)
    if not fits:
        raise ValueError(
            "model: the planned peak memory per process exceeds the device memory available (plan above); "
            f"try: {'; '.join(advice) or 'a larger device'} (or model.model.check_memory: false to skip this check)"
        )
