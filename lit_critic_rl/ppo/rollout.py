"""Rollout: batched sampling with HF ``generate`` (:func:`sample`), then the no-grad teacher-forced passes
(:func:`teacher_force`) that add the log-probs and values the objective needs.

Sampling uses the KV cache and left padding, so every response starts at the same column. The log-probs PPO needs are
recomputed by teacher forcing rather than taken from ``generate``'s scores, which are post-processed (top-k/top-p,
temperature warpers) and come from a differently batched computation.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor

from lit_critic_rl.args import GenerationArgs
from lit_critic_rl.models.policy import PolicyValueModel
from lit_critic_rl.rl.groups import repeat_prompts
from lit_critic_rl.rl.logprobs import token_logprobs
from lit_critic_rl.types import Rollout


def eos_ids(tokenizer, model) -> list[int]:
    ids = {tokenizer.eos_token_id}
    gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids.update(gen_eos if isinstance(gen_eos, list) else [gen_eos])
    return sorted(i for i in ids if i is not None)


def response_mask_from_ids(response_ids: Tensor, eos: list[int]) -> Tensor:
    """1.0 up to and including the first EOS of each row, 0.0 after it."""
    is_eos = torch.isin(response_ids, torch.tensor(eos, device=response_ids.device))
    eos_before = torch.cumsum(is_eos.long(), dim=1) - is_eos.long()
    return (eos_before == 0).float()


def stop_length(tokenizer, ids: list[int], stops: list[str]) -> int:
    """The number of leading ``ids`` up to and including the token whose decoding completes the first of ``stops``
    (``len(ids)`` when none occurs). Found by bisection: a decoded prefix holds a stop string iff every longer one
    does."""

    def holds(k: int) -> bool:
        text = tokenizer.decode(ids[:k], skip_special_tokens=True)
        return any(stop in text for stop in stops)

    if not ids or not holds(len(ids)):
        return len(ids)
    low, high = 1, len(ids)  # holds(high) is True
    while low < high:
        mid = (low + high) // 2
        if holds(mid):
            high = mid
        else:
            low = mid + 1
    return low


class StopOnStrings:
    """A ``generate`` stopping criterion: a row is done once the decoded tail of its response holds a stop string.

    HF's own ``stop_strings`` precomputes tables over the whole vocabulary on every call, which cost more than the
    decoding it saves here (69 s against 21 s for 8 x 80 tokens of SmolLM2); decoding the last few tokens of each row
    is enough. The exact cut is made afterwards by :func:`cut_at_stops`.
    """

    def __init__(self, tokenizer, stops: list[str], prompt_len: int, window: int = 8) -> None:
        self.tokenizer, self.stops, self.prompt_len = tokenizer, stops, prompt_len
        self.window = window + max(len(s) for s in stops)

    def __call__(self, input_ids: Tensor, scores, **kwargs) -> Tensor:
        start = max(self.prompt_len, input_ids.shape[1] - self.window)
        tails = self.tokenizer.batch_decode(input_ids[:, start:], skip_special_tokens=True)
        return torch.tensor([any(s in tail for s in self.stops) for tail in tails], device=input_ids.device)


def cut_at_stops(mask: Tensor, response_ids: Tensor, tokenizer, stops: list[str]) -> Tensor:
    """``mask`` with each row also ended by :func:`stop_length`."""
    mask = mask.clone()
    for b in range(len(mask)):
        n = int(mask[b].sum())
        mask[b, stop_length(tokenizer, response_ids[b, :n].tolist(), stops) :] = 0.0
    return mask


@torch.no_grad()
def sample(model: PolicyValueModel, tokenizer, prompts: list[str], gen: GenerationArgs) -> Rollout:
    """Sample one response per prompt with the policy adapter (eval mode, no dropout)."""
    enc = tokenizer(prompts, return_tensors="pt", padding=True)
    device = next(model.parameters()).device
    query_ids, query_mask = enc["input_ids"].to(device), enc["attention_mask"].to(device)
    eos = eos_ids(tokenizer, model.peft)
    stops = (
        {"stopping_criteria": [StopOnStrings(tokenizer, gen.stop_strings, query_ids.shape[1])]}
        if gen.stop_strings
        else {}
    )
    out = model.generate(
        merged=gen.merge_adapter,
        input_ids=query_ids,
        attention_mask=query_mask,
        do_sample=True,
        max_new_tokens=gen.max_new_tokens,
        min_new_tokens=gen.min_new_tokens,
        temperature=gen.temperature,
        top_k=gen.top_k,
        top_p=gen.top_p,
        eos_token_id=eos,
        pad_token_id=tokenizer.pad_token_id,
        **stops,
    )
    response_ids = out[:, query_ids.shape[1] :]
    mask = response_mask_from_ids(response_ids, eos)
    if gen.stop_strings:
        mask = cut_at_stops(mask, response_ids, tokenizer, gen.stop_strings)
    response_ids = torch.where(mask.bool(), response_ids, torch.full_like(response_ids, tokenizer.pad_token_id))
    responses = [tokenizer.decode(ids[: int(m.sum())], skip_special_tokens=True) for ids, m in zip(response_ids, mask)]
    return Rollout(list(prompts), responses, query_ids, query_mask, response_ids, mask)


def sample_groups(model: PolicyValueModel, tokenizer, prompts: list[str], gen: GenerationArgs) -> Rollout:
    """``gen.samples_per_prompt`` responses to each prompt, one group per prompt (``Rollout.group``)."""
    repeated, group = repeat_prompts(prompts, gen.samples_per_prompt)
    rollout = sample(model, tokenizer, repeated, gen)
    return replace(rollout, group=group.to(rollout.response_ids.device))


@torch.inference_mode()
def teacher_force(
    model: PolicyValueModel,
    rollout: Rollout,
    temperature: float,
    chunk_size: int,
    policy: bool = True,
    values: bool = True,
    reference: bool = True,
) -> Rollout:
    """A copy of ``rollout`` with ``ref_logprobs`` (``reference``), ``logprobs`` (``policy``) and ``values``
    (``values``) filled by no-grad teacher-forced passes, ``chunk_size`` samples at a time (smaller chunks bound the
    full-vocabulary logits held at once).

    With ``policy=False`` the policy log-probs come later, from the update's first forward (the fused path, see
    :mod:`lit_critic_rl.rl.loop`); in shared-trunk mode the values then come from there too, while a separate
    value adapter still needs its own pass here.
    """
    logprobs, ref_logprobs, value_rows = [], [], []
    T = rollout.response_len
    separate_values = values and model.value_mode == "separate_adapter"
    trunk_values = values and not separate_values
    for start in range(0, len(rollout), chunk_size):
        ids = rollout.input_ids[start : start + chunk_size]
        attn = rollout.attention_mask[start : start + chunk_size]
        targets = rollout.response_ids[start : start + chunk_size]
        if policy:
            out = model.policy_forward(ids, attn, T)
            logprobs.append(token_logprobs(out.logits, targets, temperature))
            del out.logits
            if trunk_values and out.values is not None:
                value_rows.append(out.values)
        if separate_values:
            value_rows.append(model.value_forward(ids, attn, T))
        if reference:
            ref_logprobs.append(token_logprobs(model.reference_logits(ids, attn, T), targets, temperature))
    mask = rollout.response_mask
    filled = {}
    if ref_logprobs:
        filled["ref_logprobs"] = torch.cat(ref_logprobs) * mask
    if logprobs:
        filled["logprobs"] = torch.cat(logprobs) * mask
    if value_rows:
        filled["values"] = torch.cat(value_rows).float() * mask
    return replace(rollout, **filled)
