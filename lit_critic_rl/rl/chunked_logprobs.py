"""Token log-probs straight from the final hidden states, a chunk of positions at a time: the LM head, the
log-softmax and the gather run per chunk, so no ``[B, T, V]`` logits tensor exists in the forward, and the backward
recomputes each chunk's logits instead of keeping them.

With a 49k vocabulary, full logits of 8 x 33 response positions are 52 MB in fp32; the unchunked path keeps them for
the backward and allocates a gradient of the same size. Here the largest vocabulary-sized temporary is
``chunk x V``. The price is one more LM-head matmul per chunk in the backward.

Maths, per position with logits ``z = W h / tau`` (``tau`` the temperature) and sampled token ``y``:
``logp = z_y - logsumexp(z)``, ``d logp / d z = onehot(y) - softmax(z)``, so
``d logp / d h = (W_y - softmax(z) @ W) / tau``. The entropy ``-sum softmax(z) * log softmax(z)`` is returned as a
detached diagnostic.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _chunk_logits(hidden: Tensor, weight: Tensor, temperature: float) -> Tensor:
    logits = hidden @ weight.t()
    return logits.float() / temperature if temperature != 1.0 else logits.float()


class _ChunkedLogProbs(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden: Tensor, weight: Tensor, tokens: Tensor, temperature: float, chunk: int):
        logp = hidden.new_empty(tokens.shape, dtype=torch.float32)
        entropy = torch.empty_like(logp)
        for start in range(0, tokens.shape[0], chunk):
            stop = start + chunk
            logits = _chunk_logits(hidden[start:stop], weight, temperature)
            lse = torch.logsumexp(logits, dim=-1, keepdim=True)
            logp[start:stop] = logits.gather(-1, tokens[start:stop, None]).squeeze(-1) - lse.squeeze(-1)
            logits.sub_(lse)  # now log-softmax, in place
            entropy[start:stop] = -(logits.exp() * logits).sum(-1)
        ctx.save_for_backward(hidden, weight, tokens)
        ctx.temperature, ctx.chunk = temperature, chunk
        ctx.mark_non_differentiable(entropy)
        return logp, entropy

    @staticmethod
    def backward(ctx, grad_logp: Tensor, _grad_entropy: Tensor):
        hidden, weight, tokens = ctx.saved_tensors
        tau, chunk = ctx.temperature, ctx.chunk
        grad_hidden = torch.zeros_like(hidden) if ctx.needs_input_grad[0] else None
        grad_weight = torch.zeros_like(weight, dtype=torch.float32) if ctx.needs_input_grad[1] else None
        for start in range(0, tokens.shape[0], chunk):
            stop = start + chunk
            g = grad_logp[start:stop, None]
            grad_logits = torch.softmax(_chunk_logits(hidden[start:stop], weight, tau), dim=-1)
            grad_logits.mul_(-g).scatter_add_(-1, tokens[start:stop, None], g)
            if tau != 1.0:
                grad_logits.div_(tau)
            grad_logits = grad_logits.to(weight.dtype)
            if grad_hidden is not None:
                grad_hidden[start:stop] = grad_logits @ weight
            if grad_weight is not None:
                grad_weight += grad_logits.t().float() @ hidden[start:stop].float()
        if grad_weight is not None:
            grad_weight = grad_weight.to(weight.dtype)
        return grad_hidden, grad_weight, None, None, None


def chunked_token_logprobs(
    hidden: Tensor, weight: Tensor, tokens: Tensor, temperature: float = 1.0, chunk: int = 64
) -> tuple[Tensor, Tensor]:
    """``log softmax(W h / temperature)`` at ``tokens`` and the (detached) entropy of that distribution:
    ``[B, T, H], [V, H], [B, T] -> ([B, T], [B, T])``, ``chunk`` positions at a time (see the module docstring).
    Equals :func:`lit_critic_rl.rl.logprobs.token_logprobs` of the full logits, with the same gradient."""
    B, T, H = hidden.shape
    logp, entropy = _ChunkedLogProbs.apply(hidden.reshape(B * T, H), weight, tokens.reshape(B * T), temperature, chunk)
    return logp.view(B, T), entropy.view(B, T)
