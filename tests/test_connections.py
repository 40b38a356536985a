"""Tests of mmcourse.connections: association and dependency measures against references."""
import math

import numpy as np
import pytest
import torch
from sklearn.metrics import mutual_info_score

from mmcourse import connections as C
from mmcourse import modalities as M


def _labels(n=500, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, n)
    b = np.where(rng.random(n) < 0.7, a, rng.integers(0, 4, n))  # b copies a 70 % of the time
    return a, b


def test_mutual_information_agrees_with_sklearn_in_bits():
    a, b = _labels()
    assert C.mutual_information(a, b) == pytest.approx(mutual_info_score(a, b) / math.log(2), abs=1e-10)


def test_mutual_information_is_symmetric_and_zero_for_a_constant():
    a, b = _labels(seed=1)
    assert C.mutual_information(a, b) == pytest.approx(C.mutual_information(b, a), abs=1e-12)
    assert C.mutual_information(a, np.zeros_like(a)) == pytest.approx(0.0, abs=1e-12)


def test_mutual_information_of_a_copy_is_its_entropy():
    a = ["x", "y", "z", "w"] * 10
    assert C.mutual_information(a, a) == pytest.approx(2.0)


def test_conditional_entropy_is_zero_for_a_function_and_positive_in_reverse():
    image = list(range(8)) * 5  # 8 equally frequent "images"
    caption = [i % 2 for i in image]  # a caption computed from the image: 1 bit
    assert C.conditional_entropy(caption, image) == pytest.approx(0.0, abs=1e-12)
    assert C.conditional_entropy(image, caption) == pytest.approx(2.0)


def test_chain_rule_links_conditional_entropy_and_mutual_information():
    a, b = _labels(seed=2)
    h_a = C.entropy_of_samples(a)
    assert C.conditional_entropy(a, b) == pytest.approx(h_a - C.mutual_information(a, b), abs=1e-10)


def test_paired_measures_reject_unpaired_inputs():
    with pytest.raises(ValueError, match="paired"):
        C.mutual_information([1, 2, 3], [1, 2])


def test_correlation_matrix_agrees_with_numpy_corrcoef():
    X = np.random.default_rng(0).normal(size=(200, 4)).cumsum(axis=0)
    np.testing.assert_allclose(C.correlation_matrix(X).numpy(), np.corrcoef(X.T), atol=1e-10)


def test_correlation_matrix_rejects_a_constant_channel():
    X = np.c_[np.arange(10.0), np.ones(10)]
    with pytest.raises(ValueError, match="constant"):
        C.correlation_matrix(X)


def test_cross_correlation_finds_a_known_delay():
    x = torch.randn(500, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    y = torch.roll(x, 7)  # y_t = x_{t-7}: y follows x by 7 samples
    lags, r = C.cross_correlation(x, y, max_lag=15)
    assert lags.shape == r.shape == (31,)
    assert int(lags[r.argmax()]) == 7 and float(r.max()) == pytest.approx(1.0, abs=1e-9)
    lags, r = C.cross_correlation(y, x, max_lag=15)
    assert int(lags[r.argmax()]) == -7


def test_cross_correlation_at_lag_zero_is_the_pearson_correlation():
    X = np.random.default_rng(1).normal(size=(100, 2))
    lags, r = C.cross_correlation(X[:, 0], X[:, 1], max_lag=3)
    assert float(r[lags == 0]) == pytest.approx(np.corrcoef(X.T)[0, 1], abs=1e-10)


def test_granger_causality_points_from_driver_to_follower():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2000, generator=g, dtype=torch.float64)
    y = torch.zeros(2000, dtype=torch.float64)
    y[2:] = 0.8 * x[:-2]
    y = y + 0.3 * torch.randn(2000, generator=g, dtype=torch.float64)  # y_t = 0.8 x_{t-2} + noise
    forward, backward = C.granger_causality(x, y, order=3), C.granger_causality(y, x, order=3)
    assert forward > 1.0 and backward < 0.01


def test_granger_causality_rejects_too_high_an_order():
    with pytest.raises(ValueError, match="order"):
        C.granger_causality(torch.randn(20), torch.randn(20), order=10)


def test_joint_labels_pairs_the_two_label_sequences_in_order():
    from mmcourse.connections import joint_labels

    assert joint_labels([1, 2, 2], ["a", "b", "b"]) == [(1, "a"), (2, "b"), (2, "b")]


def test_conditional_entropies_differ_by_the_difference_of_entropies():
    # H(A|B) - H(B|A) = H(A) - H(B) for any paired data: the asymmetry reflects entropies, not a direction
    rng = np.random.default_rng(3)
    a = rng.integers(0, 7, 500)
    b = (a + rng.integers(0, 3, 500)) % 4
    left = C.conditional_entropy(a, b) - C.conditional_entropy(b, a)
    right = M.entropy_of_samples(a.tolist()) - M.entropy_of_samples(b.tolist())
    assert left == pytest.approx(right, abs=1e-10)
