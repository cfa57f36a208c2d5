"""Token-level Levenshtein alignment of a solution y to its rewrite ŷ, and RLMEC's imitation weights over ŷ.

RLMEC's imitation loss weights each token of the rewrite ŷ: 1.0 where the alignment of y → ŷ says the token was
edited (substituted, or inserted into y), 0.5 where it was copied from y. Deleting a token of y leaves nothing in ŷ to
weight, so a rewrite that only deletes is weighted 0.5 throughout.

The alignment is ``rapidfuzz.distance.Levenshtein.opcodes`` on the two lists of token ids (rapidfuzz accepts any
sequence of hashables; unit costs). It is a small compiled wheel without dependencies, about a thousand times faster
than a Python O(n·m) table on the few-hundred-token solutions RLMEC aligns, so it is the optional extra
``lit-critic-rl[rlmec]`` rather than a hand-written DP. When several alignments have the minimum cost the choice is
rapidfuzz's (e.g. ``[1, 2] → [2, 1]`` is aligned as insert 2, keep 1, delete 2, so ŷ gets weights ``[1.0, 0.5]``).

Empty sequences are valid input: an empty ŷ gives an empty list of weights; an empty y makes every token of ŷ an
insertion (all weights 1.0).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def _opcodes(y: Sequence[int], y_hat: Sequence[int]):
    try:
        from rapidfuzz.distance import Levenshtein
    except ImportError as err:  # an optional extra: name the fix
        raise ImportError("the RLMEC alignment needs rapidfuzz: pip install 'lit-critic-rl[rlmec]'") from err
    return Levenshtein.opcodes(list(y), list(y_hat))


def edited_mask(y: Sequence[int], y_hat: Sequence[int]) -> list[bool]:
    """One flag per token of ``y_hat``: True where a minimum-cost alignment of ``y`` → ``y_hat`` substitutes or
    inserts it, False where it is copied unchanged from ``y``."""
    edited = [False] * len(y_hat)
    for op in _opcodes(y, y_hat):
        if op.tag in ("replace", "insert"):
            edited[op.dest_start : op.dest_end] = [True] * (op.dest_end - op.dest_start)
    return edited


def imitation_weights(y: Sequence[int], y_hat: Sequence[int], edited: float = 1.0, kept: float = 0.5) -> list[float]:
    """RLMEC's weight of each token of ``y_hat`` (length ``len(y_hat)``): ``edited`` on substituted or inserted
    tokens, ``kept`` on tokens copied from ``y`` (the paper: 1.0 and 0.5)."""
    return [edited if flag else kept for flag in edited_mask(y, y_hat)]


def imitation_weight_rows(
    ys: Sequence[Sequence[int]], y_hats: Sequence[Sequence[int]], length: int, edited: float = 1.0, kept: float = 0.5
) -> Tensor:
    """The weights of a batch as a ``[B, length]`` float tensor, row b's ŷ tokens left-aligned and 0 after them
    (a zero weight is a masked token in :func:`~lit_critic_rl.rlmec.losses.imitation_loss`)."""
    if len(ys) != len(y_hats):
        raise ValueError(f"{len(ys)} solutions but {len(y_hats)} rewrites")
    rows = torch.zeros(len(ys), length)
    for b, (y, y_hat) in enumerate(zip(ys, y_hats)):
        if len(y_hat) > length:
            raise ValueError(f"rewrite {b} has {len(y_hat)} tokens, more than the {length} columns")
        rows[b, : len(y_hat)] = torch.tensor(imitation_weights(y, y_hat, edited, kept), dtype=torch.float32)
    return rows
