"""Prompt datamodule: prompts from a local file (txt, jsonl/json, csv, parquet) read with ``datasets``.

The training loader is an endless stream of shuffled passes over the training prompts. Its position is not kept by
the loader (Lightning prefetches a batch ahead, so a loader-side count would be off by one at checkpoint time); it
is derived from the module's ``prompts_consumed`` counter, which is saved in checkpoints, so
``fit --ckpt_path last`` continues with exactly the prompts an uninterrupted run would have seen.

With several processes (DDP), ``batch_size`` is the run's global batch: every rank computes the same global batch
from the stream and takes its own contiguous slice of ``batch_size / world_size`` prompts, and the position advances
by the global batch. The position is a property of the run, not of a rank, so a resumed run sees the same prompts
whatever its number of processes. Lightning cannot inject its distributed sampler into this batch sampler, so a
multi-process fit runs with ``trainer.use_distributed_sampler`` off (the module sets it: ``processes.py``); validation
then runs every held-out prompt on every rank, with the same sampling seed, so all ranks compute the same metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Sampler

_BUILDERS = {".txt": "text", ".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}


def read_hub_table(spec: str):
    """``hub:<name>[:<config>][@<split>]`` -> ``datasets.load_dataset(name, config, split=split)`` (split: train)."""
    import datasets

    name, _, split = spec[len("hub:") :].partition("@")
    name, _, config = name.partition(":")
    try:
        table = datasets.load_dataset(name, config or None, split=split or "train")
    except Exception as err:  # no hub, unknown dataset or split: one message naming the field
        reason = f"{type(err).__name__}: {err}"
        raise ValueError(f"data.prompt_file: could not load '{spec}' from the hub ({reason})") from err
    if len(table) == 0:
        raise ValueError(f"data.prompt_file: split '{split or 'train'}' of '{name}' is empty")
    return table


def read_table(path: str | Path, fields: list[str]):
    """A local txt/jsonl/json/csv/parquet file (or ``hub:<name>[:<config>][@<split>]``) as a ``datasets.Dataset``,
    checked to be non-empty and to hold ``fields`` (a ``.txt`` file has the single column ``text``). Nested records
    are flattened, so a field may be a dotted path such as ``prompt.text``."""
    import datasets

    if str(path).startswith("hub:"):
        table = read_hub_table(str(path)).flatten()  # nested records become dotted columns: prompt.text
        for field in fields:
            if field not in table.column_names:
                raise KeyError(f"data: field '{field}' is not a column of '{path}' (columns: {table.column_names})")
        return table
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data.prompt_file: '{path}' does not exist")
    builder = _BUILDERS.get(path.suffix.lower())
    if builder is None:
        raise ValueError(f"data.prompt_file: '{path}' has an unsupported suffix; use one of {sorted(_BUILDERS)}")
    if not path.read_bytes().strip():
        raise ValueError(f"data.prompt_file: '{path}' holds no non-empty prompts")
    datasets.disable_progress_bars()
    table = datasets.load_dataset(builder, data_files=str(path), split="train").flatten()
    for field in fields:
        if field not in table.column_names:
            raise KeyError(f"data: field '{field}' is not a column of '{path}' (columns: {table.column_names})")
    return table


def read_prompts(path: str | Path, field: str = "prompt") -> list[str]:
    """Non-empty prompts of a file; ``.txt`` holds one prompt per line, other formats name the column ``field``."""
    column = "text" if str(path).lower().endswith(".txt") else field
    table = read_table(path, [column])
    prompts = [str(p).strip() for p in table[column] if p is not None and str(p).strip()]
    if not prompts:
        raise ValueError(f"data.prompt_file: '{path}' holds no non-empty prompts")
    return prompts


def hold_out(prompts: list[str], size: int, seed: int) -> tuple[list[str], list[str]]:
    """``(train, held_out)``: the last ``size`` prompts of a shuffle seeded by ``seed`` are held out."""
    if not 0 <= size < len(prompts):
        raise ValueError(f"data.val_size ({size}) must be >= 0 and below the {len(prompts)} prompts")
    order = torch.randperm(len(prompts), generator=torch.Generator().manual_seed(seed)).tolist()
    shuffled = [prompts[i] for i in order]
    return shuffled[: len(prompts) - size], shuffled[len(prompts) - size :]


class PromptStreamSampler(Sampler[list[int]]):
    """Batches of indices from an endless stream of shuffled passes over the prompts.

    Stream position ``p`` (counted in prompts) lies in pass ``p // per_pass`` whose order is a permutation seeded by
    ``seed + pass``; ``per_pass`` is a multiple of the batch size, so no batch straddles two passes. Each iteration
    starts at ``offset()`` and yields ``len(self)`` batches (one pass); Lightning may stop it earlier
    (``limit_train_batches``), and the next iteration continues from wherever the module's counter says.
    """

    def __init__(
        self, n: int, batch_size: int, seed: int, offset: Callable[[], int], rank: int = 0, world_size: int = 1
    ) -> None:
        if n < batch_size:
            raise ValueError(f"data.batch_size ({batch_size}) is larger than the {n} training prompts")
        if batch_size % world_size:
            raise ValueError(
                f"data.batch_size ({batch_size}) is the global batch and must be a multiple of the "
                f"{world_size} processes (trainer.devices x trainer.num_nodes)"
            )
        self.n, self.batch_size, self.seed, self.offset = n, batch_size, seed, offset
        self.rank, self.world_size = rank, world_size
        self.per_pass = (n // batch_size) * batch_size

    def __len__(self) -> int:
        return self.per_pass // self.batch_size

    def batch_at(self, position: int) -> list[int]:
        """The batch starting at stream ``position`` (a multiple of the batch size)."""
        n_pass, start = divmod(position, self.per_pass)
        order = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed + n_pass))
        return order[start : start + self.batch_size].tolist()

    def rank_slice(self, batch: list[int]) -> list[int]:
        """This rank's contiguous part of a global batch."""
        local = self.batch_size // self.world_size
        return batch[self.rank * local : (self.rank + 1) * local]

    def __iter__(self) -> Iterator[list[int]]:
        position = self.offset()
        for k in range(len(self)):
            yield self.rank_slice(self.batch_at(position + k * self.batch_size))


def _collate(batch: list[str]) -> list[str]:
    return list(batch)


class PromptDataModule(LightningDataModule):
    default_sizes: ClassVar[dict[str, int]] = {"val_size": 32, "batch_size": 8, "val_batch_size": 16}
    """The task's defaults for the size arguments left at None."""

    def __init__(
        self,
        prompt_file: str,
        prompt_field: str = "prompt",
        val_file: str | None = None,
        val_size: int | None = None,
        batch_size: int | None = None,
        val_batch_size: int | None = None,
        seed: int = 0,
        reference_field: str | None = None,
    ) -> None:
        """
        Args:
            prompt_file: Prompts for training (and validation when ``val_file`` is not given).
            prompt_field: Column holding the prompt in jsonl/csv/parquet files.
            val_file: Held-out prompts for validate/test; default: the last ``val_size`` prompts of a seeded shuffle.
            val_size: Prompts held out of ``prompt_file`` when ``val_file`` is None (None = the task's default).
            batch_size: Prompts per PPO iteration (None = the task's default).
            val_batch_size: Prompts per validation batch (None = the task's default).
            seed: Seed of the prompt order.
            reference_field: Column holding each prompt's reference (a summary, a solution). The datamodule is the one
                source of references: rewards and metrics that compare with them receive them at setup.
        """
        super().__init__()
        sizes = {"val_size": val_size, "batch_size": batch_size, "val_batch_size": val_batch_size}
        sizes = {k: self.default_sizes[k] if v is None else v for k, v in sizes.items()}
        self.prompt_file, self.prompt_field, self.val_file = prompt_file, prompt_field, val_file
        self.val_size, self.batch_size, self.val_batch_size = (
            sizes["val_size"],
            sizes["batch_size"],
            sizes["val_batch_size"],
        )
        self.seed, self.reference_field = seed, reference_field
        self.train_prompts: list[str] = []
        self.val_prompts: list[str] = []
        self._references: dict[str, str] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.train_prompts:
            return
        prompts = self.read(self.prompt_file)
        if self.val_file is not None:
            self.train_prompts, self.val_prompts = prompts, self.read(self.val_file)
            return
        self.train_prompts, self.val_prompts = hold_out(prompts, self.val_size, self.seed)

    def format_prompt(self, source: str) -> str:
        """How a source text becomes a prompt; tasks with a template override this."""
        return source

    def read(self, path: str) -> list[str]:
        """The prompts of one file (with ``reference_field``, their references are kept for :meth:`references`)."""
        if self.reference_field is None:
            return [self.format_prompt(p) for p in read_prompts(path, self.prompt_field)]
        table = read_table(path, [self.prompt_field, self.reference_field])
        prompts = []
        for source, reference in zip(table[self.prompt_field], table[self.reference_field]):
            if source is None or not str(source).strip():
                continue
            prompt = self.format_prompt(str(source).strip())
            self._references[prompt] = "" if reference is None else str(reference).strip()
            prompts.append(prompt)
        if not prompts:
            raise ValueError(f"data.prompt_file: '{path}' holds no non-empty prompts")
        return prompts

    def references(self) -> dict[str, str]:
        """Prompt -> reference text of every prompt read (empty without ``reference_field``)."""
        self.setup()
        return dict(self._references)

    def all_prompts(self) -> list[str]:
        self.setup()
        return self.train_prompts + self.val_prompts

    def _consumed(self) -> int:
        module = self.trainer.lightning_module if self.trainer is not None else None
        return int(getattr(module, "prompts_consumed", 0))

    def train_items(self) -> list:
        """What the training stream yields, a batch at a time: prompts here (saved samples in ``RolloutReplay``)."""
        return self.train_prompts

    def train_dataloader(self) -> DataLoader:
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        items = self.train_items()
        sampler = PromptStreamSampler(
            len(items), self.batch_size, self.seed, self._consumed, rank=rank, world_size=world
        )
        # its own generator: creating the loader's iterator must not draw from the global RNG, or a resumed run
        # would sample differently from an uninterrupted one
        return DataLoader(items, batch_sampler=sampler, collate_fn=_collate, generator=torch.Generator().manual_seed(0))

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_prompts, batch_size=self.val_batch_size, collate_fn=_collate)

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()
