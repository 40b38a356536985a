"""Notebook 04's exercise diagnoses are proven: the wrong answer that triggers each one gets its message.

The test functions are taken from the notebook source exactly as otter takes them, and called with
wrong implementations, as a student's notebook would call them.
"""
import numpy as np
import pytest
import torch

from exercise_feedback import exercise_tests, feedback
from mmcourse import positional

# The sinusoidal encoding: each classic slip in the lecture's formula gets its own message.

Q04 = exercise_tests("04_positional_encoding", "q04_sinusoidal")


def _encoding(exponent=lambda i, d: (i - i % 2) / d, swap=False, multiply=False, first_position=0, odd_fix=True):
    """positional_encoding(P, d) with one deliberate slip."""
    def positional_encoding(num_positions, dim):
        pos = torch.arange(first_position, first_position + num_positions, dtype=torch.float64)[:, None]
        i = torch.arange(dim, dtype=torch.float64)
        scale = 10000 ** exponent(i, dim)
        angle = pos * scale if multiply else pos / scale
        first, second = (torch.cos, torch.sin) if swap else (torch.sin, torch.cos)
        return torch.where(i % 2 == 0, first(angle), second(angle)).float()
    return positional_encoding


MISTAKES_04 = [
    (_encoding(swap=True), "sine and cosine are swapped"),
    (_encoding(exponent=lambda i, d: i / d), "for odd i the exponent is (i − 1)/d, not i/d"),
    (_encoding(exponent=lambda i, d: 2 * i / d), "the paper's way of writing it, where i counts (sin, cos) pairs"),
    (_encoding(exponent=lambda i, d: (i - i % 2) / 2 / d), "your exponent is the pair number j = i // 2 divided by d"),
    (_encoding(multiply=True), "must be divided by 10000^(i/d), not multiplied"),
    (_encoding(first_position=1), "positions start at 0"),
]


def test_q04_sinusoidal_passes_a_correct_answer():
    assert len(Q04) == 2
    assert all(feedback(t, positional_encoding=positional.sinusoidal_encoding) == "" for t in Q04.values())
    assert all(feedback(t, positional_encoding=_encoding()) == "" for t in Q04.values())


@pytest.mark.parametrize("answer, diagnosis", MISTAKES_04, ids=[m[1] for m in MISTAKES_04])
def test_q04_sinusoidal_names_each_known_mistake(answer, diagnosis):
    visible = next(iter(Q04.values()))
    message = feedback(visible, positional_encoding=answer)
    assert diagnosis in message, f"the visible test should say {diagnosis!r}, it says {message!r}"


def test_q04_sinusoidal_says_an_unfinished_answer_is_unfinished():
    assert all("Replace the `...`" in feedback(t, positional_encoding=lambda *a: None) for t in Q04.values())


def test_q04_hidden_test_catches_an_encoding_that_fails_for_odd_dimensions():
    def even_only(num_positions, dim):  # right for even dim, a wrong last column for odd dim
        pe = positional.sinusoidal_encoding(num_positions, dim + dim % 2)
        return pe[:, :dim] if dim % 2 == 0 else torch.cat([pe[:, :dim - 1], torch.zeros(num_positions, 1)], 1)
    visible, hidden = Q04.values()
    assert feedback(visible, positional_encoding=even_only) == ""
    assert "positional_encoding(7, 7)" in feedback(hidden, positional_encoding=even_only)
