"""A Hugging Face sequence classifier (or single-logit reward model) as reward, loaded by name or path.

Examples: a DistilBERT IMDB/SST-2 sentiment model (``label: POSITIVE``, ``output: logit`` as in the paper, or
``prob``), a toxicity classifier (``label: toxic``, ``output: prob``, ``one_minus: true`` -> reward = 1 - toxicity),
or a reward model with one output (``label: null``).
"""

from __future__ import annotations

from typing import Literal

import torch

from lit_critic_rl.rewards.base import Reward


class ClassifierReward(Reward):
    def __init__(
        self,
        name_or_path: str,
        label: str | None = "POSITIVE",
        output: Literal["logit", "prob"] = "prob",
        one_minus: bool = False,
        include_prompt: bool = False,
        batch_size: int = 32,
        max_length: int = 512,
    ) -> None:
        """
        Args:
            name_or_path: Classifier hub id or local folder.
            label: Label whose score is the reward (matched case-insensitively against the model's ``id2label``);
                None for a single-output reward model.
            output: 'logit' (raw score) or 'prob' (softmax probability, sigmoid for a single output).
            one_minus: Reward = 1 - score (e.g. 1 - toxicity).
            include_prompt: Score prompt + response instead of the response alone.
            batch_size: Texts per classifier forward.
            max_length: Truncation length of the classifier input.
        """
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from lit_critic_rl.models.loading import resolve_model_path

        path = resolve_model_path(name_or_path)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForSequenceClassification.from_pretrained(path).eval()
        labels = {str(v).lower(): int(k) for k, v in self.model.config.id2label.items()}
        n_out = self.model.config.num_labels
        if label is None:
            if n_out != 1:
                raise ValueError(
                    f"model.reward.label: '{name_or_path}' has {n_out} outputs; name one of {sorted(labels)}"
                )
            self.index = 0
        elif label.lower() not in labels:
            raise ValueError(
                f"model.reward.label: '{label}' is not a label of '{name_or_path}' (labels: {sorted(labels)})"
            )
        else:
            self.index = labels[label.lower()]
        self.output, self.one_minus, self.include_prompt = output, one_minus, include_prompt
        self.batch_size, self.max_length = batch_size, max_length

    @torch.inference_mode()
    def scores(self, texts: list[str]) -> list[float]:
        out: list[float] = []
        for start in range(0, len(texts), self.batch_size):
            enc = self.tokenizer(
                texts[start : start + self.batch_size],
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=self.max_length,
            )
            logits = self.model(**enc).logits.float()
            if self.output == "logit":
                score = logits[:, self.index]
            elif logits.shape[1] == 1:
                score = torch.sigmoid(logits[:, 0])
            else:
                score = torch.softmax(logits, -1)[:, self.index]
            out += score.tolist()
        return out

    def __call__(self, prompts: list[str], responses: list[str]) -> list[float]:
        texts = [p + r for p, r in zip(prompts, responses)] if self.include_prompt else list(responses)
        scores = self.scores(texts)
        return [1.0 - s for s in scores] if self.one_minus else scores
