"""Every objective ``model.objective`` can name by ``class_path`` (presets: ``configs/objective/``).

PPO lives in ``lit_critic_rl.ppo.objective``, RLMEC's token-level objective in ``lit_critic_rl.rlmec.objective``; the
critic-free ones (GRPO, Dr. GRPO / DAPO, RLOO, REINFORCE++) here, one file each; the seam they implement is
``lit_critic_rl.rl.objective.Objective``.
"""

from lit_critic_rl.objectives.grpo import DrGRPOObjective, GRPOObjective
from lit_critic_rl.objectives.reinforce_pp import REINFORCEPlusPlusObjective
from lit_critic_rl.objectives.rloo import RLOOObjective
from lit_critic_rl.ppo.objective import PPOObjective
from lit_critic_rl.rl.objective import Objective, RunContext
from lit_critic_rl.rlmec.objective import RLMECObjective

__all__ = [
    "DrGRPOObjective",
    "GRPOObjective",
    "Objective",
    "PPOObjective",
    "REINFORCEPlusPlusObjective",
    "RLMECObjective",
    "RLOOObjective",
    "RunContext",
]
