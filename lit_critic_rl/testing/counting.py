"""Test support: an HF critic that records every construction (process id and rank) in a file, so a multi-process
test can check that each rank builds its critic exactly once."""

from __future__ import annotations

import os
from pathlib import Path

from lit_critic_rl.critic.hf import HFCritic


class CountingHFCritic(HFCritic):
    def __init__(self, name_or_path: str, count_file: str, **kwargs) -> None:
        """
        Args:
            name_or_path: As :class:`HFCritic`.
            count_file: File that gets one line ``<pid> <LOCAL_RANK>`` per construction.
            kwargs: The other :class:`HFCritic` arguments.
        """
        super().__init__(name_or_path, **kwargs)
        Path(count_file).parent.mkdir(parents=True, exist_ok=True)
        with open(count_file, "a") as f:
            f.write(f"{os.getpid()} {os.environ.get('LOCAL_RANK', '0')}\n")
