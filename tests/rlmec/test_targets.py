"""The rewrite stage: minimum-edit rewrites of sampled responses become token targets with alignment weights."""

import random

import torch

from lit_critic_rl.data.arithmetic import PROMPT_TEMPLATE, format_prompt, random_problem
from lit_critic_rl.rlmec.alignment import imitation_weights
from lit_critic_rl.rlmec.rewriter import ArithmeticRewriter, Rewrite
from lit_critic_rl.rlmec.targets import rewrite_targets
from lit_critic_rl.types import Rollout


def _rollout(tokenizer, prompts: list[str], responses: list[str]) -> Rollout:
    rows = [tokenizer(r, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for r in responses]
    T = max(len(r) for r in rows)
    ids = torch.tensor([r + [tokenizer.pad_token_id] * (T - len(r)) for r in rows])
    mask = torch.tensor([[1.0] * len(r) + [0.0] * (T - len(r)) for r in rows])
    query = torch.zeros(len(rows), 1, dtype=torch.long)
    return Rollout(prompts, responses, query, torch.ones_like(query), ids, mask)


def test_rewrites_become_targets_weighted_by_alignment_and_failures_are_masked(tiny_tokenizer):
    problem = random_problem(random.Random(3), 2, 3)
    prompt = format_prompt(problem, PROMPT_TEMPLATE)
    right = problem.solution()
    wrong = right.replace("= 29", "= 28", 1)  # a wrong first result, carried into step 2 by the rewriter's fix
    assert wrong != right
    responses = [wrong, right, "no steps at all"]
    rollout = _rollout(tiny_tokenizer, [prompt] * 3, responses)
    rewrites = ArithmeticRewriter().rewrite(rollout.prompts, rollout.responses)
    assert [r.ok for r in rewrites] == [True, True, False]
    filled, stats = rewrite_targets(rollout, rewrites, tiny_tokenizer)
    assert stats == {"rewrites": 2.0, "rewrite_failures": 1.0, "rewrites_changed": 1.0}
    eos = tiny_tokenizer.eos_token_id
    for b in (0, 1):
        expected = tiny_tokenizer(rewrites[b].text, add_special_tokens=False)["input_ids"] + [eos]
        n = int(filled.target_mask[b].sum())
        assert filled.target_ids[b, :n].tolist() == expected
        sampled = rollout.response_ids[b, : int(rollout.response_mask[b].sum())].tolist()
        assert filled.imitation_weights[b, :n].tolist() == imitation_weights(sampled, expected)
    assert set(filled.imitation_weights[0].tolist()) >= {1.0, 0.5}  # the fixed numbers are edited, the rest kept
    assert set(filled.imitation_weights[1, : int(filled.target_mask[1].sum())].tolist()) == {0.5}  # identity
    assert filled.target_mask[2].sum() == 0 and filled.imitation_weights[2].abs().sum() == 0
    assert filled.response_ids is rollout.response_ids  # the rest of the rollout travels unchanged


def test_an_identity_rewrite_imitates_the_sampled_ids_at_half_weight_with_no_added_eos(tiny_tokenizer):
    # a row ended by a stop string (no EOS sampled): ids [5, 6, 7]. The reference weighs an identity 0.5 on every
    # token; re-tokenizing its text and appending an EOS would make the EOS an insertion of weight 1.0.
    ids = torch.tensor([[5, 6, 7, 0], [8, 9, 0, 0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    query = torch.zeros(2, 1, dtype=torch.long)
    text = tiny_tokenizer.decode([5, 6, 7])
    rollout = Rollout(["p", "p"], [text, "x"], query, torch.ones_like(query), ids, mask)
    rewrites = [Rewrite(True, None, text), Rewrite(False, error="teacher failed")]
    filled, stats = rewrite_targets(rollout, rewrites, tiny_tokenizer)
    assert filled.target_ids[0].tolist() == [5, 6, 7]
    assert filled.target_mask[0].tolist() == [1.0, 1.0, 1.0]
    assert filled.imitation_weights[0].tolist() == [0.5, 0.5, 0.5]
    assert filled.imitation_weights[1].tolist() == [0.0, 0.0, 0.0]
    assert stats == {"rewrites": 1.0, "rewrite_failures": 1.0, "rewrites_changed": 0.0}
