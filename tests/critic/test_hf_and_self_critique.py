"""HFCritic and SelfCritique on the tiny model (real generation; the tiny model writes gibberish, so most
critiques are unparseable failures, which is itself the failure path under test)."""

import pytest
import torch

from lit_critic_rl.args import AdapterArgs
from lit_critic_rl.critic.base import CriticSetup
from lit_critic_rl.critic.hf import HFCritic, cut_at_blank_line, generate_critiques
from lit_critic_rl.critic.self_critique import SelfCritique
from lit_critic_rl.models.loading import load_causal_lm, load_tokenizer
from lit_critic_rl.models.policy import PolicyValueModel


def test_cut_at_blank_line():
    assert cut_at_blank_line('\n\npositive: "a"\nnegative: "b"\n\nReview start: made up') == (
        'positive: "a"\nnegative: "b"'
    )


def test_hf_critic_generates_one_critique_per_sample_and_caches(tiny_model_path, tmp_path):
    critic = HFCritic(tiny_model_path, max_new_tokens=8, batch_size=2, cache_path=str(tmp_path / "c.sqlite"))
    out = critic.critique(["a", "b", "c"], ["good film", "bad film", "a table"])
    assert len(out) == 3 and critic.calls == 3
    assert all(c.ok or c.error == "UnparseableCritique" for c in out)
    critic.critique(["a", "b", "c"], ["good film", "bad film", "a table"])
    assert critic.calls == 3 and critic.cache_hits == 3


def test_self_critique_uses_the_frozen_base_without_a_copy(tiny_model_path, tmp_path):
    tokenizer = load_tokenizer(tiny_model_path)
    lm = PolicyValueModel(load_causal_lm(tiny_model_path), AdapterArgs(r=4, alpha=8))
    n_base = lm.base_parameter_count()
    with torch.no_grad():
        for name, p in lm.peft.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 1.0)  # a trained-looking policy adapter that would change the critique
    critic = SelfCritique(max_new_tokens=8)
    critic.setup(CriticSetup(lm, tokenizer, tiny_model_path, tmp_path))
    text = critic.template.render("The film", " was good")
    ours = critic.generate([text])
    pristine = generate_critiques(load_causal_lm(tiny_model_path), tokenizer, [text], 8, 1, None)
    assert ours == pristine
    current = SelfCritique(max_new_tokens=8, use_current_policy=True)
    current.setup(CriticSetup(lm, tokenizer, tiny_model_path, tmp_path))
    assert current.generate([text]) != pristine
    assert lm.base_parameter_count() == n_base and lm.peft.active_adapter == "policy"


def test_self_critique_without_setup_says_so():
    with pytest.raises(RuntimeError, match="has no model"):
        SelfCritique().generate(["x"])


def test_missing_critic_model_names_the_critic_field(tmp_path):
    with pytest.raises(FileNotFoundError, match="model.critic.init_args.name_or_path: './no/such/critic'"):
        HFCritic("./no/such/critic")
