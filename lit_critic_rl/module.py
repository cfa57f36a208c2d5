"""The PPO LightningModule: it orchestrates one iteration as a straight line; the stages live elsewhere.

One iteration (``training_step`` on a batch of prompts, or of a replay file's records)::

    taken    = source.take(batch, iteration, lm, tokenizer, engine, run dir)  # rlmec/rounds.py: fresh or replayed
    scores   = score_samples(reward, prompts, responses)                   # rewards/base.py
    rollout  = imitation.targets(taken, tokenizer)                          # rlmec/imitation.py (rewrite targets)
    pending  = critic_runner.start(prompts, responses, scores)              # critic/runner.py (maybe off-thread)
    rollout  = teacher_force(lm, rollout, ...)                              # ppo/rollout.py (no grad; ref if read)
    rollout, first = update_loop.first_forward(objective, lm, rollout)   # only when fused  rl/loop.py
    rollout  = with_sampler_logprobs(rollout, taken.records)                # rlmec/ratio.py (off-policy objectives)
    source.remember(taken, rollout, rewrites)                               # the round later iterations replay
    rewards  = assemble_rewards(scores, pending.wait(), rollout, ...)      # ppo/token_rewards.py
    adv      = objective.advantages(rollout, rewards, kl, kl_coef)         # e.g. ppo/objective.py
    stats    = update_loop.run(objective, lm, stepper, rollout, adv, first) # rl/loop.py, objective's minibatch loss

The source (:func:`~lit_critic_rl.rlmec.rounds.rollout_source`) is chosen once in :meth:`setup` from the datamodule,
and the stages that read references (the critic's, the rewrite stage) receive them there, so the step has no
branches on what the batch holds.

Optimization is manual, so Lightning's ``global_step`` counts optimizer steps (several per iteration); iterations
are batches of the train loader (``train/iteration``).
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

import torch
from lightning.pytorch import LightningModule

from lit_critic_rl.args import AdapterArgs, EvalArgs, GenerationArgs, ModelArgs, PPOArgs, ShapingArgs
from lit_critic_rl.callbacks import AdapterExport, RunSummary, SampleLog, run_dir
from lit_critic_rl.checks import check_objective, check_prompt_lengths
from lit_critic_rl.critic.base import CriticBackend, CriticSetup
from lit_critic_rl.critic.runner import CriticRunner
from lit_critic_rl.data.base import PromptDataModule
from lit_critic_rl.distributed import AllReduceSum, gather_objects
from lit_critic_rl.evaluation import Evaluator
from lit_critic_rl.memory import configure_malloc, trim_malloc
from lit_critic_rl.metrics.task import TaskMetrics
from lit_critic_rl.models.loading import check_model_name, load_causal_lm, load_tokenizer
from lit_critic_rl.models.policy import PolicyValueModel
from lit_critic_rl.module_state import load_training_state, training_state
from lit_critic_rl.objectives import Objective, PPOObjective, RunContext
from lit_critic_rl.optim import OptimizerFactory, build_optimizer, check_optimizer_runs
from lit_critic_rl.perf import PhaseTimer
from lit_critic_rl.ppo.advantages import mean_sequence_kl
from lit_critic_rl.ppo.kl_control import AdaptiveKLController, FixedKLController
from lit_critic_rl.ppo.rollout import teacher_force
from lit_critic_rl.ppo.score_scaling import RunningMoments
from lit_critic_rl.ppo.token_rewards import assemble_rewards, response_token_ranges, scale_rewards
from lit_critic_rl.processes import prepare_processes
from lit_critic_rl.rewards.base import ExtrinsicReward, Reward, score_samples
from lit_critic_rl.rewards.references import hand_over_references
from lit_critic_rl.rl.batch_stats import iteration_metrics
from lit_critic_rl.rl.kl import rollout_kl
from lit_critic_rl.rl.loop import UpdateLoop
from lit_critic_rl.rl.masked import no_reduce
from lit_critic_rl.rl.update import OptimizerStepper
from lit_critic_rl.rlmec.imitation import Imitation
from lit_critic_rl.rlmec.ratio import with_sampler_logprobs
from lit_critic_rl.rlmec.rewriter import Rewriter
from lit_critic_rl.rlmec.rounds import RolloutSource, SampleRounds, rollout_source
from lit_critic_rl.rng import pick_rank_state, restore_rng
from lit_critic_rl.rollout_engines import rollout_engine
from lit_critic_rl.samples import sample_records
from lit_critic_rl.types import Advantages, Rollout, TokenRewards


class DenseRewardPPO(LightningModule):
    def __init__(
        self,
        reward: Reward | ExtrinsicReward,
        critic: CriticBackend | None = None,
        model: ModelArgs = ModelArgs(),
        adapter: AdapterArgs = AdapterArgs(),
        generation: GenerationArgs = GenerationArgs(),
        ppo: PPOArgs = PPOArgs(),
        shaping: ShapingArgs = ShapingArgs(),
        metrics: TaskMetrics | None = None,
        evaluation: EvalArgs = EvalArgs(),
        val_seed: int = 1234,
        rewriter: Rewriter | None = None,
        optimizer: OptimizerFactory | None = None,
        objective: Objective | None = None,
    ) -> None:
        """
        Args:
            reward: Extrinsic reward, any callable ``(prompts, responses) -> list[float]``.
            critic: Critic whose spans give dense intrinsic rewards; None trains on the sparse reward alone.
            model: Base model and how the value function shares it.
            adapter: LoRA settings of the policy and value adapters.
            generation: Sampling settings of rollouts and validation.
            ppo: The update loop (epochs, minibatches, learning rate) and the KL control, shared by every objective.
            shaping: How critic spans become token rewards.
            metrics: The task's own evaluation metrics (e.g. SentimentMetrics); None = generic metrics only.
            evaluation: Samples per prompt, perplexity scoring model and sample files of validate/test.
            val_seed: Seed of validation sampling, so every evaluation sees the same sampling noise.
            rewriter: Minimum-edit teacher whose rewrites become the imitation targets of an objective that reads
                them (``RLMECObjective``; e.g. ``lit_critic_rl.rlmec.ArithmeticRewriter``); None = no imitation term.
            optimizer: Optimizer of the adapters and the value head by ``class_path`` (e.g.
                ``bitsandbytes.optim.PagedAdamW8bit`` on CUDA); its ``lr`` is ``ppo.learning_rate``. None = AdamW.
            objective: What the update optimises, by ``class_path`` (presets: ``configs/objective/``); None = PPO with
                its defaults (``lit_critic_rl.objectives.PPOObjective``).
        """
        objective = objective if objective is not None else PPOObjective()
        super().__init__()
        # plain dicts, so checkpoints load with torch.load(weights_only=True) (Lightning's default)
        self.save_hyperparameters(
            {
                "model": asdict(model),
                "adapter": asdict(adapter),
                "generation": asdict(generation),
                "ppo": asdict(ppo),
                "shaping": asdict(shaping),
                "evaluation": asdict(evaluation),
                "val_seed": val_seed,
                "objective": {"class_path": objective.class_path(), "init_args": objective.settings()},
            }
        )
        self.automatic_optimization = False
        self.strict_loading = False  # checkpoints hold adapters and the value head, not the frozen base
        self.reward, self.critic = reward, critic
        self.model_args, self.adapter_args = model, adapter
        self.generation, self.ppo, self.shaping = generation, ppo, shaping
        self.engine = rollout_engine(generation)  # HF generate or a vLLM server (model.generation.engine)
        self.val_seed = val_seed
        configure_malloc(model.malloc_mmap_threshold, model.malloc_trim)
        self.objective, self.update_loop = objective, UpdateLoop(ppo)
        self.kl_ctl = (
            AdaptiveKLController(ppo.kl_coef, ppo.target_kl, ppo.kl_horizon)
            if ppo.adaptive_kl
            else FixedKLController(ppo.kl_coef)
        )
        context = RunContext(
            generation.temperature, adapter.dropout, generation.samples_per_prompt, generation.max_new_tokens
        )
        objective.connect(replace(context, kl_penalty=self.kl_ctl.reads_kl, reduce=self.sum_over_ranks))
        self.reference_pass = objective.needs_reference or ppo.log_kl
        """Teacher-force the reference each iteration: something reads the KL, or ``model.ppo.log_kl`` logs it."""
        check_objective(objective, rewriter, ppo.regenerate_every)
        target = getattr(objective, "imitation_target", "teacher")
        self.imitation = Imitation(target, rewriter, critic, generation) if objective.needs_targets else None
        self.optimizer_factory = optimizer
        check_model_name(model.name_or_path)  # a missing folder fails here; the weights load in configure_model
        self.tokenizer = None
        self.lm: PolicyValueModel | None = None
        """Built in :meth:`configure_model`, so strategies can defer or shard it; nothing loads in ``__init__``."""
        self.reward_moments = RunningMoments()
        self.rounds = SampleRounds(ppo.regenerate_every)
        self.source: RolloutSource = self.rounds
        """Where each iteration's samples come from (:mod:`~lit_critic_rl.rlmec.rounds`), chosen in :meth:`setup`."""
        self.prompts_consumed = self.samples_seen = self.iteration = self.skipped_updates = 0
        self.last_samples: list[dict] = []
        self.timer = PhaseTimer(after=trim_malloc if model.malloc_trim else None)
        self.critic_runner = CriticRunner(critic, self.timer, shaping.gate_threshold) if critic is not None else None
        self.reduce = no_reduce
        """Sum over processes for the batch statistics: the identity in one process, an all-reduce with several
        (set in :meth:`setup`); the objective reaches it through :meth:`sum_over_ranks`."""
        self.evaluator = Evaluator(evaluation, metrics)
        self._pending_rng: dict | None = None

    def sum_over_ranks(self, x: torch.Tensor) -> torch.Tensor:
        """The run's reduce hook as the objective sees it (:class:`~lit_critic_rl.rl.objective.RunContext`)."""
        return self.reduce(x)

    # ------------------------------------------------------------------ setup
    def configure_model(self) -> None:
        """Load the tokenizer and the base, wrap it with the adapters, and attach the critic. Called by Lightning
        under the strategy's init context (and by hand in tests and scripts); a second call does nothing."""
        if self.lm is not None:
            return
        args = self.model_args
        self.load_tokenizer()
        base = load_causal_lm(args.name_or_path, args.quantization, args.dtype)
        self.lm = PolicyValueModel(base, self.adapter_args, args.value_mode, args.activation_checkpointing)
        self.lm.train()  # as Lightning expects at the start of fit; each phase sets its own mode (training_step)
        if self.critic is not None:
            root = Path(self._trainer.default_root_dir) if self._trainer is not None else Path.cwd()
            rank, world = (self.global_rank, self.trainer.world_size) if self._trainer is not None else (0, 1)
            self.critic.setup(CriticSetup(self.lm, self.tokenizer, args.name_or_path, root, rank, world))

    def load_tokenizer(self):
        if self.tokenizer is None:
            self.tokenizer = load_tokenizer(self.model_args.name_or_path)
        return self.tokenizer

    def configure_optimizers(self):
        if self._trainer is not None:
            check_optimizer_runs(self.optimizer_factory, self.ppo.learning_rate, self.device)
        return build_optimizer(self.optimizer_factory, self.lm.trainable_parameters(), self.ppo.learning_rate)

    def configure_callbacks(self):
        from lit_critic_rl.report import RunReport

        return [AdapterExport(), SampleLog(), RunReport(), RunSummary()]  # the report before the summary prints it

    def setup(self, stage: str) -> None:
        """Checks that need no weights (before :meth:`configure_model`), what several processes need, the reduce."""
        self.load_tokenizer()
        if self.trainer.world_size > 1:
            prepare_processes(self.trainer, self.model_args.value_mode, self.objective.needs_values)
            self.reduce = AllReduceSum(self.trainer.strategy.root_device)
        datamodule = getattr(self.trainer, "datamodule", None)
        self.source = rollout_source(datamodule, self.rounds)
        if stage == "fit":
            self.source.check(self.objective, self.imitation)
        if isinstance(datamodule, PromptDataModule):
            readers = {"model.reward": self.reward, "model.metrics": self.evaluator.metrics}
            stages = {"model.critic": self.critic_runner, "model.rewriter": self.imitation}
            hand_over_references(datamodule.references(), {**readers, **stages})
            prompts = datamodule.all_prompts()
            evaluation = self.evaluator.args.generation or self.generation
            new_tokens = max(self.generation.max_new_tokens, evaluation.max_new_tokens)
            check_prompt_lengths(self.tokenizer, self.model_args.name_or_path, prompts, new_tokens)
            score_samples(self.reward, prompts[:2], prompts[:2])  # a broken reward fails here, before training
            if stage == "fit" and self.model_args.check_memory:
                from lit_critic_rl.plan_memory import check_fit

                check_fit(self, datamodule, self.trainer)  # before configure_model loads anything

    # --------------------------------------------------------------- training
    def on_train_start(self) -> None:
        if self._pending_rng is not None:
            restore_rng(pick_rank_state(self._pending_rng, self.global_rank, self.trainer.world_size))
            self._pending_rng = None
        elif self.iteration == 0:
            self.log_initial_validation()
        self.source.prepare(self.lm, self.tokenizer, self.objective)

    def log_initial_validation(self) -> None:
        """Log the validation metrics of the untrained policy at step 0, the baseline of every later validation."""
        datamodule = getattr(self.trainer, "datamodule", None)
        limit = self.trainer.limit_val_batches
        if datamodule is None or not limit:
            return
        metrics = self.evaluator.run(self, datamodule.val_dataloader(), limit)
        if metrics:
            for logger in self.loggers:
                logger.log_metrics(metrics, step=0)

    def stepper(self) -> OptimizerStepper:
        """The update's optimizer steps, through Lightning (precision plugins, strategies, gradient clipping)."""
        optimizer = self.optimizers()
        return OptimizerStepper(
            optimizer,
            self.ppo.max_grad_norm,
            backward=self.manual_backward,
            clip=lambda norm: self.clip_gradients(optimizer, gradient_clip_val=norm, gradient_clip_algorithm="norm"),
            timer=self.timer,
        )

    def training_step(self, batch: list[str] | list[dict], batch_idx: int) -> None:
        """One iteration: the stages of the module docstring, in order."""
        objective, loop, timer = self.objective, self.update_loop, self.timer
        self.lm.eval()
        with timer("generate"):
            taken = self.source.take(batch, self.iteration, self.lm, self.tokenizer, self.engine, run_dir(self.trainer))
        rollout, rewrites = taken.rollout, taken.rewrites
        with timer("reward"):
            scores = score_samples(self.reward, rollout.prompts, rollout.responses)
        rewrite_stats: dict[str, float] = {}
        if self.imitation is not None:
            with timer("rewrite"):
                rollout, rewrite_stats, rewrites = self.imitation.targets(taken, self.tokenizer)
        pending = None
        if self.critic_runner is not None:
            pending = self.critic_runner.start(rollout.prompts, rollout.responses, scores)
        fused = loop.fuses(objective, len(rollout))
        with timer("teacher_forced"):
            rollout = teacher_force(
                self.lm,
                rollout,
                objective.loss_temperature,
                self.ppo.teacher_force_chunk_size,
                policy=not fused,
                values=objective.needs_values,
                reference=self.reference_pass,
            )
        first = None
        with timer("update"):
            self.lm.train(self.adapter_args.dropout > 0)
            if fused:
                rollout, first = loop.first_forward(objective, self.lm, rollout)
        if objective.off_policy:  # the ratio's denominator: the policy that sampled this round
            rollout = with_sampler_logprobs(rollout, taken.records, taken.source)
        self.source.remember(taken, rollout, rewrites)
        critiques = pending.wait() if pending is not None else [None] * len(rollout)
        ranges = response_token_ranges(rollout, self.tokenizer)
        rewards = assemble_rewards(scores, critiques, rollout, ranges, self.shaping, self.tokenizer)
        if self.ppo.score_scaling:
            rewards = scale_rewards(rewards, rollout.response_mask.cpu(), self.reward_moments, self.reduce)
        kl_coef = self.kl_ctl.value
        adv = objective.advantages(rollout, rewards, rollout_kl(rollout, self.ppo.kl_estimator), kl_coef)
        stepper = self.stepper()
        with timer("update"):
            stats = loop.run(objective, self.lm, stepper, rollout, adv, first)
            self.lm.eval()
        seq_kl = mean_sequence_kl(adv.kl, self.reduce) if adv.kl is not None else None  # None: no reference pass
        n_samples = int(self.reduce(torch.tensor(float(len(rollout)))))  # the global batch
        if seq_kl is not None:
            self.kl_ctl.update(seq_kl, n_samples)
        self.prompts_consumed += int(self.reduce(torch.tensor(float(len(batch)))))
        self.samples_seen += n_samples
        self.iteration += 1
        self.skipped_updates += stepper.skipped_updates
        critic_stats = self.critic.stats() if self.critic is not None else {}
        self.log_iteration(rollout, scores, rewards, {**stats, **rewrite_stats, **critic_stats}, seq_kl, kl_coef, adv)
        records = sample_records(self.iteration, rollout, scores, rewards, critiques, ranges)
        if self.trainer.world_size > 1:  # the rank-0 samples file holds the global batch, in rank order
            records = [r for part in gather_objects(records) for r in part]
        self.last_samples = records

    def log_iteration(
        self,
        rollout: Rollout,
        scores: torch.Tensor,
        rewards: TokenRewards,
        stats: dict,
        seq_kl: float | None,
        kl_coef: float,
        adv: Advantages,
    ) -> None:
        """Log global metrics (:func:`~lit_critic_rl.rl.batch_stats.iteration_metrics`) and the counters as they
        are (already global); ``train/kl`` only when the reference pass ran, ``train/kl_coef`` only for an objective
        with the KL in its reward (the others never read the controller's beta)."""
        averaged = {**{f"train/{k}": v for k, v in {**stats, **rewards.stats}.items()}, **self.timer.pop()}
        metrics = iteration_metrics(rollout, scores, rewards, adv, averaged, self.reduce, self.trainer.world_size > 1)
        metrics.update({"train/kl": seq_kl} if seq_kl is not None else {})
        metrics.update({"train/kl_coef": kl_coef} if self.objective.kl_in_reward else {})
        metrics.update(
            {
                "train/samples_seen": float(self.samples_seen),
                "train/iteration": float(self.iteration),
                "train/skipped_updates": float(self.skipped_updates),
            }
        )
        self.log_dict(metrics, on_step=True, on_epoch=False, batch_size=len(rollout))
        self.log("reward", metrics["train/reward_extrinsic"], prog_bar=True, logger=False, batch_size=len(rollout))

    def teardown(self, stage: str) -> None:
        """End of fit/validate/test: unload the rollout server's adapter; stop the critic's threads, connections
        and cache (a later run in the same process reopens them)."""
        self.engine.close()
        if self.critic_runner is not None:
            self.critic_runner.close()

    # ------------------------------------------------------------- evaluation
    def on_validation_epoch_start(self) -> None:
        self.evaluator.reset()

    def on_test_epoch_start(self) -> None:
        self.evaluator.reset()

    def validation_step(self, batch: list[str], batch_idx: int) -> None:
        scores = self.evaluator.step(self, batch, batch_idx)
        self.log(
            "val/reward", float(scores.mean()), on_epoch=True, batch_size=len(scores), prog_bar=True, sync_dist=True
        )

    def test_step(self, batch: list[str], batch_idx: int) -> None:
        self.evaluator.step(self, batch, batch_idx)

    def _log_evaluation(self, prefix: str) -> None:
        metrics = self.evaluator.compute()
        if prefix == "val":
            metrics.pop("reward")  # logged per step above, averaged by Lightning
        # every rank evaluates every held-out prompt with the same seed (see data/base.py): the mean is the value
        self.log_dict({f"{prefix}/{k}": v for k, v in metrics.items()}, on_epoch=True, sync_dist=True)
        if not self.trainer.sanity_checking and self.trainer.is_global_zero:  # every rank has the same samples
            self.evaluator.write_samples(run_dir(self.trainer), prefix, self.iteration)

    def on_validation_epoch_end(self) -> None:
        self._log_evaluation("val")

    def on_test_epoch_end(self) -> None:
        self._log_evaluation("test")

    # ------------------------------------------------------------ checkpoints
    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        names = {n for n, p in self.named_parameters() if p.requires_grad}
        return {k: v for k, v in self.state_dict().items() if k in names}

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["state_dict"] = self.trainable_state_dict()
        checkpoint["lit_critic_rl"] = training_state(self)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        load_training_state(self, checkpoint)
