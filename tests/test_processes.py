"""The trainer settings the framework sets for several processes (the 2-process run itself: test_clean_output.py).

The trainers are built for 2 CPU processes but never launched: ``prepare_processes`` reads and writes settings only.
"""

import pytest
from lightning.pytorch import Trainer
from lightning.pytorch.strategies import DDPStrategy

from lit_critic_rl.processes import prepare_processes


def two_process_trainer(strategy="ddp") -> Trainer:
    return Trainer(accelerator="cpu", devices=2, strategy=strategy, logger=False, enable_checkpointing=False)


@pytest.mark.parametrize(
    ("value_mode", "needs_values", "searched", "reason"),
    [
        ("separate_adapter", True, True, "separate value adapter"),  # each loss's backward skips the other adapter
        ("shared_trunk", False, True, "no value function"),  # GRPO-like: the value head gets no gradient
        ("shared_trunk", True, False, None),  # PPO on the trunk: every parameter gets a gradient
    ],
)
def test_sampler_off_and_unused_parameter_search_only_when_needed(value_mode, needs_values, searched, reason):
    trainer = two_process_trainer()
    assert trainer._accelerator_connector.use_distributed_sampler  # Lightning's default
    line = prepare_processes(trainer, value_mode, needs_values)
    assert trainer._accelerator_connector.use_distributed_sampler is False
    assert trainer.strategy._ddp_kwargs.get("find_unused_parameters", False) is searched
    assert line.startswith("2 processes: use_distributed_sampler=False")
    assert (f"find_unused_parameters=True ({reason})" in line) if searched else ("find_unused" not in line)


def test_an_explicit_false_that_would_break_the_backward_is_refused():
    trainer = two_process_trainer(DDPStrategy(find_unused_parameters=False))
    with pytest.raises(ValueError, match=r"trainer.strategy: find_unused_parameters must be true here \(separate"):
        prepare_processes(trainer, "separate_adapter", True)
