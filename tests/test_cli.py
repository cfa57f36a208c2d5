"""The command line: every shipped YAML parses and instantiates; bad input gives one clear error; fit runs."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lit_critic_rl.cli import SUBCOMMANDS, main

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
QUICKSTART = str(CONFIGS / "quickstart.yaml")
FAST = str(CONFIGS / "debug" / "fast.yaml")
# component files and how they are applied on top of the quickstart
COMPONENT_FLAGS = {
    "reward": "--model.reward",
    "critic": "--model.critic",
    "objective": "--model.objective",
    "shaping": "--model.shaping",
    "data": "--data",
    "trainer": "--trainer",
}


def yaml_cases() -> list[list[str]]:
    cases = []
    for path in sorted(CONFIGS.rglob("*.yaml")):
        group = path.parent.name
        if path.name.endswith("_grm_sft.yaml"):  # RLMEC's reward model trains through `cli.py grm`
            cases.append(["grm", "--config", str(path)])
        elif group == "objective":  # the group-baseline objectives need several samples per prompt
            cases.append(
                ["--config", QUICKSTART, "--model.generation.samples_per_prompt", "2", "--model.objective", str(path)]
            )
        elif group in COMPONENT_FLAGS:
            cases.append(["--config", QUICKSTART, COMPONENT_FLAGS[group], str(path)])
        elif group in ("debug", "eval", "experiment", "presets"):
            cases.append(["--config", QUICKSTART, "--config", str(path)])
        else:
            cases.append(["--config", str(path)])
    return cases


def test_every_shipped_yaml_is_in_a_known_group():
    """A YAML in a new folder must be given its own way of being applied here, not silently skipped."""
    known = set(COMPONENT_FLAGS) | {"debug", "experiment", "presets", "eval"}
    stray = [p for p in CONFIGS.rglob("*.yaml") if p.parent != CONFIGS and p.parent.name not in known]
    assert not stray, stray


def _component(cli, group: str):
    components = {"reward": cli.model.reward, "critic": cli.model.critic, "objective": cli.model.objective}
    return {**components, "data": cli.datamodule}.get(group)


def needs_missing_hardware(path: Path) -> str | None:
    """Why a shipped trainer YAML cannot be instantiated on this machine (a GPU strategy without CUDA), or None."""
    import torch
    import yaml

    spec = yaml.safe_load(path.read_text()) or {}
    if path.parent.name == "trainer" and spec.get("accelerator") in ("gpu", "cuda") and not torch.cuda.is_available():
        return "gpu backend|GPU accelerator|must have DeepSpeed installed"
    return None


@pytest.mark.parametrize("case", yaml_cases(), ids=lambda c: Path(c[-1]).relative_to(CONFIGS).as_posix())
def test_shipped_yaml_instantiates(case, tiny_model_path, tmp_path, monkeypatch):
    import yaml
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "placeholder")
    path = Path(case[-1])
    if case[0] == "grm":
        cli = main([*case, "--model.model.name_or_path", tiny_model_path], run=False)
        cli.model.configure_model()
        assert type(cli.model).__name__ == "GRMFineTuning" and list(cli.model.peft.peft_config) == ["grm"]
        assert cli.datamodule.teacher_file == (yaml.safe_load(path.read_text())["data"]["teacher_file"])
        return
    hardware = needs_missing_hardware(path)
    if hardware:  # the YAML parses and its strategy is built; only the missing GPU (or deepspeed) stops it
        with pytest.raises((MisconfigurationException, ValueError), match=hardware):
            main([*case, "--model.model.name_or_path", tiny_model_path], run=False)
        return
    extra = []
    critic = ((yaml.safe_load(path.read_text()) or {}).get("model") or {}).get("critic") or {}
    if path.name == "grm.yaml" or "MinEditGRM" in str(critic):  # adapter_path is where `grm fit` writes: a tiny one
        extra = ["--model.critic.init_args.adapter_path", untrained_grm_adapter(tiny_model_path, tmp_path)]
    cli = main([*case, "--model.model.name_or_path", tiny_model_path, *extra], run=False)  # run=False: no subcommand
    spec = yaml.safe_load(path.read_text()) or {}
    component = _component(cli, path.parent.name)
    if component is not None and "class_path" in spec:  # the file's class reached the run, not the quickstart's
        assert type(component).__name__ == spec["class_path"].split(".")[-1]
    for section, key in (("model", "critic"), ("model", "reward")):  # an experiment's components reach the run too
        wanted = (spec.get(section) or {}).get(key)
        if isinstance(wanted, dict) and "class_path" in wanted:
            assert type(getattr(cli.model, key)).__name__ == wanted["class_path"].split(".")[-1]
    cli.model.configure_model()  # run=False stops before fit, where Lightning would call it
    assert cli.model.lm.base_parameter_count() == sum(p.numel() for p in load_tiny_base(tiny_model_path).parameters())


def untrained_grm_adapter(model_path: str, root: Path) -> str:
    """A fresh LoRA adapter named ``grm`` on the tiny model, saved as ``grm fit`` saves one."""
    from peft import LoraConfig, get_peft_model

    peft = get_peft_model(load_tiny_base(model_path), LoraConfig(r=4, target_modules="all-linear"), adapter_name="grm")
    peft.save_pretrained(str(root / "adapters"))
    return str(root / "adapters" / "grm")


def load_tiny_base(path):
    from lit_critic_rl.models.loading import load_causal_lm

    return load_causal_lm(path)


def test_lean_memory_preset_reaches_the_model(tiny_model_path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    preset = str(CONFIGS / "presets" / "lean_memory.yaml")
    earlier = tmp_path / "earlier.yaml"  # a model setting that differs from the default, given before the preset
    earlier.write_text("model:\n  model:\n    value_mode: separate_adapter\n")
    configs = ["--config", QUICKSTART, "--config", str(earlier), "--config", preset]
    cli = main([*configs, "--model.model.name_or_path", tiny_model_path], run=False)
    assert cli.model.model_args.activation_checkpointing and cli.model.model_args.malloc_mmap_threshold == 65536
    assert cli.model.model_args.value_mode == "separate_adapter"  # the earlier configs' other model settings survive
    cli.model.configure_model()
    assert len(cli.model.lm._checkpointed) > 0


def _cli_error(args, capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main(args)
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
        main(["--config", QUICKSTART, "--model.model.name_or_path", "./models/missing"], run=False)


def test_fit_then_resume_from_last_through_the_cli(tiny_model_path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    common = ["--config", QUICKSTART, "--config", FAST, "--model.model.name_or_path", tiny_model_path]
    main(["fit", *common])
    last = tmp_path / "runs" / "quickstart" / "checkpoints" / "last.ckpt"
    assert last.is_file()
    cli = main(["fit", *common, "--trainer.max_epochs", "2", "--ckpt_path", "last"])
    assert cli.model.iteration == 4 and cli.model.samples_seen == 16
    assert (tmp_path / "runs" / "quickstart" / "csv" / "version_1" / "config.yaml").is_file()


def test_user_error_prints_one_line_naming_the_field():
    out = subprocess.run(
        [sys.executable, str(REPO / "cli.py"), "fit", "--config", QUICKSTART, "--model.ppo.kl_coef", "-1"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "LIT_CRITIC_RL_DEBUG": ""},
    )
    assert out.returncode == 2
    assert "error: model.ppo.kl_coef must be >= 0, got -1" in out.stderr and "Traceback" not in out.stderr


def test_console_script_shim_prints_help():
    out = subprocess.run([sys.executable, str(REPO / "cli.py"), "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "fit" in out.stdout
    text = " ".join(out.stdout.split())  # argparse wraps the description to the terminal width
    assert "Guides in docs/" in text and "lit-critic-rl report RUN_DIR" in text


def test_help_lists_every_subcommand_with_one_line(capsys):
    assert main(["--help"]) is None
    listed = capsys.readouterr().out.split("subcommands:\n", 1)[1].splitlines()
    names = [line.split()[0] for line in listed]
    expected = ["fit", "validate", "test", "report", "plan-memory", "serve-rollouts", "grm", "teacher-data", "grm-eval"]
    assert sorted(names) == sorted(expected) and list(SUBCOMMANDS) == names
    assert all(len(line.split()) > 2 for line in listed)  # a name, then its summary, on the one line


# one per kind of subcommand: a LightningCLI of PPO, of the GRM, one that builds the PPO run only, and the own parsers
HELP_MARKERS = {
    "fit": "--model.ppo.regenerate_every",
    "grm fit": "--model.learning_rate",
    "plan-memory": "--model.ppo.regenerate_every",
    "serve-rollouts": "--model.ppo.regenerate_every",
    "report": "Rebuild report.html",
    "teacher-data": "--rewriter",
    "grm-eval": "--reference-field",
}


@pytest.mark.parametrize("command", list(HELP_MARKERS))
def test_each_subcommand_dispatches_to_its_own_parser(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command.split(), "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert HELP_MARKERS[command] in out and "subcommands:" not in out  # its own help, not the listing
    if command == "grm fit":
        assert "--model.ppo" not in out  # the GRM's module, not PPO's


def test_scripts_still_run_as_modules():
    scripts = {"lit_critic_rl.rlmec.teacher_data": "--rewriter", "lit_critic_rl.rlmec.grm_eval": "--adapter"}
    for module, marker in scripts.items():
        out = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0 and marker in out.stdout, out.stderr[-500:]


@pytest.mark.parametrize("subcommand", ["validate", "test"])
def test_validate_and_test_log_the_held_out_reward(subcommand, tiny_model_path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = main([subcommand, "--config", QUICKSTART, "--config", FAST, "--model.model.name_or_path", tiny_model_path])
    prefix = "val" if subcommand == "validate" else "test"
    assert f"{prefix}/reward" in cli.trainer.callback_metrics


CRITIC_CASES = {
    "lexicon": [],
    "selfcritique": ["--model.critic.init_args.max_new_tokens", "8"],
    "hf": ["--model.critic.init_args.max_new_tokens", "8"],  # name_or_path set to the tiny model below
    "openai": ["--model.critic.init_args.model", "loopback"],  # base_url set to the test's loopback server
}


@pytest.mark.parametrize("name", sorted(CRITIC_CASES))
def test_fit_with_each_critic_is_a_yaml_change(name, tiny_model_path, tmp_path, monkeypatch):
    import csv

    from lit_critic_rl.testing.chat_server import ChatServer

    secret = "sk-never-write-me-0451"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    extra = list(CRITIC_CASES[name])
    if name == "hf":
        extra += ["--model.critic.init_args.name_or_path", tiny_model_path]
    with ChatServer() as server:
        if name == "openai":
            extra += ["--model.critic.init_args.base_url", server.base_url]
        main(
            [
                "fit",
                "--config",
                QUICKSTART,
                "--config",
                FAST,
                "--model.model.name_or_path",
                tiny_model_path,
                "--model.critic",
                str(CONFIGS / "critic" / f"{name}.yaml"),
                *extra,
            ]
        )
        requests = server.requests
    run = tmp_path / "runs" / "quickstart"
    rows = [r for r in csv.DictReader((run / "csv" / "version_0" / "metrics.csv").open()) if r.get("train/iteration")]
    assert len(rows) == 2
    assert all(float(r["train/critic_calls"]) == 4 for r in rows)
    assert {
        "train/reward_intrinsic",
        "train/critic_failures",
        "train/critic_spans",
        "train/critic_spans_dropped",
    } <= set(rows[0])
    if name == "openai":
        assert requests == 8
        for path in run.rglob("*"):
            assert not path.is_file() or secret.encode() not in path.read_bytes(), path


@pytest.mark.parametrize(("server_kind", "fallbacks"), [("structured_only", 0.0), ("reject_response_format", 1.0)])
def test_fit_with_a_structured_critic_on_both_kinds_of_server(server_kind, fallbacks, tiny_model_path, tmp_path):
    """A server that answers only JSON-schema requests gives no failures; one that rejects response_format costs one
    fallback, logged, and the run trains on free-text critiques."""
    import csv

    from lit_critic_rl.testing.chat_server import ChatServer

    with ChatServer(**{server_kind: True}) as server:
        main(
            [
                "fit",
                "--config",
                QUICKSTART,
                "--config",
                FAST,
                "--model.model.name_or_path",
                tiny_model_path,
                "--model.critic",
                str(CONFIGS / "critic" / "openai_loopback_structured.yaml"),
                "--model.critic.init_args.base_url",
                server.base_url,
                "--trainer.default_root_dir",
                str(tmp_path),
            ]
        )
        formats = list(server.formats)
    rows = [
        r for r in csv.DictReader((tmp_path / "csv" / "version_0" / "metrics.csv").open()) if r.get("train/iteration")
    ]
    assert [float(r["train/critic_failures"]) for r in rows] == [0.0, 0.0]
    assert [float(r["train/critic_structured_fallbacks"]) for r in rows] == [fallbacks, fallbacks]
    assert [float(r["train/critic_generated_total"]) for r in rows] == ([4.0, 8.0] if not fallbacks else [8.0, 12.0])
    if not fallbacks:
        assert formats == ["json_schema"] * 8
    else:  # the first batch's requests in flight together are rejected (1 to 4 of them), then 4 + 4 in free text
        assert 1 <= formats.count("json_schema") <= 4 and formats.count(None) == 8 and formats[-4:] == [None] * 4


TASKS = {
    "sentiment_sparse": ["val/percent_positive"],
    "detox_sparse": ["val/expected_max_toxicity", "val/toxicity_probability"],
    "summarization_sparse": ["val/rouge1", "val/rouge2", "val/rougeL"],
    "gsm8k_sparse": ["val/accuracy"],
    "arith_sparse": ["val/accuracy"],
}


@pytest.mark.parametrize("task", sorted(TASKS))
def test_each_task_trains_and_evaluates_with_k_samples(task, tiny_model_path, tmp_path, monkeypatch):
    import csv
    import json

    monkeypatch.chdir(tmp_path)
    args = [
        "--config",
        QUICKSTART,
        "--config",
        str(CONFIGS / "experiment" / f"{task}.yaml"),
        "--config",
        FAST,
        "--model.model.name_or_path",
        tiny_model_path,
        "--model.evaluation.samples_per_prompt",
        "3",
        "--trainer.limit_test_batches",
        "2",
    ]  # the GSM8K and arithmetic test splits hold hundreds of prompts
    main(["fit", *args])
    run = tmp_path / "runs" / "quickstart" / "csv" / "version_0"
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    logged = {k for r in rows for k, v in r.items() if v}
    generic = ["val/reward", "val/perplexity", "val/distinct_1", "val/distinct_2", "val/distinct_3"]
    assert not [m for m in generic + TASKS[task] if m not in logged]
    assert [int(r["step"]) for r in rows if r.get("val/perplexity")][0] == 0  # the untrained baseline
    cli = main(["test", *args])
    assert {"test/reward", "test/perplexity", *(m.replace("val/", "test/") for m in TASKS[task])} <= set(
        cli.trainer.callback_metrics
    )
    test_rows = [
        json.loads(x)
        for x in (tmp_path / "runs" / "quickstart" / "csv" / "version_1" / "test_samples.jsonl")
        .read_text()
        .splitlines()
    ]
    prompts = [r["prompt"] for r in test_rows]
    assert len(test_rows) == 3 * len(set(prompts))  # k = 3 samples of every held-out prompt


@pytest.mark.parametrize("task", ["sentiment", "detox"])
def test_paper_evaluation_presets_reach_the_evaluator(task, tiny_model_path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    experiment = str(CONFIGS / "experiment" / f"{task}_sparse.yaml")
    preset = str(CONFIGS / "eval" / f"{task}.yaml")
    cli = main(
        [
            "--config",
            QUICKSTART,
            "--config",
            experiment,
            "--config",
            preset,
            "--model.model.name_or_path",
            tiny_model_path,
        ],
        run=False,
    )
    args = cli.model.evaluator.args
    assert args.samples_per_prompt == 25 and args.distinct_mode == "per_prompt"
    assert args.perplexity_mode == "per_sample_mean" and args.max_perplexity == 1e4
    assert (args.generation.max_new_tokens, args.generation.top_p, args.generation.top_k) == (20, 0.9, 0)
    assert cli.model.generation.max_new_tokens != 20  # training keeps its own decoding


def test_every_output_follows_the_root_dir(tiny_model_path, tmp_path, monkeypatch):
    import json

    monkeypatch.chdir(tmp_path)
    common = [
        *("--config", QUICKSTART, "--config", FAST, "--model.model.name_or_path", tiny_model_path),
        *("--model.critic", str(CONFIGS / "critic" / "selfcritique.yaml"), "--model.critic.init_args.max_new_tokens"),
        *("4", "--trainer.default_root_dir", "elsewhere"),
    ]
    main(["fit", *common])
    main(["test", *common, "--ckpt_path", "last"])
    root = tmp_path / "elsewhere"
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert written and all(p.startswith("elsewhere/") for p in written), sorted(written)
    fit_dir, test_dir = root / "csv" / "version_0", root / "csv" / "version_1"
    for path in [
        fit_dir / "metrics.csv",
        fit_dir / "config.yaml",
        fit_dir / "samples.jsonl",
        fit_dir / "val_samples.jsonl",
        fit_dir / "report.html",
        fit_dir / "adapters" / "value_head.pt",
        root / "checkpoints" / "last.ckpt",
        root / "critic_cache.sqlite",
        test_dir / "test_samples.jsonl",
        test_dir / "report.html",
    ]:
        assert path.is_file(), path
    assert "test_samples.jsonl" in (test_dir / "report.html").read_text()  # a test run reports its own samples
    rows = [json.loads(x) for x in (fit_dir / "samples.jsonl").read_text().splitlines()]
    assert rows and all(len(r["token_rewards"]) == len(r["token_ranges"]) for r in rows)
    assert 'class="tok" data-reward=' in (fit_dir / "report.html").read_text()  # the training loop's token rewards
    events = b"".join(p.read_bytes() for p in (root / "tensorboard").rglob("events.out.tfevents.*"))
    assert b"report/rewards" in events and b"report/kl" in events  # the report's plots, as TensorBoard images
