"""The objectives ``model.ppo.objective`` can name, and building one from the run's arguments.

PPO lives in ``lit_critic_rl.ppo.objective``; RLMEC's token-level objective in ``lit_critic_rl.rlmec.objective``.
"""

from __future__ import annotations

from lit_critic_rl.args import PPOArgs
from lit_critic_rl.ppo.objective import Objective, PPOObjective
from lit_critic_rl.rlmec.objective import RLMECObjective

OBJECTIVES: dict[str, type[Objective]] = {"ppo": PPOObjective, "rlmec": RLMECObjective}
"""``model.ppo.objective`` name -> objective class."""


def make_objective(ppo: PPOArgs, temperature: float, lora_dropout: float) -> Objective:
    """The objective ``ppo.objective`` names, built from the run's arguments."""
    if ppo.objective not in OBJECTIVES:
        raise ValueError(f"model.ppo.objective: '{ppo.objective}' is not one of {sorted(OBJECTIVES)}")
    return OBJECTIVES[ppo.objective](ppo, temperature, lora_dropout)
