"""RLMEC's importance ratio: against the policy that sampled the round, at one temperature."""

import math

import pytest
import torch

from lit_critic_rl.args import AdapterArgs, GenerationArgs
from lit_critic_rl.data.replay import replay_records, replayed_logprobs, replayed_rollout
from lit_critic_rl.models.loading import load_causal_lm
from lit_critic_rl.models.policy import PolicyValueModel
from lit_critic_rl.ppo.rollout import sample
from lit_critic_rl.rl.logprobs import token_logprobs
from lit_critic_rl.rlmec.losses import rlmec_policy_loss
from lit_critic_rl.rlmec.ratio import importance_ratio, logprob_temperature, sampler_logprobs
from lit_critic_rl.rlmec.rounds import SampleRounds


def test_importance_ratio_by_hand_and_one_on_padding():
    # policy [0.5, 0.2, 0.3] over sampler [0.25, 0.4, 0.9]: rho = [2, 0.5, 1/3]; the last token is padding -> 1
    logp = torch.log(torch.tensor([[0.5, 0.2, 0.3]], dtype=torch.float64))
    sampler = torch.log(torch.tensor([[0.25, 0.4, 0.9]], dtype=torch.float64))
    rho = importance_ratio(logp, sampler, torch.tensor([[1, 1, 0]]))
    torch.testing.assert_close(rho, torch.tensor([[2.0, 0.5, 1.0]], dtype=torch.float64))
    assert importance_ratio(logp, sampler)[0, 2].item() == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="shape"):
        importance_ratio(logp, sampler[:, :2])


def test_logprob_temperature_is_raw_logits_unless_named():
    assert logprob_temperature("raw", 0.7) == 1.0
    assert logprob_temperature("sampling", 0.7) == 0.7
    with pytest.raises(ValueError, match="'raw' or 'sampling'"):
        logprob_temperature("T", 0.7)


def _policy(tiny_model_path) -> PolicyValueModel:
    torch.manual_seed(0)
    return PolicyValueModel(load_causal_lm(tiny_model_path), AdapterArgs(r=4, alpha=8))


def _round(lm, tokenizer, seed):
    torch.manual_seed(seed)
    gen = GenerationArgs(max_new_tokens=6, temperature=0.7)
    return sample(lm.eval(), tokenizer, ["Start with 3. Add 4.", "Start with 9. Take 2."] * 2, gen)


def _logp_now(lm, rollout, temperature=1.0):
    """The update's forward: the policy adapter on the whole round, with grad."""
    out = lm.policy_forward(rollout.input_ids, rollout.attention_mask, rollout.response_len)
    return token_logprobs(out.logits, rollout.response_ids, temperature) * rollout.response_mask


def test_after_k_updates_the_ratio_on_a_fresh_round_starts_at_exactly_one(tiny_model_path, tiny_tokenizer):
    lm = _policy(tiny_model_path)
    optimizer = torch.optim.SGD(lm.trainable_parameters(), lr=0.5)
    for k in range(3):  # k = 3 updates, each on its own fresh round, ratio against that round's sampler
        rollout = _round(lm, tiny_tokenizer, seed=k)
        sampler = sampler_logprobs(lm, rollout, temperature=1.0, chunk_size=len(rollout))
        rewards = torch.full(rollout.response_ids.shape, -0.1) * rollout.response_mask
        loss = rlmec_policy_loss(_logp_now(lm, rollout), sampler, rewards, rollout.response_mask).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    fresh = _round(lm, tiny_tokenizer, seed=99)
    mask = fresh.response_mask
    sampler = sampler_logprobs(lm, fresh, temperature=1.0, chunk_size=len(fresh))
    with torch.no_grad():
        rho = importance_ratio(_logp_now(lm, fresh), sampler, mask)
    assert torch.equal(rho, torch.ones_like(rho))  # exactly 1: the sampler is the policy being trained
    # the ratio to the adapters-off base, which the old code used, has drifted after the updates
    base = sampler_logprobs(lm, fresh, temperature=1.0, chunk_size=len(fresh), reference=True)
    drift = (importance_ratio(sampler, base, mask) - 1).abs().max().item()
    assert drift > 1e-3


def test_a_replayed_round_keeps_the_samplers_logprobs_through_a_checkpoint(tiny_model_path, tiny_tokenizer):
    lm = _policy(tiny_model_path)
    rollout = _round(lm, tiny_tokenizer, seed=1)
    sampler = sampler_logprobs(lm, rollout, temperature=1.0, chunk_size=len(rollout))
    rounds = SampleRounds(every=2)
    rounds.keep(rollout, None, sampler)
    restored = SampleRounds(every=2)
    restored.load_state_dict(rounds.state_dict())
    replayed, _ = replayed_rollout(restored.records, tiny_tokenizer, "cpu")
    assert torch.equal(replayed.response_mask, rollout.response_mask[:, : replayed.response_len])
    width = replayed.response_len  # the sampled ids, exactly, EOS included; no re-tokenization
    assert torch.equal(replayed.response_ids, rollout.response_ids[:, :width])
    torch.testing.assert_close(replayed_logprobs(restored.records, replayed), sampler[:, :width])


def test_sampling_temperature_is_a_named_departure(tiny_model_path, tiny_tokenizer):
    lm = _policy(tiny_model_path)
    rollout = _round(lm, tiny_tokenizer, seed=2)
    raw = sampler_logprobs(lm, rollout, logprob_temperature("raw", 0.7), chunk_size=len(rollout))
    tempered = sampler_logprobs(lm, rollout, logprob_temperature("sampling", 0.7), chunk_size=len(rollout))
    with torch.no_grad():
        logits = lm.policy_forward(rollout.input_ids, rollout.attention_mask, rollout.response_len).logits
    # by hand for the first token of row 0: log softmax(z / 0.7) at the sampled id
    z, y = logits[0, 0].double(), int(rollout.response_ids[0, 0])
    expected = (z / 0.7)[y] - torch.logsumexp(z / 0.7, dim=0)
    assert tempered[0, 0].item() == pytest.approx(expected.item(), abs=1e-4)
    assert raw[0, 0].item() == pytest.approx((z[y] - torch.logsumexp(z, 0)).item(), abs=1e-4)
    assert not math.isclose(raw[0, 0].item(), tempered[0, 0].item())


def test_replay_records_carry_one_logprob_per_sampled_id(tiny_model_path, tiny_tokenizer):
    lm = _policy(tiny_model_path)
    rollout = _round(lm, tiny_tokenizer, seed=3)
    sampler = sampler_logprobs(lm, rollout, chunk_size=len(rollout))
    records = replay_records(rollout, sampler)
    for b, record in enumerate(records):
        n = int(rollout.response_mask[b].sum())
        assert record["response_ids"] == rollout.response_ids[b, :n].tolist()
        assert len(record["logprobs"]) == n and record["logprobs"] == pytest.approx(sampler[b, :n].tolist())


def _fit(tiny_model_path, tmp_path, data, regenerate_every=1, epochs=1, version=0):
    import csv

    import lightning as L
    from lightning.pytorch.loggers import CSVLogger

    from lit_critic_rl.args import ModelArgs, PPOArgs
    from lit_critic_rl.module import DenseRewardPPO
    from lit_critic_rl.objectives import RLMECObjective

    L.seed_everything(0)
    module = DenseRewardPPO(
        reward=lambda p, r: [sum(c in "aeiou" for c in x) / max(len(x), 1) - 0.5 for x in r],
        model=ModelArgs(name_or_path=tiny_model_path),
        generation=GenerationArgs(max_new_tokens=6, temperature=0.7),  # log-probs at the raw logits all the same
        ppo=PPOArgs(  # log_kl: RLMEC reads no reference; the KL logs how far the policy moved from the base
            learning_rate=5e-2, epochs=epochs, minibatch_size=4, regenerate_every=regenerate_every, log_kl=True
        ),
        objective=RLMECObjective(imitation_target="teacher"),  # no GRM here; and no rewriter: no imitation
    )
    trainer = L.Trainer(
        max_epochs=1, limit_train_batches=3, limit_val_batches=0, num_sanity_val_steps=0,
        default_root_dir=str(tmp_path), logger=CSVLogger(str(tmp_path), name="csv", version=version),
        enable_progress_bar=False, enable_model_summary=False, log_every_n_steps=1,
    )  # fmt: skip
    trainer.fit(module, data)
    path = tmp_path / "csv" / f"version_{version}" / "metrics.csv"
    return [r for r in csv.DictReader(path.open()) if r.get("train/iteration")]


def test_online_fit_takes_the_ratio_against_the_sampler_so_each_fresh_round_starts_at_one(tiny_model_path, tmp_path):
    from lit_critic_rl.data import SentimentPrompts

    rows = _fit(tiny_model_path, tmp_path, SentimentPrompts(batch_size=4, val_size=8))
    # one epoch of one minibatch: the only pass is the sampler's own, so rho is exactly 1 in every iteration, also
    # after the policy moved (against the adapters-off base it would not be, after the first update)
    assert [float(r["train/ratio_mean"]) for r in rows] == [1.0, 1.0, 1.0]
    assert float(rows[-1]["train/kl"]) != 0.0  # the policy did move away from the base


def test_a_replayed_round_is_weighed_against_its_kept_sampler_logprobs(tiny_model_path, tmp_path):
    from lit_critic_rl.data import SentimentPrompts

    rows = _fit(tiny_model_path, tmp_path, SentimentPrompts(batch_size=4, val_size=8), regenerate_every=2)
    ratios = [float(r["train/ratio_mean"]) for r in rows]
    # iteration 1 samples (rho = 1), iteration 2 replays that round after one update (rho moved, but is finite and
    # near 1: the kept log-probs are the sampler's), iteration 3 samples again (rho = 1)
    assert ratios[0] == 1.0 and ratios[2] == 1.0
    assert ratios[1] != 1.0 and math.isfinite(ratios[1]) and abs(ratios[1] - 1.0) < 0.5


def test_an_offline_file_without_logprobs_is_refused_unless_the_base_sampled_it(tiny_model_path, tmp_path):
    import json

    from lit_critic_rl.data.arithmetic import ArithmeticPrompts
    from lit_critic_rl.data.replay import RolloutReplay

    path = tmp_path / "round.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"Start with {n}.", "response": "Step 1"}) + "\n" for n in range(4)))
    evals = ArithmeticPrompts(train_size=8, val_size=4, test_size=4)
    with pytest.raises(ValueError, match=r"rollout_file: '.*round.jsonl' has 4 record\(s\) without .*response_ids"):
        _fit(tiny_model_path, tmp_path, RolloutReplay(str(path), evals, batch_size=4))
    data = RolloutReplay(str(path), evals, batch_size=4, missing_logprobs="base")
    rows = _fit(tiny_model_path, tmp_path, data, version=1)
    assert float(rows[0]["train/ratio_mean"]) == pytest.approx(1.0, abs=1e-5)  # the base sampled it; none moved yet
    assert all("logprobs" in r for r in data.records)
    with pytest.raises(ValueError, match="missing_logprobs must be 'base' or 'error'"):
        RolloutReplay(str(path), evals, missing_logprobs="policy")
