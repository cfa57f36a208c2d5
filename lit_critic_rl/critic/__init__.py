"""Critics: read (prompt, response) and mark spans of the response; spans become intrinsic token rewards."""

from lit_critic_rl.critic.base import CriticBackend, Critique, Span

__all__ = ["CriticBackend", "Critique", "Span"]
