"""The GRM: its prompts, SFT as its own adapter (tiny model), and its token rewards as a critic on a shared base."""

import json
from pathlib import Path

import pytest
import torch

from lit_critic_rl.args import AdapterArgs, ModelArgs
from lit_critic_rl.critic.base import CriticSetup
from lit_critic_rl.critic.shaping import token_char_ranges, values_on_tokens
from lit_critic_rl.models.loading import load_causal_lm
from lit_critic_rl.models.policy import POLICY, PolicyValueModel, adapter_of
from lit_critic_rl.rlmec.grm import (
    encode_pair,
    locate_prompt,
    locate_target,
    parse_located,
    rewrite_prompt,
    sft_examples,
)
from lit_critic_rl.rlmec.grm_critic import MinEditGRM
from lit_critic_rl.rlmec.grm_module import GRMData, GRMFineTuning

PROMPT = "Problem: Start with 3. Add 4. Multiply by 2. What is the result?\n"
WRONG = "Step 1: 3 + 4 = 7\nStep 2: 7 * 2 = 15\nThe answer is 15\n\n"
FIXED = "Step 1: 3 + 4 = 7\nStep 2: 7 * 2 = 14\nThe answer is 14\n\n"


def _record(response=WRONG, rewrite=FIXED, step=2, ok=True):
    return {"prompt": PROMPT, "response": response, "ok": ok, "first_error_step": step, "rewrite": rewrite}


def test_locate_answers_round_trip_and_unreadable_ones_are_flagged():
    assert parse_located(locate_target(3)) == 3
    assert parse_located(locate_target(None)) is None
    assert parse_located("  step 12, because") == 12
    assert parse_located("I think the second") == "unreadable"


def test_sft_examples_two_per_usable_record():
    pairs = sft_examples([_record(), _record(ok=False, rewrite="")])
    assert [target for _, target in pairs] == ["Step 2", FIXED]
    assert pairs[1][0] == rewrite_prompt(PROMPT, WRONG) and WRONG.strip() in pairs[1][0]


def test_encode_pair_offsets_cover_the_answer(tiny_tokenizer):
    prompt_ids, ids, offsets = encode_pair(tiny_tokenizer, "Q: x\n", WRONG, eos=True)
    assert ids[-1] == tiny_tokenizer.eos_token_id and offsets[-1] == (len(WRONG), len(WRONG))
    assert tiny_tokenizer.decode(ids[:-1]) == WRONG
    assert offsets[0][0] == 0 and offsets[-2][1] == len(WRONG)
    assert all(a[1] <= b[0] for a, b in zip(offsets[:-2], offsets[1:-1]))


def _teacher_file(tmp_path, n=8):
    path = tmp_path / "teacher.jsonl"
    rows = [_record() for _ in range(n)] + [_record(FIXED, FIXED, None)] * n
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_grm_data_balances_and_holds_out_validation(tmp_path):
    data = GRMData(_teacher_file(tmp_path), val_size=4, batch_size=2)
    data.setup()
    assert len(data.train_examples) + len(data.val_examples) == 2 * 16
    assert len(data.val_examples) == 4
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        GRMData("x.jsonl", batch_size=0)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(_record(ok=False, rewrite="")) + "\n")
    with pytest.raises(ValueError, match="no usable rewrite"):
        GRMData(str(bad)).setup()


@pytest.fixture(scope="module")
def grm_adapter(tiny_model_path, tmp_path_factory, make_trainer):
    """A GRM adapter trained with Lightning's fit on the tiny model: the rewrite of WRONG is FIXED."""
    root = tmp_path_factory.mktemp("grm")
    module = GRMFineTuning(ModelArgs(name_or_path=tiny_model_path), AdapterArgs(r=8, alpha=16), learning_rate=3e-2)
    data = GRMData(_teacher_file(root), val_size=2, batch_size=4)
    # 25 steps (about 3 epochs of the 30 examples in batches of 4), no logger, no checkpoint
    trainer = make_trainer(
        root, max_epochs=None, max_steps=25, limit_train_batches=None, logger=False, enable_checkpointing=False
    )
    trainer.fit(module, data)
    return root / "adapters" / "grm", module


def test_grm_sft_starts_with_every_module_in_train_mode(tiny_model_path):
    """from_pretrained returns the base in eval mode; Lightning warns when fit starts so and leaves LoRA dropout off."""
    module = GRMFineTuning(ModelArgs(name_or_path=tiny_model_path), AdapterArgs(r=4, alpha=8, dropout=0.1))
    module.configure_model()
    assert [name for name, m in module.peft.named_modules() if not m.training] == []


def test_grm_sft_learns_and_saves_a_peft_adapter(grm_adapter):
    folder, module = grm_adapter
    assert (folder / "adapter_config.json").is_file()
    assert (folder / "adapter_model.safetensors").is_file()
    loss = float(module._loss([(rewrite_prompt(PROMPT, WRONG), FIXED)]))
    with module.peft.disable_adapter():
        base_loss = float(module._loss([(rewrite_prompt(PROMPT, WRONG), FIXED)]))
    # the tiny random model's logits are nearly flat (tied 0.02-scale embeddings cap them near +-1.3), so its
    # cross-entropy cannot fall far below ln(400) = 5.99; the adapter still moves it well below the base's
    assert loss < base_loss - 0.3


def _shared(tiny_model_path, tiny_tokenizer, folder, tmp_path, value_mode="shared_trunk"):
    lm = PolicyValueModel(load_causal_lm(tiny_model_path), AdapterArgs(r=4, alpha=8), value_mode)
    critic = MinEditGRM(str(folder))
    critic.setup(CriticSetup(lm, tiny_tokenizer, tiny_model_path, tmp_path))
    return lm, critic


def test_grm_on_the_policy_base_stays_frozen_and_out_of_the_optimizer(
    grm_adapter, tiny_model_path, tiny_tokenizer, tmp_path
):
    # two trainable adapters (policy and value) beside the frozen GRM: the hardest case for the role switch
    lm, critic = _shared(tiny_model_path, tiny_tokenizer, grm_adapter[0], tmp_path, "separate_adapter")
    names = {adapter_of(n) for n, p in lm.peft.named_parameters() if "lora_" in n}
    assert names == {"policy", "value", "grm"}
    trainable = {adapter_of(n) for n, p in lm.peft.named_parameters() if p.requires_grad and "lora_" in n}
    assert trainable == {"policy", "value"}
    critic.critique([PROMPT], [WRONG], [0.0])  # switching to the GRM and back must not unfreeze it
    trainable = {adapter_of(n) for n, p in lm.peft.named_parameters() if p.requires_grad and "lora_" in n}
    assert trainable == {"policy", "value"} and lm.peft.active_adapter == POLICY


def test_grm_token_rewards_are_its_clipped_probabilities(grm_adapter, tiny_model_path, tiny_tokenizer, tmp_path):
    lm, critic = _shared(tiny_model_path, tiny_tokenizer, grm_adapter[0], tmp_path)
    wrong, right, empty = critic.critique([PROMPT] * 3, [WRONG, FIXED, " "], [0.0, 1.0, 0.0])
    assert empty.outcome == "failed" and empty.error == "empty solution"
    # independent check: one full forward of the GRM adapter, softmax at each solution position
    prompt_ids, ids, _ = encode_pair(tiny_tokenizer, rewrite_prompt(PROMPT, WRONG), WRONG, eos=True)
    with lm.adapter("grm"), torch.no_grad():
        logits = lm.peft(input_ids=torch.tensor([prompt_ids + ids])).logits[0]
    probs = logits[len(prompt_ids) - 1 : -1].softmax(-1)[torch.arange(len(ids)), torch.tensor(ids)]
    expected = (probs - 0.5).clamp(-0.1, 0.0)
    got = torch.tensor([v.value for v in wrong.token_values])
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
    assert "".join(WRONG[v.start : v.end] for v in wrong.token_values) == WRONG
    eos_value = wrong.token_values[-1]  # the EOS is scored too, on the empty range at the end of the solution
    assert (eos_value.start, eos_value.end) == (len(WRONG), len(WRONG))
    rights = torch.tensor([v.value for v in right.token_values])
    assert rights.min() >= 0.0 and rights.max() <= 0.5  # the right answer's band
    assert len(right.token_values) == len(encode_pair(tiny_tokenizer, "", FIXED, eos=True)[1])
    # on the policy's tokens (same tokenizer, the sample ended with EOS), the EOS gets the GRM's EOS value
    policy_ids = tiny_tokenizer(WRONG, add_special_tokens=False)["input_ids"] + [tiny_tokenizer.eos_token_id]
    on_policy = values_on_tokens(wrong.token_values, token_char_ranges(tiny_tokenizer, policy_ids), len(policy_ids))
    torch.testing.assert_close(on_policy, got)
    assert on_policy[-1].item() == pytest.approx(eos_value.value)


def test_grm_adapter_errors_name_the_field(grm_adapter, tiny_model_path, tiny_tokenizer, tmp_path):
    lm = PolicyValueModel(load_causal_lm(tiny_model_path), AdapterArgs(r=4, alpha=8))
    setup = CriticSetup(lm, tiny_tokenizer, tiny_model_path, tmp_path)
    with pytest.raises(FileNotFoundError, match="adapter_path: .* holds no PEFT adapter .* point at one of them"):
        MinEditGRM(str(Path(grm_adapter[0]).parent)).setup(setup)
    other = tmp_path / "other"
    other.mkdir()
    config = json.loads((grm_adapter[0] / "adapter_config.json").read_text())
    (other / "adapter_config.json").write_text(json.dumps({**config, "base_model_name_or_path": str(tmp_path)}))
    with pytest.raises(ValueError, match="trained on .* not on the policy's base"):
        MinEditGRM(str(other)).setup(setup)
    with pytest.raises(ValueError, match="needs the extrinsic scores"):
        MinEditGRM(str(grm_adapter[0])).critique([PROMPT], [WRONG])
    with pytest.raises(ValueError, match="clip bands"):
        MinEditGRM("x", wrong_clip=(0.0, -0.1))


def test_rlmec_and_ppo_fit_on_grm_token_rewards(grm_adapter, tiny_model_path, tmp_path, make_trainer):
    """Both objectives train from the same MinEditGRM rewards; the GRM adapter itself never changes."""
    import csv

    from safetensors.torch import load_file

    from lit_critic_rl.args import GenerationArgs, PPOArgs, ShapingArgs
    from lit_critic_rl.data.arithmetic import ArithmeticPrompts
    from lit_critic_rl.module import DenseRewardPPO
    from lit_critic_rl.objectives import PPOObjective, RLMECObjective
    from lit_critic_rl.rewards.arithmetic import ArithmeticReward

    for objective in ("rlmec", "ppo"):
        module = DenseRewardPPO(
            reward=ArithmeticReward(),
            critic=MinEditGRM(str(grm_adapter[0])),
            model=ModelArgs(name_or_path=tiny_model_path),
            generation=GenerationArgs(max_new_tokens=6),
            ppo=PPOArgs(epochs=1, minibatch_size=4, learning_rate=1e-2),
            objective=RLMECObjective() if objective == "rlmec" else PPOObjective(),
            shaping=ShapingArgs(extrinsic_weight=0.0 if objective == "rlmec" else 1.0),
        )
        root = tmp_path / objective
        module.configure_model()  # loads the base and attaches the GRM (Lightning would call it in fit)
        trainer = make_trainer(root)
        before = {n: p.detach().clone() for n, p in module.lm.peft.named_parameters() if "lora_" in n}
        trainer.fit(module, ArithmeticPrompts(train_size=16, val_size=4, test_size=4, batch_size=4))
        after = dict(module.lm.peft.named_parameters())
        saved = load_file(str(grm_adapter[0] / "adapter_model.safetensors"))
        grm = {n.replace(".grm.", "."): p for n, p in after.items() if adapter_of(n) == "grm"}
        assert grm.keys() == saved.keys()  # loaded onto the policy's base ...
        assert all(torch.equal(grm[k], saved[k]) for k in saved)  # ... and never trained
        assert any(not torch.equal(before[n], after[n]) for n in before if adapter_of(n) == POLICY)
        rows = list(csv.DictReader(open(root / "csv" / "version_0" / "metrics.csv")))
        calls = [float(r["train/critic_calls"]) for r in rows if r.get("train/critic_calls")]
        intrinsic = [float(r["train/reward_intrinsic"]) for r in rows if r.get("train/reward_intrinsic")]
        assert calls == [4.0, 4.0] and all(v < 0 for v in intrinsic)  # gibberish is wrong: -0.1 band only
        if objective == "rlmec":  # imitation_target grm (the default): the GRM rewrote every sample, each counted
            made = [
                float(r["train/rewrites"]) + float(r["train/grm_rewrite_failures"])
                for r in rows
                if r.get("train/rewrites")
            ]
            assert made == [4.0, 4.0]


def test_a_separate_grm_model_gives_the_shared_adapters_values(grm_adapter, tiny_model_path, tiny_tokenizer, tmp_path):
    """``base:`` loads the GRM as its own model (its own tokenizer); on the same base it must agree exactly."""
    _, shared = _shared(tiny_model_path, tiny_tokenizer, grm_adapter[0], tmp_path)
    separate = MinEditGRM(str(grm_adapter[0]), base=tiny_model_path)
    lm = PolicyValueModel(load_causal_lm(tiny_model_path), AdapterArgs(r=4, alpha=8))
    separate.setup(CriticSetup(lm, tiny_tokenizer, tiny_model_path, tmp_path))
    assert not any("grm" in n for n, _ in lm.peft.named_parameters())  # nothing loaded onto the policy's base
    (a,), (b,) = shared.critique([PROMPT], [WRONG], [0.0]), separate.critique([PROMPT], [WRONG], [0.0])
    assert [(v.start, v.end) for v in a.token_values] == [(v.start, v.end) for v in b.token_values]
    torch.testing.assert_close([v.value for v in a.token_values], [v.value for v in b.token_values])


def test_a_reference_goes_between_the_problem_and_the_solution():
    plain = rewrite_prompt("Q?", "y1\n")
    assert plain == (
        "Below is a problem and a step-by-step solution. Copy the solution, changing as little as possible so that "
        "every step and the final answer are right.\n\n### Problem\nQ?\n### Solution\ny1\n### Corrected solution\n"
    )  # without a reference: the prompt the GRMs trained before references learned, byte for byte
    with_ref = rewrite_prompt("Q?", "y1\n", " r1 \n")
    assert with_ref == plain.replace("### Solution\n", "### Correct solution\nr1\n### Solution\n")
    shown = "### Correct solution\nr1\n### Solution\n"
    assert locate_prompt("Q?", "y1", "r1") == locate_prompt("Q?", "y1").replace("### Solution\n", shown)


def test_sft_examples_show_the_reference_field_and_refuse_records_without_it():
    pairs = sft_examples([{**_record(), "reference": FIXED}], reference_field="reference")
    assert pairs[0][0] == locate_prompt(PROMPT, WRONG, FIXED) and pairs[1][0] == rewrite_prompt(PROMPT, WRONG, FIXED)
    with pytest.raises(KeyError, match="reference_field 'reference' is missing or empty"):
        sft_examples([_record()], reference_field="reference")


def test_the_adapter_remembers_whether_it_was_trained_with_references(grm_adapter, tiny_model_path, tmp_path):
    import shutil

    from lit_critic_rl.rlmec.grm import PROMPT_CONFIG, trained_reference_field, write_prompt_config
    from lit_critic_rl.rlmec.grm_eval import evaluate

    folder = grm_adapter[0]
    assert json.loads((folder / PROMPT_CONFIG).read_text()) == {"reference_field": None}
    data = tmp_path / "held_out.jsonl"
    data.write_text(json.dumps({**_record(), "reference": FIXED}) + "\n")
    with pytest.raises(ValueError, match="--reference-field: .* trained without references, but is used with them"):
        evaluate(str(folder), str(data), base=tiny_model_path, reference_field="reference")
    with_refs = tmp_path / "with_refs"
    shutil.copytree(folder, with_refs)
    write_prompt_config(with_refs, "reference")
    assert trained_reference_field(with_refs) == "reference"
    with pytest.raises(ValueError, match="--reference-field: .* trained with references .* used without them"):
        evaluate(str(with_refs), str(data), base=tiny_model_path)
    legacy = tmp_path / "legacy"
    shutil.copytree(folder, legacy)
    (legacy / PROMPT_CONFIG).unlink()
    assert trained_reference_field(legacy) is None  # saved before the prompt config: trained without


def test_a_grm_with_references_scores_under_the_reference_prompt(
    grm_adapter, tiny_model_path, tiny_tokenizer, tmp_path
):
    import shutil

    from lit_critic_rl.rlmec.grm import write_prompt_config

    lm = PolicyValueModel(load_causal_lm(tiny_model_path), AdapterArgs(r=4, alpha=8))
    setup = CriticSetup(lm, tiny_tokenizer, tiny_model_path, tmp_path)
    with pytest.raises(ValueError, match="init_args.reference: .* trained without references, but is used with"):
        MinEditGRM(str(grm_adapter[0]), reference=True).setup(setup)
    with_refs = tmp_path / "with_refs"
    shutil.copytree(grm_adapter[0], with_refs)
    write_prompt_config(with_refs, "reference")
    with pytest.raises(ValueError, match="init_args.reference: .* trained with references .* used without them"):
        MinEditGRM(str(with_refs)).setup(setup)
    critic = MinEditGRM(str(with_refs), base=tiny_model_path, reference=True)
    critic.setup(setup)
    with pytest.raises(ValueError, match="needs one reference solution per sample"):
        critic.critique([PROMPT], [WRONG], [0.0])
    (got,) = critic.critique([PROMPT], [WRONG], [0.0], [FIXED])
    # independent check: the GRM's probabilities after the prompt that shows the reference
    prompt_ids, ids, _ = encode_pair(tiny_tokenizer, rewrite_prompt(PROMPT, WRONG, FIXED), WRONG, eos=True)
    with torch.no_grad():
        logits = critic.model(input_ids=torch.tensor([prompt_ids + ids])).logits[0]
    probs = logits[len(prompt_ids) - 1 : -1].softmax(-1)[torch.arange(len(ids)), torch.tensor(ids)]
    expected = (probs - 0.5).clamp(-0.1, 0.0)
    torch.testing.assert_close(torch.tensor([v.value for v in got.token_values]), expected, atol=1e-5, rtol=1e-4)
