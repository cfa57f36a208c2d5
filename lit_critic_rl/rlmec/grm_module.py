"""SFT of the generative reward model as its own LoRA adapter (RLMEC step 2), with Lightning's ``fit``:

    python cli.py grm fit --config configs/experiment/arith_grm_sft.yaml

:class:`GRMData` reads a teacher-data jsonl (:mod:`lit_critic_rl.rlmec.teacher_data`), balances identity rewrites
against fixes and makes two examples per record (:func:`~lit_critic_rl.rlmec.grm.sft_examples`).
:class:`GRMFineTuning` trains a LoRA adapter named ``grm`` on the base model with the cross-entropy of the answer
tokens, and saves it with PEFT's ``save_pretrained`` in ``<run dir>/adapters/grm`` (PEFT puts a non-default adapter
in a folder of its name). That folder is what ``MinEditGRM(adapter_path=...)`` loads, by default onto the policy's
own base, so one base holds policy, reference and GRM. The data's ``reference_field`` is saved next to the adapter
(``grm_prompt.json``): a GRM trained with references must be used with them, and one trained without, without.
"""

from __future__ import annotations

import random
from dataclasses import asdict
from pathlib import Path

import torch
from lightning.pytorch import LightningDataModule, LightningModule
from torch.utils.data import DataLoader

from lit_critic_rl.args import AdapterArgs, ModelArgs, check
from lit_critic_rl.rlmec.grm import sft_examples, write_prompt_config
from lit_critic_rl.rlmec.grm_tokens import answer_logprobs
from lit_critic_rl.rlmec.teacher_data import balanced, read_records

GRM = "grm"


def _pairs(batch: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return list(batch)


class GRMData(LightningDataModule):
    def __init__(
        self,
        teacher_file: str,
        val_file: str | None = None,
        val_size: int = 32,
        batch_size: int = 8,
        identity_ratio: float = 1.0,
        seed: int = 0,
        reference_field: str | None = None,
    ) -> None:
        """
        Args:
            teacher_file: jsonl of ``rlmec.teacher_data`` records (sampled solutions and the teacher's rewrites).
            val_file: Held-out records for validation loss; None holds out ``val_size`` examples of ``teacher_file``.
            val_size: Examples held out of ``teacher_file`` when ``val_file`` is None.
            batch_size: Examples per optimizer step.
            identity_ratio: Identity rewrites kept per fix (the paper: about one).
            seed: Seed of the identity subsample and the shuffle.
            reference_field: Record field holding a correct solution, shown in the GRM's prompts as the paper's
                GRM sees one (e.g. ``reference``, which ``rlmec.teacher_data`` writes); None = prompts without one.
                Saved with the adapter, so scoring and evaluation use the same prompts.
        """
        super().__init__()
        check(batch_size >= 1, "data.init_args.batch_size", "must be >= 1", batch_size)
        check(identity_ratio >= 0, "data.init_args.identity_ratio", "must be >= 0", identity_ratio)
        self.teacher_file, self.val_file, self.val_size = teacher_file, val_file, val_size
        self.batch_size, self.identity_ratio, self.seed = batch_size, identity_ratio, seed
        self.reference_field = reference_field
        self.train_examples: list[tuple[str, str]] = []
        self.val_examples: list[tuple[str, str]] = []

    def _examples(self, path: str) -> list[tuple[str, str]]:
        examples = sft_examples(balanced(read_records(path), self.seed, self.identity_ratio), self.reference_field)
        if not examples:
            raise ValueError(f"data.init_args: '{path}' holds no usable rewrite (every record has ok=false)")
        return examples

    def setup(self, stage: str | None = None) -> None:
        if self.train_examples:
            return
        examples = self._examples(self.teacher_file)
        random.Random(self.seed).shuffle(examples)
        if self.val_file is not None:
            self.train_examples, self.val_examples = examples, self._examples(self.val_file)
        else:
            n_val = min(self.val_size, len(examples) // 5)
            self.val_examples, self.train_examples = examples[:n_val], examples[n_val:]

    def train_dataloader(self) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(
            self.train_examples, batch_size=self.batch_size, shuffle=True, generator=generator, collate_fn=_pairs
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_examples, batch_size=self.batch_size, collate_fn=_pairs)


class GRMFineTuning(LightningModule):
    def __init__(
        self, model: ModelArgs = ModelArgs(), adapter: AdapterArgs = AdapterArgs(), learning_rate: float = 2e-4
    ) -> None:
        """
        Args:
            model: The base model the GRM adapter trains on (the policy's base, so the adapter can share it).
            adapter: LoRA settings of the GRM adapter.
            learning_rate: AdamW learning rate of the adapter.
        """
        super().__init__()
        check(learning_rate > 0, "model.learning_rate", "must be > 0", learning_rate)
        self.save_hyperparameters({"model": asdict(model), "adapter": asdict(adapter), "learning_rate": learning_rate})
        self.model_args, self.adapter_args, self.learning_rate = model, adapter, learning_rate
        self.strict_loading = False  # checkpoints hold the adapter, not the frozen base
        self.peft = None
        self.tokenizer = None

    def configure_model(self) -> None:
        """Load the base and add the ``grm`` adapter (here, not in ``__init__``, so strategies can defer it)."""
        if self.peft is not None:
            return
        from peft import get_peft_model

        from lit_critic_rl.library_messages import peft_wrapping
        from lit_critic_rl.models.loading import load_causal_lm, load_tokenizer
        from lit_critic_rl.models.policy import lora_config, prepare_quantized

        self.tokenizer = load_tokenizer(self.model_args.name_or_path)
        base = load_causal_lm(self.model_args.name_or_path, self.model_args.quantization, self.model_args.dtype)
        with peft_wrapping():  # PEFT reads a property transformers deprecated
            self.peft = get_peft_model(prepare_quantized(base), lora_config(self.adapter_args), adapter_name=GRM)
        self.peft.train()  # from_pretrained leaves the base in eval mode; SFT trains (LoRA dropout on, if set)

    def configure_optimizers(self):
        return torch.optim.AdamW([p for p in self.peft.parameters() if p.requires_grad], lr=self.learning_rate)

    def _loss(self, batch: list[tuple[str, str]]) -> torch.Tensor:
        logp, mask = answer_logprobs(self.peft, self.tokenizer, batch, eos=True)
        return -(logp * mask).sum() / mask.sum().clamp_min(1.0)

    def training_step(self, batch: list[tuple[str, str]], batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch))
        return loss

    def validation_step(self, batch: list[tuple[str, str]], batch_idx: int) -> None:
        self.log("val/loss", self._loss(batch), prog_bar=True, batch_size=len(batch))

    def adapter_dir(self) -> Path:
        return Path(self.trainer.log_dir or self.trainer.default_root_dir) / "adapters"

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        names = {n for n, p in self.named_parameters() if p.requires_grad}
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k in names}

    def on_train_end(self) -> None:
        if self.trainer.is_global_zero:
            self.peft.save_pretrained(str(self.adapter_dir()))
            self.tokenizer.save_pretrained(str(self.adapter_dir() / GRM))
            reference_field = getattr(self.trainer.datamodule, "reference_field", None)
            write_prompt_config(self.adapter_dir() / GRM, reference_field)
