"""Notebook 05's exercise diagnoses are proven: each known wrong answer gets its message.

The test functions are taken from the notebook source exactly as otter takes them, and called with a
correct implementation, with each known mistake, and with an unfinished one (returning None).
"""
import pytest
import torch
import torch.nn.functional as F

from exercise_feedback import exercise_tests, feedback
from mmcourse import fusion

Q_LATE = exercise_tests("05_fusion", "q05_late_fusion")
Q_LOSS = exercise_tests("05_fusion", "q05_avdcnn_loss")


# ---- q05_late_fusion -----------------------------------------------------------------------------

def _late_by_loop(scores, weights, present):
    """A correct answer written another way than the solution: example by example."""
    rows = []
    for b in range(len(scores[0])):
        kept = [(w, s[b].softmax(0)) for s, w, here in zip(scores, weights, present[b]) if here]
        rows.append(sum(w * p for w, p in kept) / sum(w for w, _ in kept))
    return torch.stack(rows)


def _weighted(weights, parts):
    return sum(w * p for w, p in zip(weights, parts))


def _probabilities(scores):
    return torch.stack([s.softmax(1) for s in scores], dim=1)  # (B, n, classes)


def _mixed(weights, scores):
    """Σ_i weights[:, i] ŷ_i with weights (B, n)."""
    return (weights[:, :, None] * _probabilities(scores)).sum(1)


LATE_MISTAKES = [  # on the first test, every modality present
    (lambda s, w, p: None, "not done yet"),
    (lambda s, w, p: _weighted(w, s), "you added the scores f_i(x_i)"),
    (lambda s, w, p: _weighted(w, [x.softmax(0) for x in s]), "your softmax runs over the batch (dim 0)"),
    (lambda s, w, p: sum(x.softmax(1) for x in s) / len(s), "you ignored the weights"),
    (lambda s, w, p: _weighted(w.flip(0), [x.softmax(1) for x in s]), "the weights are swapped"),
    (lambda s, w, p: _weighted(w, [x.log_softmax(1) for x in s]), "you added log-probabilities"),
    (lambda s, w, p: _weighted(w, [x.softmax(1) for x in s])[:, :2], "has shape (3, 2), expected (3, 4)"),
]

MISSING_MISTAKES = [  # on the second test, a modality missing in some examples
    (lambda s, w, p: None, "not done yet"),
    (lambda s, w, p: _weighted(w, [x.softmax(1) for x in s]), "a missing modality still has its say"),
    (lambda s, w, p: _weighted(w, [torch.where(p[:, i, None], x, 0.0).softmax(1) for i, x in enumerate(s)]),
     "you replaced a missing modality's scores by zeros"),
    (lambda s, w, p: _mixed(w * p, s), "sum to less than 1"),
    (lambda s, w, p: _mixed(p / p.sum(1, keepdim=True), s), "share the weight equally"),
    (lambda s, w, p: _mixed(w * p / p.sum(1, keepdim=True), s), "divided the remaining weights by how many"),
    (lambda s, w, p: _mixed((w * p) ** 2 / ((w * p) ** 2).sum(1, keepdim=True), s), "values differ"),
    (lambda s, w, p: fusion.late_fusion(s, w, p)[:, :3], "has shape (4, 3), expected (4, 5)"),
]


@pytest.mark.parametrize("answer", [fusion.late_fusion, _late_by_loop])
def test_q05_late_fusion_passes_correct_answers(answer):
    assert all(feedback(test, late_fusion=answer) == "" for test in Q_LATE.values())


@pytest.mark.parametrize("wrong, diagnosis", LATE_MISTAKES)
def test_q05_late_fusion_names_each_known_mistake(wrong, diagnosis):
    assert diagnosis in feedback(Q_LATE["test_late_fusion_on_two_modalities"], late_fusion=wrong)


@pytest.mark.parametrize("wrong, diagnosis", MISSING_MISTAKES)
def test_q05_late_fusion_names_each_known_mistake_with_a_missing_modality(wrong, diagnosis):
    assert diagnosis in feedback(Q_LATE["test_late_fusion_leaves_out_a_missing_modality"], late_fusion=wrong)


def test_q05_late_fusion_names_an_answer_that_ignores_present_only_where_a_modality_is_missing():
    def ignores_present(scores, weights, present):
        return fusion.late_fusion(scores, weights)

    assert feedback(Q_LATE["test_late_fusion_on_two_modalities"], late_fusion=ignores_present) == ""
    message = feedback(Q_LATE["test_late_fusion_leaves_out_a_missing_modality"], late_fusion=ignores_present)
    assert "a missing modality still has its say" in message


def test_q05_late_fusion_hidden_test_catches_an_answer_that_only_handles_two_modalities():
    def two_only(scores, weights, present):
        w = weights[:2] * present[:, :2]
        w = w / w.sum(1, keepdim=True)
        return w[:, :1] * scores[0].softmax(1) + w[:, 1:] * scores[1].softmax(1)

    assert feedback(Q_LATE["test_late_fusion_on_two_modalities"], late_fusion=two_only) == ""
    assert "three modalities" in feedback(Q_LATE["test_late_fusion_on_three_modalities"], late_fusion=two_only)


def test_q05_late_fusion_unfinished_answer_is_called_unfinished_by_every_test():
    for test in Q_LATE.values():
        message = feedback(test, late_fusion=lambda s, w, p: None)
        assert "not done yet" in message or "Replace the `...`" in message, message


# ---- q05_avdcnn_loss -----------------------------------------------------------------------------

def _norms(Y_hat, Y, X_V_hat, X_V):
    return (Y_hat - Y).pow(2).flatten(1).sum(1), (X_V_hat - X_V).pow(2).flatten(1).sum(1)


def _loss_with_mse(Y_hat, Y, X_V_hat, X_V, mu):
    """A correct answer through F.mse_loss(reduction="sum")."""
    return (F.mse_loss(Y_hat, Y, reduction="sum") + mu * F.mse_loss(X_V_hat, X_V, reduction="sum")) / len(Y)


LOSS_MISTAKES = [
    (lambda Yh, Y, Xh, X, mu: None, "not done yet"),
    (lambda Yh, Y, Xh, X, mu: F.mse_loss(Yh, Y) + mu * F.mse_loss(Xh, X), "you averaged over every number"),
    (lambda Yh, Y, Xh, X, mu: (lambda s, i: (s + mu * i).sum())(*_norms(Yh, Y, Xh, X)), "you summed over the K"),
    (lambda Yh, Y, Xh, X, mu: (lambda s, i: (s.sqrt() + mu * i.sqrt()).mean())(*_norms(Yh, Y, Xh, X)),
     "your norms are not squared"),
    (lambda Yh, Y, Xh, X, mu: (lambda s, i: (mu * s + i).mean())(*_norms(Yh, Y, Xh, X)), "μ weighs the wrong term"),
    (lambda Yh, Y, Xh, X, mu: (lambda s, i: (s + i).mean())(*_norms(Yh, Y, Xh, X)), "you left out μ"),
    (lambda Yh, Y, Xh, X, mu: ((Yh - Y).abs().flatten(1).sum(1) + mu * (Xh - X).abs().flatten(1).sum(1)).mean(),
     "you summed absolute differences"),
    (lambda Yh, Y, Xh, X, mu: _norms(Yh, Y, Xh, X)[0].mean(), "your loss ignores the visual output"),
    (lambda Yh, Y, Xh, X, mu: fusion.avdcnn_loss(Yh, Y, Xh, X, mu).item(), "must be a scalar torch tensor"),
    (lambda Yh, Y, Xh, X, mu: fusion.avdcnn_loss(Yh, Y, Xh, X, mu).detach(), "carries no gradient"),
    (lambda Yh, Y, Xh, X, mu: (lambda s, i: s + mu * i)(*_norms(Yh, Y, Xh, X)), "must be a scalar torch tensor"),
]


@pytest.mark.parametrize("answer", [fusion.avdcnn_loss, _loss_with_mse])
def test_q05_avdcnn_loss_passes_correct_answers(answer):
    assert all(feedback(test, avdcnn_loss=answer) == "" for test in Q_LOSS.values())


@pytest.mark.parametrize("wrong, diagnosis", LOSS_MISTAKES)
def test_q05_avdcnn_loss_names_each_known_mistake(wrong, diagnosis):
    assert diagnosis in feedback(Q_LOSS["test_avdcnn_loss_on_a_small_batch"], avdcnn_loss=wrong)


def test_q05_avdcnn_loss_hidden_test_catches_a_loss_that_ignores_mu_zero():
    def never_zero(Y_hat, Y, X_V_hat, X_V, mu):
        return fusion.avdcnn_loss(Y_hat, Y, X_V_hat, X_V, max(mu, 0.5))

    assert feedback(Q_LOSS["test_avdcnn_loss_on_a_small_batch"], avdcnn_loss=never_zero) == ""
    assert "mu=0.0" in feedback(Q_LOSS["test_avdcnn_loss_against_the_reference"], avdcnn_loss=never_zero)


def test_q05_avdcnn_loss_unfinished_answer_is_called_unfinished_by_every_test():
    for test in Q_LOSS.values():
        message = feedback(test, avdcnn_loss=lambda *args: None)
        assert "not done yet" in message or "Replace the `...`" in message, message


# ---- q05_joint_fusion_loss -----------------------------------------------------------------------

Q_JOINT = exercise_tests("05_fusion", "q05_joint_fusion_loss")


def _parts(encoders, heads, g, xs, y, detach=True):
    features = [f(x) for f, x in zip(encoders, xs)]
    own = sum(F.cross_entropy(h(z), y) for h, z in zip(heads, features))
    z_joint = torch.cat([z.detach() if detach else z for z in features], dim=1)
    return own, F.cross_entropy(g(z_joint), y)


def _joint_by_hooks(encoders, heads, g, xs, y):
    """A correct answer written another way: the features enter z_joint through a no-grad copy."""
    features = [f(x) for f, x in zip(encoders, xs)]
    with torch.no_grad():
        z_joint = torch.cat([z.clone() for z in features], dim=1)
    return sum(F.cross_entropy(h(z), y) for h, z in zip(heads, features)) + F.cross_entropy(g(z_joint), y)


def _frozen_everything(encoders, heads, g, xs, y):
    with torch.no_grad():
        features = [f(x) for f, x in zip(encoders, xs)]
    own = sum(F.cross_entropy(h(z), y) for h, z in zip(heads, features))
    return own + F.cross_entropy(g(torch.cat(features, dim=1)), y)


def _detached_prediction(encoders, heads, g, xs, y):
    own, _ = _parts(encoders, heads, g, xs, y)
    features = [f(x).detach() for f, x in zip(encoders, xs)]
    return own + F.cross_entropy(g(torch.cat(features, dim=1)).detach(), y)


JOINT_MISTAKES = [
    (lambda *a: None, "not done yet"),
    (lambda *a: sum(_parts(*a, detach=False)), "reaches the encoders, as in end-to-end training"),
    (lambda *a: _parts(*a)[1], "you returned only the loss of ŷ"),
    (lambda *a: _parts(*a, detach=False)[1], "you returned only the loss of ŷ"),
    (lambda *a: _parts(*a)[0], "you left out the loss of ŷ"),
    (lambda *a: sum(_parts(*a)) / 3, "you averaged the three losses"),
    (_frozen_everything, "f_1 gets no gradient"),
    (_detached_prediction, "g gets no gradient"),
    (lambda *a: sum(_parts(*a)).item(), "must be a scalar torch tensor"),
    (lambda *a: sum(_parts(*a)).detach(), "carries no gradient"),
]


@pytest.mark.parametrize("answer", [fusion.joint_fusion_loss, _joint_by_hooks])
def test_q05_joint_fusion_loss_passes_correct_answers(answer):
    assert all(feedback(test, joint_fusion_loss=answer) == "" for test in Q_JOINT.values())


@pytest.mark.parametrize("wrong, diagnosis", JOINT_MISTAKES)
def test_q05_joint_fusion_loss_names_each_known_mistake(wrong, diagnosis):
    assert diagnosis in feedback(Q_JOINT["test_joint_fusion_loss_on_two_modalities"], joint_fusion_loss=wrong)


def test_q05_joint_fusion_loss_hidden_test_catches_an_answer_that_only_handles_two_modalities():
    def two_only(encoders, heads, g, xs, y):
        features = [f(x) for f, x in zip(encoders, xs)]
        own = F.cross_entropy(heads[0](features[0]), y) + F.cross_entropy(heads[1](features[1]), y)
        return own + F.cross_entropy(g(torch.cat([z.detach() for z in features], dim=1)), y)

    assert feedback(Q_JOINT["test_joint_fusion_loss_on_two_modalities"], joint_fusion_loss=two_only) == ""
    assert feedback(Q_JOINT["test_joint_fusion_loss_on_three_modalities"], joint_fusion_loss=two_only) != ""


def test_q05_joint_fusion_loss_unfinished_answer_is_called_unfinished_by_every_test():
    for test in Q_JOINT.values():
        message = feedback(test, joint_fusion_loss=lambda *args: None)
        assert "not done yet" in message or "Replace the `...`" in message or "NoneType" in message, message
