"""Command line: one registry of subcommands (:data:`SUBCOMMANDS`); ``lit-critic-rl --help`` lists them.

``fit|validate|test --config configs/quickstart.yaml`` train and evaluate the policy (LightningCLI on
:class:`~lit_critic_rl.module.DenseRewardPPO`); ``grm fit|validate`` the same on RLMEC's generative reward model;
``plan-memory``, ``serve-rollouts``, ``report``, ``teacher-data`` and ``grm-eval`` are their modules' own commands
(the last two also run as ``python -m lit_critic_rl.rlmec.teacher_data`` / ``.grm_eval``).

Components are swapped by ``class_path``/``init_args`` in YAML (the extrinsic reward, the critic, the datamodule).
Every output follows ``trainer.default_root_dir``: it is linked to the ``save_dir`` of each logger and, plus
``/checkpoints``, to the ``dirpath`` of each ``ModelCheckpoint``; adapters, samples and the report go to the first
logger's version folder, the critic cache to the root. Guides: ``docs/`` (design.md, critics.md, benchmarks.md).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

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


def ppo_cli(argv: list[str], run: bool = True) -> CLI:
    """LightningCLI on the PPO module and a prompt datamodule (``fit``/``validate``/``test``, or ``run=False`` for
    the commands that only build the run: ``plan-memory``, ``serve-rollouts``)."""
    from lit_critic_rl.data.base import PromptDataModule

    check_argv(argv)  # keys moved to model.objective: one message naming the new key, not jsonargparse's
    with lightning_run():  # without the library messages that are not about the run (lit_critic_rl/library_messages.py)
        # the module adds its callbacks itself (DenseRewardPPO.configure_callbacks: adapters, samples, report, summary)
        return CLI(
            DenseRewardPPO,
            PromptDataModule,
            subclass_mode_data=True,
            save_config_kwargs={"overwrite": True},
            args=argv,
            run=run,
        )


def grm_cli(argv: list[str], run: bool = True) -> LightningCLI:
    """``grm fit|validate ...``: the same LightningCLI on RLMEC's generative reward model (SFT of its adapter)."""
    from lit_critic_rl.rlmec.grm_module import GRMData, GRMFineTuning

    with lightning_run():
        return LightningCLI(GRMFineTuning, GRMData, save_config_kwargs={"overwrite": True}, args=argv, run=run)


def plan_main(argv: list[str]) -> None:
    """``plan-memory --config X.yaml [--config Y.yaml] [overrides]``: print the plan without loading weights; exit
    status 1 when it does not fit this machine's device memory."""
    from lit_critic_rl.plan_memory import plan_for_trainer

    cli = ppo_cli(argv, run=False)
    cli.datamodule.setup()
    text, fits, advice = plan_for_trainer(cli.model, cli.datamodule, cli.trainer)
    print(text)
    if not fits:
        print("does NOT fit; knobs: " + "; ".join(advice), file=sys.stderr)
        raise SystemExit(1)


def serve_main(argv: list[str]) -> None:
    from lit_critic_rl.rollout_engines.server import serve_main

    serve_main(argv)


def report_main(argv: list[str]) -> None:
    from lit_critic_rl.report import report_main

    report_main(argv)


def teacher_data_main(argv: list[str]) -> None:
    from lit_critic_rl.rlmec.teacher_data import main

    main(argv)


def grm_eval_main(argv: list[str]) -> None:
    from lit_critic_rl.rlmec.grm_eval import main

    main(argv)


@dataclass(frozen=True)
class Subcommand:
    summary: str
    """The one line of ``lit-critic-rl --help``."""
    run: Callable[[list[str], bool], object]
    """Called with the arguments after the subcommand's name (all of them for LightningCLI's) and ``run``."""
    lightning: bool = False
    """A LightningCLI subcommand of the PPO module: it is given the whole argument list, its name included."""


SUBCOMMANDS: dict[str, Subcommand] = {
    "fit": Subcommand("train the policy (--config configs/quickstart.yaml)", ppo_cli, lightning=True),
    "validate": Subcommand("evaluate the policy on the validation prompts", ppo_cli, lightning=True),
    "test": Subcommand("evaluate the policy on the test prompts", ppo_cli, lightning=True),
    "report": Subcommand("rebuild a run's report.html: report RUN_DIR", lambda a, r: report_main(a)),
    "plan-memory": Subcommand("print a run's memory plan without loading weights", lambda a, r: plan_main(a)),
    "serve-rollouts": Subcommand("start the vLLM server of model.generation.engine: vllm", lambda a, r: serve_main(a)),
    "grm": Subcommand("train RLMEC's generative reward model: grm fit|validate --config ...", grm_cli),
    "teacher-data": Subcommand("sample a policy and save a teacher's rewrites (RLMEC's data round)",
                               lambda a, r: teacher_data_main(a)),
    "grm-eval": Subcommand("score a GRM adapter on held-out teacher data", lambda a, r: grm_eval_main(a)),
}  # fmt: skip


def help_text() -> str:
    """What ``lit-critic-rl --help`` prints: the docs hint and every subcommand with its one line."""
    width = max(len(name) for name in SUBCOMMANDS) + 2
    lines = [f"  {name:<{width}}{cmd.summary}" for name, cmd in SUBCOMMANDS.items()]
    usage = "usage: lit-critic-rl SUBCOMMAND [options]  ('lit-critic-rl SUBCOMMAND --help' for its options)"
    return "\n".join([usage, "", DOCS_HINT, "", "subcommands:", *lines])


def main(args: list[str] | None = None, run: bool = True) -> CLI | LightningCLI | None:
    """Entry point of ``cli.py`` and the ``lit-critic-rl`` script; ``args``/``run`` as in ``LightningCLI``.

    The first argument names the subcommand (:data:`SUBCOMMANDS`); ``fit``/``validate``/``test`` and ``grm`` return
    their LightningCLI, the others None. Arguments that name none go to the PPO LightningCLI as they are.
    """
    argv = sys.argv[1:] if args is None else list(args)
    if not argv or argv[0] in ("-h", "--help"):
        print(help_text())
        return None
    command = SUBCOMMANDS.get(argv[0])
    if command is None or command.lightning:
        return ppo_cli(argv, run)
    return command.run(argv[1:], run)


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
