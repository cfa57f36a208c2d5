"""Command line: ``lit-critic-rl fit|validate|test --config configs/quickstart.yaml``.

Components are swapped by ``class_path``/``init_args`` in YAML (the extrinsic reward, the critic, the datamodule).
"""

from __future__ import annotations

import os
import sys

from lightning.pytorch.cli import LightningCLI

from lit_critic_rl.module import DenseRewardPPO


class CLI(LightningCLI):
    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("seed_everything", "data.init_args.seed")


def main(args: list[str] | None = None, run: bool = True) -> CLI:
    """Entry point of ``cli.py`` and the ``lit-critic-rl`` script; ``args``/``run`` as in ``LightningCLI``."""
    from lit_critic_rl.data.base import PromptDataModule

    return CLI(
        DenseRewardPPO,
        PromptDataModule,
        subclass_mode_data=True,
        save_config_kwargs={"overwrite": True},
        args=args,
        run=run,
    )


DEBUG_ENV = "LIT_CRITIC_RL_DEBUG"
USER_ERRORS = (ValueError, KeyError, FileNotFoundError)
"""What a user's config or files cause (a bad field value, a missing column, a missing file); our messages name the
field or file, so the traceback only helps when debugging the framework itself."""


def run(args: list[str] | None = None) -> None:
    """The console entry point: like :func:`main`, but a user error prints one line (the traceback with
    ``LIT_CRITIC_RL_DEBUG=1``) and exits with status 2."""
    try:
        main(args)
    except USER_ERRORS as err:
        if os.environ.get(DEBUG_ENV):
            raise
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        print(f"error: {message}\n(set {DEBUG_ENV}=1 to see the traceback)", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    run()
