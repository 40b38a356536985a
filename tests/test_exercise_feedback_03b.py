"""Notebook 03b's exercise diagnoses are proven: the wrong answer that triggers each one gets its message.

The test functions are taken from the notebook source exactly as otter takes them, and called with
wrong implementations, as a student's notebook would call them.
"""
import pytest
import torch
import torch.nn.functional as F

from exercise_feedback import exercise_tests, feedback
from mmcourse import attention as A

K = 7  # the notebook's neighbourhood size

TESTS = exercise_tests("03b_attention_further", "q03_attention_filter")


def neighbourhoods(image):
    """The notebook's helper: each pixel's k×k neighbourhood, (1, 3, H, W) -> (3, k·k, H·W)."""
    padded = F.pad(image, (K // 2,) * 4, mode="reflect")
    return F.unfold(padded, K).view(3, K * K, -1)


def _filter(score=lambda d2, absd, tau: -d2 / tau, dim=0, plain_mean=False):
    """attention_filter(image, tau) with a given score of the colour distances, softmax axis or output."""
    def attention_filter(image, tau):
        hood = neighbourhoods(image)
        diff = hood - image.reshape(3, 1, -1)
        a = score((diff ** 2).sum(0), diff.abs().sum(0), tau).softmax(dim)
        out = hood.mean(1) if plain_mean else (a.unsqueeze(0) * hood).sum(1)
        return out.reshape(image.shape), a
    return attention_filter


def _reference(image, tau):
    return A.attention_filter(image, tau, K)


MISTAKES = [
    (_filter(lambda d2, absd, tau: d2 / tau), "favour the neighbours whose colour differs most"),
    (_filter(lambda d2, absd, tau: -d2 * tau), "you multiplied the distances by τ"),
    (_filter(lambda d2, absd, tau: -d2), "do not depend on τ"),
    (_filter(lambda d2, absd, tau: -absd / tau), "absolute colour differences"),
    (_filter(dim=1), "softmax over the pixels"),
    (_filter(plain_mean=True), "plain mean of the neighbourhood"),
    (lambda image, tau: _reference(image, tau)[1], "must return two things"),
]


def test_q03_attention_filter_passes_a_correct_answer():
    assert all(feedback(t, attention_filter=_reference, neighbourhoods=neighbourhoods) == "" for t in TESTS.values())


@pytest.mark.parametrize("answer, diagnosis", MISTAKES, ids=[m[1] for m in MISTAKES])
def test_q03_attention_filter_names_each_known_mistake(answer, diagnosis):
    visible = next(iter(TESTS.values()))  # the first test cell is the visible one
    message = feedback(visible, attention_filter=answer, neighbourhoods=neighbourhoods)
    assert diagnosis in message, f"the visible test should say {diagnosis!r}, it says {message!r}"


def test_q03_attention_filter_says_an_unfinished_answer_is_unfinished():
    unfinished = lambda image, tau: None  # noqa: E731
    assert all("Replace the `...`" in feedback(t, attention_filter=unfinished, neighbourhoods=neighbourhoods)
               for t in TESTS.values())


def test_the_notebook_and_the_reference_agree_on_a_photo_crop():
    image = torch.rand(1, 3, 12, 10, generator=torch.Generator().manual_seed(1))
    ours = _filter()(image, 0.1)
    ref = _reference(image, 0.1)
    torch.testing.assert_close(ours[0], ref[0])
    torch.testing.assert_close(ours[1], ref[1])
