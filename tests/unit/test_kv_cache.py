"""The batch's growing KV cache: what concatenation would give, written in place, never into
tensors it was handed (kept prompt prefixes that other rows share)."""

from __future__ import annotations

import torch

from playground.generation.kv_cache import GrowingLayer, stacked


def states(positions: int, seed: int, rows: int = 2) -> torch.Tensor:
    return torch.randn(rows, 3, positions, 4, generator=torch.Generator().manual_seed(seed))


def test_it_holds_what_concatenation_holds_and_writes_in_place_while_there_is_room():
    kept_keys, kept_values = states(5, 0), states(5, 1)
    originals = kept_keys.clone(), kept_values.clone()
    layer = GrowingLayer(kept_keys, kept_values, room=3)
    expected_keys, expected_values = kept_keys, kept_values
    pointers = []
    for step in range(9):
        new_keys, new_values = states(1, 10 + step), states(1, 20 + step)
        keys, values = layer.update(new_keys, new_values)
        expected_keys = torch.cat([expected_keys, new_keys], dim=-2)
        expected_values = torch.cat([expected_values, new_values], dim=-2)
        assert torch.equal(keys, expected_keys) and torch.equal(values, expected_values)
        assert layer.get_seq_length() == 6 + step
        pointers.append(keys.data_ptr())
    assert torch.equal(kept_keys, originals[0]) and torch.equal(kept_values, originals[1])  # never written
    # the first step copies the adopted tensors into a buffer with room for 3 more; it moves when that is full
    assert len(set(pointers)) == 3 and pointers[0] != kept_keys.data_ptr()


def test_a_tensor_assigned_to_it_is_adopted_not_written():
    layer = GrowingLayer(states(4, 0), states(4, 1), room=8)
    layer.update(states(1, 2), states(1, 3))
    trimmed = layer.keys[:, :, 2:, :].clone()
    layer.keys, layer.values = trimmed, layer.values[:, :, 2:, :].clone()
    before = trimmed.clone()
    keys, _ = layer.update(states(1, 4), states(1, 5))
    assert torch.equal(trimmed, before) and keys.shape[-2] == 4 and torch.equal(keys[:, :, :3], before)


def test_stacked_rows_are_right_aligned_over_zeros_with_room_after():
    short, long = states(2, 0, rows=1), states(4, 1, rows=2)
    buffer = stacked([short, long], length=4, room=3)
    assert buffer.shape == (3, 3, 7, 4)
    assert torch.equal(buffer[0, :, :2], torch.zeros(3, 2, 4)) and torch.equal(buffer[0:1, :, 2:4], short)
    assert torch.equal(buffer[1:3, :, :4], long)
