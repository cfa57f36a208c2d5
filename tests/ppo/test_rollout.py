import pytest
import torch

from lit_critic_rl.args import AdapterArgs, GenerationArgs
from lit_critic_rl.models.loading import load_causal_lm
from lit_critic_rl.models.policy import PolicyValueModel
from lit_critic_rl.ppo.rollout import response_mask_from_ids, sample, sample_groups, teacher_force
from lit_critic_rl.rl.logprobs import token_logprobs


def test_response_mask_keeps_first_eos_and_drops_the_rest():
    ids = torch.tensor([[5, 2, 7, 2], [5, 6, 7, 8], [2, 0, 0, 0]])
    expected = torch.tensor([[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0], [1.0, 0.0, 0.0, 0.0]])
    torch.testing.assert_close(response_mask_from_ids(ids, [2]), expected)


def _model(path, dtype="float32"):
    return PolicyValueModel(load_causal_lm(path, dtype=dtype), AdapterArgs(r=4, alpha=8))


# bound on |log p(sampled token)| between generate's logits and the teacher-forced pass: fp32 agrees to rounding;
# a bf16 base rounds every matmul output to 8 mantissa bits, and the KV-cached decode and the full-sequence pass
# round differently (measured on this tiny model: 9.5e-7 and 9.4e-4 nats; SmolLM2-135M: docs/benchmarks.md)
MISMATCH_BOUND = {"float32": 1e-5, "bfloat16": 1e-2}


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_teacher_forced_logprobs_match_generate_scores(tiny_model_path, tiny_tokenizer, dtype):
    """Left padding + explicit position ids must reproduce generate's raw logits. (Its post-processed scores differ:
    min_new_tokens masks EOS and renormalises, one reason PPO recomputes log-probs.)"""
    lm = _model(tiny_model_path, dtype).eval()
    _nudge(lm)
    prompts = ["The film opens with", "I watched this movie on a Sunday afternoon and"]
    enc = tiny_tokenizer(prompts, return_tensors="pt", padding=True)
    torch.manual_seed(0)
    with lm.adapter("policy"):
        out = lm.peft.generate(
            **enc,
            do_sample=True,
            max_new_tokens=6,
            min_new_tokens=6,
            top_k=0,
            top_p=1.0,
            output_logits=True,
            return_dict_in_generate=True,
            pad_token_id=tiny_tokenizer.pad_token_id,
        )
    response = out.sequences[:, enc["input_ids"].shape[1] :]
    gen_logp = torch.stack(
        [
            torch.log_softmax(s.float(), -1).gather(-1, response[:, i : i + 1]).squeeze(-1)
            for i, s in enumerate(out.logits)
        ],
        1,
    )
    ids = out.sequences
    attn = torch.cat([enc["attention_mask"], torch.ones_like(response)], 1)
    with torch.no_grad():
        logits = lm.policy_forward(ids, attn, response.shape[1]).logits
    mismatch = (token_logprobs(logits, response) - gen_logp).abs().max().item()
    print(f"{dtype}: max |generate - teacher-forced| log-prob {mismatch:.2e}")
    assert mismatch < MISMATCH_BOUND[dtype]


def _nudge(lm):
    """Non-zero LoRA B matrices, so the adapters take part in both passes."""
    with torch.no_grad():
        for name, p in lm.peft.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.1)


def test_sample_and_teacher_force_fill_every_field(tiny_model_path, tiny_tokenizer):
    lm = _model(tiny_model_path).eval()
    gen = GenerationArgs(max_new_tokens=5)
    rollout = sample(lm, tiny_tokenizer, ["The film", "My brother picked this one"], gen)
    assert rollout.response_ids.shape[0] == 2 and rollout.response_ids.shape[1] <= 5
    assert rollout.query_ids[0, 0] == tiny_tokenizer.pad_token_id  # left padding
    rollout = teacher_force(lm, rollout, temperature=1.0, chunk_size=1)
    for name in ("logprobs", "ref_logprobs", "values"):
        assert getattr(rollout, name).shape == rollout.response_ids.shape
    # fresh LoRA (B = 0): the policy equals the reference, so the KL is exactly 0
    torch.testing.assert_close(rollout.logprobs, rollout.ref_logprobs)
    for text, ids, mask in zip(rollout.responses, rollout.response_ids, rollout.response_mask):
        assert text == tiny_tokenizer.decode(ids[: int(mask.sum())], skip_special_tokens=True)


def test_sample_groups_repeats_each_prompt_into_one_group(tiny_model_path, tiny_tokenizer):
    lm = _model(tiny_model_path).eval()
    torch.manual_seed(0)
    rollout = sample_groups(
        lm, tiny_tokenizer, ["The film", "I watched"], GenerationArgs(max_new_tokens=4, samples_per_prompt=3)
    )
    assert rollout.prompts == ["The film"] * 3 + ["I watched"] * 3
    assert rollout.group.tolist() == [0, 0, 0, 1, 1, 1]


def test_stop_length_ends_at_the_token_that_completes_the_stop_string(tiny_tokenizer):
    from lit_critic_rl.ppo.rollout import stop_length

    first = tiny_tokenizer("The answer is 4.", add_special_tokens=False)["input_ids"]
    rest = tiny_tokenizer("\n\nProblem: more", add_special_tokens=False)["input_ids"]
    ids = first + rest
    n = stop_length(tiny_tokenizer, ids, ["\n\n"])
    assert "\n\n" in tiny_tokenizer.decode(ids[:n]) and "\n\n" not in tiny_tokenizer.decode(ids[: n - 1])
    assert len(first) < n < len(ids)
    assert stop_length(tiny_tokenizer, ids, ["absent"]) == len(ids)
    assert stop_length(tiny_tokenizer, [], ["\n\n"]) == 0


def test_cut_at_stops_never_lengthens_a_row(tiny_tokenizer):
    from lit_critic_rl.ppo.rollout import cut_at_stops

    ids = tiny_tokenizer("good\n\nbad awful", add_special_tokens=False)["input_ids"]
    row = torch.tensor([ids, ids])
    mask = torch.ones(2, len(ids))
    mask[1, 1:] = 0.0  # already ended by EOS after one token
    cut = cut_at_stops(mask, row, tiny_tokenizer, ["\n\n"])
    n = int(cut[0].sum())
    assert "\n\n" in tiny_tokenizer.decode(ids[:n])
    assert n < len(ids) and cut[0, n:].sum() == 0
    assert cut[1].tolist() == mask[1].tolist()
