"""Tests for mmcourse.robustness: per-utterance normalisation, SpecAugment-style masks, notebook 03's model."""
import pytest
import torch
import torch.nn.functional as F

from mmcourse.attention import padding_mask
from mmcourse.data import SpokenDigits
from dataclasses import replace

from mmcourse.robustness import (SideBySide, SpokenDigitAttention, draw_masks, frames_and_mask, mask_bands_and_frames,
                                 normalise_per_utterance, reverse_real_frames, spec_augment, train_side_by_side)
from mmcourse.training import TrainConfig, train


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


# ---- K models side by side -----------------------------------------------------------------------

def _models(seeds=(0, 1, 2), n_mels=6):
    models = []
    for seed in seeds:
        torch.manual_seed(seed)
        models.append(SpokenDigitAttention(n_mels=n_mels, hidden=5, attn_dim=4))
    return models


def test_reverse_real_frames_reverses_only_the_real_frames_and_undoes_itself():
    x = torch.arange(2 * 4, dtype=torch.float32).reshape(2, 4, 1)
    out = reverse_real_frames(x, torch.tensor([3, 4]))
    assert out[:, :, 0].tolist() == [[2, 1, 0, 3], [7, 6, 5, 4]]
    torch.testing.assert_close(reverse_real_frames(out, torch.tensor([3, 4])), x)


@pytest.mark.parametrize("lengths", [(9, 1, 5, 3), (9, 5, 3, 1)], ids=["any order", "longest first"])
def test_side_by_side_gives_each_models_own_logits_and_weights(lengths):
    models = _models()
    x, mask = _batch(lengths=lengths)
    xs = torch.stack([x, -x, x * 2])  # (K, B, T, M): a different batch for each model
    other = mask if lengths == (9, 5, 3, 1) else mask.flip(0)  # batches sorted longest first, or not
    masks = torch.stack([mask, other, mask])
    with torch.no_grad():
        logits, weights = SideBySide(models).attend(xs, masks)
        for k, model in enumerate(models):
            own_logits, own_weights = model.eval().attend(xs[k], masks[k])
            torch.testing.assert_close(logits[k], own_logits, atol=1e-5, rtol=0)
            torch.testing.assert_close(weights[k], own_weights, atol=1e-6, rtol=0)


def test_unstack_gives_back_the_same_models():
    models = _models()
    x, mask = _batch()
    with torch.no_grad():
        for before, after in zip(models, SideBySide(models).unstack()):
            torch.testing.assert_close(after(x, mask), before.eval()(x, mask))


@pytest.mark.parametrize("schedule, weight_decay", [("constant", 0.0), ("cosine", 0.1)])
def test_training_side_by_side_equals_training_each_model_alone(schedule, weight_decay):
    g = torch.Generator().manual_seed(5)
    mask = padding_mask(torch.randint(1, 10, (40,), generator=g), 9)
    x = torch.randn(40, 9, 6, generator=g) * mask[..., None]
    y = torch.randint(0, 10, (40,), generator=g)
    config = TrainConfig(epochs=2, batch_size=16, lr=1e-2, schedule=schedule, weight_decay=weight_decay, progress=False)
    seeds = (0, 1, 2)
    together = train_side_by_side(_models(seeds), (x, mask, y), seeds, config)
    for seed, model, trained in zip(seeds, _models(seeds), together):
        train(model, lambda xb, mb, yb: F.cross_entropy(model(xb, mb), yb), (x, mask, y), replace(config, seed=seed))
        for (name, p), q in zip(model.named_parameters(), trained.parameters()):
            torch.testing.assert_close(q, p, atol=1e-4, rtol=1e-4, msg=f"{name} of seed {seed}")


def test_training_side_by_side_applies_augment_to_every_batch():
    x, mask = _batch()
    y = torch.arange(4)
    calls = []

    def augment(xb, mb):
        calls.append(xb.shape)
        return xb

    train_side_by_side(_models((0, 1)), (x, mask, y), (0, 1), TrainConfig(epochs=3, batch_size=2, progress=False),
                       augment=augment)
    assert calls == [(4, 9, 6)] * 6, "one call per step, on the K batches together"


def test_side_by_side_rejects_bad_arguments_by_name():
    x, mask = _batch()
    with pytest.raises(ValueError, match="non-empty list of SpokenDigitAttention"):
        SideBySide([])
    with pytest.raises(ValueError, match="same sizes"):
        SideBySide(_models((0,)) + _models((1,), n_mels=7))
    with pytest.raises(ValueError, match="one seed per model: got 1 seeds for 3 models"):
        train_side_by_side(_models(), (x, mask, torch.arange(4)), (0,))
    with pytest.raises(ValueError, match="the same N"):
        train_side_by_side(_models(), (x, mask, torch.arange(3)), (0, 1, 2))
