"""Command line: ``lit-critic-rl fit|validate|test --config configs/quickstart.yaml``,
``lit-critic-rl report RUN_DIR`` to rebuild a run's ``report.html``,
``lit-critic-rl plan-memory --config X.yaml`` to print a run's memory plan without loading weights,
``lit-critic-rl serve-rollouts --config X.yaml`` to start the vLLM server of ``model.generation.engine: vllm``, and
``lit-critic-rl grm fit --config ...`` to train RLMEC's generative reward model.

Components are swapped by ``class_path``/``init_args`` in YAML (the extrinsic reward, the critic, the datamodule).
Every output follows ``trainer.default_root_dir``: it is linked to the ``save_dir`` of each logger and, plus
``/checkpoints``, to the ``dirpath`` of each ``ModelCheckpoint``; adapters, samples and the report go to the first
logger's version folder, the critic cache to the root. Guides: ``docs/`` (design.md, critics.md, benchmarks.md).
"""

from __future__ import annotations

import os
import sys

from lightning.pytorch.cli import LightningCLI

from lit_critic_rl.library_messages import lightning_run
from lit_critic_rl.module import DenseRewardPPO
from lit_critic_rl.moved_keys import check_argv

DOCS_HINT = (
    "lit_critic_rl: PPO with dense rewards from LLM critics. Guides in docs/ (design.md, critics.md, benchmarks.md); "
    "'lit-critic-rl report RUN_DIR' rebuilds a run's report.html."
)


def root_dir(default_root_dir: str | None) -> str:
    """The trainer's root dir as Lightning resolves it (None = the working directory)."""
    return default_root_dir or os.getcwd()


def checkpoint_dir(default_root_dir: str | None) -> str:
    """``<root>/checkpoints``: one folder across versions, so ``fit --ckpt_path last`` finds the previous run's."""
    return os.path.join(root_dir(default_root_dir), "checkpoints")


class CLI(LightningCLI):
    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("seed_everything", "data.init_args.seed")
        # a link fills the key in every list item whose class has it (loggers: save_dir; ModelCheckpoint: dirpath)
        parser.link_arguments("trainer.default_root_dir", "trainer.logger.init_args.save_dir", compute_fn=root_dir)
        parser.link_arguments(
            "trainer.default_root_dir", "trainer.callbacks.init_args.dirpath", compute_fn=checkpoint_dir
        )

    def init_parser(self, **kwargs):
        parser = super().init_parser(**kwargs)
        parser.description = DOCS_HINT
        return parser


def main(args: list[str] | None = None, run: bool = True) -> CLI | None:
    """Entry point of ``cli.py`` and the ``lit-critic-rl`` script; ``args``/``run`` as in ``LightningCLI``.

    ``report RUN_DIR``, ``plan-memory --config ...`` and ``serve-rollouts --config ...`` are handled here, before
    LightningCLI, and return None.
    ``grm fit|validate ...`` runs the same LightningCLI on RLMEC's generative reward model
    (:mod:`lit_critic_rl.rlmec.grm_module`) instead of PPO.
    """
    from lit_critic_rl.data.base import PromptDataModule

    argv = sys.argv[1:] if args is None else list(args)
    if argv[:1] == ["plan-memory"]:
        plan_main(argv[1:])
        return None
    if argv[:1] == ["serve-rollouts"]:
        from lit_critic_rl.rollout_engines.server import serve_main

        serve_main(argv[1:])
        return None
    if argv[:1] == ["report"]:
        from lit_critic_rl.report import report_main

        report_main(argv[1:])
        return None
    if argv[:1] == ["grm"]:
        from lit_critic_rl.rlmec.grm_module import GRMData, GRMFineTuning

        with lightning_run():
            return LightningCLI(GRMFineTuning, GRMData, save_config_kwargs={"overwrite": True}, args=argv[1:], run=run)
    check_argv(argv)  # keys moved to model.objective: one message naming the new key, not jsonargparse's
    with lightning_run():  # without the library messages that are not about the run (lit_critic_rl/library_messages.py)
        # the module adds its callbacks itself (DenseRewardPPO.configure_callbacks: adapters, samples, report, summary)
        return CLI(
            DenseRewardPPO,
            PromptDataModule,
            subclass_mode_data=True,
            save_config_kwargs={"overwrite": True},
            args=args,
            run=run,
        )


def plan_main(argv: list[str]) -> None:
    """``plan-memory --config X.yaml [--config Y.yaml] [overrides]``: print the plan without loading weights; exit
    status 1 when it does not fit this machine's device memory."""
    from lit_critic_rl.plan_memory import plan_for_trainer

    cli = main(argv, run=False)
    cli.datamodule.setup()
    text, fits, advice = plan_for_trainer(cli.model, cli.datamodule, cli.trainer)
    print(text)
    if not fits:
        print("does NOT fit; knobs: " + "; ".join(advice), file=sys.stderr)
        raise SystemExit(1)


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
