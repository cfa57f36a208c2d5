"""Command line: ``lit-critic-rl fit|validate|test --config configs/quickstart.yaml``.

Components are swapped by ``class_path``/``init_args`` in YAML (the extrinsic reward, the critic, the datamodule).
"""

from __future__ import annotations

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


if __name__ == "__main__":
    main()
