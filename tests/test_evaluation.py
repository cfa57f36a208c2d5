import math

import pytest
import torch

from lit_critic_rl.args import EvalArgs, GenerationArgs, ModelArgs
from lit_critic_rl.evaluation import perplexity_targets
from lit_critic_rl.metrics import Perplexity


def test_perplexity_ignores_padding_by_hand():
    # two real tokens with probabilities 1/2 and 1/4, then padding whose logits would be terrible
    logits = torch.log(torch.tensor([[[0.5, 0.5, 1e-9], [0.25, 0.75, 1e-9], [1e-9, 1e-9, 1.0]]]))
    ids = torch.tensor([[0, 0, 1]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    metric = Perplexity("token_weighted")
    metric.update(logits, perplexity_targets(ids, mask))
    # exp(mean NLL) = exp((ln 2 + ln 4) / 2) = sqrt(8)
    assert metric.compute() == pytest.approx(math.sqrt(8), rel=1e-4)


def test_evaluation_generation_must_not_carry_its_own_k():
    with pytest.raises(ValueError, match="model.evaluation.samples_per_prompt"):
        EvalArgs(samples_per_prompt=4, generation=GenerationArgs(samples_per_prompt=4))


@pytest.mark.parametrize("eval_tokens", [None, 3])
def test_evaluation_decodes_with_its_own_settings_and_k(eval_tokens, tiny_model_path):
    from lit_critic_rl.module import DenseRewardPPO

    generation = None if eval_tokens is None else GenerationArgs(max_new_tokens=eval_tokens, min_new_tokens=eval_tokens)
    module = DenseRewardPPO(
        reward=lambda p, r: [0.0] * len(r),
        model=ModelArgs(name_or_path=tiny_model_path),
        generation=GenerationArgs(max_new_tokens=6, min_new_tokens=6),
        evaluation=EvalArgs(samples_per_prompt=3, generation=generation),
    )
    module.configure_model()
    module.evaluator.step(module, ["The film opens with", "I watched"], 0)
    # every response has min_new_tokens = max_new_tokens tokens: 6 with the training decoding, 3 with the evaluation's
    assert module.evaluator.perplexity.counts == [eval_tokens or 6] * 6
    assert [s["prompt"] for s in module.evaluator.samples] == ["The film opens with"] * 3 + ["I watched"] * 3
    assert set(module.evaluator.compute()) >= {"reward", "perplexity", "distinct_1", "distinct_2", "distinct_3"}
