"""Offline RLMEC: saved rollouts replayed instead of sampled, with the teacher's saved rewrites as targets."""

import csv
import json

import pytest

from lit_critic_rl.args import GenerationArgs, ModelArgs, PPOArgs
from lit_critic_rl.data.arithmetic import ArithmeticPrompts
from lit_critic_rl.data.replay import RolloutReplay, replayed_rollout
from lit_critic_rl.module import DenseRewardPPO
from lit_critic_rl.objectives import PPOObjective, RLMECObjective
from lit_critic_rl.rewards.arithmetic import ArithmeticReward

PROMPT = "Problem: Start with 3. Add 4. Multiply by 2. What is the result?\n"
WRONG = "Step 1: 3 + 4 = 7\nStep 2: 7 * 2 = 15\nThe answer is 15\n\n"
FIXED = "Step 1: 3 + 4 = 7\nStep 2: 7 * 2 = 14\nThe answer is 14\n\n"


def _file(tmp_path, rewrites=True, n=8):
    rows = []
    for i in range(n):
        row = {"prompt": PROMPT, "response": WRONG if i % 2 else FIXED}
        if rewrites:
            row.update(ok=True, first_error_step=2 if i % 2 else None, rewrite=FIXED)
        rows.append(row)
    path = tmp_path / "rollouts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_replayed_rollout_rebuilds_tokens_and_rewrites(tiny_tokenizer, tmp_path):
    data = RolloutReplay(_file(tmp_path), ArithmeticPrompts(train_size=8, val_size=4, test_size=4), batch_size=4)
    data.setup()
    rollout, rewrites = replayed_rollout(data.records[:2], tiny_tokenizer, "cpu")
    n = int(rollout.response_mask[1].sum())
    assert tiny_tokenizer.decode(rollout.response_ids[1, :n]) == WRONG
    assert rollout.query_mask[0, -1] == 1  # prompts left-padded, as sampling pads them
    assert [r.first_error_step for r in rewrites] == [None, 2] and rewrites[1].text == FIXED
    data = RolloutReplay(_file(tmp_path, rewrites=False), ArithmeticPrompts(train_size=8, val_size=4, test_size=4))
    data.setup()
    assert replayed_rollout(data.records[:2], tiny_tokenizer, "cpu")[1] is None


def test_replayed_samples_of_one_prompt_form_a_group(tiny_tokenizer):
    records = [{"prompt": p, "response": "1 + 1 = 2"} for p in ("a?", "b?", "a?", "c?", "b?")]
    rollout, _ = replayed_rollout(records, tiny_tokenizer, "cpu")
    assert rollout.group.tolist() == [0, 1, 0, 2, 1]


def _module(path, objective=None):
    return DenseRewardPPO(
        reward=ArithmeticReward(),
        model=ModelArgs(name_or_path=path),
        generation=GenerationArgs(max_new_tokens=6),
        ppo=PPOArgs(epochs=1, minibatch_size=4, learning_rate=1e-2),
        objective=objective or RLMECObjective(imitation_target="teacher"),
    )


def test_offline_rlmec_imitates_the_saved_rewrites_without_sampling(tiny_model_path, tmp_path, make_trainer):
    module = _module(tiny_model_path)
    module.configure_model()
    calls = []
    module.lm.generate = lambda **kw: calls.append(kw)  # a replayed run must never sample
    evals = ArithmeticPrompts(train_size=8, val_size=4, test_size=4)
    make_trainer(tmp_path).fit(module, RolloutReplay(_file(tmp_path), evals, batch_size=4, missing_logprobs="base"))
    rows = list(csv.DictReader(open(tmp_path / "csv" / "version_0" / "metrics.csv")))
    imitated = [float(r["train/imitation_tokens"]) for r in rows if r.get("train/imitation_tokens")]
    rewrites = [float(r["train/rewrites"]) for r in rows if r.get("train/rewrites")]
    assert calls == [] and rewrites == [4.0, 4.0] and all(n > 0 for n in imitated)
    assert module.prompts_consumed == 8
    trained = [json.loads(x)["response"] for x in (tmp_path / "csv" / "version_0" / "samples.jsonl").open()]
    assert sorted(trained) == sorted([WRONG, FIXED] * 4)  # the file's 8 responses, not the tiny model's gibberish


def test_replay_is_refused_for_ppo_and_a_missing_file_is_named(tiny_model_path, tmp_path, make_trainer):
    evals = ArithmeticPrompts(train_size=8, val_size=4, test_size=4)
    with pytest.raises(ValueError, match="only an objective that trains off-policy .* not PPOObjective"):
        module = _module(tiny_model_path, PPOObjective())
        make_trainer(tmp_path).fit(module, RolloutReplay(_file(tmp_path), evals, batch_size=4, missing_logprobs="base"))
    with pytest.raises(FileNotFoundError, match="absent.jsonl"):
        RolloutReplay(str(tmp_path / "absent.jsonl"), evals).setup()


def test_a_replay_file_carries_sampled_ids_and_logprobs(tiny_tokenizer, tmp_path):
    from lit_critic_rl.data.replay import replayed_logprobs, write_replay

    eos = tiny_tokenizer.eos_token_id
    ids = tiny_tokenizer(FIXED, add_special_tokens=False)["input_ids"] + [eos]  # the EOS is kept, unlike the text
    logprobs = [-0.5 * (i + 1) for i in range(len(ids))]
    path = tmp_path / "round.jsonl"
    write_replay(path, [{"prompt": PROMPT, "response": FIXED, "response_ids": ids, "logprobs": logprobs}])
    data = RolloutReplay(str(path), ArithmeticPrompts(train_size=8, val_size=4, test_size=4))
    data.setup()
    assert data.fill_logprobs(None) == 0  # nothing to compute, so no way to compute is needed
    rollout, _ = replayed_rollout(data.records, tiny_tokenizer, "cpu")
    assert rollout.response_ids[0].tolist() == ids
    assert replayed_logprobs(data.records, rollout)[0].tolist() == pytest.approx(logprobs)


def test_a_replay_file_without_logprobs_gets_them_computed_once_or_fails_naming_it(
    tiny_model_path, tiny_tokenizer, tmp_path
):
    import torch

    from lit_critic_rl.args import AdapterArgs
    from lit_critic_rl.data.replay import logprobs_under, replayed_logprobs
    from lit_critic_rl.models.loading import load_causal_lm
    from lit_critic_rl.models.policy import PolicyValueModel

    path = _file(tmp_path, n=3)
    data = RolloutReplay(path, ArithmeticPrompts(train_size=8, val_size=4, test_size=4))
    with pytest.raises(ValueError, match=r"rollout_file: '.*rollouts.jsonl' has 3 record\(s\) without per-token"):
        data.fill_logprobs(None)
    lm = PolicyValueModel(load_causal_lm(tiny_model_path), AdapterArgs(r=4, alpha=8))
    calls = []
    compute = logprobs_under(lm, tiny_tokenizer, temperature=1.0, reference=True)
    assert data.fill_logprobs(lambda rs: calls.append(len(rs)) or compute(rs), batch_size=2) == 3
    assert calls == [2, 1] and data.fill_logprobs(None) == 0  # computed once; later calls find them
    rollout, _ = replayed_rollout(data.records, tiny_tokenizer, "cpu")
    with torch.no_grad():  # independent check: the base's log-softmax at each response token
        logits = lm.reference_logits(rollout.input_ids, rollout.attention_mask, rollout.response_len)
    expected = torch.log_softmax(logits.float(), -1).gather(-1, rollout.response_ids[..., None])[..., 0]
    expected = expected * rollout.response_mask
    torch.testing.assert_close(replayed_logprobs(data.records, rollout), expected, atol=1e-5, rtol=1e-5)
    data.records[0]["logprobs"] = data.records[0]["logprobs"][:-1]
    with pytest.raises(ValueError, match="record 0 has .* log-probs for .* response ids"):
        replayed_logprobs(data.records, rollout, path)
