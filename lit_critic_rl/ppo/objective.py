"""PPO on the objective seam (``model.objective: lit_critic_rl.objectives.PPOObjective``, the default): the clipped
policy loss plus the clipped value loss, on GAE advantages of the KL-penalised token rewards.

With a separate value adapter the policy and value losses are back-propagated one after the other, each with its own
adapter active (PEFT freezes inactive adapters, so one backward through both graphs would drop a gradient).

Both losses (and the entropy bonus) are token means over the response tokens of the optimizer step's whole
accumulation group, on every process (:meth:`PPOObjective.token_counts`): minibatch 4 x accumulation 1 and 2 x 2
take the same step whatever the response lengths. With one minibatch per step, as the quickstart, that is the
minibatch's own token mean, as before. The logged losses stay per-minibatch token means.
"""

from __future__ import annotations

from torch import Tensor

from lit_critic_rl.args import check
from lit_critic_rl.models.policy import PolicyValueModel
from lit_critic_rl.ppo.advantages import compute_advantages
from lit_critic_rl.ppo.losses import clipped_policy_loss, clipped_value_loss
from lit_critic_rl.rl.masked import as_minibatch_mean, masked_mean, masked_sum_over
from lit_critic_rl.rl.objective import Backward, Objective, PolicyPass
from lit_critic_rl.types import Advantages, Rollout, TokenRewards

FIELD = "model.objective.init_args."


class PPOObjective(Objective):
    needs_values = True
    kl_in_reward = True

    def __init__(
        self,
        clip_range: float = 0.2,
        value_clip_range: float = 0.2,
        value_coef: float = 0.1,
        entropy_coef: float = 0.0,
        gamma: float = 1.0,
        lam: float = 0.95,
        whiten_advantages: bool = True,
    ) -> None:
        """Defaults follow the dense-reward paper's released code (Cao et al. 2024).

        Args:
            clip_range: Policy ratio clip epsilon.
            value_clip_range: Value clip around the rollout's values.
            value_coef: Weight of the value loss.
            entropy_coef: Weight of the entropy bonus (0 = off).
            gamma: GAE discount.
            lam: GAE lambda.
            whiten_advantages: Normalize advantages to zero mean and unit variance over the batch's response tokens
                (every process's).
        """
        for name, value in (("clip_range", clip_range), ("value_clip_range", value_clip_range)):
            check(value > 0, FIELD + name, "must be > 0", value)
        for name, value in (("value_coef", value_coef), ("entropy_coef", entropy_coef)):
            check(value >= 0, FIELD + name, "must be >= 0", value)
        check(0.0 <= gamma <= 1.0, FIELD + "gamma", "must be in [0, 1]", gamma)
        check(0.0 <= lam <= 1.0, FIELD + "lam", "must be in [0, 1]", lam)
        self.clip_range, self.value_clip_range = clip_range, value_clip_range
        self.value_coef, self.entropy_coef = value_coef, entropy_coef
        self.gamma, self.lam, self.whiten_advantages = gamma, lam, whiten_advantages

    @property
    def needs_logit_graph(self) -> bool:
        return self.entropy_coef > 0

    def advantages(self, rollout: Rollout, rewards: TokenRewards, kl: Tensor | None, kl_coef: float) -> Advantages:
        return compute_advantages(
            rollout, rewards, kl, kl_coef, self.gamma, self.lam, self.whiten_advantages, self.context.reduce
        )

    def token_counts(self, rollout: Rollout, adv: Advantages, idx: Tensor) -> Tensor:
        """The response tokens of rows ``idx``: the policy loss, the value loss and the entropy bonus are token
        means over the accumulation group's response tokens."""
        return rollout.response_mask[idx].sum()[None]

    def minibatch_loss(
        self,
        lm: PolicyValueModel,
        rollout: Rollout,
        adv: Advantages,
        idx: Tensor,
        policy: PolicyPass,
        backward: Backward,
    ) -> dict[str, Tensor]:
        mask, tokens = rollout.response_mask[idx], backward.tokens[0]
        pg = clipped_policy_loss(
            policy.logprobs, rollout.logprobs[idx], adv.advantages[idx], mask, self.clip_range, tokens
        )
        if self.entropy_coef > 0:
            token_entropy = policy.token_entropy(self.context.temperature, with_grad=True)
            bonus, entropy = masked_sum_over(token_entropy, mask, tokens), masked_mean(token_entropy.detach(), mask)
        else:
            bonus = entropy = policy.mean_entropy(mask, self.context.temperature)
        policy_loss = pg.loss - self.entropy_coef * bonus
        old_values, returns = rollout.values[idx], adv.returns[idx]
        values = policy.output.values
        clip = self.value_clip_range
        if values is None:
            backward.part(policy_loss)
            values = lm.value_forward(rollout.input_ids[idx], rollout.attention_mask[idx], rollout.response_len)
            value_loss, vf_clipfrac = clipped_value_loss(values, old_values, returns, mask, clip, tokens)
            backward.part(self.value_coef * value_loss)
        else:
            value_loss, vf_clipfrac = clipped_value_loss(values, old_values, returns, mask, clip, tokens)
            backward.part(policy_loss + self.value_coef * value_loss)
        return {
            "policy_loss": as_minibatch_mean(pg.loss, tokens, mask.sum()),
            "value_loss": as_minibatch_mean(value_loss, tokens, mask.sum()),
            "clipfrac": pg.clipfrac,
            "value_clipfrac": vf_clipfrac,
            "approx_kl": pg.approx_kl,
            "entropy": entropy.detach(),
        }
