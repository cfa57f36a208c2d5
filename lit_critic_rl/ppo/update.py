"""The PPO epochs over one rollout: shuffled minibatches, gradient accumulation, non-finite guards.

With ``value_mode="separate_adapter"`` the policy and value losses are back-propagated one after the other, each with
its own adapter active (PEFT freezes inactive adapters, so one backward through both graphs would drop a gradient).
A non-finite loss skips the optimizer step of its accumulation group (its gradients are discarded) and is counted.

Fused first forward: when the rollout arrives without ``logprobs`` (the module skipped the teacher-forced policy
pass), the first minibatch covers the whole rollout and runs before any optimizer step, so its forward IS the
rollout policy's teacher-forced pass. Its detached log-probs (and shared-trunk values) become the rollout's, then
``prepare`` turns them into advantages, and the same graph gives the first loss: one forward fewer per iteration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from lit_critic_rl.ppo.advantages import masked_mean
from lit_critic_rl.ppo.losses import (
    clipped_policy_loss,
    clipped_value_loss,
    entropy_diagnostic,
    entropy_from_logits,
    token_logprobs,
)
from lit_critic_rl.types import Rollout

if TYPE_CHECKING:
    from lit_critic_rl.module import DenseRewardPPO


def ppo_update(
    module: DenseRewardPPO, rollout: Rollout, prepare: Callable[[Rollout], tuple[Tensor, Tensor]]
) -> dict:
    """Run ``ppo.epochs`` epochs; returns mean statistics and ``skipped_updates``.

    ``prepare(rollout) -> (advantages, returns)`` is called once the rollout has its log-probs and values.
    """
    args, lm, temperature, timer = module.ppo, module.lm, module.generation.temperature, module.timer
    optimizer = module.optimizers()
    B, T = rollout.response_ids.shape
    fused = rollout.logprobs is None
    if fused and args.minibatch_size < B:
        raise ValueError(f"fused first forward needs ppo.minibatch_size ({args.minibatch_size}) >= rollout size ({B})")
    advantages, returns = (None, None) if fused else prepare(rollout)
    input_ids, attention_mask = rollout.input_ids, rollout.attention_mask
    sums: dict[str, float] = {}
    n_minibatches, skipped = 0, 0
    group_finite, in_group = True, 0

    def add(name: str, value: torch.Tensor) -> None:
        sums[name] = sums.get(name, 0.0) + float(value)

    def finish_group() -> None:
        nonlocal group_finite, in_group, skipped
        if group_finite:
            with timer("update_optimizer"):
                if args.max_grad_norm > 0:
                    module.clip_gradients(optimizer, gradient_clip_val=args.max_grad_norm,
                                          gradient_clip_algorithm="norm")
                optimizer.step()
        else:
            skipped += 1
        optimizer.zero_grad(set_to_none=True)
        group_finite, in_group = True, 0

    def backward(loss: torch.Tensor) -> None:
        nonlocal group_finite
        if not torch.isfinite(loss):
            group_finite = False
        if group_finite:
            with timer("update_backward"):
                module.manual_backward(loss / args.grad_accumulation)

    optimizer.zero_grad(set_to_none=True)
    for _ in range(args.epochs):
        order = torch.randperm(B)
        for start in range(0, B, args.minibatch_size):
            idx = order[start : start + args.minibatch_size]
            ids, attn, mask = input_ids[idx], attention_mask[idx], rollout.response_mask[idx]
            out = lm.policy_forward(ids, attn, T)
            logp = token_logprobs(out.logits, rollout.response_ids[idx], temperature)
            if advantages is None:  # fused first forward: idx is a permutation of the whole rollout
                inverse = torch.argsort(idx)
                rollout.logprobs = logp.detach()[inverse] * rollout.response_mask
                if out.values is not None:
                    rollout.values = out.values.detach()[inverse].float() * rollout.response_mask
                advantages, returns = prepare(rollout)
            pg = clipped_policy_loss(logp, rollout.logprobs[idx], advantages[idx], mask, args.clip_range)
            if args.entropy_coef > 0:
                entropy = masked_mean(entropy_from_logits(out.logits, temperature), mask)
            else:
                entropy = masked_mean(entropy_diagnostic(out.logits, temperature), mask)
            policy_loss = pg.loss - args.entropy_coef * entropy
            if out.values is None:
                backward(policy_loss)
                values = lm.value_forward(ids, attn, T)
                value_loss, vf_clipfrac = clipped_value_loss(
                    values, rollout.values[idx], returns[idx], mask, args.value_clip_range
                )
                backward(args.value_coef * value_loss)
            else:
                value_loss, vf_clipfrac = clipped_value_loss(
                    out.values, rollout.values[idx], returns[idx], mask, args.value_clip_range
                )
                backward(policy_loss + args.value_coef * value_loss)
            for name, value in (
                ("policy_loss", pg.loss), ("value_loss", value_loss), ("clipfrac", pg.clipfrac),
                ("value_clipfrac", vf_clipfrac), ("approx_kl", pg.approx_kl), ("entropy", entropy),
            ):
                add(name, value.detach())
            n_minibatches += 1
            in_group += 1
            if in_group == args.grad_accumulation:
                finish_group()
    if in_group:
        finish_group()
    stats = {k: v / max(n_minibatches, 1) for k, v in sums.items()}
    stats["skipped_updates"] = skipped
    return stats
