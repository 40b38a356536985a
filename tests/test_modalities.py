"""Tests of mmcourse.modalities: each measure against a trusted reference or a case worked by hand."""
import math
import zlib

import numpy as np
import pytest
import scipy.stats
import torch
from sklearn.decomposition import PCA

from mmcourse import modalities as M


# ---------------------------------------------------------------- entropy
@pytest.mark.parametrize("p, bits", [([0.5, 0.5], 1.0), ([1.0, 0.0], 0.0), ([0.25] * 4, 2.0),
                                     ([0.5, 0.25, 0.25], 1.5)])
def test_entropy_of_hand_computed_distributions(p, bits):
    assert float(M.entropy(torch.tensor(p))) == pytest.approx(bits, abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_entropy_agrees_with_scipy_in_bits(seed):
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 20, size=12).astype(float)
    assert float(M.entropy(counts)) == pytest.approx(scipy.stats.entropy(counts, base=2), abs=1e-10)


def test_entropy_treats_zero_probabilities_as_zero_terms_not_nan():
    h = M.entropy(torch.tensor([0.0, 0.5, 0.0, 0.5]))
    assert not torch.isnan(h) and float(h) == pytest.approx(1.0)


def test_entropy_normalises_counts_and_works_row_by_row():
    counts = torch.tensor([[3.0, 3.0], [5.0, 0.0], [1.0, 3.0]])
    expected = scipy.stats.entropy(counts.numpy(), base=2, axis=1)
    np.testing.assert_allclose(M.entropy(counts).numpy(), expected, atol=1e-12)
    assert M.entropy(counts).shape == (3,)


@pytest.mark.parametrize("bad", [[-0.1, 1.1], [0.0, 0.0], [], [float("nan"), 1.0]])
def test_entropy_rejects_invalid_distributions(bad):
    with pytest.raises(ValueError, match="p"):
        M.entropy(torch.tensor(bad))


def test_entropy_of_samples_counts_distinct_values_and_tokens():
    assert M.entropy_of_samples(["a", "b", "a", "b"]) == pytest.approx(1.0)
    assert M.entropy_of_samples(np.array([1, 1, 1, 1])) == pytest.approx(0.0)
    assert M.entropy_of_samples(np.arange(8)) == pytest.approx(3.0)


def test_value_counts_lists_most_frequent_first():
    values, counts = M.value_counts(["b", "a", "b", "c", "b", "a"])
    assert values == ["b", "a", "c"] and counts.tolist() == [3.0, 2.0, 1.0]


# ---------------------------------------------------------------- element representations
def test_element_summary_of_8_bit_pixels():
    summary = M.element_summary(np.arange(256, dtype=np.uint8))
    assert summary["discrete"] and summary["distinct"] == 256
    assert summary["storage_bits"] == 8 and summary["needed_bits"] == pytest.approx(8.0)


def test_element_summary_finds_quantised_floats_and_their_step():
    levels = M.element_summary(torch.tensor([0, 3, 16, 5, 5], dtype=torch.float32) / 16)
    assert levels["discrete"] and levels["step"] == pytest.approx(1 / 16) and levels["distinct"] == 4


def test_element_summary_of_continuous_floats_and_tokens():
    floats = M.element_summary(torch.rand(100, generator=torch.Generator().manual_seed(0)))
    assert not floats["discrete"] and floats["storage_bits"] == 32 and floats["elements"] == 100
    tokens = M.element_summary(["the", "cat", "the"])
    assert tokens["discrete"] and tokens["distinct"] == 2 and tokens["needed_bits"] == pytest.approx(1.0)
    assert tokens["storage_bits"] == pytest.approx(8 * 3)  # three letters of UTF-8 per token


def test_element_summary_rejects_empty_input():
    with pytest.raises(ValueError, match="non-empty"):
        M.element_summary(np.array([]))


# ---------------------------------------------------------------- Zipf
def test_zipf_fit_recovers_an_exact_power_law():
    ranks = np.arange(1, 201)
    slope, intercept = M.zipf_fit(1000.0 * ranks ** -1.2)
    assert slope == pytest.approx(-1.2, abs=1e-10) and intercept == pytest.approx(3.0, abs=1e-10)


def test_zipf_fit_agrees_with_numpy_polyfit_on_a_rank_range():
    rng = np.random.default_rng(0)
    counts = np.sort(rng.integers(1, 500, size=80))[::-1].astype(float)
    expected = np.polyfit(np.log10(np.arange(3, 51)), np.log10(counts[2:50]), 1)
    assert M.zipf_fit(counts, min_rank=3, max_rank=50) == pytest.approx(tuple(expected), abs=1e-10)


def test_zipf_fit_rejects_a_bad_rank_range():
    with pytest.raises(ValueError, match="max_rank"):
        M.zipf_fit([5, 4, 3], max_rank=10)


# ---------------------------------------------------------------- structure
def test_neighbour_correlation_agrees_with_numpy_corrcoef():
    x = torch.rand(5, 6, 7, generator=torch.Generator().manual_seed(0)).cumsum(-1)
    right = np.corrcoef(x[..., :-1].flatten(), x[..., 1:].flatten())[0, 1]
    below = np.corrcoef(x[:, :-1, :].flatten(), x[:, 1:, :].flatten())[0, 1]
    assert M.neighbour_correlation(x) == pytest.approx(right, abs=1e-10)
    assert M.neighbour_correlation(x, axis=-2) == pytest.approx(below, abs=1e-10)


def test_neighbour_correlation_is_minus_one_for_a_checkerboard():
    board = (torch.arange(8)[:, None] + torch.arange(8)[None, :]) % 2
    assert M.neighbour_correlation(board[None].float()) == pytest.approx(-1.0)


def test_autocorrelation_agrees_with_numpy_correlate():
    x = np.random.default_rng(0).normal(size=300).cumsum()
    xc = x - x.mean()
    full = np.correlate(xc, xc, mode="full")[len(x) - 1:] / (xc ** 2).sum()
    r = M.autocorrelation(x, max_lag=20)
    assert r.shape == (21,) and float(r[0]) == pytest.approx(1.0)
    np.testing.assert_allclose(r.numpy(), full[:21], atol=1e-10)


def test_autocorrelation_of_a_sine_is_negative_at_half_its_period():
    t = torch.arange(400, dtype=torch.float64)
    r = M.autocorrelation(torch.sin(2 * math.pi * t / 40), max_lag=40)
    assert float(r[20]) < -0.9 and float(r[40]) > 0.85


def test_autocorrelation_rejects_lags_beyond_the_signal():
    with pytest.raises(ValueError, match="max_lag"):
        M.autocorrelation(torch.randn(10), max_lag=10)


def test_pca_variance_explained_agrees_with_sklearn_and_sums_to_one():
    X = np.random.default_rng(0).normal(size=(50, 6)) @ np.diag([5, 3, 1, 0.5, 0.2, 0.1])
    ratio = M.pca_variance_explained(X)
    np.testing.assert_allclose(ratio.numpy(), PCA().fit(X).explained_variance_ratio_, atol=1e-10)
    assert float(ratio.sum()) == pytest.approx(1.0)


# ---------------------------------------------------------------- compression
def test_compression_ratio_matches_zlib_and_ranks_redundancy():
    text = "the cat sat on the mat " * 50
    assert M.compression_ratio(text) == pytest.approx(len(text) / len(zlib.compress(text.encode(), 9)))
    random_bytes = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)
    assert M.compression_ratio(text) > 10 > 1.05 > M.compression_ratio(random_bytes)


def test_compression_ratio_rejects_empty_and_unknown_data():
    with pytest.raises(ValueError, match="empty"):
        M.compression_ratio(b"")
    with pytest.raises(ValueError, match="data must be"):
        M.compression_ratio(3.5)


# ---------------------------------------------------------------- quick classifier, relevance
def _blobs(n=300, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    return rng.normal(size=(n, 4)) + 4 * np.eye(3, 4)[labels], labels


def test_task_accuracy_is_high_for_relevant_and_near_chance_for_irrelevant_features():
    X, y = _blobs()
    acc, chance = M.task_accuracy(X, y)
    noise = np.random.default_rng(1).normal(size=X.shape)
    acc_noise, _ = M.task_accuracy(noise, y)
    assert acc > 0.95 and acc_noise < chance + 0.15 and 0.3 < chance < 0.45


def test_task_accuracy_is_deterministic():
    X, y = _blobs()
    assert M.task_accuracy(X, y, seed=3) == M.task_accuracy(X, y, seed=3)


def test_fit_quick_classifier_rejects_mismatched_labels():
    with pytest.raises(ValueError, match="labels"):
        M.fit_quick_classifier(np.zeros((5, 2)), np.zeros(4))


def test_relevance_score_is_zero_at_chance_and_one_when_perfect():
    assert M.relevance_score(0.1, 0.1) == 0 and M.relevance_score(1.0, 0.1) == 1
    with pytest.raises(ValueError, match="chance"):
        M.relevance_score(0.5, 1.0)


def test_neighbour_correlation_at_a_distance_agrees_with_numpy_corrcoef():
    x = torch.rand(3, 6, 9, generator=torch.Generator().manual_seed(4)).cumsum(dim=-1)
    right3 = np.corrcoef(x[:, :, :-3].flatten(), x[:, :, 3:].flatten())[0, 1]
    below2 = np.corrcoef(x[:, :-2, :].flatten(), x[:, 2:, :].flatten())[0, 1]
    assert M.neighbour_correlation(x, distance=3) == pytest.approx(right3, abs=1e-10)
    assert M.neighbour_correlation(x, distance=2, axis=-2) == pytest.approx(below2, abs=1e-10)


def test_neighbour_correlation_on_a_checkerboard_alternates_with_distance():
    board = ((torch.arange(6)[:, None] + torch.arange(6)[None, :]) % 2).float()[None]
    assert M.neighbour_correlation(board, distance=2) == pytest.approx(1.0)


def test_neighbour_correlation_rejects_a_distance_beyond_the_image():
    with pytest.raises(ValueError, match="distance"):
        M.neighbour_correlation(torch.rand(2, 4, 4), distance=4)
