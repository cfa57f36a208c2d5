"""Every objective ``model.objective`` can name by ``class_path`` (presets: ``configs/objective/``).

PPO lives in ``lit_critic_rl.ppo.objective``, RLMEC's token-level objective in ``lit_critic_rl.rlmec.objective``; the
seam they implement is ``lit_critic_rl.rl.objective.Objective``.
"""

from lit_critic_rl.ppo.objective import PPOObjective
from lit_critic_rl.rl.objective import Objective, RunContext
from lit_critic_rl.rlmec.objective import RLMECObjective

__all__ = ["Objective", "PPOObjective", "RLMECObjective", "RunContext"]
