"""Tests for mmcourse.data.samples: the photo, EEG, MRI and stock prices that ship with matplotlib."""
import numpy as np
import pytest

from mmcourse.data.samples import load_eeg, load_mri, load_photo, load_stock_prices


def test_photo_is_an_rgb_float_image_in_unit_range():
    photo = load_photo()
    assert photo.shape == (600, 512, 3) and photo.dtype == np.float32
    assert 0 <= photo.min() and photo.max() <= 1
    assert photo.std() > 0.1  # a real picture, not a blank


def test_eeg_has_800_samples_of_4_named_channels_at_80_hz():
    signals, sample_rate, channels = load_eeg()
    assert signals.shape == (800, 4) and signals.dtype == np.float64
    assert sample_rate == 80.0
    assert channels == ["PG3", "PG5", "PG7", "PG9"]
    assert np.isfinite(signals).all()
    np.testing.assert_allclose(signals.std(axis=0), 1.0, atol=0.01)  # stored standardised


def test_mri_is_a_256x256_slice_normalised_or_raw():
    mri = load_mri()
    assert mri.shape == (256, 256) and mri.dtype == np.float32
    assert mri.min() == 0 and mri.max() == 1
    raw = load_mri(normalize=False)
    assert raw.dtype == np.uint16
    np.testing.assert_allclose(mri, raw / raw.max(), rtol=1e-6)
    assert 0.3 < (raw > 0).mean() < 0.7  # a head surrounded by zero background


def test_stock_prices_are_dated_in_order_with_positive_closes():
    dates, close = load_stock_prices()
    assert dates.dtype == np.dtype("datetime64[D]") and close.dtype == np.float64
    assert dates.shape == close.shape == (1047,)
    assert str(dates[0]) == "2004-08-19"
    assert (np.diff(dates.astype(np.int64)) > 0).all()
    assert (close > 0).all()


def test_bad_normalize_flag_is_rejected_by_name():
    with pytest.raises(ValueError, match="normalize"):
        load_mri(normalize="yes")
