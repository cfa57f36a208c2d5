"""What the group-baseline objectives (GRPO, Dr. GRPO, RLOO) share: the samples-per-prompt check and the advantage
stage through :func:`~lit_critic_rl.objectives.token_returns.group_token_advantages`."""

from __future__ import annotations

from torch import Tensor

from lit_critic_rl.args import check
from lit_critic_rl.objectives.surrogate import FIELD, Aggregation, ClippedPolicyGradient
from lit_critic_rl.objectives.token_returns import Dense, group_token_advantages
from lit_critic_rl.rl.objective import RunContext
from lit_critic_rl.types import Advantages, Rollout, TokenRewards


class GroupBaselineObjective(ClippedPolicyGradient):
    def __init__(
        self,
        clip_low: float,
        clip_high: float | None,
        loss_aggregation: Aggregation,
        kl_coef: float,
        dense: Dense,
        process_weight: float,
        process_gamma: float,
    ) -> None:
        super().__init__(clip_low, clip_high, loss_aggregation, kl_coef)
        check(dense in ("per_token", "collapsed"), FIELD + "dense", "must be 'per_token' or 'collapsed'", dense)
        check(process_weight >= 0, FIELD + "process_weight", "must be >= 0", process_weight)
        check(0 <= process_gamma <= 1, FIELD + "process_gamma", "must be in [0, 1]", process_gamma)
        self.dense, self.process_weight, self.process_gamma = dense, process_weight, process_gamma

    def connect(self, context: RunContext) -> None:
        check(
            context.samples_per_prompt >= 2,
            "model.generation.samples_per_prompt",
            f"must be >= 2 for {type(self).__name__}: its baseline is the other samples of the same prompt",
            context.samples_per_prompt,
        )
        super().connect(context)

    def outcome_baseline(self, outcome: Tensor, group: Tensor) -> Tensor:
        """``A^out`` ``[B]`` of the sequence-level rewards ``outcome`` ``[B]`` within their groups."""
        raise NotImplementedError

    def advantages(self, rollout: Rollout, rewards: TokenRewards, kl: Tensor | None, kl_coef: float) -> Advantages:
        """Group-baseline advantages of the token rewards; the KL (logged) is not in the reward."""
        if rollout.group is None:
            raise ValueError(f"{type(self).__name__} needs Rollout.group (sample with sample_groups)")
        mask = rollout.response_mask
        adv = group_token_advantages(
            rewards,
            mask,
            rollout.group,
            self.outcome_baseline,
            self.dense,
            self.process_weight,
            self.process_gamma,
        )
        return Advantages(kl, adv, None, rewards.total.to(mask.device) * mask)
