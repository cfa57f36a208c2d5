"""Imitation weights from the y → ŷ alignment on hand-made token-id pairs."""

import pytest
import torch

from lit_critic_rl.rlmec.alignment import edited_mask, imitation_weight_rows, imitation_weights


def test_identity_keeps_every_token():
    assert imitation_weights([5, 6, 7], [5, 6, 7]) == [0.5, 0.5, 0.5]


def test_replacement_marks_only_the_substituted_token():
    # y = 5 6 7, ŷ = 5 9 7: one substitution at position 1
    assert imitation_weights([5, 6, 7], [5, 9, 7]) == [0.5, 1.0, 0.5]


def test_insertion_marks_the_inserted_tokens():
    # ŷ = 5 8 8 6 7: two tokens inserted after 5
    assert imitation_weights([5, 6, 7], [5, 8, 8, 6, 7]) == [0.5, 1.0, 1.0, 0.5, 0.5]


def test_deletion_leaves_no_rewrite_token_edited():
    # ŷ = 5 7 drops the 6; nothing of ŷ is new
    assert imitation_weights([5, 6, 7], [5, 7]) == [0.5, 0.5]


def test_mixed_edit_of_a_number_in_a_step():
    # "3 * 4 = 11 ." -> "3 * 4 = 1 2 ." : 11 becomes 1 (substitution) and 2 is inserted
    y, y_hat = [3, 20, 4, 21, 11, 22], [3, 20, 4, 21, 1, 2, 22]
    assert edited_mask(y, y_hat) == [False, False, False, False, True, True, False]


def test_empty_rewrite_gives_no_weights():
    assert imitation_weights([1, 2, 3], []) == []


def test_empty_solution_makes_every_rewrite_token_inserted():
    assert imitation_weights([], [4, 5]) == [1.0, 1.0]
    assert imitation_weights([], []) == []


def test_weight_values_are_configurable():
    assert imitation_weights([1, 2], [1, 3], edited=2.0, kept=0.0) == [0.0, 2.0]


def test_rows_are_padded_with_zero_weight():
    rows = imitation_weight_rows([[1, 2], [7]], [[1, 3], []], length=3)
    assert torch.equal(rows, torch.tensor([[0.5, 1.0, 0.0], [0.0, 0.0, 0.0]]))


def test_rows_refuse_a_rewrite_longer_than_the_tensor():
    with pytest.raises(ValueError, match="rewrite 0 has 3 tokens"):
        imitation_weight_rows([[1]], [[1, 2, 3]], length=2)
