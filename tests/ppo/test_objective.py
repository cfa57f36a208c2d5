"""The PPO objective's update on the tiny model: accumulation groups, a skipped non-finite group, the
separate-adapter backward order (both adapters get gradients), and its settings' checks."""

import pytest
import torch

from lit_critic_rl.args import AdapterArgs, GenerationArgs, PPOArgs, ShapingArgs
from lit_critic_rl.models.loading import load_causal_lm, load_tokenizer
from lit_critic_rl.models.policy import PolicyValueModel
from lit_critic_rl.ppo.objective import PPOObjective
from lit_critic_rl.ppo.rollout import sample, teacher_force
from lit_critic_rl.ppo.token_rewards import assemble_rewards, response_token_ranges
from lit_critic_rl.rl.kl import rollout_kl
from lit_critic_rl.rl.loop import UpdateLoop
from lit_critic_rl.rl.update import OptimizerStepper


def _setup(path, value_mode="separate_adapter", value_clip_range=0.2, **ppo):
    torch.manual_seed(0)
    lm = PolicyValueModel(load_causal_lm(path), AdapterArgs(r=4, alpha=8), value_mode).eval()
    tokenizer = load_tokenizer(path)
    prompts = ["The film", "I watched", "My brother", "A quiet"]
    rollout = sample(lm, tokenizer, prompts, GenerationArgs(max_new_tokens=5))
    args = PPOArgs(learning_rate=1e-2, **ppo)
    objective = PPOObjective(value_clip_range=value_clip_range)
    rollout = teacher_force(lm, rollout, 1.0, 8)
    scores = torch.tensor([1.0, -1.0, 0.5, 0.0])
    rewards = assemble_rewards(scores, [None] * 4, rollout, response_token_ranges(rollout, tokenizer), ShapingArgs())
    adv = objective.advantages(rollout, rewards, rollout_kl(rollout), kl_coef=0.1)
    optimizer = torch.optim.AdamW(lm.trainable_parameters(), lr=args.learning_rate)
    return lm, rollout, objective, adv, optimizer, UpdateLoop(args)


def _lora(lm, adapter):
    return {n: p.detach().clone() for n, p in lm.named_parameters() if f"lora_B.{adapter}" in n}


def _adam_steps(optimizer) -> set[int]:
    return {int(state["step"]) for state in optimizer.state.values()}


def test_accumulation_groups_set_the_number_of_steps(tiny_model_path):
    # 4 samples, minibatches of 1, 2 epochs = 8 minibatches; groups of 3 -> steps after 3, 6 and the partial 8
    lm, rollout, objective, adv, optimizer, loop = _setup(
        tiny_model_path, epochs=2, minibatch_size=1, grad_accumulation=3
    )
    stepper = OptimizerStepper(optimizer, max_grad_norm=1.0)
    stats = loop.run(objective, lm, stepper, rollout, adv)
    assert _adam_steps(optimizer) == {3} and stepper.skipped_updates == 0
    assert set(stats) == {"policy_loss", "value_loss", "clipfrac", "value_clipfrac", "approx_kl", "entropy"}


def test_separate_adapter_backward_trains_both_adapters_and_the_head(tiny_model_path):
    # two steps: the value head starts at zero, so the value adapter gets a gradient from the second step on (with
    # the value clip out of the way: the head's first step moves the values by more than 0.2, which would clip them)
    lm, rollout, objective, adv, optimizer, loop = _setup(
        tiny_model_path, epochs=2, minibatch_size=4, value_clip_range=1e3
    )
    policy, value, head = _lora(lm, "policy"), _lora(lm, "value"), lm.value_head.weight.detach().clone()
    loop.run(objective, lm, OptimizerStepper(optimizer), rollout, adv)
    assert all(not torch.equal(policy[n], p) for n, p in _lora(lm, "policy").items())
    assert all(not torch.equal(value[n], p) for n, p in _lora(lm, "value").items())
    assert not torch.equal(head, lm.value_head.weight)
    assert lm.peft.active_adapter == "policy"


def test_a_non_finite_group_is_skipped_and_counted(tiny_model_path):
    lm, rollout, objective, adv, optimizer, loop = _setup(tiny_model_path, epochs=1, minibatch_size=2)
    adv.advantages[:] = float("nan")
    before = _lora(lm, "policy")
    stepper = OptimizerStepper(optimizer)
    loop.run(objective, lm, stepper, rollout, adv)
    assert stepper.skipped_updates == 2 and not optimizer.state
    assert all(torch.equal(before[n], p) for n, p in _lora(lm, "policy").items())


def test_bad_settings_name_the_objective_field():
    with pytest.raises(ValueError, match="model.objective.init_args.clip_range must be > 0, got 0.0"):
        PPOObjective(clip_range=0.0)
    with pytest.raises(ValueError, match="model.objective.init_args.lam must be in \\[0, 1\\], got 1.5"):
        PPOObjective(lam=1.5)
