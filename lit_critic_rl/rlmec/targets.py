"""The rewrite stage of an RLMEC iteration: a :class:`~lit_critic_rl.rlmec.rewriter.Rewriter`'s minimum-edit
rewrites of the sampled responses -> the rollout's imitation targets.

Each usable rewrite ŷ is tokenized with the policy's tokenizer (plus EOS, as a sampled response ends), and its
imitation weights come from the token-level Levenshtein alignment of the sampled ids y to ŷ's ids (1.0 on edited
tokens, 0.5 elsewhere; :mod:`lit_critic_rl.rlmec.alignment`). Comparing ids, not re-tokenized text, keeps the
weights exact for the tokens the policy sampled. An identity rewrite (``first_error_step`` None: the solution was
right) is the sampled ids themselves, weighted 0.5 on every token as in the reference code; re-tokenizing its text
and appending an EOS the sample may not have had (a stop string ended it, or a replayed row) would weigh that EOS
1.0 as an insertion. A rewrite the teacher could not make (``ok`` False) leaves its row with zero weights, so it is
skipped by the imitation loss, and is counted.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from lit_critic_rl.rewards.references import references_for  # noqa: F401  (re-exported: teacher data, tests)
from lit_critic_rl.rlmec.alignment import imitation_weight_rows
from lit_critic_rl.rlmec.rewriter import Rewrite, Rewriter
from lit_critic_rl.types import Rollout


def target_ids_of(rewrite: Rewrite, sampled: list[int], tokenizer, eos: list[int]) -> list[int]:
    """The token ids the policy imitates for one sample: none for a failed rewrite, the sampled ids for an identity
    rewrite, else the rewrite's text tokenized plus ``eos``."""
    if not rewrite.ok:
        return []
    if rewrite.first_error_step is None:
        return list(sampled)
    return tokenizer(rewrite.text, add_special_tokens=False)["input_ids"] + eos


def rewrite_targets(rollout: Rollout, rewrites: list[Rewrite], tokenizer) -> tuple[Rollout, dict[str, float]]:
    """A copy of ``rollout`` with ``target_ids``, ``target_mask`` and ``imitation_weights`` filled, and counters
    (``rewrites``, ``rewrite_failures``, ``rewrites_changed``: rewrites that differ from the response)."""
    if len(rewrites) != len(rollout):
        raise ValueError(f"{len(rewrites)} rewrites for {len(rollout)} samples")
    mask = rollout.response_mask.cpu()
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    sampled, targets = [], []
    for b, rewrite in enumerate(rewrites):
        n = int(mask[b].sum())
        sampled.append(rollout.response_ids[b, :n].tolist())
        targets.append(target_ids_of(rewrite, sampled[-1], tokenizer, eos))
    width = max(1, max(len(t) for t in targets))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    target_ids = torch.full((len(rollout), width), pad, dtype=torch.long)
    target_mask = torch.zeros(len(rollout), width)
    for b, ids in enumerate(targets):
        target_ids[b, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        target_mask[b, : len(ids)] = 1.0
    weights = imitation_weight_rows(sampled, targets, width)
    device = rollout.response_ids.device
    filled = replace(
        rollout,
        target_ids=target_ids.to(device),
        target_mask=target_mask.to(device),
        imitation_weights=weights.to(device),
    )
    stats = {
        "rewrites": float(sum(r.ok for r in rewrites)),
        "rewrite_failures": float(sum(not r.ok for r in rewrites)),
        "rewrites_changed": float(sum(r.ok and r.first_error_step is not None for r in rewrites)),
    }
    return filled, stats


def imitation_targets(
    rollout: Rollout, rewriter: Rewriter, tokenizer, references: list[str] | None = None
) -> tuple[Rollout, dict[str, float], list[Rewrite]]:
    """The rewrite stage in one call: ``rewriter``'s rewrites of the rollout's samples (the GRM's or the teacher's,
    :func:`~lit_critic_rl.rlmec.grm_rewriter.imitation_rewriter`), with ``references`` when the task has them, as
    imitation targets (:func:`rewrite_targets`); also the rewrites, for the round to keep."""
    rewrites = rewriter.rewrite(rollout.prompts, rollout.responses, references)
    filled, stats = rewrite_targets(rollout, rewrites, tokenizer)
    return filled, stats, rewrites
