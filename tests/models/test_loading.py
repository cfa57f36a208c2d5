import pytest

from lit_critic_rl.models.loading import load_causal_lm, load_tokenizer, resolve_model_path


def test_missing_local_path_names_the_field():
    with pytest.raises(FileNotFoundError, match="model.name_or_path: './no/such/model' does not exist"):
        resolve_model_path("./no/such/model")


def test_hub_ids_pass_through_untouched():
    assert resolve_model_path("HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"


def test_tokenizer_pads_left_and_has_pad_token(tiny_model_path):
    tok = load_tokenizer(tiny_model_path)
    assert tok.padding_side == "left" and tok.pad_token_id is not None


def test_base_is_frozen(tiny_model_path):
    assert not any(p.requires_grad for p in load_causal_lm(tiny_model_path).parameters())


def test_unknown_quantization_is_rejected(tiny_model_path):
    with pytest.raises(ValueError, match="model.quantization"):
        load_causal_lm(tiny_model_path, quantization="int3")


@pytest.mark.integration
def test_converting_the_asset_leaves_the_random_stream_as_it_was(tmp_path, monkeypatch):
    """The first run converts the GGUF (building a randomly initialised model to save the weights); a seeded run must
    sample the same whether or not it was the one that converted, so the conversion may not draw from torch's RNG."""
    import torch

    from lit_critic_rl.models.loading import SMOLLM2_ALIAS, materialize_asset

    monkeypatch.setenv("LIT_CRITIC_RL_CACHE", str(tmp_path))  # an empty cache: this call converts
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    assert (materialize_asset(SMOLLM2_ALIAS) / "config.json").is_file()
    assert torch.equal(torch.rand(3), expected)
