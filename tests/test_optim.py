"""The optimizer by class_path: the default, a configured class with its init_args, and one clear error for an
optimizer that cannot run on the training device."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lit_critic_rl.optim import build_optimizer, check_optimizer_runs

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_default_is_adamw_at_the_ppo_learning_rate():
    opt = build_optimizer(None, [torch.nn.Parameter(torch.zeros(2))], 0.003)
    assert type(opt) is torch.optim.AdamW and opt.param_groups[0]["lr"] == 0.003


def test_cli_builds_the_configured_class_with_its_init_args(tiny_model_path, tmp_path, monkeypatch):
    from lit_critic_rl.cli import main

    monkeypatch.chdir(tmp_path)
    cli = main(
        [
            *("--config", str(CONFIGS / "quickstart.yaml"), "--model.model.name_or_path", tiny_model_path),
            *("--model.optimizer", "torch.optim.SGD", "--model.optimizer.momentum", "0.9"),
            *("--model.ppo.learning_rate", "0.02"),
        ],
        run=False,
    )
    cli.model.configure_model()
    opt = cli.model.configure_optimizers()
    assert type(opt) is torch.optim.SGD
    assert opt.param_groups[0]["momentum"] == 0.9 and opt.param_groups[0]["lr"] == 0.02


def test_a_cuda_only_optimizer_on_cpu_is_one_error_naming_the_field():
    from functools import partial

    capturable = partial(torch.optim.AdamW, capturable=True)  # asserts CUDA-like devices for its step
    with pytest.raises(ValueError, match=r"model.optimizer \(.*AdamW\) cannot run on the cpu device"):
        check_optimizer_runs(capturable, 1e-3, "cpu")


def test_a_paged_bitsandbytes_optimizer_on_cpu_is_refused():
    """bitsandbytes 0.50 runs its paged optimizers on CPU by silently dropping the paging; that is refused too."""
    bnb = pytest.importorskip("bitsandbytes")
    with pytest.raises(ValueError, match=r"model.optimizer \(bitsandbytes.optim.*PagedAdamW8bit\) is not supported"):
        check_optimizer_runs(bnb.optim.PagedAdamW8bit, 1e-3, "cpu")
    check_optimizer_runs(torch.optim.SGD, 1e-3, "cpu")  # an optimizer that runs passes
