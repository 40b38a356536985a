"""Notebook 06's exercise diagnoses are proven: each known wrong answer gets its message.

The test functions are taken from the notebook source exactly as otter takes them, and called with a
correct implementation, with each known mistake, and with an unfinished one (returning None).
"""
import pytest
import torch
import torch.nn.functional as F

from exercise_feedback import exercise_tests, feedback
from mmcourse import contrastive

Q_INFO_NCE = exercise_tests("06_contrastive_clip", "q06_info_nce")
Q_ZERO_SHOT = exercise_tests("06_contrastive_clip", "q06_zero_shot")


def _cosines(z_a, z_b):
    return F.normalize(z_a, dim=1) @ F.normalize(z_b, dim=1).T


def _targets(z):
    return torch.arange(len(z))


# ---- q06_info_nce --------------------------------------------------------------------------------

def _info_nce_by_log_softmax(z_a, z_b, temperature):
    """A correct answer written another way than the solution."""
    log_p = (_cosines(z_a, z_b) / temperature).log_softmax(dim=1)
    return -log_p.diagonal().mean()


INFO_NCE_MISTAKES = [
    (lambda a, b, t: None, "not done yet"),
    (lambda a, b, t: F.cross_entropy(a @ b.T / t, _targets(a)), "you forgot to normalise the embeddings"),
    (lambda a, b, t: F.cross_entropy(_cosines(a, b), _targets(a)), "you forgot the temperature"),
    (lambda a, b, t: F.cross_entropy(_cosines(a, b) * t, _targets(a)), "multiplied the similarities by τ"),
    (lambda a, b, t: F.cross_entropy(_cosines(a, b) / t, torch.zeros(len(a), dtype=torch.long)),
     "the targets must be 0…N−1 (the matching pair)"),
    (lambda a, b, t: F.cross_entropy(_cosines(a, b).T / t, _targets(a)), "you normalised over the columns"),
    (lambda a, b, t: F.cross_entropy(_cosines(a, b) / t, _targets(a), reduction="sum"), "you summed over the pairs"),
    (lambda a, b, t: F.cross_entropy(_cosines(a, b) / t, _targets(a), reduction="none"), "must return one number"),
    (lambda a, b, t: -(_cosines(a, b).diagonal() / _cosines(a, b).sum(dim=1)).log().mean(), "your loss is NaN"),
    (lambda a, b, t: -(torch.exp(_cosines(a, b) / t).diagonal() / torch.exp(_cosines(a, b) / t).sum(dim=1)).log().mean(),
     "exp(sim/τ) overflowed"),
]


@pytest.mark.parametrize("answer", [contrastive.info_nce, _info_nce_by_log_softmax])
def test_q06_info_nce_passes_correct_answers(answer):
    assert all(feedback(test, info_nce=answer) == "" for test in Q_INFO_NCE.values())


@pytest.mark.parametrize("wrong, diagnosis", INFO_NCE_MISTAKES)
def test_q06_info_nce_names_each_known_mistake(wrong, diagnosis):
    assert diagnosis in feedback(Q_INFO_NCE["test_info_nce_on_a_small_batch"], info_nce=wrong)


def test_q06_info_nce_hidden_test_catches_a_loss_that_only_fits_the_visible_batch():
    def only_five_pairs(a, b, t):
        return contrastive.info_nce(a[:5], b[:5], t)
    assert feedback(Q_INFO_NCE["test_info_nce_on_a_small_batch"], info_nce=only_five_pairs) == ""
    assert "info_nce for N = 7" in feedback(Q_INFO_NCE["test_info_nce_on_other_batches"], info_nce=only_five_pairs)


# ---- q06_zero_shot -------------------------------------------------------------------------------

ZERO_SHOT_MISTAKES = [
    (lambda z_i, z_p: None, "not done yet"),
    (lambda z_i, z_p: _cosines(z_i, z_p), "you returned the (N, K) similarities"),
    (lambda z_i, z_p: _cosines(z_i, z_p).argmax(dim=0), "argmax over the images"),
    (lambda z_i, z_p: (z_i @ z_p.T).argmax(dim=1), "you forgot to normalise the embeddings"),
    (lambda z_i, z_p: (F.normalize(z_i, dim=1) @ z_p.T).argmax(dim=1), "you forgot to normalise the embeddings"),
    (lambda z_i, z_p: _cosines(z_i, z_p).argmax(dim=1).float(), "must be integer indices"),
    (lambda z_i, z_p: _cosines(z_i, z_p).argmin(dim=1), "the predicted classes"),
]


def test_q06_zero_shot_passes_a_correct_answer():
    assert all(feedback(test, zero_shot_classify=contrastive.zero_shot_classify) == ""
               for test in Q_ZERO_SHOT.values())


@pytest.mark.parametrize("wrong, diagnosis", ZERO_SHOT_MISTAKES)
def test_q06_zero_shot_names_each_known_mistake(wrong, diagnosis):
    message = feedback(Q_ZERO_SHOT["test_zero_shot_classify_with_prompts_of_different_lengths"],
                       zero_shot_classify=wrong)
    assert diagnosis in message


def test_q06_zero_shot_hidden_test_catches_the_missing_normalisation_too():
    message = feedback(Q_ZERO_SHOT["test_zero_shot_classify_on_other_sizes"],
                       zero_shot_classify=lambda z_i, z_p: (z_i @ z_p.T).argmax(dim=1))
    assert "differ" in message
