"""Token log-probs and entropies from logits, shared by every objective and the teacher-forced passes.

Shapes: ``[B, T, V]`` logits over response positions, ``[B, T]`` sampled ids; the chunked LM-head variant, which never
builds the logits, is :mod:`lit_critic_rl.rl.chunked_logprobs`.
"""

from __future__ import annotations

import torch
from torch import Tensor


class _SelectedLogSoftmax(torch.autograd.Function):
    """``log_softmax(x)[token]`` whose backward builds the ``[B, T, V]`` gradient in ONE buffer.

    Autograd's version of ``gather(x) - logsumexp(x)`` allocates three vocabulary-sized tensors in the backward (the
    softmax, the gather's scattered zeros, and their sum); here ``grad = -g * softmax(x)`` is computed in place and
    ``g`` is added at the token. On a 135M model with a 49k vocabulary that is the largest transient of a PPO step.
    """

    @staticmethod
    def forward(ctx, logits: Tensor, tokens: Tensor) -> Tensor:
        lse = torch.logsumexp(logits, dim=-1)
        ctx.save_for_backward(logits, tokens, lse)
        return torch.gather(logits, -1, tokens.unsqueeze(-1)).squeeze(-1) - lse

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        logits, tokens, lse = ctx.saved_tensors
        grad = logits.sub(lse.unsqueeze(-1)).exp_()  # softmax
        grad.mul_(-grad_out.unsqueeze(-1))
        grad.scatter_add_(-1, tokens.unsqueeze(-1), grad_out.unsqueeze(-1))
        return grad, None


def token_logprobs(logits: Tensor, tokens: Tensor, temperature: float = 1.0) -> Tensor:
    """``log softmax(logits / temperature)`` at ``tokens``: ``[B, T, V], [B, T] -> [B, T]``.

    Uses one gather and a logsumexp, so no ``[B, T, V]`` log-prob tensor is materialised (nor, in the backward, more
    than one gradient buffer: :class:`_SelectedLogSoftmax`).
    """
    logits = logits.float()
    if temperature != 1.0:
        logits = logits / temperature
    if logits.requires_grad:
        return _SelectedLogSoftmax.apply(logits, tokens)
    picked = torch.gather(logits, -1, tokens.unsqueeze(-1)).squeeze(-1)
    return picked - torch.logsumexp(logits, dim=-1)


def entropy_from_logits(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """Entropy of ``softmax(logits / temperature)`` per position: ``[B, T, V] -> [B, T]``."""
    logits = logits.float() / temperature
    logp = torch.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(-1)


@torch.no_grad()
def entropy_diagnostic(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """:func:`entropy_from_logits` without grad, one sample at a time: its three vocabulary-sized temporaries are
    then one row each instead of the whole minibatch (the entropy is only logged unless ``entropy_coef > 0``)."""
    return torch.cat([entropy_from_logits(row, temperature) for row in logits.detach().split(1)])
