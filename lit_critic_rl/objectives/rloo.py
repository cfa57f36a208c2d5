"""RLOO (Ahmadian et al. 2024; Kool et al. 2019): REINFORCE with the leave-one-out baseline,
``A^out_i = R_i - mean_{j != i in g} R_j`` over the other samples of the same prompt (unbiased: the baseline does not
depend on sample ``i``). The loss is the shared clipped surrogate (a plain policy gradient at ratio 1, i.e. in the
first epoch); token rewards from a critic go through :mod:`lit_critic_rl.objectives.token_returns`.
"""

from __future__ import annotations

from torch import Tensor

from lit_critic_rl.objectives.grouped import GroupBaselineObjective
from lit_critic_rl.objectives.surrogate import Aggregation
from lit_critic_rl.objectives.token_returns import Dense
from lit_critic_rl.rl.groups import leave_one_out_mean


class RLOOObjective(GroupBaselineObjective):
    def __init__(
        self,
        clip_low: float = 0.2,
        clip_high: float | None = None,
        loss_aggregation: Aggregation = "token_mean",
        kl_coef: float = 0.0,
        dense: Dense = "per_token",
        process_weight: float = 1.0,
        process_gamma: float = 1.0,
    ) -> None:
        """Arguments as :class:`~lit_critic_rl.objectives.grpo.GRPOObjective`."""
        super().__init__(clip_low, clip_high, loss_aggregation, kl_coef, dense, process_weight, process_gamma)

    def outcome_baseline(self, outcome: Tensor, group: Tensor) -> Tensor:
        return outcome - leave_one_out_mean(outcome, group)
