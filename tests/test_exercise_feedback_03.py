"""Notebook 03's exercise diagnoses are proven: the wrong answer that triggers each one gets its message.

The test functions are taken from the notebook source exactly as otter takes them, and called with
wrong implementations, as a student's notebook would call them.
"""
import numpy as np
import pytest
import torch

from exercise_feedback import exercise_tests, feedback
from mmcourse import attention as A

# Each diagnosis of the attention exercises is triggered by the wrong answer it names.

Q03 = {q: exercise_tests("03_attention", q) for q in ("q03_attention_steps", "q03_masked_attention", "q03_heads")}


def _steps(score_softmax, average_u=False):
    """attention_steps(h, W, q, mask) built from a wrong step 4 (``score_softmax(e, mask)``) or step 5."""
    def attention_steps(h, W, q, mask=None):
        u = torch.tanh(h @ W.T)
        a = score_softmax(u @ q, mask)
        return (a.unsqueeze(-1) * (u if average_u else h)).sum(1), a
    return attention_steps


def _no_tanh(h, W, q, mask=None):
    """attention_steps without the tanh of step 2: scores q·(W h_t)."""
    a = _masked_softmax((h @ W.T) @ q, mask)
    return (a.unsqueeze(-1) * h).sum(1), a


def _masked_softmax(e, mask, dim=1):
    return (e if mask is None else e.masked_fill(~mask, float("-inf"))).softmax(dim)


def _sdpa(scale, mask_fn=lambda scores, mask: scores.masked_fill(~mask, float("-inf")).softmax(-1)):
    """masked_attention(query, key, value, mask) with a given scale of the scores and a given masking."""
    def masked_attention(query, key, value, mask=None):
        scores = query @ key.transpose(-2, -1) * scale(query.shape[-1])
        weights = scores.softmax(-1) if mask is None else mask_fn(scores, mask)
        return weights @ value, weights
    return masked_attention


_RIGHT_SCALE = lambda d: d ** -0.5  # noqa: E731


def _split_no_transpose(x, num_heads):
    B, L, C = x.shape
    return x.reshape(B, num_heads, L, C // num_heads)


def _split_interleaved(x, num_heads):
    B, L, C = x.shape
    return x.reshape(B, L, C // num_heads, num_heads).permute(0, 3, 1, 2)


def _merge_no_transpose(x):
    B, H, L, D = x.shape
    return x.reshape(B, L, H * D)


def _merge_with_view(x):
    B, H, L, D = x.shape
    return x.transpose(1, 2).view(B, L, H * D)


CORRECT_03 = {
    "q03_attention_steps": {"attention_steps": A.attention_pooling},
    "q03_masked_attention": {"masked_attention": A.scaled_dot_product_attention},
    "q03_heads": {"split_heads": A.split_heads, "merge_heads": A.merge_heads},
}
MISTAKES_03 = [
    ("q03_attention_steps", {"attention_steps": _steps(_masked_softmax, average_u=True)}, "not the transformed u_t"),
    ("q03_attention_steps", {"attention_steps": _no_tanh}, "without the tanh of step 2"),
    ("q03_attention_steps", {"attention_steps": _steps(lambda e, m: _masked_softmax(e, m, dim=0))},
     "softmax over the batch"),
    ("q03_attention_steps", {"attention_steps": _steps(lambda e, m: e.softmax(1) * m)}, "after the softmax"),
    ("q03_attention_steps", {"attention_steps": _steps(lambda e, m: e.softmax(1))}, "padded frames still get weight"),
    ("q03_attention_steps", {"attention_steps": _steps(lambda e, m: e.masked_fill(~m, 0.0))},  # no softmax
     "sum over t of the weights"),
    ("q03_masked_attention", {"masked_attention": _sdpa(lambda d: 1.0)},
     "your weights are what you get without dividing by √d_k"),
    ("q03_masked_attention", {"masked_attention": _sdpa(lambda d: 1 / d)}, "you divided the scores by d_k"),
    ("q03_masked_attention", {"masked_attention": _sdpa(
        _RIGHT_SCALE, lambda s, m: s.masked_fill(m, float("-inf")).softmax(-1))}, "the mask is inverted"),
    ("q03_masked_attention", {"masked_attention": _sdpa(_RIGHT_SCALE, lambda s, m: s.softmax(-1) * m)},
     "after the softmax"),
    ("q03_masked_attention", {"masked_attention": _sdpa(_RIGHT_SCALE, lambda s, m: s.softmax(-1))},
     "masked positions still get weight"),
    ("q03_heads", {"split_heads": _split_no_transpose, "merge_heads": A.merge_heads}, "without a transpose"),
    ("q03_heads", {"split_heads": _split_interleaved, "merge_heads": A.merge_heads}, "every H-th feature"),
    ("q03_heads", {"split_heads": A.split_heads, "merge_heads": _merge_no_transpose}, "without a transpose"),
    ("q03_heads", {"split_heads": A.split_heads, "merge_heads": _merge_with_view}, "use .reshape"),
]


@pytest.mark.parametrize("question", list(CORRECT_03))
def test_q03_exercises_pass_a_correct_answer(question):
    assert all(feedback(t, **CORRECT_03[question]) == "" for t in Q03[question].values())


@pytest.mark.parametrize("question, answer, diagnosis", MISTAKES_03, ids=[f"{m[0]}: {m[2]}" for m in MISTAKES_03])
def test_q03_exercises_name_each_known_mistake(question, answer, diagnosis):
    visible = next(iter(Q03[question].values()))  # the first test cell of each question is the visible one
    message = feedback(visible, **answer)
    assert diagnosis in message, f"the visible test of {question} should say {diagnosis!r}, it says {message!r}"


@pytest.mark.parametrize("question", list(CORRECT_03))
def test_q03_exercises_say_an_unfinished_answer_is_unfinished(question):
    unfinished = {name: (lambda *args: None) for name in CORRECT_03[question]}
    assert all("Replace the `...`" in feedback(t, **unfinished) for t in Q03[question].values())
