"""RLMEC's objective on the update seam, on the tiny model: the advantage stage passes the token rewards through,
the update raises the rewarded tokens' log-probs, imitation pulls towards the rewrite, and no value pass runs."""

import csv
from dataclasses import replace

import lightning as L
import pytest
import torch

from lit_critic_rl.args import AdapterArgs, GenerationArgs, ModelArgs, PPOArgs, ShapingArgs
from lit_critic_rl.data import SentimentPrompts
from lit_critic_rl.models.loading import load_causal_lm, load_tokenizer
from lit_critic_rl.models.policy import PolicyValueModel
from lit_critic_rl.module import DenseRewardPPO
from lit_critic_rl.ppo.rollout import sample, teacher_force
from lit_critic_rl.rl.kl import rollout_kl
from lit_critic_rl.rl.logprobs import token_logprobs
from lit_critic_rl.rl.loop import UpdateLoop
from lit_critic_rl.rl.update import AccumulationGroups, OptimizerStepper, group_tokens
from lit_critic_rl.rlmec.objective import RLMECObjective
from lit_critic_rl.rlmec.ratio import with_sampler_logprobs
from lit_critic_rl.types import TokenRewards

UPDATE = PPOArgs(learning_rate=1e-2, epochs=1, minibatch_size=4)


def _setup(path):
    torch.manual_seed(0)
    lm = PolicyValueModel(load_causal_lm(path), AdapterArgs(r=4, alpha=8), "separate_adapter").eval()
    tokenizer = load_tokenizer(path)
    rollout = sample(
        lm, tokenizer, ["The film", "I watched", "My brother", "A quiet"], GenerationArgs(max_new_tokens=5)
    )
    objective = RLMECObjective()
    rollout = with_sampler_logprobs(teacher_force(lm, rollout, 1.0, 8, values=objective.needs_values), None)
    optimizer = torch.optim.AdamW(lm.trainable_parameters(), lr=1e-2)
    return lm, rollout, objective, optimizer


def _policy_logp(lm, rollout, ids=None, mask=None):
    ids = rollout.response_ids if ids is None else ids
    mask = rollout.response_mask if mask is None else mask
    with torch.no_grad():
        out = lm.policy_forward(
            torch.cat([rollout.query_ids, ids], 1), torch.cat([rollout.query_mask, mask.long()], 1), ids.shape[1]
        )
        return token_logprobs(out.logits, ids) * mask


def test_advantages_are_the_token_rewards_without_kl_penalty_or_gae(tiny_model_path):
    lm, rollout, objective, _ = _setup(tiny_model_path)
    assert rollout.values is None  # no value pass was run
    mask = rollout.response_mask
    extrinsic = torch.zeros_like(mask)
    intrinsic = torch.full_like(mask, 0.25)
    adv = objective.advantages(rollout, TokenRewards(extrinsic, intrinsic), rollout_kl(rollout), kl_coef=0.7)
    torch.testing.assert_close(adv.advantages, 0.25 * mask)  # kl_coef is not applied
    assert adv.returns is None  # no value function: no value targets to log
    torch.testing.assert_close(adv.kl, (rollout.logprobs - rollout.ref_logprobs) * mask)


def test_update_raises_the_rewarded_tokens_and_leaves_the_value_adapter_alone(tiny_model_path):
    lm, rollout, objective, optimizer = _setup(tiny_model_path)
    mask = rollout.response_mask
    rewards = torch.zeros_like(mask)
    rewards[:, 0] = 0.5  # reward only each response's first token
    adv = objective.advantages(rollout, TokenRewards(torch.zeros_like(mask), rewards), rollout_kl(rollout), 0.0)
    value = {n: p.detach().clone() for n, p in lm.named_parameters() if "lora_B.value" in n}
    before = _policy_logp(lm, rollout)[:, 0].sum()
    stats = UpdateLoop(UPDATE).run(objective, lm, OptimizerStepper(optimizer), rollout, adv)
    assert _policy_logp(lm, rollout)[:, 0].sum() > before
    assert stats["rewarded_tokens"] == 4 and stats["imitation_tokens"] == 0
    assert all(torch.equal(value[n], p) for n, p in lm.named_parameters() if n in value)


def test_imitation_pulls_the_policy_towards_the_rewrite(tiny_model_path):
    lm, rollout, objective, optimizer = _setup(tiny_model_path)
    mask = rollout.response_mask
    target = torch.roll(rollout.response_ids, 1, dims=0)  # another row's response as the "rewrite"
    target_mask = torch.roll(mask, 1, dims=0)
    rollout = replace(rollout, target_ids=target, target_mask=target_mask, imitation_weights=0.5 * target_mask)
    zero = TokenRewards(torch.zeros_like(mask), torch.zeros_like(mask))
    adv = objective.advantages(rollout, zero, rollout_kl(rollout), 0.0)
    before = _policy_logp(lm, rollout, target, target_mask).sum()
    stats = UpdateLoop(UPDATE).run(objective, lm, OptimizerStepper(optimizer), rollout, adv)
    assert _policy_logp(lm, rollout, target, target_mask).sum() > before
    assert stats["rewarded_tokens"] == 0 and stats["policy_loss"] == 0.0
    assert stats["imitation_tokens"] == float(target_mask.sum()) and stats["imitation_loss"] > 0


def test_fit_with_the_rlmec_objective_logs_its_statistics(tiny_model_path, tmp_path, make_trainer):
    L.seed_everything(0)
    module = DenseRewardPPO(
        reward=lambda p, r: [sum(c in "aeiou" for c in x) / max(len(x), 1) for x in r],
        model=ModelArgs(name_or_path=tiny_model_path),
        generation=GenerationArgs(max_new_tokens=6),
        ppo=PPOArgs(epochs=1, minibatch_size=4),
        objective=RLMECObjective(),
        shaping=ShapingArgs(),
    )
    make_trainer(tmp_path).fit(module, SentimentPrompts(batch_size=4, val_size=8))
    rows = [
        r for r in csv.DictReader((tmp_path / "csv" / "version_0" / "metrics.csv").open()) if r.get("train/iteration")
    ]
    assert len(rows) == 2
    assert {"train/policy_loss", "train/imitation_tokens", "train/rewarded_tokens"} <= set(rows[0])
    # nothing of RLMEC reads the reference: no reference pass, so no KL (nor the unused controller's beta)
    assert not {"train/kl", "train/kl_coef"} & {k for k, v in rows[0].items() if v}
    assert not {"train/value_loss", "train/returns_mean", "train/returns_std"} & set(rows[0])  # no value function


def test_arith_rlmec_online_yaml_fits_and_counts_every_rewrite(tiny_model_path, tmp_path, monkeypatch):
    from pathlib import Path

    from lit_critic_rl.cli import main

    configs = Path(__file__).resolve().parents[2] / "configs"
    monkeypatch.chdir(tmp_path)
    experiment = str(configs / "experiment" / "arith_rlmec_online.yaml")
    main([
        "fit", "--config", str(configs / "quickstart.yaml"), "--config", experiment,
        "--config", str(configs / "debug" / "fast.yaml"), "--model.model.name_or_path", tiny_model_path,
        "--trainer.limit_val_batches", "0",
    ])  # fmt: skip
    metrics = next((tmp_path / "runs" / "quickstart").rglob("metrics.csv"))
    rows = [r for r in csv.DictReader(metrics.open()) if r.get("train/iteration")]
    assert len(rows) == 2
    # the tiny model's 6 tokens of gibberish hold no step lines, so the YAML's ArithmeticRewriter fails on each of
    # the 4 samples: every failure is counted (not dropped), and none passes as a rewrite
    assert [(float(r["train/rewrite_failures"]), float(r["train/rewrites"])) for r in rows] == [(4.0, 0.0)] * 2
    assert [float(r["train/ratio_mean"]) for r in rows] == [1.0, 1.0]  # every fresh round starts at 1


def test_arith_rlmec_offline_yaml_fits_the_papers_recipe(tiny_model_path, tmp_path, monkeypatch):
    """The paper's offline round: a teacher-data file without log-probs (the base's are computed once), the GRM's
    token rewards only, and the GRM's own rewrites as imitation targets (each rewrite or failure counted)."""
    import json
    from pathlib import Path

    from lit_critic_rl.cli import main
    from tests.test_cli import untrained_grm_adapter

    configs = Path(__file__).resolve().parents[2] / "configs"
    monkeypatch.chdir(tmp_path)
    prompt = "Problem: Start with 3. Add 4. Multiply by 2. What is the result?\n"
    rows = [{"prompt": prompt, "response": "Step 1: 3 + 4 = 7\nThe answer is 7", "ok": True, "first_error_step": 2,
             "rewrite": "Step 1: 3 + 4 = 7\nStep 2: 7 * 2 = 14\nThe answer is 14"}] * 8  # fmt: skip
    Path("teacher.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    main([
        "fit", "--config", str(configs / "quickstart.yaml"),
        "--config", str(configs / "experiment" / "arith_rlmec_online.yaml"),
        "--config", str(configs / "experiment" / "arith_rlmec_offline.yaml"),
        "--model.model.name_or_path", tiny_model_path,
        "--model.critic.init_args.adapter_path", untrained_grm_adapter(tiny_model_path, tmp_path),
        "--data.init_args.rollout_file", "teacher.jsonl", "--data.init_args.batch_size", "4",
        "--trainer.limit_val_batches", "0", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2",
        "--model.generation.max_new_tokens", "4", "--model.ppo.minibatch_size", "4",
    ])  # fmt: skip
    metrics = next((tmp_path / "runs" / "quickstart").rglob("metrics.csv"))
    rows = [r for r in csv.DictReader(metrics.open()) if r.get("train/iteration")]
    assert len(rows) == 2
    assert all(float(r["train/reward_extrinsic"]) == 0.0 for r in rows)  # extrinsic_weight 0: the GRM's only
    # the base sampled the file and the policy starts as the base: the first ratio is 1 (up to float rounding)
    assert float(rows[0]["train/ratio_mean"]) == pytest.approx(1.0, abs=1e-5)
    assert all(float(r["train/rewrites"]) + float(r["train/grm_rewrite_failures"]) == 4 for r in rows)


def test_a_rewriter_without_the_rlmec_objective_is_refused_before_loading():
    import pytest

    from lit_critic_rl.rlmec.rewriter import ArithmeticRewriter

    # refused before the missing model is noticed
    with pytest.raises(ValueError, match="model.rewriter .* \\(RLMEC\\), not PPOObjective"):
        DenseRewardPPO(reward=lambda p, r: [0.0] * len(r), rewriter=ArithmeticRewriter(),
                       model=ModelArgs(name_or_path="./no/such/model"))  # fmt: skip


def test_one_temperature_for_the_ratio_the_policy_loss_and_the_imitation_loss(tiny_model_path):
    import pytest

    from lit_critic_rl.rl.objective import RunContext

    lm, rollout, _, _ = _setup(tiny_model_path)
    raw, tempered = RLMECObjective(), RLMECObjective(logprob_temperature="sampling")
    for objective in (raw, tempered):
        objective.connect(RunContext(temperature=0.5))
    assert (raw.loss_temperature, tempered.loss_temperature) == (1.0, 0.5)  # raw logits unless named
    mask = rollout.response_mask
    rollout = replace(rollout, target_ids=rollout.response_ids, target_mask=mask, imitation_weights=0.5 * mask)
    zero = TokenRewards(torch.zeros_like(mask), torch.zeros_like(mask))
    idx = torch.arange(len(rollout))
    with torch.no_grad():
        logits = lm.policy_forward(rollout.input_ids, rollout.attention_mask, rollout.response_len).logits
    for objective, t in ((raw, 1.0), (tempered, 0.5)):
        adv = objective.advantages(rollout, zero, rollout_kl(rollout), 0.0)
        policy = UpdateLoop(UPDATE).forward(objective, lm, rollout, idx)
        # the update's log-probs are at T: log softmax(z / T) at the sampled ids
        expected = torch.log_softmax(logits / t, -1).gather(-1, rollout.response_ids[..., None])[..., 0]
        torch.testing.assert_close(policy.logprobs.detach() * mask, expected * mask, atol=1e-5, rtol=1e-5)
        # the whole batch as one minibatch of its own accumulation group (its step is never taken)
        group = AccumulationGroups(OptimizerStepper(torch.optim.SGD(lm.trainable_parameters(), lr=0.0)))
        group.start(1, group_tokens([objective.token_counts(rollout, adv, idx)]))
        stats = objective.minibatch_loss(lm, rollout, adv, idx, policy, group)
        # L_IR = -sum(0.5 * logp_T) / #{w != 0}, with the same T
        by_hand = -(0.5 * expected * mask).sum() / mask.sum()
        assert float(stats["imitation_loss"]) == pytest.approx(float(by_hand), rel=1e-4)
    with pytest.raises(ValueError, match="logprob_temperature must be 'raw' or 'sampling'"):
        RLMECObjective(logprob_temperature="T=1")
