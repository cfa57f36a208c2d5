"""Offline training on saved rollouts: RLMEC's one data round (``rlmec`` objective only).

:class:`RolloutReplay` replays a jsonl of sampled solutions, e.g. the file that
``python -m lit_critic_rl.rlmec.teacher_data`` writes, instead of prompts to sample: each training batch is a list
of records, and the module builds the rollout from their texts (:func:`replayed_rollout`) rather than calling
``generate``. When the records carry the teacher's
rewrite (``rewrite``, ``ok``, ``first_error_step``), those are the imitation targets and no rewriter is needed.
Validation and test come from ``eval_data``, a task datamodule, so accuracy is measured on fresh samples of the
policy being trained. The replay position follows the module's ``prompts_consumed`` like the prompt stream, so
``fit --ckpt_path last`` resumes exactly.

A replayed response is re-tokenized from its text. Its sampled ids are not in the file, and the decoded text drops
the EOS, so a replayed row has no EOS token.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from lit_critic_rl.data.base import PromptDataModule, read_table
from lit_critic_rl.rl.groups import group_ids
from lit_critic_rl.rlmec.rewriter import Rewrite
from lit_critic_rl.types import Rollout

REWRITE_FIELDS = ("rewrite", "ok", "first_error_step")


class RolloutReplay(PromptDataModule):
    def __init__(self, rollout_file: str, eval_data: PromptDataModule, batch_size: int = 8, seed: int = 0) -> None:
        """
        Args:
            rollout_file: jsonl/csv/parquet of saved samples with ``prompt`` and ``response`` (and optionally the
                teacher's ``rewrite``, ``ok``, ``first_error_step``).
            eval_data: The task datamodule that serves validate/test prompts and references.
            batch_size: Saved samples per iteration.
            seed: Seed of the replay order.
        """
        super().__init__(rollout_file, "prompt", batch_size=batch_size, val_batch_size=eval_data.val_batch_size)
        self.seed = seed
        self.eval_data = eval_data
        self.records: list[dict] = []

    def setup(self, stage: str | None = None) -> None:
        if self.records:
            return
        self.eval_data.setup(stage)
        table = read_table(self.prompt_file, ["prompt", "response"])
        has_rewrites = all(field in table.column_names for field in REWRITE_FIELDS)
        keep = [*["prompt", "response"], *(REWRITE_FIELDS if has_rewrites else ())]
        self.records = [{k: row[k] for k in keep} for row in table.to_list() if str(row["prompt"] or "").strip()]
        if not self.records:
            raise ValueError(f"data.init_args.rollout_file: '{self.prompt_file}' holds no samples")
        self.train_prompts = [r["prompt"] for r in self.records]

    def references(self) -> dict[str, str]:
        return self.eval_data.references()

    def all_prompts(self) -> list[str]:
        self.setup()
        return self.train_prompts + self.eval_data.all_prompts()

    def train_items(self) -> list[dict]:
        return self.records

    def val_dataloader(self) -> DataLoader:
        return self.eval_data.val_dataloader()

    def test_dataloader(self) -> DataLoader:
        return self.eval_data.test_dataloader()


def is_replay(batch) -> bool:
    return bool(batch) and isinstance(batch[0], dict)


def replayed_rollout(records: list[dict], tokenizer, device) -> tuple[Rollout, list[Rewrite] | None]:
    """The rollout of saved samples (prompts left-padded as :func:`~lit_critic_rl.ppo.rollout.sample` pads them,
    responses re-tokenized and right-padded, samples of identical prompts in one group), and their saved rewrites
    when every record has one."""
    prompts = [r["prompt"] for r in records]
    responses = [r["response"] or "" for r in records]
    enc = tokenizer(prompts, return_tensors="pt", padding=True)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    rows = [tokenizer(y, add_special_tokens=False)["input_ids"] or [tokenizer.eos_token_id] for y in responses]
    width = max(len(r) for r in rows)
    response_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros(len(rows), width)
    for b, ids in enumerate(rows):
        response_ids[b, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        mask[b, : len(ids)] = 1.0
    rollout = Rollout(
        prompts,
        responses,
        enc["input_ids"].to(device),
        enc["attention_mask"].to(device),
        response_ids.to(device),
        mask.to(device),
        group=group_ids(prompts).to(device),
    )
    if not all(all(k in r for k in REWRITE_FIELDS) for r in records):
        return rollout, None
    rewrites = [
        Rewrite(bool(r["ok"]), r["first_error_step"], r["rewrite"] or "", "" if r["ok"] else "teacher failed")
        for r in records
    ]
    return rollout, rewrites
