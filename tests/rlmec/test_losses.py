"""RLMEC's rewards and losses against numbers computed by hand."""

import math

import pytest
import torch

from lit_critic_rl.rlmec.losses import grm_token_rewards, imitation_loss, rlmec_policy_loss


def test_grm_rewards_clip_into_the_band_of_the_answer():
    p = torch.tensor([[0.9, 0.5, 0.3, 0.55, 1.0], [0.9, 0.45, 0.2, 0.7, 0.0]])
    correct = torch.tensor([True, False])
    mask = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]])
    # right row: p - 0.5 = [0.4, 0, -0.2, 0.05, 0.5] -> clip [0, 0.5] = [0.4, 0, 0, 0.05, 0.5] -> masked last = 0
    # wrong row: p - 0.5 = [0.4, -0.05, -0.3, 0.2, -0.5] -> clip [-0.1, 0] = [0, -0.05, -0.1, 0, -0.1]
    expected = torch.tensor([[0.4, 0.0, 0.0, 0.05, 0.0], [0.0, -0.05, -0.1, 0.0, -0.1]])
    torch.testing.assert_close(grm_token_rewards(p, correct, mask), expected)


def test_grm_reward_bands_and_offset_are_configurable():
    p = torch.tensor([[1.0, 0.0]])
    # offset 0.2: [0.8, -0.2]; right band (0, 0.3) -> [0.3, 0]
    out = grm_token_rewards(p, torch.tensor([True]), right_clip=(0.0, 0.3), offset=0.2)
    torch.testing.assert_close(out, torch.tensor([[0.3, 0.0]]))
    # wrong band (-1, 0) -> [0, -0.2]
    out = grm_token_rewards(p, torch.tensor([False]), wrong_clip=(-1.0, 0.0), offset=0.2)
    torch.testing.assert_close(out, torch.tensor([[0.0, -0.2]]))


def _policy_case():
    # ratios rho = [1, 2, 0.5, 1.2, 1]: policy probs [0.5, 0.5, 0.2, 0.6, 0.5] over reference [0.5, 0.25, 0.4, 0.5, 0.5]
    logp = torch.log(torch.tensor([[0.5, 0.5, 0.2, 0.6, 0.5]], dtype=torch.float64)).requires_grad_()
    ref_logp = torch.log(torch.tensor([[0.5, 0.25, 0.4, 0.5, 0.5]], dtype=torch.float64))
    rewards = torch.tensor([[0.4, 0.2, -0.1, 0.0, 0.3]], dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 1, 0]])  # the last token (reward 0.3) is padding
    return logp, ref_logp, rewards, mask


def test_rlmec_policy_loss_by_hand():
    logp, ref_logp, rewards, mask = _policy_case()
    out = rlmec_policy_loss(logp, ref_logp, rewards, mask, eps=0.3)
    # clip(rho, 0.7, 1.3) = [1, 1.3, 0.7, 1.2, 1]
    # rho * r = [0.4, 0.4, -0.05, 0, 0.3]; clip(rho) * r = [0.4, 0.26, -0.07, 0, 0.3]
    # w = min = [0.4, 0.26, -0.07, 0, (padding) 0]; #{r != 0, masked} = 3
    # L = -(0.4 ln 0.5 + 0.26 ln 0.5 - 0.07 ln 0.2) / 3 = -(-0.457477 + 0.112661) / 3 = 0.114939
    expected = -(0.4 * math.log(0.5) + 0.26 * math.log(0.5) - 0.07 * math.log(0.2)) / 3
    assert out.loss.item() == pytest.approx(expected, rel=1e-9)
    assert out.loss.item() == pytest.approx(0.114939, abs=1e-6)
    assert out.rewarded.item() == 3
    assert out.clipfrac.item() == pytest.approx(2 / 3)  # tokens 1 (0.4 -> 0.26) and 2 (-0.05 -> -0.07)


def test_clipfrac_counts_only_tokens_where_the_clipped_term_is_active():
    # rho = [2, 0.5, 2, 0.5, 1], r = [0.2, 0.2, -0.1, -0.1, 0.3], eps 0.3 -> clip(rho) = [1.3, 0.7, 1.3, 0.7, 1]
    # rho r      = [0.4,  0.1,  -0.2,  -0.05, 0.3]
    # clip(rho) r = [0.26, 0.14, -0.13, -0.07, 0.3]
    # min picks the clipped term (and it differs) at tokens 0 and 3 only: clipfrac 2 / 5;
    # at tokens 1 and 2 the ratio is outside the band but the unclipped term wins
    logp = torch.log(torch.tensor([[0.5, 0.2, 0.5, 0.2, 0.5]], dtype=torch.float64))
    ref_logp = torch.log(torch.tensor([[0.25, 0.4, 0.25, 0.4, 0.5]], dtype=torch.float64))
    rewards = torch.tensor([[0.2, 0.2, -0.1, -0.1, 0.3]], dtype=torch.float64)
    out = rlmec_policy_loss(logp, ref_logp, rewards, torch.ones(1, 5), eps=0.3)
    assert out.clipfrac.item() == pytest.approx(2 / 5)
    # w = [0.26, 0.1, -0.2, -0.07, 0.3]: for r < 0 and rho 2 the weight is rho r = -0.2, beyond (1 + eps) r = -0.13
    # L = -(0.26 ln .5 + 0.1 ln .2 - 0.2 ln .5 - 0.07 ln .2 + 0.3 ln .5) / 5 = -(0.36 ln .5 + 0.03 ln .2) / 5
    assert out.loss.item() == pytest.approx(-(0.36 * math.log(0.5) + 0.03 * math.log(0.2)) / 5, rel=1e-9)


def test_rlmec_policy_gradient_is_minus_the_detached_weight_even_where_clipped():
    logp, ref_logp, rewards, mask = _policy_case()
    rlmec_policy_loss(logp, ref_logp, rewards, mask, eps=0.3).loss.backward()
    # dL/dlogp = -w / 3 = [-0.4/3, -0.26/3, 0.07/3, 0, 0]; token 1 is clipped (rho 2 > 1.3) yet keeps a gradient,
    # where PPO-clip would give it none
    expected = torch.tensor([[-0.4 / 3, -0.26 / 3, 0.07 / 3, 0.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(logp.grad, expected)


def test_rlmec_policy_loss_without_rewarded_tokens_is_zero():
    logp = torch.zeros(2, 3, requires_grad=True)
    out = rlmec_policy_loss(logp, torch.zeros(2, 3), torch.zeros(2, 3), torch.ones(2, 3))
    out.loss.backward()
    assert out.loss.item() == 0.0 and out.rewarded.item() == 0
    assert torch.equal(logp.grad, torch.zeros(2, 3))


def test_imitation_loss_by_hand_from_logits():
    logits = torch.tensor([[[0.0, math.log(3.0)]] * 3])  # softmax [0.25, 0.75] at every position
    targets = torch.tensor([[1, 0, 1]])
    weights = torch.tensor([[1.0, 0.5, 0.5]])
    mask = torch.tensor([[1, 1, 0]])
    # CE = [-ln 0.75, -ln 0.25, (masked)]; masked weights [1, 0.5, 0], 2 counted
    # L = (1 * 0.287682 + 0.5 * 1.386294) / 2 = 0.490415
    loss = imitation_loss(logits, targets, weights, mask)
    assert loss.item() == pytest.approx((math.log(4 / 3) + 0.5 * math.log(4)) / 2, rel=1e-6)
    assert loss.item() == pytest.approx(0.490415, abs=1e-6)


def test_imitation_loss_counts_only_nonzero_weights_and_accepts_logprobs():
    logp = torch.log(torch.tensor([[0.75, 0.25, 0.75]]))
    # weights [1, 0, 0.5]: L = (1 * 0.287682 + 0.5 * 0.287682) / 2 = 0.215762
    loss = imitation_loss(logp, torch.zeros(1, 3, dtype=torch.long), torch.tensor([[1.0, 0.0, 0.5]]))
    assert loss.item() == pytest.approx(1.5 * math.log(4 / 3) / 2, rel=1e-6)
    assert loss.item() == pytest.approx(0.215762, abs=1e-6)


def test_imitation_gradient_through_logits_by_hand():
    logits = torch.tensor([[[0.0, math.log(3.0)]]], requires_grad=True)
    # L = w * CE / 1 with w = 1: dL/dlogits = softmax - onehot(1) = [0.25, -0.25]
    imitation_loss(logits, torch.tensor([[1]]), torch.tensor([[1.0]])).backward()
    torch.testing.assert_close(logits.grad, torch.tensor([[[0.25, -0.25]]]))


def test_imitation_loss_rejects_a_wrong_rank():
    with pytest.raises(ValueError, match="logits or"):
        imitation_loss(torch.zeros(3), torch.zeros(3, dtype=torch.long), torch.ones(3))


def test_a_normaliser_replaces_the_counts_of_both_losses():
    # the accumulation group's counts replace this minibatch's own: the imitation loss above over its 2 weighted
    # tokens is 1.5 * ln(4/3) / 2 = 0.215762; as a part of a group with 6 weighted tokens, 1.5 * 0.287682 / 6 =
    # 0.071921. L_RL at ρ = 1 (logp = ref) with r = [0.5, -0.1] has weights r and loss -(0.5 * ln 0.5 - 0.1 * ln 0.25)
    # = 0.208 (ln 0.5 = -0.693147, ln 0.25 = -1.386294: -(-0.346574 + 0.138629) = 0.207944) over its 2 rewarded
    # tokens: 0.103972; over a group's 8: 0.025993
    logp = torch.log(torch.tensor([[0.75, 0.25, 0.75]]))
    loss = imitation_loss(logp, torch.zeros(1, 3, dtype=torch.long), torch.tensor([[1.0, 0.0, 0.5]]), None, 6.0)
    assert loss.item() == pytest.approx(1.5 * math.log(4 / 3) / 6, rel=1e-6)
    logp = torch.log(torch.tensor([[0.5, 0.25]]))
    rewards = torch.tensor([[0.5, -0.1]])
    own = rlmec_policy_loss(logp, logp, rewards, torch.ones(1, 2))
    grouped = rlmec_policy_loss(logp, logp, rewards, torch.ones(1, 2), normaliser=torch.tensor(8.0))
    assert own.loss.item() == pytest.approx(0.207944 / 2, abs=1e-6)
    assert grouped.loss.item() == pytest.approx(0.207944 / 8, abs=1e-6)
    assert grouped.rewarded.item() == 2  # the logged count stays the minibatch's
