"""The command line: every shipped YAML parses and instantiates; bad input gives one clear error; fit runs."""

import subprocess
import sys
from pathlib import Path

import pytest

from lit_critic_rl.cli import main

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
QUICKSTART = str(CONFIGS / "quickstart.yaml")
FAST = str(CONFIGS / "debug" / "fast.yaml")
# component files and how they are applied on top of the quickstart
COMPONENT_FLAGS = {"reward": "--model.reward", "critic": "--model.critic", "data": "--data", "trainer": "--trainer"}


def yaml_cases() -> list[list[str]]:
    cases = []
    for path in sorted(CONFIGS.rglob("*.yaml")):
        group = path.parent.name
        if group in COMPONENT_FLAGS:
            cases.append(["--config", QUICKSTART, COMPONENT_FLAGS[group], str(path)])
        elif group == "debug":
            cases.append(["--config", QUICKSTART, "--config", str(path)])
        else:
            cases.append(["--config", str(path)])
    return cases


def test_every_shipped_yaml_is_covered():
    covered = {Path(arg) for case in yaml_cases() for arg in case if arg.endswith(".yaml")}
    assert covered == set(CONFIGS.rglob("*.yaml")) and len(covered) >= 4


@pytest.mark.parametrize("case", yaml_cases(), ids=lambda c: Path(c[-1]).relative_to(CONFIGS).as_posix())
def test_shipped_yaml_instantiates(case, tiny_model_path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = main(["fit", *case, "--model.model.name_or_path", tiny_model_path], run=False)
    assert cli.model.lm.base_parameter_count() > 0
    assert cli.datamodule is not None and cli.trainer is not None


def _cli_error(args, capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main(args, run=False)
    assert exc.value.code != 0
    return capsys.readouterr().err


def test_unknown_class_path_is_named(capsys):
    err = _cli_error(["fit", "--config", QUICKSTART, "--model.reward", "lit_critic_rl.rewards.NoSuchReward"], capsys)
    assert "model.reward" in err and "NoSuchReward" in err


def test_yaml_typo_is_named(tmp_path, capsys):
    typo = tmp_path / "typo.yaml"
    typo.write_text("model:\n  ppo:\n    learnin_rate: 0.1\n")
    err = _cli_error(["fit", "--config", QUICKSTART, "--config", str(typo)], capsys)
    assert "learnin_rate" in err


def test_missing_model_path_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="model.name_or_path: './models/missing'"):
        main(["fit", "--config", QUICKSTART, "--model.model.name_or_path", "./models/missing"], run=False)


def test_fit_then_resume_from_last_through_the_cli(tiny_model_path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    common = ["--config", QUICKSTART, "--config", FAST, "--model.model.name_or_path", tiny_model_path,
              "--trainer.enable_checkpointing", "true"]
    main(["fit", *common])
    last = tmp_path / "runs" / "quickstart" / "checkpoints" / "last.ckpt"
    assert last.is_file()
    cli = main(["fit", *common, "--trainer.max_epochs", "2", "--ckpt_path", "last"])
    assert cli.model.iteration == 4 and cli.model.samples_seen == 16
    assert (tmp_path / "runs" / "quickstart" / "csv" / "version_1" / "config.yaml").is_file()


def test_console_script_shim_prints_help():
    out = subprocess.run([sys.executable, str(REPO / "cli.py"), "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "fit" in out.stdout


@pytest.mark.parametrize("subcommand", ["validate", "test"])
def test_validate_and_test_log_the_held_out_reward(subcommand, tiny_model_path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = main([subcommand, "--config", QUICKSTART, "--config", FAST, "--model.model.name_or_path", tiny_model_path])
    prefix = "val" if subcommand == "validate" else "test"
    assert f"{prefix}/reward" in cli.trainer.callback_metrics
