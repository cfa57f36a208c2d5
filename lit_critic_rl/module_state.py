"""What a checkpoint of :class:`~lit_critic_rl.module.DenseRewardPPO` keeps besides the trainable weights (the
``lit_critic_rl`` section): the KL controller, the counters, the random state of every rank, the reward scaling,
the critic's state and the kept data round, so ``fit --ckpt_path last`` resumes exactly."""

from __future__ import annotations

from lit_critic_rl.distributed import gather_objects
from lit_critic_rl.rng import capture_rng


def training_state(module) -> dict:
    """The ``lit_critic_rl`` section of a checkpoint (every rank runs this; rank 0 writes the file)."""
    return {
        "kl_ctl": module.kl_ctl.state_dict(),
        "prompts_consumed": module.prompts_consumed,
        "samples_seen": module.samples_seen,
        "iteration": module.iteration,
        "skipped_updates": module.skipped_updates,
        "rng": capture_rng(),
        "rng_by_rank": gather_objects(capture_rng()),
        "reward_moments": module.reward_moments.state_dict(),
        "critic": module.critic.state_dict() if module.critic is not None else {},
        "rounds": module.rounds.state_dict(),
    }


def load_training_state(module, checkpoint: dict) -> None:
    """Restore :func:`training_state` (the random state is restored at train start, per rank)."""
    state = checkpoint.get("lit_critic_rl")
    if state is None:
        raise KeyError("checkpoint has no 'lit_critic_rl' section: it was not written by DenseRewardPPO")
    module.kl_ctl.load_state_dict(state["kl_ctl"])
    module.prompts_consumed, module.samples_seen = state["prompts_consumed"], state["samples_seen"]
    module.iteration, module.skipped_updates = state["iteration"], state["skipped_updates"]
    module._pending_rng = {"rng": state["rng"], "rng_by_rank": state.get("rng_by_rank")}
    if "reward_moments" in state:
        module.reward_moments.load_state_dict(state["reward_moments"])
    if module.critic is not None:
        module.critic.load_state_dict(state.get("critic", {}))
    module.rounds.load_state_dict(state.get("rounds", {}))
