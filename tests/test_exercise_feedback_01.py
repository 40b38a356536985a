"""Notebook 01's exercise diagnoses are proven: the wrong answer that triggers each one gets its message.

The test functions are taken from the notebook source exactly as otter takes them, and called with
wrong implementations, as a student's notebook would call them.
"""
import numpy as np
import pytest
import torch

from mmcourse import modalities as M
from exercise_feedback import exercise_tests, feedback

# The test functions of each question, taken from the notebook source as otter takes them, are run on
# a correct answer, on each known mistake (the student must read its diagnosis) and on `...`.
Q01 = {q: exercise_tests("01_modalities", q) for q in ("q01_entropy", "q01_add_noise", "q01_neighbour_correlation")}


def _entropy_natural_log(p):
    p = p / p.sum()
    p = p[p > 0]
    return -(p * torch.log(p)).sum()


def _entropy_nan_at_zero(p):
    p = p / p.sum()
    return -(p * torch.log2(p)).sum()


def _entropy_unnormalised(p):
    p = p[p > 0]
    return -(p * torch.log2(p)).sum()


def _noise_with_scale(scale):
    """add_noise(x, n, snr_db) = x + scale(P_x, P_n, snr_db) · n."""
    def add_noise(x, n, snr_db):
        return x + scale(x.pow(2).mean(), n.pow(2).mean(), snr_db) * n
    return add_noise


def _pearson(a, b):
    return float(np.corrcoef(a.flatten(), b.flatten())[0, 1])


def _correlation_below(images, distance=1):
    return _pearson(images[:, :-distance, :], images[:, distance:, :])


def _cosine_right(images, distance=1):
    a, b = images[:, :, :-distance].flatten().double(), images[:, :, distance:].flatten().double()
    return float((a * b).sum() / torch.sqrt((a ** 2).sum() * (b ** 2).sum()))


def _always_next_neighbour(images, distance=1):
    return _pearson(images[:, :, :-1], images[:, :, 1:])


def _one_too_far(images, distance=1):
    return _pearson(images[:, :, :-(distance + 1)], images[:, :, distance + 1:])


CORRECT = {
    "q01_entropy": {"entropy_bits": M.entropy},
    "q01_add_noise": {"add_noise": _noise_with_scale(lambda px, pn, s: torch.sqrt(px / (pn * 10 ** (s / 10))))},
    "q01_neighbour_correlation": {"neighbour_correlation": M.neighbour_correlation},
}
MISTAKES = [
    ("q01_entropy", {"entropy_bits": _entropy_natural_log}, "natural log"),
    ("q01_entropy", {"entropy_bits": _entropy_nan_at_zero}, "0·log 0 = 0"),
    ("q01_entropy", {"entropy_bits": _entropy_unnormalised}, "did not normalise"),
    ("q01_add_noise", {"add_noise": _noise_with_scale(lambda px, pn, s: torch.sqrt(px / (pn * 10 ** (s / 20))))},
     "10^(SNR/20) inside the power ratio"),
    ("q01_add_noise", {"add_noise": _noise_with_scale(lambda px, pn, s: torch.sqrt(px / pn) / 10 ** (s / 10))},
     "divided the amplitude by 10^(SNR/10)"),
    ("q01_add_noise", {"add_noise": _noise_with_scale(lambda px, pn, s: px / (pn * 10 ** (s / 10)))},
     "take the square root"),
    ("q01_neighbour_correlation", {"neighbour_correlation": _cosine_right}, "subtract the means"),
    ("q01_neighbour_correlation", {"neighbour_correlation": _correlation_below}, "the one below it"),
    ("q01_neighbour_correlation", {"neighbour_correlation": _always_next_neighbour}, "whatever the distance"),
    ("q01_neighbour_correlation", {"neighbour_correlation": _one_too_far}, "one column too far apart"),
]


@pytest.mark.parametrize("question", list(CORRECT))
def test_q01_exercises_pass_a_correct_answer(question):
    assert all(feedback(t, **CORRECT[question]) == "" for t in Q01[question].values())


@pytest.mark.parametrize("question, answer, diagnosis", MISTAKES, ids=[m[2] for m in MISTAKES])
def test_q01_exercises_name_each_known_mistake(question, answer, diagnosis):
    visible = next(iter(Q01[question].values()))  # the first test cell of each question is the visible one
    message = feedback(visible, **answer)
    assert diagnosis in message, f"the visible test of {question} should say {diagnosis!r}, it says {message!r}"


@pytest.mark.parametrize("question", list(CORRECT))
def test_q01_exercises_say_an_unfinished_answer_is_unfinished(question):
    (name,) = CORRECT[question]
    assert all("Replace the `...`" in feedback(t, **{name: lambda *args: None}) for t in Q01[question].values())


def test_q01_neighbour_correlation_hidden_test_catches_a_checkerboard_mistake():
    # a correlation that ignores its distance passes smooth images badly and the checkerboard at distance 2 not at all
    message = feedback(Q01["q01_neighbour_correlation"]["test_neighbour_correlation_on_other_images"],
                       neighbour_correlation=_always_next_neighbour)
    assert message != ""
