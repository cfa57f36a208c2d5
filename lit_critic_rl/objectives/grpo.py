"""GRPO (Shao et al. 2024, DeepSeekMath) and Dr. GRPO (Liu et al. 2025), with DAPO's clip and aggregation as
settings (``configs/objective/{grpo,dr_grpo,dapo}.yaml``).

GRPO: ``A^out_i = (R_i - mean_g R) / (std_g R + eps)`` over the ``samples_per_prompt`` samples of a prompt (std
Bessel-corrected, as ``torch.std``), each response's token mean averaged over responses, k3 KL to the reference in
the loss. Dr. GRPO drops the std (it up-weights prompts that are nearly always solved or failed) and the per-response
length normalisation (``seq_mean_token_sum_norm``: sum over tokens / ``max_new_tokens``). DAPO is GRPO with
``clip_high`` 0.28 > ``clip_low`` 0.2, the ``token_mean`` aggregation and no KL; its dynamic sampling and overlong
shaping are not here (``train/flat_groups`` logs the share of groups it would resample). Token rewards from a critic
go through :mod:`lit_critic_rl.objectives.token_returns`.
"""

from __future__ import annotations

from torch import Tensor

from lit_critic_rl.args import check
from lit_critic_rl.objectives.grouped import GroupBaselineObjective
from lit_critic_rl.objectives.surrogate import FIELD, Aggregation
from lit_critic_rl.objectives.token_returns import Dense
from lit_critic_rl.rl.groups import group_mean, group_std


class GRPOObjective(GroupBaselineObjective):
    def __init__(
        self,
        clip_low: float = 0.2,
        clip_high: float | None = None,
        loss_aggregation: Aggregation = "seq_mean_token_mean",
        kl_coef: float = 0.04,
        scale_std: bool = True,
        eps: float = 1e-4,
        dense: Dense = "per_token",
        process_weight: float = 1.0,
        process_gamma: float = 1.0,
    ) -> None:
        """
        Args:
            clip_low: The ratio's lower clip, ``1 - clip_low``.
            clip_high: The ratio's upper clip, ``1 + clip_high`` (None = ``clip_low``; DAPO: 0.28).
            loss_aggregation: 'seq_mean_token_mean' (GRPO), 'token_mean' (DAPO) or 'seq_mean_token_sum_norm'
                (Dr. GRPO, the constant normaliser ``model.generation.max_new_tokens``).
            kl_coef: Weight of the k3 KL to the reference in the loss (DeepSeekMath: 0.04; 0 = none).
            scale_std: Divide the group-centred outcome by the group's std (GRPO); False = Dr. GRPO.
            eps: Added to the std.
            dense: How a critic's token rewards enter: 'per_token' (their own return-to-go and per-position
                baseline) or 'collapsed' (summed into the outcome before the baseline; the naive ablation).
            process_weight: Weight of the critic's token-reward advantages against the outcome's.
            process_gamma: Discount of the critic's token rewards' return-to-go.
        """
        super().__init__(clip_low, clip_high, loss_aggregation, kl_coef, dense, process_weight, process_gamma)
        check(eps > 0, FIELD + "eps", "must be > 0 (a group with equal scores has std 0)", eps)
        self.scale_std, self.eps = scale_std, eps

    def outcome_baseline(self, outcome: Tensor, group: Tensor) -> Tensor:
        centred = outcome - group_mean(outcome, group)
        return centred / (group_std(outcome, group) + self.eps) if self.scale_std else centred


class DrGRPOObjective(GRPOObjective):
    def __init__(
        self,
        clip_low: float = 0.2,
        clip_high: float | None = None,
        loss_aggregation: Aggregation = "seq_mean_token_sum_norm",
        kl_coef: float = 0.0,
        dense: Dense = "per_token",
        process_weight: float = 1.0,
        process_gamma: float = 1.0,
    ) -> None:
        """GRPO without the std and with the constant normaliser (Dr. GRPO); arguments as :class:`GRPOObjective`."""
        super().__init__(
            clip_low, clip_high, loss_aggregation, kl_coef, False, 1e-4, dense, process_weight, process_gamma
        )
