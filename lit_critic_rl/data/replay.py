"""Offline training on saved rollouts: RLMEC's one data round (``rlmec`` objective only).

:class:`RolloutReplay` replays a jsonl of sampled solutions, e.g. the file that
``python -m lit_critic_rl.rlmec.teacher_data`` writes, instead of prompts to sample: each training batch is a list
of records, and the module builds the rollout from their texts (:func:`replayed_rollout`) rather than calling
``generate``. When the records carry the teacher's
rewrite (``rewrite``, ``ok``, ``first_error_step``), those are the imitation targets and no rewriter is needed.
Validation and test come from ``eval_data``, a task datamodule, so accuracy is measured on fresh samples of the
policy being trained. The replay position follows the module's ``prompts_consumed`` like the prompt stream, so
``fit --ckpt_path last`` resumes exactly.

A file written by :func:`write_replay` also carries, per record, the sampled token ids (``response_ids``, the EOS
included) and their per-token log-probs under the policy that sampled them (``logprobs``): the replayed row is then
those ids, exactly, and :func:`replayed_logprobs` gives the ratio's denominator
(:mod:`lit_critic_rl.rlmec.ratio`). A record without ids is re-tokenized from its text (the decoded text drops the
EOS, so such a row has no EOS token). A file without log-probs gets them computed once, before training, by
:meth:`RolloutReplay.fill_logprobs` (e.g. under the adapters-off base that sampled it, :func:`logprobs_under`);
with no way to compute them it is an error naming the file, never a silently wrong ratio.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import torch
from torch.utils.data import DataLoader

from lit_critic_rl.data.base import PromptDataModule, read_table
from lit_critic_rl.rl.groups import group_ids
from lit_critic_rl.rlmec.rewriter import Rewrite
from lit_critic_rl.types import Rollout

REWRITE_FIELDS = ("rewrite", "ok", "first_error_step")
LOGPROB_FIELDS = ("response_ids", "logprobs")
"""The sampled ids of a response and their log-probs under the sampler (one float per id)."""

ComputeLogprobs = Callable[[list[dict]], tuple[list[list[int]], list[list[float]]]]
"""Records -> (the response ids, their log-probs under the policy that sampled them), one list per record."""


class RolloutReplay(PromptDataModule):
    def __init__(
        self,
        rollout_file: str,
        eval_data: PromptDataModule,
        batch_size: int = 8,
        seed: int = 0,
        missing_logprobs: Literal["base", "error"] = "error",
    ) -> None:
        """
        Args:
            rollout_file: jsonl/csv/parquet of saved samples with ``prompt`` and ``response`` (and optionally the
                teacher's ``rewrite``, ``ok``, ``first_error_step``, and the sampled ``response_ids`` with their
                sampler ``logprobs``, as :func:`write_replay` writes them).
            eval_data: The task datamodule that serves validate/test prompts and references.
            batch_size: Saved samples per iteration.
            seed: Seed of the replay order.
            missing_logprobs: Records without sampler log-probs (``response_ids``, ``logprobs``): ``base`` computes
                them once, before training, under the adapters-off base, which is right only when the base sampled
                the file (the paper's one offline round: ``rlmec.teacher_data`` without ``--adapter``); ``error``
                refuses the file, naming it and the fields.
        """
        if missing_logprobs not in ("base", "error"):
            raise ValueError(f"data.init_args.missing_logprobs must be 'base' or 'error', got {missing_logprobs!r}")
        self.missing_logprobs = missing_logprobs
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
        keep += [f for f in LOGPROB_FIELDS if f in table.column_names]
        rows = [row for row in table.to_list() if str(row["prompt"] or "").strip()]
        self.records = [{k: row[k] for k in keep if k not in LOGPROB_FIELDS or row[k] is not None} for row in rows]
        if not self.records:
            raise ValueError(f"data.init_args.rollout_file: '{self.prompt_file}' holds no samples")
        self.train_prompts = [r["prompt"] for r in self.records]

    def fill_logprobs(self, compute: ComputeLogprobs | None, batch_size: int = 8) -> int:
        """Give every record its sampled ids and sampler log-probs, computing them with ``compute`` for the records
        that lack them (once: records that have them are left alone). Returns how many were computed; raises,
        naming the file, when some lack them and ``compute`` is None."""
        self.setup()
        todo = [r for r in self.records if not has_logprobs(r)]
        if todo and compute is None:
            raise ValueError(
                f"data.init_args.rollout_file: '{self.prompt_file}' has {len(todo)} record(s) without per-token "
                f"log-probs ({', '.join(LOGPROB_FIELDS)}) and no way to compute them was given; write the file "
                "with lit_critic_rl.data.replay.write_replay, or set data.init_args.missing_logprobs: base when "
                "the adapters-off base sampled it"
            )
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            ids, logprobs = compute(chunk)
            for record, row_ids, row_logprobs in zip(chunk, ids, logprobs, strict=True):
                record.update(response_ids=list(row_ids), logprobs=[float(x) for x in row_logprobs])
            check_logprobs(chunk, self.prompt_file)
        return len(todo)

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


def replayed_rollout(records: list[dict], tokenizer, device) -> tuple[Rollout, list[Rewrite] | None]:
    """The rollout of saved samples (prompts left-padded as :func:`~lit_critic_rl.ppo.rollout.sample` pads them,
    responses re-tokenized and right-padded, samples of identical prompts in one group), and their saved rewrites
    when every record has one."""
    prompts = [r["prompt"] for r in records]
    responses = [r["response"] or "" for r in records]
    enc = tokenizer(prompts, return_tensors="pt", padding=True)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    if all("response_ids" in r for r in records):  # the sampled ids, exactly (EOS included)
        rows = [list(r["response_ids"]) or [tokenizer.eos_token_id] for r in records]
    else:
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


def has_logprobs(record: dict) -> bool:
    return all(record.get(field) is not None for field in LOGPROB_FIELDS)


def check_logprobs(records: list[dict], source: str | Path) -> None:
    """Every record has as many log-probs as sampled ids (one clear error naming ``source`` otherwise)."""
    for n, record in enumerate(records):
        if not has_logprobs(record):
            raise ValueError(f"'{source}': record {n} has no {' and '.join(LOGPROB_FIELDS)}")
        if len(record["logprobs"]) != len(record["response_ids"]):
            raise ValueError(
                f"'{source}': record {n} has {len(record['logprobs'])} log-probs for "
                f"{len(record['response_ids'])} response ids"
            )


def replayed_logprobs(records: list[dict], rollout: Rollout, source: str | Path = "replayed records") -> torch.Tensor:
    """``[B, T]`` saved sampler log-probs of ``records``, aligned with ``rollout.response_ids`` (as built by
    :func:`replayed_rollout` from the same records), 0 on padding."""
    check_logprobs(records, source)
    out = torch.zeros(rollout.response_ids.shape, dtype=torch.float32)
    for b, record in enumerate(records):
        out[b, : len(record["logprobs"])] = torch.tensor(record["logprobs"], dtype=torch.float32)
    return out.to(rollout.response_ids.device)


def replay_records(rollout: Rollout, logprobs: torch.Tensor, rewrites: list[Rewrite] | None = None) -> list[dict]:
    """One record per sample of ``rollout``: its texts, its sampled ids, their sampler log-probs ``logprobs``
    (``[B, T]``, e.g. :func:`~lit_critic_rl.rlmec.ratio.sampler_logprobs` on the fresh round) and, when given, its
    rewrite. What :func:`write_replay` saves and :class:`RolloutReplay` reads."""
    if rewrites is not None and len(rewrites) != len(rollout):
        raise ValueError(f"{len(rewrites)} rewrites for {len(rollout)} samples")
    mask, ids, logprobs = rollout.response_mask.cpu(), rollout.response_ids.cpu(), logprobs.detach().float().cpu()
    out = []
    for b in range(len(rollout)):
        n = int(mask[b].sum())
        record = {"prompt": rollout.prompts[b], "response": rollout.responses[b]}
        record.update(response_ids=ids[b, :n].tolist(), logprobs=logprobs[b, :n].tolist())
        if rewrites is not None:
            r = rewrites[b]
            record.update(ok=r.ok, first_error_step=r.first_error_step, rewrite=r.text if r.ok else "")
        out.append(record)
    return out


def write_replay(path: str | Path, records: list[dict]) -> None:
    """Write ``records`` (:func:`replay_records`) as jsonl, one per line."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def logprobs_under(lm, tokenizer, temperature: float = 1.0, reference: bool = True) -> ComputeLogprobs:
    """A :data:`ComputeLogprobs` that replays records and reads their log-probs under ``lm`` (a
    :class:`~lit_critic_rl.models.policy.PolicyValueModel`): its adapters-off base with ``reference`` (the model
    that sampled a file made by ``rlmec.teacher_data`` without ``--adapter``), else its policy adapter. Only right
    when that model is the one that sampled the file."""
    from lit_critic_rl.rlmec.ratio import sampler_logprobs

    def compute(records: list[dict]) -> tuple[list[list[int]], list[list[float]]]:
        rollout, _ = replayed_rollout(records, tokenizer, next(lm.parameters()).device)
        logp = sampler_logprobs(lm, rollout, temperature, chunk_size=len(records), reference=reference).cpu()
        mask, ids = rollout.response_mask.cpu(), rollout.response_ids.cpu()
        lengths = [int(m.sum()) for m in mask]
        return [ids[b, :n].tolist() for b, n in enumerate(lengths)], [
            logp[b, :n].tolist() for b, n in enumerate(lengths)
        ]

    return compute
