"""The shared update loop on the tiny model: gradient accumulation is invisible to the update, and the loop hands
each objective the policy pass it asked for."""

import pytest
import torch

from lit_critic_rl.args import AdapterArgs, GenerationArgs, PPOArgs
from lit_critic_rl.models.loading import load_causal_lm, load_tokenizer
from lit_critic_rl.models.policy import PolicyValueModel
from lit_critic_rl.objectives import PPOObjective, RLMECObjective
from lit_critic_rl.ppo.rollout import sample, teacher_force
from lit_critic_rl.rl.kl import rollout_kl
from lit_critic_rl.rl.loop import UpdateLoop
from lit_critic_rl.rl.update import OptimizerStepper
from lit_critic_rl.rlmec.ratio import with_sampler_logprobs
from lit_critic_rl.types import TokenRewards


def _rollout(path, objective):
    torch.manual_seed(0)
    lm = PolicyValueModel(load_causal_lm(path), AdapterArgs(r=4, alpha=8), "separate_adapter").eval()
    # min = max new tokens: every row has 5 response tokens, so a mean over 2 minibatches of 2 rows equals the mean
    # over the 4 rows (with unequal token counts the two would differ by design, as in every framework)
    gen = GenerationArgs(max_new_tokens=5, min_new_tokens=5)
    rollout = sample(lm, load_tokenizer(path), ["The film", "I watched", "My brother", "A quiet"], gen)
    rollout = with_sampler_logprobs(teacher_force(lm, rollout, 1.0, 8, values=objective.needs_values), None)
    assert rollout.response_mask.sum() == 20
    rewards = torch.tensor([[0.5, -0.2, 0.1, 0.3, 1.0], [-0.5, 0.2, 0.4, -0.1, -1.0]]).repeat(2, 1)
    adv = objective.advantages(rollout, TokenRewards(rewards, torch.zeros_like(rewards)), rollout_kl(rollout), 0.1)
    return lm, rollout, adv


def _update(lm, rollout, adv, objective, state, minibatch_size, grad_accumulation):
    lm.load_state_dict(state)
    # plain SGD: Adam's first step is lr * sign(gradient), which would hide an accumulated gradient off by a factor
    optimizer = torch.optim.SGD(lm.trainable_parameters(), lr=0.5)
    ppo = PPOArgs(epochs=1, minibatch_size=minibatch_size, grad_accumulation=grad_accumulation, max_grad_norm=0.0)
    torch.manual_seed(1)  # the same shuffled order in both runs
    UpdateLoop(ppo).run(objective, lm, OptimizerStepper(optimizer), rollout, adv)
    return {n: p.detach().clone() for n, p in lm.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("objective", [PPOObjective(), RLMECObjective()], ids=["ppo", "rlmec"])
def test_minibatch_4_equals_2_minibatches_of_2_accumulated(tiny_model_path, objective):
    lm, rollout, adv = _rollout(tiny_model_path, objective)
    state = {k: v.clone() for k, v in lm.state_dict().items()}
    start = {n: p.detach().clone() for n, p in lm.named_parameters() if p.requires_grad}
    whole = _update(lm, rollout, adv, objective, state, minibatch_size=4, grad_accumulation=1)
    accumulated = _update(lm, rollout, adv, objective, state, minibatch_size=2, grad_accumulation=2)
    assert any(not torch.equal(whole[n], start[n]) for n in start)  # the update moved the adapters
    for name in whole:
        torch.testing.assert_close(accumulated[name], whole[name], rtol=1e-5, atol=1e-6)
