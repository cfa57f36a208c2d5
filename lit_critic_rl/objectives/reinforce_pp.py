"""REINFORCE++ (Hu 2025): no critic and no group baseline. Per token ``r_t = total_t - β KL_t`` (the critic's token
rewards plus the outcome on the last token, minus the KL penalty of the module's KL controller, ``model.ppo.kl_coef``),
discounted returns ``G_t = Σ_{s >= t} γ^{s-t} r_s``, whitened over every response token of the global batch; the loss
is the shared clipped surrogate with the ``token_mean`` aggregation. Token rewards need no special path here: they
are already per token.
"""

from __future__ import annotations

from torch import Tensor

from lit_critic_rl.args import check
from lit_critic_rl.objectives.surrogate import FIELD, Aggregation, ClippedPolicyGradient
from lit_critic_rl.objectives.token_returns import discounted_returns
from lit_critic_rl.rl.kl import kl_penalized_rewards
from lit_critic_rl.rl.masked import masked_whiten
from lit_critic_rl.types import Advantages, Rollout, TokenRewards


class REINFORCEPlusPlusObjective(ClippedPolicyGradient):
    kl_in_reward = True

    def __init__(
        self,
        clip_low: float = 0.2,
        clip_high: float | None = None,
        loss_aggregation: Aggregation = "token_mean",
        gamma: float = 1.0,
    ) -> None:
        """
        Args:
            clip_low: The ratio's lower clip, ``1 - clip_low``.
            clip_high: The ratio's upper clip, ``1 + clip_high`` (None = ``clip_low``).
            loss_aggregation: 'token_mean', 'seq_mean_token_mean' or 'seq_mean_token_sum_norm'.
            gamma: Discount of the returns.
        """
        super().__init__(clip_low, clip_high, loss_aggregation, 0.0)
        check(0 <= gamma <= 1, FIELD + "gamma", "must be in [0, 1]", gamma)
        self.gamma = gamma

    def advantages(self, rollout: Rollout, rewards: TokenRewards, kl: Tensor | None, kl_coef: float) -> Advantages:
        mask = rollout.response_mask
        penalised = kl_penalized_rewards(rewards.total.to(mask.device), kl, kl_coef, mask)
        advantages = masked_whiten(discounted_returns(penalised, mask, self.gamma), mask, reduce=self.context.reduce)
        return Advantages(kl, advantages, None, penalised)
