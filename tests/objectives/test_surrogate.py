"""The shared clipped surrogate, the loss aggregations and the k3 KL term, on hand-computed numbers."""

import math

import pytest
import torch

from lit_critic_rl.models.policy import ForwardOutput
from lit_critic_rl.objectives import GRPOObjective
from lit_critic_rl.objectives.surrogate import aggregate, clipped_surrogate
from lit_critic_rl.rl.objective import PolicyPass, RunContext
from lit_critic_rl.rl.update import AccumulationGroups, group_tokens
from lit_critic_rl.types import Advantages, Rollout

X = torch.tensor([[1.0, 2.0, 3.0], [4.0, 6.0, 9.0]])
MASK = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])


def test_aggregations_by_hand():
    assert aggregate(X, MASK, "token_mean").item() == pytest.approx(16 / 5)  # (1 + 2 + 3 + 4 + 6) / 5 tokens
    assert aggregate(X, MASK, "seq_mean_token_mean").item() == pytest.approx(3.5)  # (6 / 3 + 10 / 2) / 2
    assert aggregate(X, MASK, "seq_mean_token_sum_norm", 4.0).item() == pytest.approx(2.0)  # (6 / 4 + 10 / 4) / 2
    with pytest.raises(ValueError, match="loss_aggregation"):
        aggregate(X, MASK, "seq_sum")


def test_asymmetric_clip_by_hand():
    # ratios 1.5, 0.5, 0.5, 1.5 with A = 1, 1, -1, -1; clip to [0.8, 1.28]:
    # A=1, r=1.5: max(-1.5, -1.28) = -1.28 (clipped); A=1, r=0.5: max(-0.5, -0.8) = -0.5
    # A=-1, r=0.5: max(0.5, 0.8) = 0.8 (clipped); A=-1, r=1.5: max(1.5, 1.28) = 1.5
    ratio = torch.tensor([[1.5, 0.5, 0.5, 1.5]])
    loss, clipped = clipped_surrogate(ratio.log(), torch.zeros(1, 4), torch.tensor([[1.0, 1.0, -1.0, -1.0]]), 0.2, 0.28)
    torch.testing.assert_close(loss, torch.tensor([[-1.28, -0.5, 0.8, 1.5]]))
    assert clipped.tolist() == [[1.0, 0.0, 1.0, 0.0]]


def _rollout(old, ref):
    ids = torch.zeros(1, 2, dtype=torch.long)
    mask = torch.ones(1, 2)
    return Rollout(["p"], ["y"], ids, mask.long(), ids, mask, logprobs=old.log(), ref_logprobs=ref.log())


def test_minibatch_loss_adds_the_k3_kl_by_hand():
    # current pi = [0.5, 0.25], old = [0.5, 0.5] (ratios 1, 0.5), ref = [0.25, 0.25], A = 1, clip 0.2:
    # surrogate per token: -1 and max(-0.5, -0.8) = -0.5; seq_mean_token_mean = -0.75
    # k3 = ref/pi - ln(ref/pi) - 1: 0.5 + ln 2 - 1 = 0.193147 and 0; mean 0.0965736; loss = -0.75 + 0.1 * 0.0965736
    objective = GRPOObjective(kl_coef=0.1)
    objective.connect(RunContext(samples_per_prompt=2))
    rollout = _rollout(torch.tensor([[0.5, 0.5]]), torch.tensor([[0.25, 0.25]]))
    logp = torch.tensor([[0.5, 0.25]]).log().requires_grad_(True)
    adv = Advantages(torch.zeros(1, 2), torch.ones(1, 2), None, torch.zeros(1, 2))
    losses = []
    logits = torch.zeros(1, 2, 3)
    stats = objective.minibatch_loss(
        None, rollout, adv, torch.tensor([0]), PolicyPass(ForwardOutput(logits, None), logp), losses.append
    )
    assert losses[0].item() == pytest.approx(-0.75 + 0.1 * (0.5 + math.log(2) - 1) / 2)
    assert stats["policy_loss"].item() == pytest.approx(-0.75) and stats["clipfrac"] == 0.0
    assert stats["kl_loss"].item() == pytest.approx((0.5 + math.log(2) - 1) / 2)
    assert losses[0].requires_grad


def test_settings_are_checked_with_the_field_named():
    with pytest.raises(ValueError, match="model.objective.init_args.clip_low must be in \\(0, 1\\), got 1.5"):
        GRPOObjective(clip_low=1.5)
    with pytest.raises(ValueError, match="model.objective.init_args.dense must be 'per_token' or 'collapsed'"):
        GRPOObjective(dense="summed")
    with pytest.raises(ValueError, match="model.generation.samples_per_prompt must be >= 2 for GRPOObjective"):
        GRPOObjective().connect(RunContext(samples_per_prompt=1))


class _RecordingStepper:
    """A Stepper that keeps the losses it back-propagates and counts its steps."""

    def __init__(self):
        self.losses, self.steps, self.skipped_updates = [], 0, 0

    def backward(self, loss):
        loss.backward()
        self.losses.append(loss.item())

    def step(self):
        self.steps += 1

    def skip(self):
        self.skipped_updates += 1


def test_token_mean_divides_by_the_tokens_of_the_whole_accumulation_group():
    # DAPO's token_mean over one group of 2 minibatches: row 0 alone with 3 tokens (A = 1, 2, 3), row 1 alone with
    # 9 tokens (A = 1 each). At ratio 1 the per-token loss is -A, so the minibatch sums are -6 and -9, and the group
    # holds 3 + 9 = 12 tokens: the parts are -6/12 = -0.5 and -9/12 = -0.75, together -15/12 = -1.25, the token mean
    # of the 12 tokens (a mean of the minibatch means would be (-6/3 - 9/9) / 2 = -1.5). The gradient of -A ρ at
    # ρ = 1 with respect to log π is -A, over 12: -1/12, -2/12, -3/12 on row 0 and -1/12 on each token of row 1.
    objective = GRPOObjective(clip_high=0.28, loss_aggregation="token_mean", kl_coef=0.0)
    objective.connect(RunContext(samples_per_prompt=2))
    mask = torch.tensor([[1.0] * 3 + [0.0] * 6, [1.0] * 9])
    ids = torch.zeros(2, 9, dtype=torch.long)
    old = torch.full((2, 9), -1.0)
    rollout = Rollout(["p", "q"], ["y", "z"], ids, mask.long(), ids, mask, logprobs=old, ref_logprobs=old)
    advantages = torch.tensor([[1.0, 2.0, 3.0] + [0.0] * 6, [1.0] * 9])
    adv = Advantages(torch.zeros(2, 9), advantages, None, torch.zeros(2, 9))
    logp = old.clone().requires_grad_(True)
    stepper = _RecordingStepper()
    groups = AccumulationGroups(stepper)
    minibatches = [torch.tensor([0]), torch.tensor([1])]
    tokens = group_tokens([objective.token_counts(rollout, adv, idx) for idx in minibatches])
    assert tokens.tolist() == [12.0]
    groups.start(2, tokens)
    logged = []
    for idx in minibatches:
        policy = PolicyPass(ForwardOutput(torch.zeros(1, 9, 3), None), logp[idx])
        logged.append(objective.minibatch_loss(None, rollout, adv, idx, policy, groups)["policy_loss"].item())
    groups.end()
    assert stepper.losses == pytest.approx([-0.5, -0.75]) and stepper.steps == 1
    torch.testing.assert_close(logp.grad, -advantages * mask / 12)
    assert logged == pytest.approx([-2.0, -1.0])  # the log keeps each minibatch's own token mean
