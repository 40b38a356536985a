"""Tests for mmcourse.robustness: per-utterance normalisation, SpecAugment-style masks, notebook 03's model."""
import pytest
import torch

from mmcourse.attention import padding_mask
from mmcourse.data import SpokenDigits
from mmcourse.robustness import (SpokenDigitAttention, draw_masks, frames_and_mask, mask_bands_and_frames,
                                 normalise_per_utterance, spec_augment)


def _batch(B=4, T=9, M=6, lengths=(9, 1, 5, 3), seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = padding_mask(torch.tensor(lengths), T)
    x = torch.randn(B, T, M, generator=g)
    return torch.where(mask[..., None], x, torch.tensor(-13.8)), mask  # log(eps) at the padding


# ---- normalise_per_utterance ---------------------------------------------------------------------

def test_normalised_bands_have_mean_zero_over_each_recordings_real_frames():
    x, mask = _batch()
    out = normalise_per_utterance(x, mask)
    sums = (out * mask[..., None]).sum(1)  # (B, M)
    torch.testing.assert_close(sums, torch.zeros_like(sums), atol=1e-5, rtol=0)


def test_normalisation_removes_a_constant_per_recording_and_band_and_keeps_the_padding_zero():
    x, mask = _batch()
    shift = 7 * torch.randn(4, 1, 6, generator=torch.Generator().manual_seed(1))
    out = normalise_per_utterance(x, mask)
    torch.testing.assert_close(normalise_per_utterance(x + shift, mask), out, atol=1e-5, rtol=0)
    assert (out[~mask] == 0).all()


def test_normalisation_equals_subtracting_the_mean_of_each_recording_cut_to_its_length():
    x, mask = _batch()
    out = normalise_per_utterance(x, mask)
    for b, n in enumerate(mask.sum(1).tolist()):
        real = x[b, :n]
        torch.testing.assert_close(out[b, :n], real - real.mean(0), atol=1e-5, rtol=0)


def test_normalisation_does_not_change_its_input():
    x, mask = _batch()
    before = x.clone()
    normalise_per_utterance(x, mask)
    assert torch.equal(x, before)


@pytest.mark.parametrize("x, mask, match", [
    (torch.zeros(2, 3), torch.ones(2, 3, dtype=torch.bool), r"x must be a float tensor \(B, T, M\)"),
    (torch.zeros(2, 3, 4, dtype=torch.long), torch.ones(2, 3, dtype=torch.bool), "x must be a float tensor"),
    (torch.zeros(2, 3, 4), torch.ones(2, 3), r"mask must be a boolean tensor \(B, T\) = \(2, 3\)"),
    (torch.zeros(2, 3, 4), torch.ones(2, 4, dtype=torch.bool), r"mask must be a boolean tensor \(B, T\)"),
    (torch.zeros(2, 3, 4), torch.tensor([[True] * 3, [False] * 3]), "no real frame"),
])
def test_normalisation_rejects_bad_arguments_by_name(x, mask, match):
    with pytest.raises(ValueError, match=match):
        normalise_per_utterance(x, mask)


# ---- SpecAugment-style masks ---------------------------------------------------------------------

def test_mask_bands_and_frames_hides_exactly_the_given_blocks():
    x = torch.arange(2 * 5 * 4, dtype=torch.float32).reshape(2, 5, 4) + 1
    out = mask_bands_and_frames(x, torch.tensor([1, 0]), torch.tensor([2, 0]), torch.tensor([4, 1]),
                                torch.tensor([1, 3]))
    expected = x.clone()
    expected[0, :, 1:3] = 0
    expected[0, 4, :] = 0
    expected[1, 1:4, :] = 0
    torch.testing.assert_close(out, expected)
    assert (x > 0).all(), "the input is not changed"


def test_mask_bands_and_frames_takes_one_int_for_every_recording():
    x = torch.ones(3, 4, 5)
    out = mask_bands_and_frames(x, 2, 1, 0, 0)
    assert (out[:, :, 2] == 0).all() and out.sum() == 3 * 4 * 4


@pytest.mark.parametrize("args, match", [
    ((torch.tensor([1.0, 2.0]), 1, 0, 0), "band_start must be an int >= 0 or a tensor of 2"),
    ((0, torch.tensor([1, 2, 3]), 0, 0), "band_width must be an int >= 0 or a tensor of 2"),
    ((0, 1, -1, 0), "frame_start must be an int >= 0"),
    ((0, 1, 0, True), "frame_width must be"),
])
def test_mask_bands_and_frames_rejects_bad_blocks_by_name(args, match):
    with pytest.raises(ValueError, match=match):
        mask_bands_and_frames(torch.ones(2, 4, 5), *args)


def test_drawn_masks_stay_within_their_limits_and_the_real_frames():
    mask = padding_mask(torch.tensor([10, 3, 1, 7] * 50), 10)
    b0, bw, f0, fw = draw_masks(mask, 32, 3, 2, torch.Generator().manual_seed(0))
    lengths = mask.sum(1)
    assert ((0 <= bw) & (bw <= 3)).all() and (b0 + bw <= 32).all()
    assert ((0 <= fw) & (fw <= 2)).all() and (f0 + fw <= lengths).all()
    assert bw.unique().numel() == 4 and fw.unique().numel() == 3, "every width is drawn"


def test_draw_masks_is_reproducible_with_a_generator_and_checks_its_limits():
    mask = padding_mask(torch.tensor([5, 4]), 5)
    first = draw_masks(mask, 8, 3, 2, torch.Generator().manual_seed(3))
    second = draw_masks(mask, 8, 3, 2, torch.Generator().manual_seed(3))
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    with pytest.raises(ValueError, match="max_bands must be at most n_mels = 8"):
        draw_masks(mask, 8, 9, 2)
    with pytest.raises(ValueError, match="max_frames must be an int >= 0"):
        draw_masks(mask, 8, 3, -1)
    with pytest.raises(ValueError, match="generator must be a torch.Generator"):
        draw_masks(mask, 8, 3, 2, generator=3)


def test_spec_augment_uses_the_given_masker():
    x, mask = _batch()
    calls = []

    def masker(x, *blocks):
        calls.append(blocks)
        return mask_bands_and_frames(x, *blocks)

    out = spec_augment(x, mask, 2, 2, torch.Generator().manual_seed(0), masker=masker)
    assert len(calls) == 1 and out.shape == x.shape


# ---- the front end and notebook 03's model -------------------------------------------------------

def test_frames_and_mask_gives_one_frame_per_hop_and_marks_the_real_ones():
    waves = [torch.randn(800), torch.randn(3000)]
    data = SpokenDigits(waveforms=waves, labels=torch.tensor([1, 2]), speakers=["a", "b"])
    x, mask = frames_and_mask(data, length=1600, hop_length=320, n_fft=320)
    assert x.shape == (2, 6, 32) and mask.shape == (2, 6)
    assert mask.sum(1).tolist() == [1 + 800 // 320, 6]
    with pytest.raises(ValueError, match="length must be an int >= 1"):
        frames_and_mask(data, length=0, hop_length=320)


def test_model_ignores_the_padding_and_returns_its_attention_weights():
    torch.manual_seed(0)
    model = SpokenDigitAttention(n_mels=6).eval()
    x, mask = _batch()
    with torch.no_grad():
        logits, weights = model.attend(x, mask)
        shorter = model(x[:, :5], mask[:, :5])  # the same recordings, less padding (the first is cut)
    assert logits.shape == (4, 10) and weights.shape == (4, 9)
    assert (weights[~mask] == 0).all()
    torch.testing.assert_close(weights.sum(1), torch.ones(4))
    torch.testing.assert_close(shorter[1:], logits[1:], atol=1e-5, rtol=0)
