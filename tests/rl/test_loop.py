"""The shared update loop on the tiny model: gradient accumulation is invisible to the update (minibatch 4 x
accumulation 1 takes the same step as 2 x 2, for every objective), and the loop hands each objective the policy pass
it asked for."""

from dataclasses import replace

import pytest
import torch

from lit_critic_rl.args import AdapterArgs, GenerationArgs, PPOArgs
from lit_critic_rl.models.loading import load_causal_lm, load_tokenizer
from lit_critic_rl.models.policy import PolicyValueModel
from lit_critic_rl.objectives import (
    DrGRPOObjective,
    GRPOObjective,
    PPOObjective,
    REINFORCEPlusPlusObjective,
    RLMECObjective,
    RLOOObjective,
    RunContext,
)
from lit_critic_rl.ppo.rollout import sample, teacher_force
from lit_critic_rl.rl.kl import rollout_kl
from lit_critic_rl.rl.loop import UpdateLoop
from lit_critic_rl.rl.update import OptimizerStepper
from lit_critic_rl.rlmec.ratio import with_sampler_logprobs
from lit_critic_rl.types import TokenRewards

# every objective, as configs/objective/*.yaml builds it (DAPO is GRPO with its clip, token_mean and no KL)
OBJECTIVES = {
    "ppo": PPOObjective,
    "rlmec": RLMECObjective,
    "grpo": GRPOObjective,
    "dr_grpo": DrGRPOObjective,
    "dapo": lambda: GRPOObjective(clip_high=0.28, loss_aggregation="token_mean", kl_coef=0.0),
    "rloo": RLOOObjective,
    "reinforce_pp": REINFORCEPlusPlusObjective,
}
PROMPTS = ["The film", "I watched", "My brother", "A quiet", "It was", "Last night"]


def _objective(name):
    objective = OBJECTIVES[name]()
    objective.connect(RunContext(samples_per_prompt=2, max_new_tokens=5))
    return objective


def _rollout(path, objective, n=4, lengths=None):
    """``n`` samples of 5 response tokens (min = max new tokens), in groups of 2 (rows 0-1, 2-3, ...); ``lengths``
    cuts row ``b``'s response mask to ``lengths[b]`` tokens."""
    torch.manual_seed(0)
    lm = PolicyValueModel(load_causal_lm(path), AdapterArgs(r=4, alpha=8), "separate_adapter").eval()
    gen = GenerationArgs(max_new_tokens=5, min_new_tokens=5)
    rollout = sample(lm, load_tokenizer(path), PROMPTS[:n], gen)
    assert rollout.response_mask.sum() == 5 * n
    mask = rollout.response_mask
    if lengths is not None:
        mask = (torch.arange(5)[None, :] < torch.tensor(lengths)[:, None]).to(mask.dtype)
    rollout = replace(rollout, response_mask=mask, group=torch.arange(n) // 2)
    rollout = with_sampler_logprobs(teacher_force(lm, rollout, 1.0, 8, values=objective.needs_values), None)
    # every row has a different reward sequence, so no group is flat (a flat group has zero advantages)
    rewards = torch.tensor([[0.5, -0.2, 0.1, 0.3, 1.0], [-0.5, 0.2, 0.4, -0.1, -1.0]]).repeat(n // 2, 1)
    rewards = (rewards + 0.01 * torch.arange(n)[:, None]) * mask
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


def _assert_4x1_equals_2x2(lm, rollout, adv, objective):
    state = {k: v.clone() for k, v in lm.state_dict().items()}
    start = {n: p.detach().clone() for n, p in lm.named_parameters() if p.requires_grad}
    whole = _update(lm, rollout, adv, objective, state, minibatch_size=4, grad_accumulation=1)
    accumulated = _update(lm, rollout, adv, objective, state, minibatch_size=2, grad_accumulation=2)
    assert any(not torch.equal(whole[n], start[n]) for n in start)  # the update moved the adapters
    for name in whole:
        torch.testing.assert_close(accumulated[name], whole[name], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", OBJECTIVES)
def test_minibatch_4_equals_2_minibatches_of_2_accumulated(tiny_model_path, name):
    # equal token counts (5 per row): a mean over 2 minibatches of 10 tokens is the mean over the 20 tokens, so
    # every loss aggregation (token mean, sequence mean, sum over a constant) must give the same step
    objective = _objective(name)
    _assert_4x1_equals_2x2(*_rollout(tiny_model_path, objective), objective)


@pytest.mark.parametrize("name", ["ppo", "grpo"])
def test_a_last_partial_group_steps_like_a_last_partial_minibatch(tiny_model_path, name):
    # 6 samples: 4 x 1 steps on [4] then [2]; 2 x 2 on [2, 2] then [2] alone, whose loss must be divided by the 1
    # minibatch it holds (a mean over its 2 samples, like 4 x 1's last minibatch), not by grad_accumulation = 2
    objective = _objective(name)
    _assert_4x1_equals_2x2(*_rollout(tiny_model_path, objective, n=6), objective)


@pytest.mark.parametrize("name", OBJECTIVES)
def test_with_unequal_lengths_the_loss_is_unchanged_by_accumulation(tiny_model_path, name):
    # 5, 2, 4 and 1 tokens: a mean over sequences (GRPO's seq_mean_token_mean) or a sum over a constant (Dr. GRPO)
    # of 2 + 2 sequences is the same as over the 4. Seed 1 shuffles to rows [1, 3, 2, 0], minibatches of 2 + 1 = 3
    # and 4 + 5 = 9 tokens: a mean of per-minibatch token means would weigh a token by 1/6 or 1/18 where the whole
    # batch weighs each by 1/12; the token means divide by the group's 12 tokens, so they match too
    objective = _objective(name)
    _assert_4x1_equals_2x2(*_rollout(tiny_model_path, objective, lengths=[5, 2, 4, 1]), objective)
