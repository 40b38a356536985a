"""Tests for mmcourse.contrastive: each loss against a cross-entropy formulation and hand-computed cases."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmcourse.contrastive import (clip_loss, harmonic_mean, info_nce, margin_contrastive_loss, pair_contrastive_loss,
                                  recall_at_k, similarity_matrix, zero_shot_classify)

TOL = dict(atol=1e-5, rtol=1e-5)


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _cosines(z_a, z_b):
    return F.normalize(z_a, dim=1) @ F.normalize(z_b, dim=1).T


# ---- similarity -----------------------------------------------------------------------------------

def test_similarity_matrix_is_the_cosine_of_every_pair_of_rows():
    z_a, z_b = _randn(5, 7), _randn(3, 7, seed=1)
    expected = F.cosine_similarity(z_a[:, None, :], z_b[None, :, :], dim=-1)  # (5, 3)
    torch.testing.assert_close(similarity_matrix(z_a, z_b), expected, **TOL)


def test_similarity_ignores_the_length_of_the_embeddings():
    z_a, z_b = _randn(4, 6), _randn(4, 6, seed=1)
    torch.testing.assert_close(similarity_matrix(3 * z_a, 0.1 * z_b), similarity_matrix(z_a, z_b), **TOL)


# ---- InfoNCE and the CLIP loss --------------------------------------------------------------------

@pytest.mark.parametrize("N, D, temperature, seed", [(1, 3, 0.07, 0), (8, 16, 0.07, 1), (32, 4, 0.5, 2),
                                                    (64, 32, 1.0, 3), (16, 8, 0.01, 4)])
def test_info_nce_is_cross_entropy_with_targets_zero_to_n_minus_one(N, D, temperature, seed):
    z_a, z_b = _randn(N, D, seed=seed), _randn(N, D, seed=seed + 100)
    expected = F.cross_entropy(_cosines(z_a, z_b) / temperature, torch.arange(N))
    torch.testing.assert_close(info_nce(z_a, z_b, temperature), expected, **TOL)


def test_info_nce_of_orthogonal_perfect_pairs_matches_the_closed_form():
    # S = I, so each row's loss is log(1 + (N − 1) e^(−1/τ))
    for N, temperature in ((2, 1.0), (4, 0.5), (10, 0.2)):
        expected = math.log1p((N - 1) * math.exp(-1 / temperature))
        assert abs(float(info_nce(torch.eye(N), torch.eye(N), temperature)) - expected) < 1e-5


def test_info_nce_of_a_hand_computed_two_pair_batch():
    # a_1 = b_1 = (1, 0), a_2 = (0, 1), b_2 = (1, 1)/√2: S = [[1, 1/√2], [0, 1/√2]], τ = 1
    z_a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    z_b = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    c = 1 / math.sqrt(2)
    row_1 = -math.log(math.exp(1) / (math.exp(1) + math.exp(c)))
    row_2 = -math.log(math.exp(c) / (math.exp(0) + math.exp(c)))
    assert abs(float(info_nce(z_a, z_b, 1.0)) - (row_1 + row_2) / 2) < 1e-6


def test_info_nce_is_one_direction_and_clip_loss_averages_both():
    z_a, z_b = _randn(12, 5), _randn(12, 5, seed=1)
    S, labels = _cosines(z_a, z_b) / 0.1, torch.arange(12)
    torch.testing.assert_close(info_nce(z_b, z_a, 0.1), F.cross_entropy(S.T, labels), **TOL)
    expected = (F.cross_entropy(S, labels) + F.cross_entropy(S.T, labels)) / 2
    torch.testing.assert_close(clip_loss(z_a, z_b, 0.1), expected, **TOL)
    torch.testing.assert_close(clip_loss(z_a, z_b, 0.1), clip_loss(z_b, z_a, 0.1), **TOL)
    assert not torch.allclose(info_nce(z_a, z_b, 0.1), info_nce(z_b, z_a, 0.1))


def test_clip_loss_matches_the_logit_scale_formulation_of_clip_code():
    # No CLIP implementation is installed offline: this is the formulation of published code, written out.
    # OpenAI's CLIP (model.py): unit-length features, logits_per_image = logit_scale * image @ text.T with
    # logit_scale = exp(log(1 / 0.07)) at the start, logits_per_text its transpose; the loss of the CLIP
    # paper's pseudocode and of OpenCLIP's ClipLoss: the mean of the two cross-entropies with targets arange(N).
    image, text = _randn(20, 10, seed=5), _randn(20, 10, seed=6)
    logit_scale = torch.tensor(1 / 0.07)
    logits_per_image = logit_scale * F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).T
    labels = torch.arange(20)
    expected = (F.cross_entropy(logits_per_image, labels) + F.cross_entropy(logits_per_image.T, labels)) / 2
    torch.testing.assert_close(clip_loss(image, text, 0.07), expected, **TOL)


def test_a_tensor_temperature_gets_a_gradient_and_the_default_is_0_07():
    z_a, z_b = _randn(6, 4), _randn(6, 4, seed=1)
    log_tau = torch.tensor(math.log(0.07), requires_grad=True)
    loss = clip_loss(z_a, z_b, log_tau.exp())
    loss.backward()
    assert log_tau.grad is not None and torch.isfinite(log_tau.grad) and log_tau.grad != 0
    torch.testing.assert_close(loss.detach(), clip_loss(z_a, z_b), **TOL)


def test_info_nce_stays_finite_at_tiny_temperatures():
    z = _randn(8, 4)
    assert torch.isfinite(info_nce(z, z + 0.01 * _randn(8, 4, seed=1), 1e-3))


# ---- margin and pair losses -----------------------------------------------------------------------

def test_margin_loss_of_hand_computed_triples():
    e1, e2 = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    # positive identical, negative orthogonal: max(0, 0.2 − 1 + 0) = 0
    assert float(margin_contrastive_loss(e1, e1, e2, margin=0.2)) == 0.0
    # positive orthogonal, negative identical: max(0, 0.2 − 0 + 1) = 1.2
    assert abs(float(margin_contrastive_loss(e1, e2, e1, margin=0.2)) - 1.2) < 1e-6
    # the mean over the two rows, with lengths that the cosine ignores
    both = margin_contrastive_loss(torch.cat([e1, 5 * e1]), torch.cat([3 * e1, e2]), torch.cat([e2, e1]), 0.2)
    assert abs(float(both) - 0.6) < 1e-6


def test_margin_loss_against_a_cosine_similarity_formulation():
    a, pos, neg = _randn(30, 8), _randn(30, 8, seed=1), _randn(30, 8, seed=2)
    expected = F.relu(0.3 - F.cosine_similarity(a, pos) + F.cosine_similarity(a, neg)).mean()
    torch.testing.assert_close(margin_contrastive_loss(a, pos, neg, margin=0.3), expected, **TOL)


def test_margin_loss_gradient_raises_the_positive_and_lowers_the_negative_similarity():
    a, pos, neg = _randn(1, 4), _randn(1, 4, seed=1), _randn(1, 4, seed=2)
    pos.requires_grad_(True)
    neg.requires_grad_(True)
    margin_contrastive_loss(a, pos, neg, margin=5.0).backward()  # a large margin: the hinge is active
    step = 1e-3
    sim_pos_after = F.cosine_similarity(a, pos - step * pos.grad)
    sim_neg_after = F.cosine_similarity(a, neg - step * neg.grad)
    assert sim_pos_after > F.cosine_similarity(a, pos) and sim_neg_after < F.cosine_similarity(a, neg)


def test_pair_loss_of_hand_computed_pairs():
    z_p = torch.zeros(3, 2)
    z_q = torch.tensor([[3.0, 4.0], [3.0, 4.0], [0.3, 0.4]])  # distances 5, 5, 0.5
    # positive at d = 5: d² = 25; negative at d = 5 > margin 1: 0; negative at d = 0.5: (1 − 0.5)² = 0.25
    assert abs(float(pair_contrastive_loss(z_p[:1], z_q[:1], torch.tensor([1.0]))) - 25.0) < 1e-5
    assert float(pair_contrastive_loss(z_p[1:2], z_q[1:2], torch.tensor([0.0]))) == 0.0
    assert abs(float(pair_contrastive_loss(z_p[2:], z_q[2:], torch.tensor([0]))) - 0.25) < 1e-6
    assert abs(float(pair_contrastive_loss(z_p, z_q, torch.tensor([1, 0, 0]))) - 25.25 / 3) < 1e-5
    assert abs(float(pair_contrastive_loss(z_p[1:2], z_q[1:2], torch.tensor([0.0]), margin=6.0)) - 1.0) < 1e-5


def test_pair_loss_against_pairwise_distance():
    z_p, z_q = _randn(40, 6), _randn(40, 6, seed=1)
    y = (torch.rand(40, generator=torch.Generator().manual_seed(2)) < 0.5).float()
    d = F.pairwise_distance(z_p, z_q, eps=0.0)
    expected = (y * d ** 2 + (1 - y) * F.relu(2.0 - d) ** 2).mean()
    torch.testing.assert_close(pair_contrastive_loss(z_p, z_q, y, margin=2.0), expected, **TOL)


def test_pair_loss_gradient_is_finite_for_identical_embeddings():
    z = _randn(3, 4).requires_grad_(True)
    pair_contrastive_loss(z, z.detach().clone(), torch.tensor([0.0, 1.0, 0.0])).backward()
    assert torch.isfinite(z.grad).all()


# ---- measurements ---------------------------------------------------------------------------------

def test_recall_at_k_counts_queries_with_a_relevant_item_in_the_top_k():
    similarity = torch.tensor([[0.9, 0.1, 0.5], [0.2, 0.3, 0.8], [0.7, 0.6, 0.1]])
    relevant = torch.tensor([[True, False, False], [True, False, False], [False, False, True]])
    assert recall_at_k(similarity, relevant, 1) == pytest.approx(1 / 3)  # only query 0 ranks its item first
    assert recall_at_k(similarity, relevant, 2) == pytest.approx(1 / 3)
    assert recall_at_k(similarity, relevant, 3) == pytest.approx(1.0)


def test_zero_shot_classify_uses_the_cosine_not_the_dot_product():
    z_images = torch.tensor([[1.0, 0.1], [0.1, 1.0]])
    z_prompts = torch.tensor([[1.0, 0.0], [0.0, 1.0], [10.0, 10.0]])  # a long diagonal prompt
    assert zero_shot_classify(z_images, z_prompts).tolist() == [0, 1]
    assert (z_images @ z_prompts.T).argmax(1).tolist() == [2, 2]
    assert zero_shot_classify(z_images, z_prompts).dtype == torch.int64


def test_harmonic_mean():
    assert harmonic_mean(1.0, 1.0) == 1.0
    assert harmonic_mean(0.0, 0.0) == 0.0
    assert harmonic_mean(1.0, 0.5) == pytest.approx(2 / 3)
    assert harmonic_mean(0.9, 0.1) < (0.9 + 0.1) / 2


# ---- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("z_a, z_b, match", [
    (torch.zeros(4), torch.zeros(4), r"z_a must have shape \(N, D\)"),
    (torch.zeros(4, 3), torch.zeros(5, 3), "same shape"),
    (torch.zeros(4, 3), torch.zeros(4, 2), "same shape"),
    (torch.zeros(0, 3), torch.zeros(0, 3), "N, D >= 1"),
    ([[1.0, 2.0]], torch.zeros(1, 2), "must be a tensor"),
])
def test_bad_shapes_are_rejected_by_name(z_a, z_b, match):
    for loss in (info_nce, clip_loss):
        with pytest.raises(ValueError, match=match):
            loss(z_a, z_b)


@pytest.mark.parametrize("temperature", [0, 0.0, -0.1, float("inf"), float("nan"), torch.tensor([0.1, 0.2]),
                                         "0.1", True])
def test_temperatures_that_are_not_positive_numbers_are_rejected(temperature):
    for loss in (info_nce, clip_loss):
        with pytest.raises(ValueError, match="temperature"):
            loss(torch.ones(2, 2), torch.ones(2, 2), temperature)


def test_bad_margin_and_pair_arguments_are_rejected_by_name():
    z = torch.ones(3, 2)
    with pytest.raises(ValueError, match="same shape"):
        margin_contrastive_loss(z, z, torch.ones(2, 2))
    with pytest.raises(ValueError, match="margin"):
        margin_contrastive_loss(z, z, z, margin=-0.1)
    with pytest.raises(ValueError, match=r"y must be a tensor of shape \(3,\)"):
        pair_contrastive_loss(z, z, torch.ones(2))
    with pytest.raises(ValueError, match="y must be 1"):
        pair_contrastive_loss(z, z, torch.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="margin"):
        pair_contrastive_loss(z, z, torch.ones(3), margin=-1.0)


def test_bad_measurement_arguments_are_rejected_by_name():
    with pytest.raises(ValueError, match="k must be"):
        recall_at_k(torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.bool), 4)
    with pytest.raises(ValueError, match="relevant"):
        recall_at_k(torch.zeros(2, 3), torch.zeros(3, 2, dtype=torch.bool), 1)
    with pytest.raises(ValueError, match="D = 3 but z_b has D = 2"):
        similarity_matrix(torch.zeros(2, 3), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="harmonic_mean"):
        harmonic_mean(-0.1, 0.5)


# ---- the tiny CLIP --------------------------------------------------------------------------------

def test_tiny_clip_encoders_map_to_the_joint_space_and_the_loss_trains_the_temperature():
    from mmcourse.contrastive import TextEncoder, TinyCLIP, TwoPathwayImageEncoder

    torch.manual_seed(0)
    images, tokens = torch.rand(6, 3, 32, 32), torch.randint(1, 20, (6, 5))
    tokens[:, -1] = 0  # padding
    for recurrent, additive in ((True, True), (False, True), (True, False)):
        model = TinyCLIP(TwoPathwayImageEncoder(out_size=16), TextEncoder(20, recurrent, additive, out_size=16))
        assert model.image_encoder(images).shape == (6, 16) and model.text_encoder(tokens).shape == (6, 16)
        assert abs(model.temperature.item() - 0.07) < 1e-6
        loss = model(images, tokens)
        expected = clip_loss(model.image_encoder(images), model.text_encoder(tokens), 0.07)
        torch.testing.assert_close(loss, expected, **TOL)
        loss.backward()
        assert model.log_temperature.grad is not None and model.log_temperature.grad != 0
    with pytest.raises(ValueError, match="at least one part"):
        TextEncoder(20, recurrent=False, additive=False)
