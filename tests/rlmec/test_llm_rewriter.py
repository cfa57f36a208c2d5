"""LLMRewriter with the real ``openai`` client against the loopback chat server, which plays an exact arithmetic
teacher (ArithmeticRewriter behind the two prompts)."""

import re

import pytest

from lit_critic_rl.critic.openai_api import OpenAICritic
from lit_critic_rl.data.arithmetic import ArithmeticProblem, format_prompt
from lit_critic_rl.rlmec.llm_rewriter import (
    LLMRewriter,
    numbered,
    parse_first_error,
    step_offsets,
    without_restated_steps,
)
from lit_critic_rl.rlmec.rewriter import ArithmeticRewriter, Rewrite
from lit_critic_rl.testing.chat_server import ChatServer

PROBLEM = ArithmeticProblem(7, (("+", 5), ("*", 3), ("-", 4)))  # 12, 36, 32
PROMPT = format_prompt(PROBLEM)
RIGHT = PROBLEM.solution()
WRONG = "Step 1: 7 + 5 = 12\nStep 2: 12 * 3 = 35\nStep 3: 35 - 4 = 31\nThe answer is 31"


def student_answer(prompt: str) -> str:
    block = prompt.split("one numbered step per line:\n", 1)[1].split("\n\n", 1)[0]
    return "\n".join(re.sub(r"^\(\d+\) ", "", line) for line in block.splitlines())


def exact_teacher(prompt: str) -> str:
    """Answers the first-error prompt and the rewrite prompt as an exact teacher would."""
    fix = ArithmeticRewriter().rewrite_one(prompt, student_answer(prompt))
    if "Find the first step" in prompt:
        return f"First wrong step: {fix.first_error_step or 'none'}"
    k = int(re.search(r"Step (\d+) is the first step", prompt).group(1))
    return "\n".join(fix.text.splitlines()[k - 1 :])


@pytest.fixture
def server():
    with ChatServer() as srv:
        srv.reply = exact_teacher
        yield srv


def make(server, tmp_path, cache=True) -> LLMRewriter:
    backend = OpenAICritic(
        model="loopback", base_url=server.base_url, api_key_env=None, timeout=5.0, max_retries=0, max_new_tokens=350
    )
    return LLMRewriter(backend, str(tmp_path / "rewrites.sqlite") if cache else None)


def test_two_calls_give_a_minimal_edit_with_the_kept_steps_verbatim(server, tmp_path):
    rewriter = make(server, tmp_path)
    out = rewriter.rewrite([PROMPT] * 3, [RIGHT, WRONG, ""], ["#### 32"] * 3)
    assert out == [Rewrite(True, None, RIGHT), Rewrite(True, 2, RIGHT), Rewrite(False, error="empty solution")]
    assert server.requests == 2 and rewriter.calls == 2  # the right and the empty solution cost no call
    assert rewriter.failures == {"empty solution": 1}


def test_cached_replies_make_no_request(server, tmp_path):
    make(server, tmp_path).rewrite([PROMPT], [WRONG], ["32"])
    again = make(server, tmp_path)
    assert again.rewrite([PROMPT], [WRONG], ["32"])[0].text == RIGHT
    assert server.requests == 2 and again.cache_hits == 2 and again.calls == 0


def test_server_errors_are_counted_skips_and_not_cached(server, tmp_path):
    server.fail_statuses = [500]
    rewriter = make(server, tmp_path)
    out = rewriter.rewrite([PROMPT], [WRONG], ["32"])[0]
    assert not out.ok and out.error == "InternalServerError" and rewriter.failures["InternalServerError"] == 1
    assert make(server, tmp_path).rewrite([PROMPT], [WRONG], ["32"])[0].ok  # retried next time


def test_a_reply_naming_no_step_is_a_skip(server, tmp_path):
    server.malformed = True
    out = make(server, tmp_path, cache=False).rewrite([PROMPT], [WRONG], ["32"])[0]
    assert out == Rewrite(False, error="reply names no step")


def test_a_rewrite_that_is_still_wrong_is_a_skip(server, tmp_path):
    server.reply = lambda p: "First wrong step: 2" if "Find the first" in p else "Step 2: 12 * 3 = 36\nThe answer is 30"
    out = make(server, tmp_path, cache=False).rewrite([PROMPT], [WRONG], ["32"])[0]
    assert not out.ok and out.error == "rewrite's answer is still wrong" and out.first_error_step == 2
    assert out.text == "Step 1: 7 + 5 = 12\nStep 2: 12 * 3 = 36\nThe answer is 30"  # step 1 kept verbatim


def test_kept_steps_repeated_by_the_teacher_are_not_doubled(server, tmp_path):
    server.reply = lambda p: "First wrong step: 2" if "Find the first" in p else RIGHT
    assert make(server, tmp_path, cache=False).rewrite([PROMPT], [WRONG], ["32"])[0] == Rewrite(True, 2, RIGHT)


def test_first_error_replies_are_parsed_or_named():
    assert parse_first_error("First wrong step: 3", 4) == 3
    assert parse_first_error("first wrong step = Step 2.", 4) == 2
    assert parse_first_error("First wrong step: none", 4) is None
    assert parse_first_error("First wrong step: 9", 4) == "step 9 is not one of the 4 steps"
    assert parse_first_error("Step 2 looks off", 4) == "reply names no step"


def test_steps_are_the_non_empty_lines():
    text = "a = 1\n\nb = 2\nThe answer is 2"
    assert step_offsets(text) == [0, 7, 13]
    assert numbered(text) == "(1) a = 1\n(2) b = 2\n(3) The answer is 2"


def test_a_reference_is_required():
    with pytest.raises(ValueError, match="one problem, solution and reference"):
        LLMRewriter(backend=None).rewrite([PROMPT], [WRONG])


def test_kept_steps_written_again_changed_are_a_counted_skip(server, tmp_path):
    changed = "Step 1: 7 + 5 = 13\nStep 2: 13 * 3 = 39\nStep 3: 39 - 4 = 35\nThe answer is 32"
    server.reply = lambda p: "First wrong step: 2" if "Find the first" in p else changed
    rewriter = make(server, tmp_path, cache=False)
    out = rewriter.rewrite([PROMPT], [WRONG], ["32"])[0]
    assert out == Rewrite(False, 2, error="rewrite changes the steps before step 2")
    assert rewriter.failures == {"rewrite changes the steps before step 2": 1}


def test_kept_steps_written_again_with_their_numbering_are_dropped(server, tmp_path):
    reply = "(1) Step 1:  7 + 5 = 12\nStep 2: 12 * 3 = 36\nStep 3: 36 - 4 = 32\nThe answer is 32"
    server.reply = lambda p: "First wrong step: 2" if "Find the first" in p else reply
    assert make(server, tmp_path, cache=False).rewrite([PROMPT], [WRONG], ["32"])[0] == Rewrite(True, 2, RIGHT)


def test_without_restated_steps_by_hand():
    kept = "a = 1\nb = 2\n"
    assert without_restated_steps(kept, "c = 3") == "c = 3"  # starts after the kept steps
    assert without_restated_steps(kept, "(1) a = 1\n(2) b  = 2\nc = 3") == "c = 3"  # restated unchanged
    assert without_restated_steps(kept, "a = 1\nb = 5\nc = 3") is None  # restated with step 2 changed
    assert without_restated_steps(kept, "a = 7\nb = 2\nc = 3") is None  # "a = 7" is 0.8 alike "a = 1": restated
    assert without_restated_steps("", "c = 3") == "c = 3"


GSM_PROMPT = "Question: Ann has 3 bags of 4 apples and eats 2. How many apples are left?\nAnswer:"
GSM_REFERENCE = "She has 3 * 4 = <<3*4=12>>12 apples.\nShe has 12 - 2 = <<12-2=10>>10 left.\n#### 10"
GSM_WRONG = "She has 3 * 4 = 12 apples.\nShe has 12 - 2 = 9 left.\nThe answer is 9"
GSM_RIGHT = "She has 3 * 4 = 12 apples.\nShe has 12 - 2 = 10 left.\nThe answer is 10"


def gsm_teacher(prompt: str) -> str:
    """A scripted teacher for one GSM8K problem: step 2 is wrong, and it writes from step 2 on."""
    assert "A correct reference solution:\n" + GSM_REFERENCE in prompt  # the reference reaches the teacher
    if "Find the first step" in prompt:
        return "First wrong step: 2"
    return "She has 12 - 2 = 10 left.\nThe answer is 10"


def test_a_gsm8k_round_is_rewritten_by_the_llm_teacher_into_teacher_data(server, tmp_path):
    from lit_critic_rl.rewards.exact_match import ExactMatchReward
    from lit_critic_rl.rlmec.teacher_data import round_records

    server.reply = gsm_teacher
    reward = ExactMatchReward()
    reward.set_references({GSM_PROMPT: GSM_REFERENCE})
    rewriter = make(server, tmp_path, cache=False)
    prompts, responses = [GSM_PROMPT] * 3, [GSM_WRONG, GSM_RIGHT, GSM_WRONG + "\n"]
    rows, duplicates = round_records(prompts, responses, reward, rewriter, {GSM_PROMPT: GSM_REFERENCE})
    assert duplicates == 1  # the third sample repeats the first (after stripping)
    assert [(r["correct"], r["ok"], r["first_error_step"]) for r in rows] == [(False, True, 2), (True, True, None)]
    assert rows[0]["rewrite"] == GSM_RIGHT and rows[1]["rewrite"] == GSM_RIGHT
    assert all(r["reference"] == GSM_REFERENCE for r in rows)  # kept for a GRM trained with reference_field
    assert server.requests == 2  # two calls for the wrong sample; the right one is an identity without a call
    with pytest.raises(KeyError, match="have no reference"):
        round_records(["other prompt"], ["x"], reward, rewriter, {GSM_PROMPT: GSM_REFERENCE})


def reference_teacher(prompt: str) -> str:
    """A teacher that reads the reference it is shown: the first step is wrong, the fix ends on its answer."""
    reference = prompt.split("A correct reference solution:\n", 1)[1].split("\n\nThe student's answer", 1)[0]
    if "Find the first step" in prompt:
        return "First wrong step: 1"
    return f"The answer is {reference.rsplit('####', 1)[-1].strip()}"


def test_llm_rewriter_inside_training_reads_the_tasks_references(server, tiny_model_path, tmp_path):
    """Through the module: GSM8K's references reach the LLM teacher (it raised without them before), its rewrites
    become imitation targets (imitation_target: teacher), and every sample is counted."""
    import csv

    from lightning.pytorch import Trainer
    from lightning.pytorch.loggers import CSVLogger

    from lit_critic_rl.args import GenerationArgs, ModelArgs, PPOArgs
    from lit_critic_rl.data.gsm8k import GSM8KPrompts
    from lit_critic_rl.module import DenseRewardPPO
    from lit_critic_rl.objectives import RLMECObjective
    from lit_critic_rl.rewards.exact_match import ExactMatchReward

    server.reply = reference_teacher
    module = DenseRewardPPO(
        reward=ExactMatchReward(),
        model=ModelArgs(name_or_path=tiny_model_path, check_memory=False),
        generation=GenerationArgs(max_new_tokens=6),
        ppo=PPOArgs(epochs=1, minibatch_size=4, learning_rate=1e-2),
        objective=RLMECObjective(imitation_target="teacher"),
        rewriter=make(server, tmp_path, cache=False),
    )
    trainer = Trainer(
        accelerator="cpu", max_epochs=1, limit_train_batches=2, limit_val_batches=0, num_sanity_val_steps=0,
        default_root_dir=str(tmp_path), logger=CSVLogger(str(tmp_path), name="csv", version=0),
        enable_progress_bar=False, enable_model_summary=False, log_every_n_steps=1,
    )  # fmt: skip
    data = GSM8KPrompts(val_size=4, batch_size=4, val_batch_size=4)
    trainer.fit(module, data)
    rows = [r for r in csv.DictReader(open(tmp_path / "csv" / "version_0" / "metrics.csv")) if r.get("train/rewrites")]
    # the tiny model's gibberish has no final number: two calls per sample, each rewrite ending on the reference's
    # answer, so all 4 samples of both iterations are usable targets
    assert [float(r["train/rewrites"]) for r in rows] == [4.0, 4.0]
    assert [float(r["train/rewrite_prefix_mismatch"]) for r in rows] == [0.0, 0.0]
    assert all(float(r["train/imitation_tokens"]) > 0 for r in rows)
    assert server.requests == 16


def test_teacher_data_cli_takes_any_task_and_rewriter(server, tiny_model_path, tmp_path, capsys):
    """``python -m lit_critic_rl.rlmec.teacher_data`` with GSM8K, its exact-match reward and the LLM teacher, each
    given as a component on the command line, against the loopback server."""
    import json

    from lit_critic_rl.rlmec.teacher_data import main

    server.reply = reference_teacher
    backend = {
        "class_path": "lit_critic_rl.critic.openai_api.OpenAICritic",
        "init_args": {"model": "loopback", "base_url": server.base_url, "api_key_env": None, "max_retries": 0},
    }
    rewriter = {"class_path": "lit_critic_rl.rlmec.LLMRewriter", "init_args": {"backend": backend}}
    out = tmp_path / "gsm8k_teacher.jsonl"
    main([
        "--model", tiny_model_path, "--problems", "2", "--samples", "2", "--max-new-tokens", "4", "--out", str(out),
        "--data", json.dumps({"class_path": "lit_critic_rl.data.GSM8KPrompts", "init_args": {"val_size": 4}}),
        "--reward", "lit_critic_rl.rewards.exact_match.ExactMatchReward", "--rewriter", json.dumps(rewriter),
    ])  # fmt: skip
    counts = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert counts["samples"] == len(rows) and 2 <= len(rows) <= 4  # 2 problems x 2 samples, repeats dropped
    # every sample rewritten by the teacher, shown (and ending on) each problem's reference
    assert all(r["ok"] and r["rewrite"].startswith("The answer is") and "####" in r["reference"] for r in rows)
    assert all(r["rewrite"].split()[-1] == r["reference"].rsplit("####", 1)[-1].strip() for r in rows)
    assert server.requests == 2 * len(rows)
