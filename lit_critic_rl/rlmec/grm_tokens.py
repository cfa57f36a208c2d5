"""The GRM's text as ids: left-padded batches and the log-probs of an answer after its prompt.

SFT (:mod:`lit_critic_rl.rlmec.grm_module`), the GRM's token rewards
(:class:`~lit_critic_rl.rlmec.grm_critic.MinEditGRM`) and the quality check (:mod:`lit_critic_rl.rlmec.grm_eval`)
all read the GRM through these two functions, so the three see the same ids
(:func:`~lit_critic_rl.rlmec.grm.encode_pair`).
"""

from __future__ import annotations

import torch

from lit_critic_rl.models.policy import position_ids_from_mask
from lit_critic_rl.rl.logprobs import token_logprobs
from lit_critic_rl.rlmec.grm import encode_pair


def left_padded(rows: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``[B, L]`` ids and attention mask, each row right-aligned."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for b, row in enumerate(rows):
        ids[b, width - len(row) :] = torch.tensor(row, dtype=torch.long)
        mask[b, width - len(row) :] = 1
    return ids, mask


def answer_logprobs(model, tokenizer, pairs: list[tuple[str, str]], eos: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probs ``[B, A]`` of each pair's answer tokens after its prompt under ``model`` (its active adapter), and
    the mask of real answer tokens; answers are right-aligned, as in :func:`left_padded`."""
    encoded = [encode_pair(tokenizer, prompt, answer, eos) for prompt, answer in pairs]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    ids, mask = left_padded([p + a for p, a, _ in encoded], pad)
    width = max(len(a) for _, a, _ in encoded)
    answers, answer_mask = left_padded([a for _, a, _ in encoded], pad)
    answers, answer_mask = answers[:, -width:], answer_mask[:, -width:]
    device = next(model.parameters()).device
    out = model(
        input_ids=ids.to(device),
        attention_mask=mask.to(device),
        position_ids=position_ids_from_mask(mask).to(device),
        logits_to_keep=width + 1,
        use_cache=False,
    )
    logp = token_logprobs(out.logits[:, :-1], answers.to(device))
    return logp, answer_mask.to(device).float()
