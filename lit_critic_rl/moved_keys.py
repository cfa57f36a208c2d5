"""Keys that left ``model.ppo`` when the objective became a component, and the one error that names their new home.

``model.ppo`` holds what every objective shares (the update loop and the KL control); each objective's own settings
are its ``init_args`` under ``model.objective``. jsonargparse would reject an old key as merely unexpected, so the
command line looks for them first (:func:`check_argv`) and says where each one went.
"""

from __future__ import annotations

from pathlib import Path

import yaml

OBJECTIVE = "model.objective (a class_path component; presets in configs/objective/, e.g. configs/objective/rlmec.yaml)"
PPO_ARG = "model.objective.init_args.{} of lit_critic_rl.objectives.PPOObjective"
MOVED: dict[str, str] = {
    "objective": OBJECTIVE,
    "rlmec_clip_range": "model.objective.init_args.clip_range of lit_critic_rl.objectives.RLMECObjective",
    "imitation_coef": "model.objective.init_args.imitation_coef of lit_critic_rl.objectives.RLMECObjective",
    **{
        k: PPO_ARG.format(k)
        for k in ("clip_range", "value_clip_range", "value_coef", "entropy_coef", "gamma", "lam", "whiten_advantages")
    },
}
"""Old ``model.ppo`` key -> where it lives now."""


def moved_messages(keys: list[str]) -> list[str]:
    return [f"model.ppo.{k} has moved to {MOVED[k]}" for k in keys if k in MOVED]


def ppo_keys(config: object, level: str) -> list[str]:
    """The keys of the ``model.ppo`` section of a parsed YAML read at ``level`` ('root', 'model' or 'ppo')."""
    for name in {"root": ("model", "ppo"), "model": ("ppo",), "ppo": ()}[level]:
        config = config.get(name) if isinstance(config, dict) else None
    return list(config) if isinstance(config, dict) else []


def _yaml(value: str) -> object:
    """A config value as jsonargparse reads it: a file path or an inline YAML string."""
    path = Path(value)
    try:
        text = path.read_text() if path.is_file() else value
        return yaml.safe_load(text)
    except (OSError, yaml.YAMLError):
        return None


def check_argv(argv: list[str]) -> None:
    """Raise one ``ValueError`` naming the new key of every old ``model.ppo`` key in the command line's configs
    (``--config``, ``--model``, ``--model.ppo``) and flags (``--model.ppo.<key>``)."""
    found: list[str] = []
    levels = {"--config": "root", "--model": "model", "--model.ppo": "ppo"}
    for i, arg in enumerate(argv):
        flag, has_value, value = arg.partition("=")
        if flag in levels:
            value = value if has_value else (argv[i + 1] if i + 1 < len(argv) else "")
            found += ppo_keys(_yaml(value), levels[flag])
        elif flag.startswith("--model.ppo."):
            found.append(flag.removeprefix("--model.ppo.").split(".")[0])
    messages = list(dict.fromkeys(moved_messages(found)))
    if messages:
        raise ValueError("; ".join(messages))
