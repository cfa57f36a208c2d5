"""Evaluation on held-out prompts: k samples per prompt with a fixed sampling seed per batch, decoded with
``EvalArgs.generation`` (or the training decoding when it is None), then mean reward, distinct-1/2/3, perplexity of
the responses under a scoring LM, the task's own metrics, and a jsonl file of the samples.

Distinct-n and perplexity follow the dense-reward paper's definitions unless ``EvalArgs`` asks for the corpus /
token-weighted ones (``lit_critic_rl.metrics``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from lit_critic_rl.args import EvalArgs, GenerationArgs
from lit_critic_rl.metrics.distinct import DistinctN
from lit_critic_rl.metrics.perplexity import Perplexity
from lit_critic_rl.metrics.task import TaskMetrics
from lit_critic_rl.models.policy import position_ids_from_mask
from lit_critic_rl.ppo.rollout import sample
from lit_critic_rl.rewards.base import score_samples
from lit_critic_rl.types import Rollout


def perplexity_targets(response_ids: torch.Tensor, response_mask: torch.Tensor) -> torch.Tensor:
    """Response ids with padding after EOS set to -100, the index ``Perplexity.update`` ignores."""
    return response_ids.masked_fill(response_mask == 0, -100)


class _Holder:
    """Keeps a separately loaded scoring LM out of the LightningModule's submodules (and so out of checkpoints)."""

    def __init__(self, model) -> None:
        self.model = model


class Evaluator:
    """One validate/test pass: ``reset``, ``step`` per batch of held-out prompts, ``compute`` the metrics,
    ``write_samples``."""

    def __init__(self, args: EvalArgs, metrics: TaskMetrics | None) -> None:
        self.args, self.metrics = args, metrics or TaskMetrics()
        self.distinct = DistinctN(3, args.distinct_mode)
        self.perplexity = Perplexity(args.perplexity_mode, args.max_perplexity)
        self._scorer: _Holder | None = None
        self.reset()

    def reset(self) -> None:
        self.rewards: list[float] = []
        self.samples: list[dict] = []
        self.distinct.reset()
        self.perplexity.reset()
        self.metrics.reset()

    def _scoring_logits(self, module, rollout: Rollout) -> torch.Tensor:
        T = rollout.response_len
        if self.args.scoring_model is None:
            return module.lm.reference_logits(rollout.input_ids, rollout.attention_mask, T)
        if self._scorer is None:
            from lit_critic_rl.models.loading import load_causal_lm

            field = "model.evaluation.scoring_model"
            self._scorer = _Holder(load_causal_lm(self.args.scoring_model, field=field).eval())
        # the scoring LM must share the policy's tokenizer: the ids are the policy's
        attn = rollout.attention_mask
        out = self._scorer.model(
            input_ids=rollout.input_ids,
            attention_mask=attn,
            position_ids=position_ids_from_mask(attn),
            logits_to_keep=T + 1,
        )
        return out.logits[:, :-1]

    def decoding(self, module) -> GenerationArgs:
        """The evaluation's decoding settings: ``EvalArgs.generation``, else the module's training decoding."""
        return self.args.generation if self.args.generation is not None else module.generation

    @torch.inference_mode()
    def step(self, module, batch: list[str], batch_idx: int) -> torch.Tensor:
        prompts = [p for p in batch for _ in range(self.args.samples_per_prompt)]
        module.lm.eval()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(module.val_seed + batch_idx)
            rollout = sample(module.lm, module.tokenizer, prompts, self.decoding(module))
        scores = score_samples(module.reward, rollout.prompts, rollout.responses)
        targets = perplexity_targets(rollout.response_ids, rollout.response_mask)
        self.perplexity.update(self._scoring_logits(module, rollout), targets)
        self.distinct.update(rollout.responses, rollout.prompts)
        self.metrics.update(rollout.prompts, rollout.responses, scores.tolist())
        self.rewards += scores.tolist()
        self.samples += [
            {"prompt": p, "response": r, "reward": float(s)}
            for p, r, s in zip(rollout.prompts, rollout.responses, scores)
        ]
        return scores

    def run(self, module, loader, limit: int | float) -> dict[str, float]:
        """Evaluate the first ``limit`` batches of ``loader`` (a count, or a fraction of its length, as Lightning's
        ``limit_val_batches``) outside Lightning's loop; the ``val/`` metrics, empty when nothing was evaluated."""
        n_batches = limit if isinstance(limit, int) else math.ceil(limit * len(loader))
        self.reset()
        for batch_idx, batch in zip(range(n_batches), loader):
            self.step(module, batch, batch_idx)
        return {f"val/{k}": v for k, v in self.compute().items()} if self.rewards else {}

    def compute(self) -> dict[str, float]:
        out = {"reward": sum(self.rewards) / max(len(self.rewards), 1), "perplexity": float(self.perplexity.compute())}
        out.update(self.distinct.compute())
        out.update(self.metrics.compute())
        return out

    def write_samples(self, folder: str | Path, prefix: str, iteration: int) -> None:
        if not self.args.write_samples or not self.samples:
            return
        path = Path(folder) / f"{prefix}_samples.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as f:
            for row in self.samples:
                f.write(json.dumps({"iteration": iteration, **row}) + "\n")
