"""Tests for mmcourse.data.digits: scikit-learn's real 8×8 digits and a seeded train/test split."""
import pytest
import torch

from mmcourse.data.digits import load_digits, train_test_split_indices


def test_digits_are_1797_float_images_in_unit_range_with_int_labels():
    images, labels = load_digits()
    assert images.shape == (1797, 8, 8) and images.dtype == torch.float32
    assert labels.shape == (1797,) and labels.dtype == torch.int64
    assert images.min() == 0 and images.max() == 1
    assert sorted(labels.unique().tolist()) == list(range(10))


def test_digits_equal_scikit_learn_divided_by_16():
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    images, labels = load_digits()
    assert torch.equal(images, torch.tensor(bunch.images / 16.0, dtype=torch.float32))
    assert torch.equal(labels, torch.tensor(bunch.target, dtype=torch.int64))


def test_each_call_returns_fresh_tensors():
    images, _ = load_digits()
    images.zero_()
    assert load_digits()[0].max() == 1


def test_split_indices_are_disjoint_cover_everything_and_have_the_requested_size():
    train, test = train_test_split_indices(100, 0.25, seed=0)
    assert len(test) == 25 and len(train) == 75
    assert sorted(torch.cat([train, test]).tolist()) == list(range(100))


def test_split_is_deterministic_given_the_seed():
    a = train_test_split_indices(50, 0.2, seed=1)
    b = train_test_split_indices(50, 0.2, seed=1)
    c = train_test_split_indices(50, 0.2, seed=2)
    assert torch.equal(a[1], b[1]) and not torch.equal(a[1], c[1])


@pytest.mark.parametrize("kwargs, name", [({"n": 1}, "n"), ({"n": "10"}, "n"), ({"n": 10, "test_fraction": 1.0}, "test_fraction"),
                                          ({"n": 10, "test_fraction": 0}, "test_fraction"), ({"n": 10, "seed": -1}, "seed")])
def test_bad_split_arguments_are_rejected_by_name(kwargs, name):
    with pytest.raises(ValueError, match=name):
        train_test_split_indices(**kwargs)
