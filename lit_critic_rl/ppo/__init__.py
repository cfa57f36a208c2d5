"""PPO: rollout, advantages, losses and KL control, as pure tensor functions where possible."""
