"""RLMEC (Chen et al. 2024): minimum-edit rewrites, their alignment weights, GRM token rewards and the losses."""

from lit_critic_rl.rlmec.alignment import edited_mask, imitation_weight_rows, imitation_weights
from lit_critic_rl.rlmec.grm_critic import MinEditGRM
from lit_critic_rl.rlmec.grm_rewriter import GRMRewriter
from lit_critic_rl.rlmec.llm_rewriter import LLMRewriter
from lit_critic_rl.rlmec.losses import RLMECPolicyLoss, grm_token_rewards, imitation_loss, rlmec_policy_loss
from lit_critic_rl.rlmec.rewriter import ArithmeticRewriter, Rewrite, Rewriter

__all__ = [
    "ArithmeticRewriter",
    "GRMRewriter",
    "LLMRewriter",
    "MinEditGRM",
    "RLMECPolicyLoss",
    "Rewrite",
    "Rewriter",
    "edited_mask",
    "grm_token_rewards",
    "imitation_loss",
    "imitation_weight_rows",
    "imitation_weights",
    "rlmec_policy_loss",
]
