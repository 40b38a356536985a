"""Notebook 06's exercise diagnoses are proven: each known wrong answer gets its message.

The test functions are taken from the notebook source exactly as otter takes them, and called with a
correct implementation, with each known mistake, and with an unfinished one (returning None).
"""
import pytest
import torch
import torch.nn.functional as F

from exercise_feedback import exercise_tests, feedback
from mmcourse import contrastive

Q_MARGIN = exercise_tests("06_contrastive_clip", "q06_margin_loss")
Q_CLIP = exercise_tests("06_contrastive_clip", "q06_clip_loss")
Q_ZERO_SHOT = exercise_tests("06_contrastive_clip", "q06_zero_shot")


def _cosines(z_a, z_b):
    return F.normalize(z_a, dim=1) @ F.normalize(z_b, dim=1).T


def _targets(z):
    return torch.arange(len(z))


# ---- q06_margin_loss -----------------------------------------------------------------------------

def _sims(a, p, n):
    return F.cosine_similarity(a, p, dim=1), F.cosine_similarity(a, n, dim=1)


def _margin_as_distance(a, p, n, m):
    """A correct answer written another way: the triplet form with the distance d = 1 − sim."""
    d_pos, d_neg = 1 - F.cosine_similarity(a, p, dim=1), 1 - F.cosine_similarity(a, n, dim=1)
    return torch.relu(m + d_pos - d_neg).mean()


MARGIN_MISTAKES = [
    (lambda a, p, n, m: None, "not done yet"),
    (lambda a, p, n, m: (m + _sims(a, p, n)[0] - _sims(a, p, n)[1]).clamp_min(0).mean(),
     "the sign of the two similarities is swapped"),
    (lambda a, p, n, m: (m - _sims(a, p, n)[0] + _sims(a, p, n)[1]).mean(), "you left out the max{0, ·}"),
    (lambda a, p, n, m: (_sims(a, p, n)[1] - _sims(a, p, n)[0]).clamp_min(0).mean(), "you left out the margin"),
    (lambda a, p, n, m: (-m - _sims(a, p, n)[0] + _sims(a, p, n)[1]).clamp_min(0).mean(),
     "your margin has the wrong sign"),
    (lambda a, p, n, m: (m - (a * p).sum(1) + (a * n).sum(1)).clamp_min(0).mean(),
     "you forgot to normalise the embeddings"),
    (lambda a, p, n, m: (m - _sims(a, p, n)[0] + _sims(a, p, n)[1]).clamp_min(0).sum(), "you summed over the triples"),
    (lambda a, p, n, m: (m - _sims(a, p, n)[0] + _sims(a, p, n)[1]).clamp_min(0), "must return one number"),
]


@pytest.mark.parametrize("answer", [contrastive.margin_contrastive_loss, _margin_as_distance])
def test_q06_margin_loss_passes_correct_answers(answer):
    assert all(feedback(test, margin_loss=answer) == "" for test in Q_MARGIN.values())


@pytest.mark.parametrize("wrong, diagnosis", MARGIN_MISTAKES)
def test_q06_margin_loss_names_each_known_mistake(wrong, diagnosis):
    assert diagnosis in feedback(Q_MARGIN["test_margin_loss_on_a_small_batch"], margin_loss=wrong)


def test_q06_margin_loss_hidden_test_catches_a_loss_that_only_fits_the_visible_batch():
    def only_eight_rows(a, p, n, m):
        return contrastive.margin_contrastive_loss(a[:8], p[:8], n[:8], 0.3)
    assert feedback(Q_MARGIN["test_margin_loss_on_a_small_batch"], margin_loss=only_eight_rows) == ""
    assert "margin" in feedback(Q_MARGIN["test_margin_loss_on_hand_made_triples"], margin_loss=only_eight_rows)


# ---- q06_clip_loss -------------------------------------------------------------------------------

def _clip_by_log_softmax(z_i, z_t, temperature):
    """A correct answer written another way than the solution."""
    logits = _cosines(z_i, z_t) / temperature
    return -(logits.log_softmax(dim=1).diagonal().mean() + logits.log_softmax(dim=0).diagonal().mean()) / 2


def _both(logits, **kw):
    t = _targets(logits)
    return (F.cross_entropy(logits, t, **kw) + F.cross_entropy(logits.T, t, **kw)) / 2


def _exp_then_log(a, b, t):
    E = torch.exp(_cosines(a, b) / t)
    return -((E.diagonal() / E.sum(1)).log().mean() + (E.diagonal() / E.sum(0)).log().mean()) / 2


CLIP_MISTAKES = [
    (lambda a, b, t: None, "not done yet"),
    (lambda a, b, t: _both(_cosines(a, b) / t, reduction="none"), "must return one number"),
    (lambda a, b, t: -(_cosines(a, b).diagonal() / _cosines(a, b).sum(dim=1)).log().mean(), "your loss is NaN"),
    (lambda a, b, t: contrastive.info_nce(a, b, t), "you computed only one direction"),
    (lambda a, b, t: contrastive.info_nce(b, a, t), "you computed only one direction"),
    (lambda a, b, t: 2 * _both(_cosines(a, b) / t), "you added the two directions"),
    (lambda a, b, t: _both(a @ b.T / t), "you forgot to normalise the embeddings"),
    (lambda a, b, t: 2 * _both(a @ b.T, reduction="sum"), "that is the seminar's form"),
    (lambda a, b, t: _both(_cosines(a, b)), "you forgot the temperature"),
    (lambda a, b, t: _both(_cosines(a, b) * t), "multiplied the similarities by τ"),
    (lambda a, b, t: (F.cross_entropy(_cosines(a, b) / t, torch.zeros(len(a), dtype=torch.long))
                      + F.cross_entropy(_cosines(a, b).T / t, torch.zeros(len(a), dtype=torch.long))) / 2,
     "the targets must be 0…N−1 (the matching pair)"),
    (lambda a, b, t: _both(_cosines(a, b) / t, reduction="sum"), "you summed over the pairs"),
    (_exp_then_log, "exp(sim/τ) overflowed"),
]


@pytest.mark.parametrize("answer", [contrastive.clip_loss, _clip_by_log_softmax])
def test_q06_clip_loss_passes_correct_answers(answer):
    assert all(feedback(test, clip_loss=answer) == "" for test in Q_CLIP.values())


@pytest.mark.parametrize("wrong, diagnosis", CLIP_MISTAKES)
def test_q06_clip_loss_names_each_known_mistake(wrong, diagnosis):
    assert diagnosis in feedback(Q_CLIP["test_clip_loss_on_a_small_batch"], clip_loss=wrong)


def test_q06_clip_loss_hidden_tests_catch_a_loss_that_only_fits_the_visible_batch_or_blocks_the_gradient():
    def only_five_pairs(a, b, t):
        return contrastive.clip_loss(a[:5], b[:5], t)
    assert feedback(Q_CLIP["test_clip_loss_on_a_small_batch"], clip_loss=only_five_pairs) == ""
    assert "clip_loss for N = 7" in feedback(Q_CLIP["test_clip_loss_on_other_batches"], clip_loss=only_five_pairs)

    def detached_temperature(a, b, t):
        return contrastive.clip_loss(a, b, float(t.detach()) if isinstance(t, torch.Tensor) else t)
    assert feedback(Q_CLIP["test_clip_loss_on_a_small_batch"], clip_loss=detached_temperature) == ""
    assert "gradient" in feedback(Q_CLIP["test_clip_loss_on_other_batches"], clip_loss=detached_temperature)


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
