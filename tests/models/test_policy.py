import pytest
import torch

from lit_critic_rl.args import AdapterArgs
from lit_critic_rl.models.loading import load_causal_lm
from lit_critic_rl.models.policy import PolicyValueModel


def _nudge_adapters(lm: PolicyValueModel) -> None:
    """Give every LoRA B matrix non-zero weights so the adapters change the output."""
    with torch.no_grad():
        for name, p in lm.peft.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)


@pytest.mark.parametrize("value_mode", ["separate_adapter", "shared_trunk"])
def test_policy_value_and_reference_share_one_base(tiny_model_path, value_mode):
    base = load_causal_lm(tiny_model_path)
    n_base = sum(p.numel() for p in base.parameters())
    base_ptrs = {p.data_ptr() for p in base.parameters()}
    lm = PolicyValueModel(base, AdapterArgs(r=4, alpha=8), value_mode)
    # every base weight in memory is the one loaded: same storage, counted once
    assert lm.base_parameter_count() == n_base
    lm_ptrs = {p.data_ptr() for n, p in lm.peft.named_parameters() if "lora_" not in n}
    assert lm_ptrs == base_ptrs
    adapters = set(lm.peft.peft_config)
    assert adapters == ({"policy", "value"} if value_mode == "separate_adapter" else {"policy"})


def test_reference_is_the_untouched_base(tiny_model_path, tiny_tokenizer):
    pristine = load_causal_lm(tiny_model_path)
    lm = PolicyValueModel(load_causal_lm(tiny_model_path), AdapterArgs(r=4, alpha=8)).eval()
    _nudge_adapters(lm)
    enc = tiny_tokenizer(["The film opens with", "I watched"], return_tensors="pt", padding=True)
    ids, attn = enc["input_ids"], enc["attention_mask"]
    T = 3
    with torch.no_grad():
        ref = lm.reference_logits(ids, attn, T)
        policy = lm.policy_forward(ids, attn, T).logits
        from lit_critic_rl.models.policy import position_ids_from_mask

        expected = pristine(input_ids=ids, attention_mask=attn, position_ids=position_ids_from_mask(attn)).logits
    torch.testing.assert_close(ref, expected[:, -T - 1 : -1])
    assert not torch.allclose(policy, ref, atol=1e-3)


def test_value_adapter_is_separate_from_policy_adapter(tiny_model_path, tiny_tokenizer):
    lm = PolicyValueModel(load_causal_lm(tiny_model_path), AdapterArgs(r=4, alpha=8), "separate_adapter").eval()
    enc = tiny_tokenizer(["The film opens with"], return_tensors="pt")
    ids, attn = enc["input_ids"], enc["attention_mask"]
    with torch.no_grad():
        lm.value_head.weight.normal_()
        before = lm.value_forward(ids, attn, 2)
        for name, p in lm.peft.named_parameters():
            if "lora_B" in name and ".policy" in name:
                p.normal_(0, 0.5)
        after_policy_change = lm.value_forward(ids, attn, 2)
    torch.testing.assert_close(before, after_policy_change)


def test_adapter_switch_restores_role_and_trainability_after_an_error(tiny_model_path):
    lm = PolicyValueModel(load_causal_lm(tiny_model_path), AdapterArgs(r=4, alpha=8), "separate_adapter")
    n_trainable = len(lm.trainable_parameters())
    with pytest.raises(RuntimeError), lm.adapter("value"):
        assert lm.peft.active_adapter == "value"
        raise RuntimeError("boom")
    assert lm.peft.active_adapter == "policy"
    assert len(lm.trainable_parameters()) == n_trainable
    names = {n for n, p in lm.named_parameters() if p.requires_grad}
    assert any(".policy." in n for n in names) and any(".value." in n for n in names)
    assert any(n.startswith("value_head") for n in names)


def test_reference_pass_leaves_both_adapters_trainable(tiny_model_path, tiny_tokenizer):
    """PEFT's disable_adapter re-activates the policy on exit and freezes the value adapter; a checkpoint written
    after a reference pass (validation perplexity) would then leave the value adapter out of its state dict."""
    lm = PolicyValueModel(load_causal_lm(tiny_model_path), AdapterArgs(r=4, alpha=8), "separate_adapter")
    n_trainable = len(lm.trainable_parameters())
    ids = tiny_tokenizer(["a good film"], return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        lm.reference_logits(ids, torch.ones_like(ids), 2)
    assert len(lm.trainable_parameters()) == n_trainable and lm.peft.active_adapter == "policy"


def test_gradients_reach_only_adapters_and_value_head(tiny_model_path, tiny_tokenizer):
    lm = PolicyValueModel(load_causal_lm(tiny_model_path), AdapterArgs(r=4, alpha=8), "separate_adapter")
    _nudge_adapters(lm)
    enc = tiny_tokenizer(["The film opens with"], return_tensors="pt")
    out = lm.policy_forward(enc["input_ids"], enc["attention_mask"], 2)
    out.logits.sum().backward()
    values = lm.value_forward(enc["input_ids"], enc["attention_mask"], 2)
    values.sum().backward()
    with_grad = {n for n, p in lm.named_parameters() if p.grad is not None}
    assert any(".policy." in n for n in with_grad) and any(".value." in n for n in with_grad)
    assert all("lora_" in n or n.startswith("value_head") for n in with_grad)


def test_nf4_base_trains_lora_on_cpu(tiny_model_path, tiny_tokenizer):
    pytest.importorskip("bitsandbytes")
    # bitsandbytes' CPU 4-bit path needs layers of at least 64 features (the tiny model's are 64 and 128)
    base = load_causal_lm(tiny_model_path, quantization="nf4")
    assert getattr(base, "is_loaded_in_4bit", False)
    lm = PolicyValueModel(base, AdapterArgs(r=4, alpha=8))
    enc = tiny_tokenizer(["The film opens with"], return_tensors="pt")
    loss = lm.policy_forward(enc["input_ids"], enc["attention_mask"], 2).logits.float().logsumexp(-1).mean()
    loss.backward()
    assert any(p.grad is not None for n, p in lm.named_parameters() if "lora_A" in n)


@pytest.mark.parametrize("value_mode", ["separate_adapter", "shared_trunk"])
def test_values_read_the_final_hidden_state(tiny_model_path, tiny_tokenizer, value_mode):
    lm = PolicyValueModel(load_causal_lm(tiny_model_path), AdapterArgs(r=4, alpha=8), value_mode).eval()
    _nudge_adapters(lm)
    with torch.no_grad():
        lm.value_head.weight.normal_()
        enc = tiny_tokenizer(["The film opens with a", "Hi"], return_tensors="pt", padding=True)
        ids, attn = enc["input_ids"], enc["attention_mask"]
        values = lm.value_forward(ids, attn, 3)
        role = "value" if value_mode == "separate_adapter" else "policy"
        with lm.adapter(role):
            full = lm.peft(
                input_ids=ids,
                attention_mask=attn,
                position_ids=(attn.cumsum(-1) - 1).clamp_min(0),
                output_hidden_states=True,
            )
        expected = lm.value_head(full.hidden_states[-1][:, -4:-1]).squeeze(-1)
    assert values.shape == (2, 3)
    torch.testing.assert_close(values, expected)
    assert lm._last_hidden is None  # nothing kept alive after the call


def _saved_bytes(fn) -> int:
    """Bytes of distinct non-parameter tensors autograd saves for backward while ``fn`` runs."""
    seen: set[int] = set()
    total = 0

    def pack(t):
        nonlocal total
        ptr = t.untyped_storage().data_ptr()
        if ptr not in seen and not isinstance(t, torch.nn.Parameter):
            seen.add(ptr)
            total += t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, total


def test_activation_checkpointing_same_gradients_less_saved_memory(tiny_model_path, tiny_tokenizer):
    enc = tiny_tokenizer(["The film opens with a long shot of the sea"] * 4, return_tensors="pt")
    grads, saved = [], []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        lm = PolicyValueModel(
            load_causal_lm(tiny_model_path),
            AdapterArgs(r=4, alpha=8),
            "shared_trunk",
            activation_checkpointing=checkpointing,
        ).eval()
        _nudge_adapters(lm)
        out, nbytes = _saved_bytes(lambda: lm.policy_forward(enc["input_ids"], enc["attention_mask"], 5))
        (out.logits.logsumexp(-1).mean() + out.values.pow(2).mean()).backward()
        grads.append({n: p.grad.clone() for n, p in lm.named_parameters() if p.grad is not None})
        saved.append(nbytes)
        assert not any(m.training for m in lm.modules())  # the layers' training flag was restored
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 0
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], rtol=1e-4, atol=1e-6)
    assert saved[1] < 0.5 * saved[0]


def test_merged_adapter_gives_the_adapter_logits_and_leaves_the_base_untouched(tiny_model_path, tiny_tokenizer):
    from lit_critic_rl.models.policy import merged_adapter

    lm = PolicyValueModel(load_causal_lm(tiny_model_path), AdapterArgs(r=4, alpha=8)).eval()
    _nudge_adapters(lm)
    base = {n: p.detach().clone() for n, p in lm.peft.named_parameters() if "lora_" not in n}
    ptrs = {n: p.data_ptr() for n, p in lm.peft.named_parameters()}
    enc = tiny_tokenizer(["The film opens with", "I watched"], return_tensors="pt", padding=True)
    with torch.no_grad():
        with lm.adapter("policy"):
            unmerged = lm.peft(**enc).logits
        with merged_adapter(lm.peft, "policy") as n_merged:
            merged = lm.peft(**enc).logits
        with lm.reference():
            reference = lm.peft(**enc).logits
    assert n_merged == 2 * 7  # every linear of both decoder layers ("all-linear" leaves out the LM head)
    torch.testing.assert_close(merged, unmerged, atol=1e-5, rtol=1e-5)  # float rounding only
    assert not torch.allclose(merged, reference, atol=1e-3)  # the adapter does change the output
    # the shared base is bit-identical afterwards, in the same storage; adapters active and trainable again
    for name, p in lm.peft.named_parameters():
        assert p.data_ptr() == ptrs[name]
        if "lora_" not in name:
            assert torch.equal(p, base[name])
        else:
            assert p.requires_grad
    with torch.no_grad():
        with lm.reference():
            torch.testing.assert_close(lm.peft(**enc).logits, reference)
        assert lm.peft.active_adapter == "policy"
        torch.testing.assert_close(lm.peft(**enc).logits, unmerged)


def test_merged_sampling_draws_the_same_tokens(tiny_model_path, tiny_tokenizer):
    lm = PolicyValueModel(load_causal_lm(tiny_model_path), AdapterArgs(r=4, alpha=8)).eval()
    _nudge_adapters(lm)
    enc = tiny_tokenizer(["The film opens with", "I watched"], return_tensors="pt", padding=True)
    kwargs = dict(do_sample=True, max_new_tokens=8, top_k=0, pad_token_id=tiny_tokenizer.pad_token_id)
    drawn = []
    for merged in (False, True):
        torch.manual_seed(3)
        drawn.append(lm.generate(merged=merged, **enc, **kwargs))
    assert torch.equal(drawn[0], drawn[1])
