"""Tests for mmcourse.noise: additive noise at an SNR (against torchaudio), occlusion, pixel noise."""
import math

import pytest
import torch
import torchaudio

from mmcourse.noise import add_noise_at_snr, add_pixel_noise, measure_snr_db, occlude


def _signal(shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(shape[-1]) / 8000
    return torch.sin(2 * math.pi * 440 * t) * 0.5 + 0.1 * torch.randn(shape, generator=g)


@pytest.mark.parametrize("snr_db", [-10.0, 0.0, 3.5, 20.0])
def test_add_noise_at_snr_matches_torchaudio_on_one_signal(snr_db):
    x = _signal((4000,))
    noise = torch.randn(4000, generator=torch.Generator().manual_seed(1))
    ours = add_noise_at_snr(x, snr_db, noise=noise)
    reference = torchaudio.functional.add_noise(x, noise, torch.tensor(snr_db))
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=0)


def test_add_noise_at_snr_matches_torchaudio_per_row_snr():
    x = _signal((3, 2000))
    noise = torch.randn(3, 2000, generator=torch.Generator().manual_seed(2))
    snr = torch.tensor([-5.0, 0.0, 15.0])
    ours = add_noise_at_snr(x, snr, noise=noise)
    reference = torchaudio.functional.add_noise(x, noise, snr)
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=0)


@pytest.mark.parametrize("snr_db", [-6.0, 0.0, 10.0])
def test_measured_snr_equals_requested_snr(snr_db):
    x = _signal((2, 8000))
    noisy = add_noise_at_snr(x, snr_db, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(measure_snr_db(x, noisy), torch.full((2,), snr_db), atol=1e-3, rtol=0)
    assert measure_snr_db(x[0], noisy[0]) == pytest.approx(snr_db, abs=1e-3)


def test_scalar_snr_applies_to_every_row_of_a_batch():
    x = _signal((4, 1000))
    noisy = add_noise_at_snr(x, 5.0, generator=torch.Generator().manual_seed(0))
    assert noisy.shape == (4, 1000)
    torch.testing.assert_close(measure_snr_db(x, noisy), torch.full((4,), 5.0), atol=1e-3, rtol=0)


def test_same_generator_seed_gives_identical_noise_and_different_seed_differs():
    x = _signal((1000,))
    a = add_noise_at_snr(x, 0.0, generator=torch.Generator().manual_seed(7))
    b = add_noise_at_snr(x, 0.0, generator=torch.Generator().manual_seed(7))
    c = add_noise_at_snr(x, 0.0, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_add_noise_does_not_modify_its_input():
    x = _signal((500,))
    before = x.clone()
    add_noise_at_snr(x, 0.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x, before)


def test_measure_snr_returns_float_for_one_signal_and_inf_without_noise():
    x = _signal((100,))
    assert isinstance(measure_snr_db(x, x + 0.01), float)
    assert measure_snr_db(x, x) == math.inf


@pytest.mark.parametrize("bad", ["loud", float("nan"), float("inf"), None, True])
def test_bad_snr_db_is_rejected_by_name(bad):
    with pytest.raises(ValueError, match="snr_db"):
        add_noise_at_snr(_signal((100,)), bad)


def test_snr_with_wrong_batch_size_is_rejected():
    with pytest.raises(ValueError, match=r"snr_db.*\(3,\)"):
        add_noise_at_snr(_signal((3, 100)), torch.zeros(2))


@pytest.mark.parametrize("bad", [torch.zeros(2, 3, 4), torch.zeros(0), [0.1, 0.2]])
def test_bad_waveform_is_rejected_by_name(bad):
    with pytest.raises(ValueError, match="waveform"):
        add_noise_at_snr(bad, 0.0)


def test_noise_of_wrong_shape_or_zero_power_is_rejected():
    x = _signal((100,))
    with pytest.raises(ValueError, match="noise"):
        add_noise_at_snr(x, 0.0, noise=torch.ones(99))
    with pytest.raises(ValueError, match="noise"):
        add_noise_at_snr(x, 0.0, noise=torch.zeros(100))
    with pytest.raises(ValueError, match="generator"):
        add_noise_at_snr(x, 0.0, generator=0)
    with pytest.raises(ValueError, match="noisy"):
        measure_snr_db(x, x[:50])


def test_occlusion_of_a_quarter_hides_a_4x4_square_on_8x8_images():
    images = torch.ones(50, 8, 8)
    out = occlude(images, 0.25, generator=torch.Generator().manual_seed(0))
    hidden = out == 0  # (N, 8, 8)
    assert (hidden.sum(dim=(1, 2)) == 16).all()
    rows, cols = hidden.any(dim=2), hidden.any(dim=1)  # the hidden pixels span 4 rows and 4 columns
    assert (rows.sum(1) == 4).all() and (cols.sum(1) == 4).all()
    assert torch.equal(images, torch.ones(50, 8, 8))


def test_occlusion_hides_the_same_patch_in_every_channel_and_uses_fill():
    images = torch.rand(10, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    out = occlude(images, 0.25, generator=torch.Generator().manual_seed(1), fill=-1.0)
    hidden = out == -1.0  # (N, C, H, W)
    assert torch.equal(hidden[:, 0], hidden[:, 1]) and torch.equal(hidden[:, 0], hidden[:, 2])
    assert (hidden.sum(dim=(2, 3)) == 16).all()


def test_occlusion_fraction_zero_keeps_and_one_hides_everything():
    images = torch.rand(5, 8, 8)
    assert torch.equal(occlude(images, 0.0), images)
    assert (occlude(images, 1.0) == 0).all()


def test_occlusion_patch_reaches_every_corner():
    out = occlude(torch.ones(400, 8, 8), 0.25, generator=torch.Generator().manual_seed(0))
    hidden = out == 0
    for r, c in [(0, 0), (0, 7), (7, 0), (7, 7)]:
        assert hidden[:, r, c].any()


def test_occlusion_is_deterministic_given_a_generator():
    images = torch.rand(20, 8, 8)
    a = occlude(images, 0.3, generator=torch.Generator().manual_seed(3))
    b = occlude(images, 0.3, generator=torch.Generator().manual_seed(3))
    c = occlude(images, 0.3, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("bad", [-0.1, 1.5, "half", None])
def test_bad_occlusion_fraction_is_rejected_by_name(bad):
    with pytest.raises(ValueError, match="fraction"):
        occlude(torch.rand(2, 8, 8), bad)


def test_images_of_wrong_rank_are_rejected_by_name():
    with pytest.raises(ValueError, match="images"):
        occlude(torch.rand(8, 8), 0.25)
    with pytest.raises(ValueError, match="images"):
        add_pixel_noise(torch.rand(8), 0.1)


def test_pixel_noise_is_clipped_and_has_the_requested_std():
    images = torch.full((200, 8, 8), 0.5)
    clipped = add_pixel_noise(images, 0.3, generator=torch.Generator().manual_seed(0))
    assert clipped.min() >= 0 and clipped.max() <= 1
    free = add_pixel_noise(images, 0.3, generator=torch.Generator().manual_seed(0), clip=None)
    assert (free - images).std().item() == pytest.approx(0.3, rel=0.05)
    assert torch.equal(add_pixel_noise(images, 0.0), images)


def test_pixel_noise_is_deterministic_given_a_generator():
    images = torch.rand(4, 1, 8, 8)
    a = add_pixel_noise(images, 0.2, generator=torch.Generator().manual_seed(5))
    b = add_pixel_noise(images, 0.2, generator=torch.Generator().manual_seed(5))
    c = add_pixel_noise(images, 0.2, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("kwargs, name", [({"std": -1.0}, "std"), ({"std": "big"}, "std"),
                                          ({"std": 0.1, "clip": (1, 0)}, "clip"), ({"std": 0.1, "clip": 1}, "clip")])
def test_bad_pixel_noise_settings_are_rejected_by_name(kwargs, name):
    with pytest.raises(ValueError, match=name):
        add_pixel_noise(torch.rand(2, 8, 8), **kwargs)
