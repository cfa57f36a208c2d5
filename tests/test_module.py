"""End-to-end PPO on the tiny model: training, logging, checkpoints and resume, adapter export, bad rewards."""

import csv
import json

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from lit_critic_rl.args import GenerationArgs, ModelArgs, PPOArgs
from lit_critic_rl.data import SentimentPrompts
from lit_critic_rl.module import DenseRewardPPO
from lit_critic_rl.ppo.rollout import sample
from lit_critic_rl.rewards import RewardError

REQUIRED_METRICS = [
    "train/reward_extrinsic",
    "train/reward_intrinsic",
    "train/reward_total",
    "train/kl",
    "train/kl_coef",
    "train/policy_loss",
    "train/value_loss",
    "train/clipfrac",
    "train/entropy",
    "train/samples_seen",
    "train/critic_failures",
    "val/reward",
]


def vowel_share(prompts: list[str], responses: list[str]) -> list[float]:
    """A reward that varies on the tiny model's gibberish (VADER scores it all 0, which gives zero advantages)."""
    return [sum(c in "aeiou" for c in r) / max(len(r), 1) for r in responses]


def make_module(path, reward=None, value_mode="separate_adapter", **ppo):
    ppo = {"epochs": 2, "minibatch_size": 4, "learning_rate": 1e-2, **ppo}
    module = DenseRewardPPO(
        reward=reward or vowel_share,
        model=ModelArgs(name_or_path=path, value_mode=value_mode),
        generation=GenerationArgs(max_new_tokens=6),
        ppo=PPOArgs(**ppo),
    )
    module.configure_model()  # what fit does first; here so tests can read the adapters before training
    return module


def trainable(module):
    return {k: v.clone() for k, v in module.trainable_state_dict().items()}


def test_fit_logs_required_metrics_samples_and_updates_adapters(tiny_model_path, tmp_path, make_trainer):
    L.seed_everything(0)
    module = make_module(tiny_model_path)
    before = trainable(module)
    trainer = make_trainer(tmp_path, limit_train_batches=3, limit_val_batches=1)
    trainer.fit(module, SentimentPrompts(batch_size=4, val_size=8, val_batch_size=4))
    run = tmp_path / "csv" / "version_0"
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    columns = set(rows[0])
    assert not [m for m in REQUIRED_METRICS if m not in columns]
    phases = {"generate", "reward", "teacher_forced", "update", "update_backward", "update_optimizer"}
    assert {f"perf/{p}_s" for p in phases} <= set(columns)
    seen = [float(r["train/samples_seen"]) for r in rows if r.get("train/samples_seen")]
    assert seen == [4.0, 8.0, 12.0]
    val = [(int(r["step"]), float(r["val/reward"])) for r in rows if r.get("val/reward")]
    assert len(val) == 2 and val[0][0] == 0  # the untrained policy's baseline, then the end of the epoch
    samples = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 12 and {"prompt", "response", "reward_extrinsic", "reward_total"} <= set(samples[0])
    after = module.trainable_state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_exported_policy_adapter_loads_with_plain_peft(tiny_model_path, tmp_path, make_trainer):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    L.seed_everything(0)
    module = make_module(tiny_model_path)
    make_trainer(tmp_path, limit_val_batches=1).fit(module, SentimentPrompts(batch_size=4, val_size=8))
    folder = tmp_path / "csv" / "version_0" / "adapters"
    plain = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_path), folder / "policy").eval()
    ids = module.tokenizer(["The film opens with a long shot"], return_tensors="pt")
    with torch.no_grad():
        ours = module.lm.policy_forward(ids["input_ids"], ids["attention_mask"], 3).logits
        theirs = plain(**ids).logits[:, -4:-1]
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(theirs, module.lm.reference_logits(ids["input_ids"], ids["attention_mask"], 3))
    assert (folder / "value" / "adapter_model.safetensors").is_file() and (folder / "value_head.pt").is_file()


def test_checkpoint_holds_adapters_and_state_but_not_the_base(tiny_model_path, tmp_path, make_trainer):
    L.seed_everything(0)
    module = make_module(tiny_model_path)
    ckpt = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    make_trainer(tmp_path, limit_val_batches=1, callbacks=[ckpt]).fit(module, SentimentPrompts(batch_size=4))
    state = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=False)
    keys = set(state["state_dict"])
    assert keys and all("lora_" in k or k.startswith("lm.value_head") for k in keys)
    extra = state["lit_critic_rl"]
    assert extra["prompts_consumed"] == 8 and extra["iteration"] == 2 and "value" in extra["kl_ctl"]
    assert state["optimizer_states"]


def test_resume_mid_epoch_matches_an_uninterrupted_run(tiny_model_path, tmp_path, make_trainer):
    """3 iterations, checkpoint, resume for the 4th == 4 uninterrupted iterations (same prompts, same weights)."""
    dm_args = dict(batch_size=4, val_size=8)
    kw = dict(limit_train_batches=4)

    L.seed_everything(0)
    straight = make_module(tiny_model_path, epochs=1)  # epochs 1 and minibatch = batch: one optimizer step / iteration
    make_trainer(tmp_path / "a", **kw).fit(straight, SentimentPrompts(**dm_args))

    L.seed_everything(0)
    first = make_module(tiny_model_path, epochs=1)
    ckpt = ModelCheckpoint(dirpath=tmp_path / "b" / "ckpt", save_last=True, every_n_train_steps=1)
    make_trainer(tmp_path / "b", max_steps=3, callbacks=[ckpt], **kw).fit(first, SentimentPrompts(**dm_args))
    L.seed_everything(123)  # the resumed run must not depend on the seed at restart
    resumed = make_module(tiny_model_path, epochs=1)
    make_trainer(tmp_path / "c", **kw).fit(
        resumed, SentimentPrompts(**dm_args), ckpt_path=str(tmp_path / "b" / "ckpt" / "last.ckpt")
    )

    def prompts(root):
        return [
            json.loads(x)["prompt"] for x in (root / "csv" / "version_0" / "samples.jsonl").read_text().split("\n") if x
        ]

    assert prompts(tmp_path / "b") + prompts(tmp_path / "c") == prompts(tmp_path / "a")
    assert resumed.iteration == straight.iteration == 4
    a, c = straight.trainable_state_dict(), resumed.trainable_state_dict()
    for k in a:
        torch.testing.assert_close(c[k], a[k])
    assert resumed.kl_ctl.value == pytest.approx(straight.kl_ctl.value)


def test_non_finite_loss_skips_the_update_and_is_counted(tiny_model_path, tmp_path, make_trainer):
    L.seed_everything(0)
    module = make_module(tiny_model_path, reward=lambda p, r: [3e38] * len(r))  # finite, but (V - R)^2 overflows
    before = trainable(module)
    make_trainer(tmp_path, limit_train_batches=1).fit(module, SentimentPrompts(batch_size=4))
    assert module.skipped_updates == 2  # two epochs, one minibatch each
    after = module.trainable_state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize(
    ("reward", "message"),
    [(lambda p, r: [float("nan")] * len(r), "non-finite"), (lambda p, r: [0.0], "returned 1 scores for 2")],
)
def test_broken_reward_fails_before_training(tiny_model_path, tmp_path, make_trainer, reward, message):
    module = make_module(tiny_model_path, reward=reward)
    before = trainable(module)
    with pytest.raises(RewardError, match=message):
        make_trainer(tmp_path, limit_val_batches=1).fit(module, SentimentPrompts(batch_size=4))
    assert module.iteration == 0
    assert all(torch.equal(before[k], v) for k, v in module.trainable_state_dict().items())


def test_prompt_longer_than_context_fails_before_training(tiny_model_path, tmp_path, make_trainer):
    long_prompt = tmp_path / "long.txt"
    long_prompt.write_text("short prompt\n" + "word " * 1200 + "\nanother prompt\nand one more\n")
    module = make_module(tiny_model_path)
    with pytest.raises(ValueError, match="exceed the context \\(1024 tokens\\).*first: #1"):
        make_trainer(tmp_path, limit_val_batches=1).fit(
            module, SentimentPrompts(prompt_file=str(long_prompt), val_size=1, batch_size=2)
        )
    assert module.iteration == 0


def test_critic_gate_and_intrinsic_rewards_reach_the_token_rewards(tiny_model_path):
    from lit_critic_rl.args import ShapingArgs
    from lit_critic_rl.critic.base import CriticBackend, Critique, Span
    from lit_critic_rl.critic.shaping import token_char_ranges
    from lit_critic_rl.ppo.token_rewards import assemble_rewards, response_token_ranges

    class FirstCharCritic(CriticBackend):
        """Marks the first character of every response it sees as negative and records what it was asked."""

        def __init__(self):
            self.asked = []

        def critique(self, prompts, responses, scores=None):
            self.asked += responses
            return [Critique(ok=bool(r), spans=[Span(0, 1, "bad", -1.0)] if r else []) for r in responses]

    critic = FirstCharCritic()
    module = DenseRewardPPO(
        reward=lambda p, r: [float(i % 2) for i in range(len(r))],  # samples 0, 2 score 0; samples 1, 3 score 1
        critic=critic,
        model=ModelArgs(name_or_path=tiny_model_path),
        generation=GenerationArgs(max_new_tokens=5),
        shaping=ShapingArgs(gate_threshold=0.5, negative_value=-0.5),
    )
    module.configure_model()
    L.seed_everything(0)
    rollout = sample(module.lm, module.tokenizer, ["The film", "I watched", "My brother", "This is"], module.generation)
    scores = torch.tensor([float(i % 2) for i in range(4)])
    critiques = module.critic_runner.start(rollout.prompts, rollout.responses, scores).wait()
    ranges = response_token_ranges(rollout, module.tokenizer)
    rewards = assemble_rewards(scores, critiques, rollout, ranges, module.shaping)
    assert critic.asked == [rollout.responses[0], rollout.responses[2]]  # gate: only scores <= 0.5 are critiqued
    assert rewards.stats["critic_calls"] == 2
    assert rewards.stats["critic_spans"] == sum(bool(rollout.responses[i]) for i in (0, 2))  # one span per non-empty
    extrinsic_only = {1, 3}
    for b in range(4):
        n = int(rollout.response_mask[b].sum())
        row = rewards.total[b, :n]
        if b in extrinsic_only:
            assert row[:-1].abs().sum() == 0 and row[-1] == scores[b]
        elif rollout.responses[b]:
            ranges = token_char_ranges(module.tokenizer, rollout.response_ids[b, :n].tolist())
            owners = [i for i, (s, e) in enumerate(ranges) if s == 0 < e]  # every token holding a byte of char 0
            expected = torch.zeros(n)
            expected[owners] = -0.5
            expected[-1] += scores[b]
            torch.testing.assert_close(row, expected)


def test_perplexity_by_a_named_scoring_model_matches_the_reference(tiny_model_path):
    """With fresh adapters the reference IS the base, so a separately loaded copy must give the same perplexity."""
    from lit_critic_rl.args import EvalArgs

    prompts = ["The film opens with", "I watched this movie on a Sunday afternoon and"]
    results = []
    for scoring_model in (None, tiny_model_path):
        module = DenseRewardPPO(
            reward=vowel_share,
            model=ModelArgs(name_or_path=tiny_model_path),
            generation=GenerationArgs(max_new_tokens=6),
            evaluation=EvalArgs(samples_per_prompt=2, scoring_model=scoring_model),
        )
        module.configure_model()
        module.evaluator.step(module, prompts, 0)
        results.append(module.evaluator.compute())
    assert results[0]["perplexity"] == pytest.approx(results[1]["perplexity"], rel=1e-5)
    assert results[0]["perplexity"] > 1.0 and len(module.evaluator.samples) == 4


@pytest.mark.parametrize("value_mode", ["separate_adapter", "shared_trunk"])
def test_fused_first_forward_matches_a_separate_teacher_forced_pass(
    tiny_model_path, tmp_path, make_trainer, value_mode
):
    """Taking the rollout's log-probs (and shared-trunk values) from the first PPO forward changes no result."""
    results = []
    for fuse in (True, False):
        L.seed_everything(0)
        module = make_module(
            tiny_model_path, value_mode=value_mode, fuse_first_forward=fuse, teacher_force_chunk_size=3
        )
        assert module.update_loop.fuses(module.objective, 4) is fuse
        trainer = make_trainer(tmp_path / str(fuse), limit_train_batches=3)
        trainer.fit(module, SentimentPrompts(batch_size=4, val_size=8, val_batch_size=4))
        rows = list(csv.DictReader((tmp_path / str(fuse) / "csv" / "version_0" / "metrics.csv").open()))
        results.append((trainable(module), [float(r[k]) for r in rows for k in ("train/kl", "train/value_loss")]))
    (fused_w, fused_m), (plain_w, plain_m) = results
    for name in plain_w:
        torch.testing.assert_close(fused_w[name], plain_w[name], rtol=1e-4, atol=1e-5)
    assert len(fused_m) == 6 and fused_m == pytest.approx(plain_m, rel=1e-4, abs=1e-6)


def test_fusing_needs_one_minibatch_for_the_whole_rollout(tiny_model_path):
    module = make_module(tiny_model_path, minibatch_size=2)
    loop, objective = module.update_loop, module.objective
    assert not loop.fuses(objective, 4) and loop.fuses(objective, 2)


@pytest.mark.parametrize("value_mode", ["separate_adapter", "shared_trunk"])
def test_chunked_lm_head_trains_like_full_logits(tiny_model_path, tmp_path, make_trainer, value_mode):
    """Log-probs from the LM head run a few positions at a time (no [B, T, V] logits) change no result: same
    adapters, logged KL, value loss and entropy over 3 iterations, fused first forward and later epochs alike."""
    results = []
    for chunk in (5, 0):
        L.seed_everything(0)
        module = make_module(tiny_model_path, value_mode=value_mode, logprob_chunk_size=chunk)
        assert module.lm.chunked_logprobs_supported()
        trainer = make_trainer(tmp_path / str(chunk), limit_train_batches=3)
        trainer.fit(module, SentimentPrompts(batch_size=4, val_size=8, val_batch_size=4))
        rows = list(csv.DictReader((tmp_path / str(chunk) / "csv" / "version_0" / "metrics.csv").open()))
        keys = ("train/kl", "train/value_loss", "train/entropy", "train/policy_loss")
        results.append((trainable(module), [float(r[k]) for r in rows for k in keys]))
    (chunked_w, chunked_m), (full_w, full_m) = results
    # the chunked matmuls sum in another order; Adam at lr 1e-2 turns those last-bit gradient differences into
    # weight differences of up to a few % of one step (1e-2) on single near-zero-gradient elements, hence atol 5e-4
    for name in full_w:
        torch.testing.assert_close(chunked_w[name], full_w[name], rtol=1e-3, atol=5e-4)
    assert len(chunked_m) == 12 and chunked_m == pytest.approx(full_m, rel=1e-3, abs=1e-5)
