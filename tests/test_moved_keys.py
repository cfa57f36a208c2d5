"""Old ``model.ppo`` keys of the objective fail with one message naming their new key."""

import pytest

from lit_critic_rl.cli import main
from lit_critic_rl.moved_keys import check_argv


def test_an_old_objective_key_in_a_config_file_names_model_objective(tmp_path):
    old = tmp_path / "old.yaml"
    old.write_text("model:\n  ppo:\n    objective: rlmec\n    rlmec_clip_range: 0.3\n    learning_rate: 0.1\n")
    with pytest.raises(ValueError) as err:
        main(["fit", "--config", str(old)], run=False)
    message = str(err.value)
    assert message.startswith("model.ppo.objective has moved to model.objective (a class_path component")
    assert "model.ppo.rlmec_clip_range has moved to model.objective.init_args.clip_range of " in message
    assert "learning_rate" not in message  # still a model.ppo key


def test_old_keys_as_flags_and_section_files_are_named(tmp_path):
    with pytest.raises(ValueError, match="model.ppo.gamma has moved to model.objective.init_args.gamma of .*PPO"):
        check_argv(["fit", "--model.ppo.gamma=0.9"])
    section = tmp_path / "ppo.yaml"
    section.write_text("imitation_coef: 2.0\n")
    with pytest.raises(ValueError, match="model.ppo.imitation_coef has moved to model.objective.init_args"):
        check_argv(["fit", "--model.ppo", str(section)])
    with pytest.raises(ValueError, match="model.ppo.objective has moved"):
        check_argv(["--model", "{ppo: {objective: ppo}}"])  # inline YAML, as jsonargparse reads it


def test_current_keys_pass():
    check_argv(["fit", "--model.ppo.learning_rate", "0.1", "--model.objective.init_args.clip_range", "0.3"])
