"""The optimizer of the adapters and the value head, chosen by ``class_path`` (``model.optimizer``).

``model.optimizer`` takes any ``torch.optim.Optimizer`` subclass with its ``init_args``, e.g.
``bitsandbytes.optim.PagedAdamW8bit`` on CUDA; None keeps ``torch.optim.AdamW``. The learning rate is
``model.ppo.learning_rate`` in every case (one place for that number), passed to the optimizer as ``lr``.

Before training, :func:`check_optimizer_runs` takes one step of the configured optimizer on a throwaway parameter on
the training device. An optimizer that cannot run there (``capturable=True`` on CPU, a CUDA kernel) fails with one
error naming the field, instead of deep inside the first update. bitsandbytes' paged optimizers do run on CPU, but
only by quietly dropping the paging (they warn "not supported on CPU"); since paging was the reason to choose them,
that warning is turned into the same error.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable

import torch

OptimizerFactory = Callable[..., torch.optim.Optimizer]
"""``factory(params, lr=...) -> Optimizer`` (what LightningCLI's ``OptimizerCallable`` gives)."""

FIELD = "model.optimizer"


def build_optimizer(factory: OptimizerFactory | None, params: Iterable[torch.nn.Parameter], lr: float):
    """The configured optimizer over ``params`` with learning rate ``lr`` (AdamW when ``factory`` is None)."""
    if factory is None:
        return torch.optim.AdamW(params, lr=lr)
    return factory(params, lr=lr)


def optimizer_name(factory: OptimizerFactory | None) -> str:
    if factory is None:
        return "torch.optim.AdamW"
    cls = getattr(factory, "func", None) or getattr(factory, "__wrapped__", None) or factory
    return f"{getattr(cls, '__module__', '')}.{getattr(cls, '__qualname__', repr(cls))}".lstrip(".")


def check_optimizer_runs(factory: OptimizerFactory | None, lr: float, device: torch.device | str) -> None:
    """One optimizer step on a throwaway parameter on ``device``; a ``ValueError`` naming ``model.optimizer`` if the
    optimizer cannot run there."""
    if factory is None:
        return
    device = torch.device(device)
    probe = torch.nn.Parameter(torch.zeros(64, device=device))
    probe.grad = torch.full_like(probe, 1e-3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            factory([probe], lr=lr).step()
        except Exception as err:  # any failure of the user's optimizer on this device is a config error
            raise ValueError(
                f"{FIELD} ({optimizer_name(factory)}) cannot run on the {device.type} device: "
                f"{type(err).__name__}: {err}; choose an optimizer for {device.type} (None = torch.optim.AdamW)"
            ) from err
    unsupported = [str(w.message) for w in caught if "not supported on" in str(w.message)]
    if unsupported:
        raise ValueError(
            f"{FIELD} ({optimizer_name(factory)}) is not supported on the {device.type} device "
            f"({unsupported[0]}); it needs CUDA: choose e.g. torch.optim.AdamW (None) on {device.type}"
        )
