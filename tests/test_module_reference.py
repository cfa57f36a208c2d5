"""The reference pass runs only when something reads the KL (TRL's GRPOTrainer at ``beta`` 0 does none): which
objective settings need it, how often fit calls the reference, and that skipping it changes no update."""

import csv
import math

import lightning as L
import pytest
import torch

from lit_critic_rl.args import GenerationArgs, ModelArgs, PPOArgs
from lit_critic_rl.data import SentimentPrompts
from lit_critic_rl.module import DenseRewardPPO
from lit_critic_rl.objectives import (
    DrGRPOObjective,
    GRPOObjective,
    PPOObjective,
    REINFORCEPlusPlusObjective,
    RLMECObjective,
    RLOOObjective,
)
from lit_critic_rl.rl.objective import RunContext

FIXED_ZERO = {"kl_coef": 0.0, "adaptive_kl": False}  # model.ppo: beta fixed at 0, the controller reads no KL


def vowel_share(prompts: list[str], responses: list[str]) -> list[float]:
    return [sum(c in "aeiou" for c in r) / max(len(r), 1) for r in responses]


@pytest.mark.parametrize(
    ("objective", "kl_penalty", "needed"),
    [
        (GRPOObjective(), False, True),  # k3 KL 0.04 in the loss
        (GRPOObjective(kl_coef=0.0), True, False),  # no KL in the loss, none in its reward whatever the controller
        (DrGRPOObjective(), True, False),
        (RLOOObjective(kl_coef=0.1), False, True),
        (PPOObjective(), True, True),  # KL in the reward, and the controller weighs or tracks it
        (PPOObjective(), False, False),
        (REINFORCEPlusPlusObjective(), True, True),
        (REINFORCEPlusPlusObjective(), False, False),
        (RLMECObjective(), True, False),  # the KL was only logged
    ],
    ids=lambda x: type(x).__name__ if not isinstance(x, bool) else str(x),
)
def test_objective_needs_the_reference_only_when_its_loss_or_reward_reads_the_kl(objective, kl_penalty, needed):
    objective.connect(RunContext(samples_per_prompt=2, kl_penalty=kl_penalty))
    assert objective.needs_reference is needed


@pytest.mark.parametrize(
    ("ppo", "expected"),
    [({}, True), (FIXED_ZERO, False), ({"kl_coef": 0.0, "adaptive_kl": True}, True), ({"adaptive_kl": False}, True)],
)
def test_ppo_reads_the_reference_unless_beta_is_fixed_at_zero(tiny_model_path, ppo, expected):
    module = DenseRewardPPO(reward=vowel_share, model=ModelArgs(name_or_path=tiny_model_path), ppo=PPOArgs(**ppo))
    assert module.reference_pass is expected


def _fit(path, root, make_trainer, objective, samples_per_prompt=2, **ppo):
    """Two iterations of 4 prompts on the tiny model, with the reference counted; (calls, metric rows, module)."""
    L.seed_everything(0)
    module = DenseRewardPPO(
        reward=vowel_share,
        model=ModelArgs(name_or_path=path),
        generation=GenerationArgs(max_new_tokens=6, samples_per_prompt=samples_per_prompt),
        ppo=PPOArgs(epochs=2, minibatch_size=4, learning_rate=1e-2, **ppo),
        objective=objective,
    )
    module.configure_model()
    calls = []
    reference_logits = module.lm.reference_logits

    def counted(*args, **kwargs):
        calls.append(args[0].shape[0])
        return reference_logits(*args, **kwargs)

    module.lm.reference_logits = counted  # a probe: the real pass still runs when called
    make_trainer(root).fit(module, SentimentPrompts(batch_size=4, val_size=8))
    rows = [r for r in csv.DictReader((root / "csv" / "version_0" / "metrics.csv").open()) if r.get("train/iteration")]
    return calls, rows, module


def _logged(rows: list[dict]) -> set[str]:
    return {k for r in rows for k, v in r.items() if v}


@pytest.mark.parametrize(
    ("objective", "ppo", "calls"),
    [
        (DrGRPOObjective, {}, []),  # kl_coef 0 in the loss, no KL in the reward: no reference pass at all
        (DrGRPOObjective, {"log_kl": True}, [8, 8]),  # asked for: one pass of 4 prompts x 2 samples per iteration
        (lambda: GRPOObjective(kl_coef=0.04), {}, [8, 8]),
        (PPOObjective, FIXED_ZERO, []),
        (PPOObjective, {"kl_coef": 0.0, "adaptive_kl": True}, [8, 8]),  # an adaptive controller tracks the KL
    ],
    ids=["dr_grpo", "dr_grpo_log_kl", "grpo_kl", "ppo_fixed_0", "ppo_adaptive_0"],
)
def test_fit_calls_the_reference_only_when_the_kl_is_read(
    tiny_model_path, tmp_path, make_trainer, objective, ppo, calls
):
    seen, rows, module = _fit(tiny_model_path, tmp_path, make_trainer, objective(), **ppo)
    assert seen == calls
    assert len(rows) == 2 and all(math.isfinite(float(r["train/policy_loss"])) for r in rows)
    assert ("train/kl" in _logged(rows)) is bool(calls)  # absent, not a 0, when no KL was computed
    assert ("train/kl_coef" in _logged(rows)) is isinstance(module.objective, PPOObjective)
    if not calls:
        assert module.kl_ctl.value == ppo.get("kl_coef", 0.2)  # never updated from a missing KL


def test_skipping_the_reference_changes_no_update(tiny_model_path, tmp_path, make_trainer):
    """Dr. GRPO (kl_coef 0) with the reference pass (``log_kl``, the behaviour before it was skipped) and without
    it, same seed: the same adapters and the same logged losses after 2 iterations of 2 epochs."""
    runs = {}
    for log_kl in (True, False):
        calls, rows, module = _fit(
            tiny_model_path, tmp_path / str(log_kl), make_trainer, DrGRPOObjective(), log_kl=log_kl
        )
        weights = {k: v.clone() for k, v in module.trainable_state_dict().items()}
        losses = [float(r[k]) for r in rows for k in ("train/policy_loss", "train/entropy", "train/advantages_std")]
        runs[log_kl] = (len(calls), weights, losses)
    (with_calls, with_w, with_losses), (without_calls, without_w, without_losses) = runs[True], runs[False]
    assert (with_calls, without_calls) == (2, 0)
    assert without_losses == with_losses and len(with_losses) == 6
    for name in with_w:
        assert torch.equal(without_w[name], with_w[name]), name
