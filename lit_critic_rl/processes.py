"""What a fit with several processes needs from Lightning's trainer, set by the framework itself.

``--trainer.devices 2 --trainer.strategy ddp``, Lightning's usual flags, then runs as ``configs/trainer/ddp.yaml``
does (that preset spells the same settings out):

- ``use_distributed_sampler`` is turned off: the prompt datamodule gives each rank its slice of the global batch
  itself (``data/base.py``), and Lightning cannot inject its sampler into that batch sampler.
- DDP's ``find_unused_parameters`` is turned on when a backward leaves trainable parameters without gradients: with
  a separate value adapter the policy loss and the value loss run separate backwards, and an objective without a
  value function (GRPO, RLOO, ...) never uses the value head. A value given in the strategy's ``init_args`` is kept.

:func:`prepare_processes` runs in ``DenseRewardPPO.setup``, after the trainer is built and before it reads either
setting (the dataloaders and the DDP wrapper come later). Both live in private attributes of Lightning 2.6's
trainer, which has no public setter for them.
"""

from __future__ import annotations

from lit_critic_rl.logs import get_logger

log = get_logger(__name__)


def needs_unused_parameter_search(value_mode: str, needs_values: bool) -> bool:
    """Whether some trainable parameter gets no gradient in a backward: a separate value adapter (each loss's
    backward skips the other adapter) or an objective that never uses the value head."""
    return value_mode == "separate_adapter" or not needs_values


def prepare_processes(trainer, value_mode: str, needs_values: bool) -> str:
    """Set what several processes need on ``trainer``; rank 0 logs one line that says so (returned as well)."""
    from lightning.pytorch.strategies import DDPStrategy

    trainer._accelerator_connector.use_distributed_sampler = False
    said = [f"{trainer.world_size} processes: use_distributed_sampler=False (each rank takes its slice of the batch)"]
    strategy = trainer.strategy
    if isinstance(strategy, DDPStrategy) and needs_unused_parameter_search(value_mode, needs_values):
        kwargs = strategy._ddp_kwargs
        reason = "separate value adapter" if value_mode == "separate_adapter" else "no value function"
        if kwargs.get("find_unused_parameters") is False:
            raise ValueError(
                f"trainer.strategy: find_unused_parameters must be true here ({reason}: a backward leaves trainable "
                "parameters without gradients); leave it unset and the framework sets it"
            )
        kwargs["find_unused_parameters"] = True
        said.append(f"find_unused_parameters=True ({reason})")
    line = ", ".join(said)
    if trainer.is_global_zero:
        log.info(line)
    return line
