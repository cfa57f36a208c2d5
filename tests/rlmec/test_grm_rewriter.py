"""The GRM's rewrites as imitation targets: right samples are their own, the rest are generated and checked."""

import pytest
import torch

from lit_critic_rl.args import AdapterArgs
from lit_critic_rl.critic.base import CriticSetup
from lit_critic_rl.models.loading import load_causal_lm
from lit_critic_rl.models.policy import PolicyValueModel
from lit_critic_rl.rlmec.grm import rewrite_prompt
from lit_critic_rl.rlmec.grm_critic import MinEditGRM
from lit_critic_rl.rlmec.grm_eval import greedy
from lit_critic_rl.rlmec.grm_rewriter import (
    GRMRewriter,
    checked_rewrite,
    first_changed_line,
    imitation_rewriter,
)
from lit_critic_rl.rlmec.rewriter import ArithmeticRewriter, Rewrite
from lit_critic_rl.rlmec.targets import imitation_targets, references_for
from lit_critic_rl.types import Rollout

PROMPT = "Problem: Start with 3. Add 4. Multiply by 2. What is the result?\n"
WRONG = "Step 1: 3 + 4 = 7\nStep 2: 7 * 2 = 15\nThe answer is 15"
FIXED = "Step 1: 3 + 4 = 7\nStep 2: 7 * 2 = 14\nThe answer is 14"


def test_first_changed_line_by_hand():
    assert first_changed_line(WRONG, FIXED) == 2  # line 1 kept, line 2 "= 15" -> "= 14"
    assert first_changed_line(WRONG, WRONG + "\n\n") is None  # blank lines do not count
    assert first_changed_line("a\nb", "a\nb\nc") == 3  # a line added after the last one
    assert first_changed_line("a\nb\nc", "a") == 2  # lines dropped


def test_checked_rewrite_keeps_right_answers_and_names_the_failures():
    assert checked_rewrite(WRONG, FIXED + "\n\nStep 9: junk", "#### 14", stop="\n\n") == Rewrite(
        True, 2, FIXED + "\n\n"
    )
    assert checked_rewrite(WRONG, FIXED, None) == Rewrite(True, 2, FIXED)  # no reference: only a number is required
    assert checked_rewrite(WRONG, "  \n", "14").error == "GRM rewrite is empty"
    assert checked_rewrite(WRONG, "Step one: three", "14").error == "GRM rewrite has no final number"
    still = checked_rewrite(WRONG, WRONG.replace("15", "16"), "#### 14")
    assert (still.ok, still.first_error_step, still.error) == (False, 2, "GRM rewrite's answer is still wrong")


def test_imitation_target_picks_the_grm_or_the_teacher():
    grm, teacher = object(), ArithmeticRewriter()
    assert imitation_rewriter("grm", grm, teacher) is grm and imitation_rewriter("teacher", grm, teacher) is teacher
    with pytest.raises(ValueError, match="imitation_target 'grm' needs a GRM critic"):
        imitation_rewriter("grm", None, teacher)
    with pytest.raises(ValueError, match="imitation_target 'teacher' needs model.rewriter"):
        imitation_rewriter("teacher", grm, None)
    with pytest.raises(ValueError, match="'grm' or 'teacher'"):
        imitation_rewriter("critic", grm, teacher)


def test_references_for_prompts_and_a_missing_one_is_an_error():
    assert references_for(["a", "b"], {"a": "1", "b": "2"}) == ["1", "2"]
    assert references_for(["a"], {}) is None
    with pytest.raises(KeyError, match="1 prompt\\(s\\) have no reference"):
        references_for(["a", "c"], {"a": "1"})


@pytest.fixture
def untrained_grm(tiny_model_path, tiny_tokenizer, tmp_path):
    """A GRM adapter straight from initialisation (its rewrites are the tiny model's babble), on its own base."""
    from peft import get_peft_model

    from lit_critic_rl.models.policy import lora_config

    torch.manual_seed(0)
    peft = get_peft_model(load_causal_lm(tiny_model_path), lora_config(AdapterArgs(r=4, alpha=8)), adapter_name="grm")
    peft.save_pretrained(str(tmp_path / "adapters"))
    grm = MinEditGRM(str(tmp_path / "adapters" / "grm"), base=tiny_model_path)
    lm = PolicyValueModel(load_causal_lm(tiny_model_path), AdapterArgs(r=4, alpha=8))
    grm.setup(CriticSetup(lm, tiny_tokenizer, tiny_model_path, tmp_path))
    return grm


def test_the_grm_rewrites_wrong_samples_and_counts_its_failures(untrained_grm, tiny_tokenizer):
    rewriter = GRMRewriter(untrained_grm, max_new_tokens=8)
    out = rewriter.rewrite([PROMPT] * 3, [FIXED, WRONG, " "], ["#### 14"] * 3)
    assert out[0] == Rewrite(True, None, FIXED)  # right: its own target, no call
    assert out[2] == Rewrite(False, error="empty solution")
    assert rewriter.calls == 1  # only the wrong sample was sent to the GRM
    # independent check: the greedy continuation of the rewrite prompt under the GRM, checked as a rewrite
    (text,) = greedy(untrained_grm.model, untrained_grm.tokenizer, [rewrite_prompt(PROMPT, WRONG)], 8)
    assert out[1] == checked_rewrite(WRONG, text, "#### 14")
    assert not out[1].ok  # an untrained GRM's babble cannot reach 14
    assert rewriter.failures == {"empty solution": 1, out[1].error: 1}


def test_grm_imitation_targets_leave_failed_rows_without_weight(untrained_grm, tiny_tokenizer):
    rows = [tiny_tokenizer(y, add_special_tokens=False)["input_ids"] for y in (FIXED, WRONG)]
    T = max(len(r) for r in rows)
    ids = torch.tensor([r + [0] * (T - len(r)) for r in rows])
    mask = torch.tensor([[1.0] * len(r) + [0.0] * (T - len(r)) for r in rows])
    query = torch.zeros(2, 1, dtype=torch.long)
    rollout = Rollout([PROMPT] * 2, [FIXED, WRONG], query, torch.ones_like(query), ids, mask)
    filled, stats, rewrites = imitation_targets(rollout, GRMRewriter(untrained_grm, 8), tiny_tokenizer, ["14"] * 2)
    assert stats == {"rewrites": 1.0, "rewrite_failures": 1.0, "rewrites_changed": 0.0}
    n = len(rows[0])
    assert filled.target_ids[0, :n].tolist() == rows[0] and filled.imitation_weights[0, :n].tolist() == [0.5] * n
    assert filled.imitation_weights[1].abs().sum() == 0 and not rewrites[1].ok
