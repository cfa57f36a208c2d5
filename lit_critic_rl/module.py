"""The PPO LightningModule: orchestrates rollout -> rewards -> K PPO epochs. The math lives in ``lit_critic_rl.ppo``.

One iteration (``training_step`` on a batch of prompts):
1. sample responses with the policy adapter (no grad, no dropout);
2. extrinsic scores -> a reward on each response's last real token; critic spans -> intrinsic token rewards;
3. teacher-forced pass: old log-probs, reference log-probs (adapters off), values;
4. r_t = extrinsic_t + intrinsic_t - beta * KL_t; GAE; whitened advantages;
5. ``ppo.epochs`` passes over shuffled minibatches with the clipped policy and value losses.
Optimization is manual, so Lightning's ``global_step`` counts optimizer steps (several per iteration); iterations
are batches of the train loader (``train/iteration``).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict

import numpy as np
import torch
from lightning.pytorch import LightningModule

from lit_critic_rl.args import AdapterArgs, EvalArgs, GenerationArgs, ModelArgs, PPOArgs, ShapingArgs
from lit_critic_rl.critic.base import CriticBackend
from lit_critic_rl.critic.shaping import critic_stats, critic_token_rewards
from lit_critic_rl.evaluation import Evaluator
from lit_critic_rl.memory import set_malloc_mmap_threshold
from lit_critic_rl.metrics.task import TaskMetrics
from lit_critic_rl.models.loading import load_causal_lm, load_tokenizer
from lit_critic_rl.models.policy import PolicyValueModel
from lit_critic_rl.perf import PhaseTimer
from lit_critic_rl.ppo.advantages import gae, masked_whiten
from lit_critic_rl.ppo.kl_control import AdaptiveKLController, FixedKLController
from lit_critic_rl.ppo.losses import kl_estimate, kl_penalized_rewards
from lit_critic_rl.ppo.rollout import sample, score_rollout
from lit_critic_rl.ppo.update import ppo_update
from lit_critic_rl.rewards.base import ExtrinsicReward, Reward, score_samples, sparse_token_rewards
from lit_critic_rl.types import Rollout, TokenRewards


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
    ) -> None:
        """
        Args:
            reward: Extrinsic reward, any callable ``(prompts, responses) -> list[float]``.
            critic: Critic whose spans give dense intrinsic rewards; None trains on the sparse reward alone.
            model: Base model and how the value function shares it.
            adapter: LoRA settings of the policy and value adapters.
            generation: Sampling settings of rollouts and validation.
            ppo: PPO and KL-control hyperparameters.
            shaping: How critic spans become token rewards.
            metrics: The task's own evaluation metrics (e.g. SentimentMetrics); None = generic metrics only.
            evaluation: Samples per prompt, perplexity scoring model and sample files of validate/test.
            val_seed: Seed of validation sampling, so every evaluation sees the same sampling noise.
        """
        super().__init__()
        # plain dicts, so checkpoints load with torch.load(weights_only=True) (Lightning's default)
        self.save_hyperparameters(
            {"model": asdict(model), "adapter": asdict(adapter), "generation": asdict(generation),
             "ppo": asdict(ppo), "shaping": asdict(shaping), "evaluation": asdict(evaluation), "val_seed": val_seed}
        )
        self.automatic_optimization = False
        self.strict_loading = False  # checkpoints hold adapters and the value head, not the frozen base
        self.reward, self.critic = reward, critic
        self.model_args, self.adapter_args = model, adapter
        self.generation, self.ppo, self.shaping = generation, ppo, shaping
        self.val_seed = val_seed
        if model.malloc_mmap_threshold is not None:
            set_malloc_mmap_threshold(model.malloc_mmap_threshold)
        self.tokenizer = load_tokenizer(model.name_or_path)
        base = load_causal_lm(model.name_or_path, model.quantization, model.dtype)
        self.lm = PolicyValueModel(base, adapter, model.value_mode, model.activation_checkpointing)
        if hasattr(critic, "bind"):  # self-critique: the critic is this model with its adapters disabled
            critic.bind(self.lm, self.tokenizer, model.name_or_path)
        self.kl_ctl = (
            AdaptiveKLController(ppo.kl_coef, ppo.target_kl, ppo.kl_horizon)
            if ppo.adaptive_kl
            else FixedKLController(ppo.kl_coef)
        )
        self.prompts_consumed = 0
        self.samples_seen = 0
        self.iteration = 0
        self.skipped_updates = 0
        self.last_samples: list[dict] = []
        self.timer = PhaseTimer()
        self._critic_pool: ThreadPoolExecutor | None = None  # created on first use by an off-thread critic
        self.evaluator = Evaluator(evaluation, metrics)
        self._pending_rng: dict | None = None

    # ------------------------------------------------------------------ setup
    def configure_optimizers(self):
        return torch.optim.AdamW(self.lm.trainable_parameters(), lr=self.ppo.learning_rate)

    def configure_callbacks(self):
        from lit_critic_rl.callbacks import AdapterExport, RunSummary, SampleLog

        return [AdapterExport(), SampleLog(), RunSummary()]

    def setup(self, stage: str) -> None:
        if hasattr(self.critic, "use_default_cache_dir"):
            self.critic.use_default_cache_dir(self.trainer.default_root_dir)
        datamodule = getattr(self.trainer, "datamodule", None)
        if datamodule is not None and hasattr(datamodule, "all_prompts"):
            prompts = datamodule.all_prompts()
            self.check_prompt_lengths(prompts)
            score_samples(self.reward, prompts[:2], prompts[:2])  # a broken reward fails here, before training

    def check_prompt_lengths(self, prompts: list[str]) -> None:
        """Fail before training if a prompt plus ``max_new_tokens`` exceeds the model's context."""
        limit = getattr(self.lm.peft.config, "max_position_embeddings", None)
        if limit is None:
            return
        budget = limit - self.generation.max_new_tokens
        lengths = [len(ids) for ids in self.tokenizer(prompts)["input_ids"]]
        too_long = [i for i, n in enumerate(lengths) if n > budget]
        if too_long:
            i = too_long[0]
            raise ValueError(
                f"data: {len(too_long)} prompt(s) exceed the context ({limit} tokens) minus "
                f"generation.max_new_tokens ({self.generation.max_new_tokens}); first: #{i} with {lengths[i]} tokens"
            )

    # ---------------------------------------------------------------- rewards
    def start_critic(self, rollout: Rollout, scores: torch.Tensor) -> Callable[[], TokenRewards]:
        """Start the critic on ``rollout``; the returned function waits for its intrinsic token rewards.

        Critics that wait on I/O (``runs_off_thread``, e.g. the OpenAI backend) run in a background thread while the
        teacher-forced passes compute; the others run here (self-critique shares this model, so it must not overlap).
        """
        if self.critic is None:
            stats = critic_stats()
            mask = rollout.response_mask.cpu()
            empty = TokenRewards(torch.zeros_like(mask), torch.ones(len(rollout), dtype=torch.bool), stats)
            return lambda: empty

        def run() -> TokenRewards:
            start = time.perf_counter()
            out = critic_token_rewards(self.critic, rollout, scores, self.tokenizer, self.shaping)
            self.timer.add("critic", time.perf_counter() - start)
            return out

        if not getattr(self.critic, "runs_off_thread", False):
            result = run()
            return lambda: result
        if self._critic_pool is None:
            self._critic_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="critic")
        future = self._critic_pool.submit(run)

        def wait() -> TokenRewards:
            with self.timer("critic_wait"):
                return future.result()

        return wait

    def combine_rewards(self, rollout: Rollout, scores: torch.Tensor, intrinsic: TokenRewards) -> TokenRewards:
        """Extrinsic score on each response's last token plus the critic's intrinsic token rewards."""
        return TokenRewards(
            sparse_token_rewards(scores, rollout.response_mask.cpu()) + intrinsic.rewards,
            intrinsic.valid,
            {**intrinsic.stats, "reward_intrinsic": float(intrinsic.rewards.sum(1).mean())},
        )

    def score(self, rollout: Rollout) -> tuple[torch.Tensor, TokenRewards]:
        """Extrinsic scores ``[B]`` and the combined token rewards, computed synchronously."""
        with self.timer("reward"):
            scores = score_samples(self.reward, rollout.prompts, rollout.responses)
        return scores, self.combine_rewards(rollout, scores, self.start_critic(rollout, scores)())

    def advantages(self, rollout: Rollout, token_rewards: TokenRewards, out: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """KL-penalised token rewards -> GAE advantages (whitened) and returns; puts the KL into ``out["kl"]``."""
        mask = rollout.response_mask
        kl = kl_estimate(rollout.logprobs, rollout.ref_logprobs, self.ppo.kl_estimator) * mask
        rewards = kl_penalized_rewards(token_rewards.rewards.to(mask.device), kl, self.kl_ctl.value, mask)
        advantages, returns = gae(rewards, rollout.values, mask, self.ppo.gamma, self.ppo.lam)
        if self.ppo.whiten_advantages:
            advantages = masked_whiten(advantages, mask)
        out["kl"] = kl
        return advantages, returns

    def fuse_first_forward(self, n_samples: int) -> bool:
        ppo = self.ppo
        return ppo.fuse_first_forward and ppo.minibatch_size >= n_samples and self.adapter_args.dropout == 0

    # --------------------------------------------------------------- training
    def on_train_start(self) -> None:
        if self._pending_rng is not None:
            restore_rng(self._pending_rng)
            self._pending_rng = None
        elif self.iteration == 0:
            self.log_initial_validation()

    def log_initial_validation(self) -> None:
        """Log the validation metrics of the untrained policy at step 0, the baseline of every later validation."""
        datamodule = getattr(self.trainer, "datamodule", None)
        limit = self.trainer.limit_val_batches
        if datamodule is None or not limit:
            return
        loader = datamodule.val_dataloader()
        n_batches = limit if isinstance(limit, int) else math.ceil(limit * len(loader))
        self.evaluator.reset()
        for batch_idx, batch in zip(range(n_batches), loader):
            self.evaluator.step(self, batch, batch_idx)
        if self.evaluator.rewards:
            metrics = {f"val/{k}": v for k, v in self.evaluator.compute().items()}
            for logger in self.loggers:
                logger.log_metrics(metrics, step=0)

    def training_step(self, batch: list[str], batch_idx: int) -> None:
        prompts = [p for p in batch for _ in range(self.generation.samples_per_prompt)]
        self.lm.eval()
        with self.timer("generate"):
            rollout = sample(self.lm, self.tokenizer, prompts, self.generation)
        with self.timer("reward"):
            scores = score_samples(self.reward, rollout.prompts, rollout.responses)
        critic = self.start_critic(rollout, scores)
        fused = self.fuse_first_forward(len(rollout))
        with self.timer("teacher_forced"):
            score_rollout(self.lm, rollout, self.generation.temperature, self.ppo.scoring_chunk_size, policy=not fused)
        token_rewards = self.combine_rewards(rollout, scores, critic())
        extra: dict = {}
        with self.timer("update"):
            self.lm.train(self.adapter_args.dropout > 0)
            stats = ppo_update(self, rollout, lambda r: self.advantages(r, token_rewards, extra))
            self.lm.eval()
        kl, mask = extra["kl"], rollout.response_mask
        seq_kl = float(kl.sum(1).mean())
        kl_coef = self.kl_ctl.value
        self.kl_ctl.update(seq_kl, len(rollout))
        self.prompts_consumed += len(batch)
        self.samples_seen += len(rollout)
        self.iteration += 1
        self.skipped_updates += stats.pop("skipped_updates")
        metrics = {
            "train/reward_extrinsic": float(scores.mean()),
            "train/reward_intrinsic": token_rewards.stats.pop("reward_intrinsic"),
            "train/reward_total": float(token_rewards.rewards.sum(1).mean()),
            "train/kl": seq_kl,
            "train/kl_coef": kl_coef,
            "train/samples_seen": float(self.samples_seen),
            "train/iteration": float(self.iteration),
            "train/skipped_updates": float(self.skipped_updates),
            "train/response_len": float(mask.sum(1).mean()),
            **{f"train/{k}": v for k, v in stats.items()},
            **{f"train/{k}": v for k, v in token_rewards.stats.items()},
            **self.timer.pop(),
        }
        self.log_dict(metrics, on_step=True, on_epoch=False, batch_size=len(rollout))
        self.log("reward", metrics["train/reward_extrinsic"], prog_bar=True, logger=False, batch_size=len(rollout))
        self.last_samples = [
            {"iteration": self.iteration, "prompt": p, "response": r, "reward_extrinsic": float(s),
             "reward_total": float(t)}
            for p, r, s, t in zip(rollout.prompts, rollout.responses, scores, token_rewards.rewards.sum(1))
        ]

    # ------------------------------------------------------------- evaluation
    def on_validation_epoch_start(self) -> None:
        self.evaluator.reset()

    def on_test_epoch_start(self) -> None:
        self.evaluator.reset()

    def validation_step(self, batch: list[str], batch_idx: int) -> None:
        scores = self.evaluator.step(self, batch, batch_idx)
        self.log("val/reward", float(scores.mean()), on_epoch=True, batch_size=len(scores), prog_bar=True)

    def test_step(self, batch: list[str], batch_idx: int) -> None:
        self.evaluator.step(self, batch, batch_idx)

    def _log_evaluation(self, prefix: str) -> None:
        metrics = self.evaluator.compute()
        if prefix == "val":
            metrics.pop("reward")  # logged per step above, averaged by Lightning
        self.log_dict({f"{prefix}/{k}": v for k, v in metrics.items()}, on_epoch=True)
        if not self.trainer.sanity_checking:
            self.evaluator.write_samples(self.trainer.log_dir or self.trainer.default_root_dir, prefix, self.iteration)

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
        checkpoint["lit_critic_rl"] = {
            "kl_ctl": self.kl_ctl.state_dict(),
            "prompts_consumed": self.prompts_consumed,
            "samples_seen": self.samples_seen,
            "iteration": self.iteration,
            "skipped_updates": self.skipped_updates,
            "rng": capture_rng(),
            "critic_cache_path": getattr(self.critic, "cache_path", None),
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint.get("lit_critic_rl")
        if state is None:
            raise KeyError("checkpoint has no 'lit_critic_rl' section: it was not written by DenseRewardPPO")
        self.kl_ctl.load_state_dict(state["kl_ctl"])
        self.prompts_consumed, self.samples_seen = state["prompts_consumed"], state["samples_seen"]
        self.iteration, self.skipped_updates = state["iteration"], state["skipped_updates"]
        self._pending_rng = state["rng"]
        if getattr(self.critic, "cache_path", "unset") is None and state.get("critic_cache_path"):
            self.critic.cache_path = state["critic_cache_path"]  # keep using the run's cache after a resume


def capture_rng() -> dict:
    """RNG states as tensors, ints and tuples only (loadable with ``weights_only=True``)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)),
    }


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
