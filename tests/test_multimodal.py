"""Tests for mmcourse.multimodal: patches as tokens, and one transformer over patches and words."""
import pytest
import torch

from mmcourse.multimodal import PatchTextEncoder, patchify
from mmcourse.transformer import TransformerConfig


def _model(positions="sinusoidal"):
    torch.manual_seed(0)
    config = TransformerConfig(embed_dim=16, num_heads=2, ff_dim=32, num_layers=2, dropout=0.0)
    return PatchTextEncoder(patch_dim=12, vocab_size=10, grid=3, max_words=6, config=config, positions=positions).eval()


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 9, 12, generator=g), torch.tensor([[4, 5, 6, 7, 0, 0], [8, 9, 4, 5, 6, 7]])


def test_patchify_cuts_row_by_row_and_keeps_each_patch_whole():
    images = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    patches = patchify(images, 4)
    assert patches.shape == (2, 4, 48)
    # patch 1 is row 0, column 1: pixels [0:4, 4:8] of each channel, channel by channel
    torch.testing.assert_close(patches[1, 1], images[1, :, 0:4, 4:8].reshape(-1))
    torch.testing.assert_close(patches[0, 2], images[0, :, 4:8, 0:4].reshape(-1))


@pytest.mark.parametrize("images, size, match", [(torch.zeros(2, 3, 8), 4, "images"),
                                                 (torch.zeros(1, 3, 8, 8), 3, "divisible"),
                                                 (torch.zeros(1, 3, 8, 6), 2, "square"),
                                                 (torch.zeros(1, 3, 8, 8), 0, "patch_size")])
def test_patchify_rejects_bad_input_by_name(images, size, match):
    with pytest.raises(ValueError, match=match):
        patchify(images, size)


def test_encoder_gives_one_state_per_token():
    patches, words = _inputs()
    assert _model()(patches, words).shape == (2, 1 + 9 + 6, 16)


@pytest.mark.parametrize("positions, changes", [("sinusoidal", True), ("learned", True), ("none", False)])
def test_only_a_model_with_positions_notices_shuffled_patches(positions, changes):
    model = _model(positions)
    if positions == "learned":  # trained tables are not tiny; make them matter
        with torch.no_grad():
            model.patch_pos.normal_()
    patches, words = _inputs()
    shuffled = patches[:, torch.randperm(9, generator=torch.Generator().manual_seed(1))]
    cls, cls_shuffled = model(patches, words)[:, 0], model(shuffled, words)[:, 0]
    assert (not torch.allclose(cls, cls_shuffled, atol=1e-5)) == changes


def test_padding_words_change_nothing():
    model = _model()
    patches, words = _inputs()
    short = model(patches[:1], words[:1, :4])[:, :1 + 9 + 4]  # words 4 5 6 7
    padded = model(patches[:1], words[:1])[:, :1 + 9 + 4]  # words 4 5 6 7 <pad> <pad>
    torch.testing.assert_close(short, padded, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("call, match", [
    (lambda m: m(torch.zeros(2, 8, 12), torch.zeros(2, 3, dtype=torch.long)), r"patches must have shape \(B, 9, 12\)"),
    (lambda m: m(torch.zeros(2, 9, 12), torch.zeros(2, 3)), "words must be int ids"),
    (lambda m: m(torch.zeros(2, 9, 12), torch.zeros(2, 7, dtype=torch.long)), "max_words = 6"),
])
def test_bad_inputs_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call(_model())


def test_bad_settings_are_named():
    config = TransformerConfig(embed_dim=16, num_heads=2)
    with pytest.raises(ValueError, match="positions must be one of"):
        PatchTextEncoder(12, 10, 3, 6, config, positions="rotary")
    with pytest.raises(ValueError, match="grid must be an int"):
        PatchTextEncoder(12, 10, 0, 6, config)


# ---- pretraining additions (notebook 08): one modality alone, hidden patches ------------------------------
def _masked_model():
    torch.manual_seed(0)
    config = TransformerConfig(embed_dim=16, num_heads=2, ff_dim=32, num_layers=2, dropout=0.0)
    return PatchTextEncoder(patch_dim=12, vocab_size=10, grid=3, max_words=6, config=config, mask_token=True).eval()


def test_the_mask_token_flag_leaves_every_other_initial_weight_unchanged():
    plain, masked = _model().state_dict(), _masked_model().state_dict()
    assert set(masked) - set(plain) == {"patch_mask"}
    assert all(torch.equal(plain[k], masked[k]) for k in plain)


def test_image_alone_equals_the_pair_with_a_caption_of_padding_only():
    model = _model()
    patches, _ = _inputs()
    alone = model(patches, None)
    with_padding = model(patches, torch.zeros(2, 4, dtype=torch.long))[:, :1 + 9]
    assert alone.shape == (2, 1 + 9, 16)
    torch.testing.assert_close(alone, with_padding, atol=1e-5, rtol=1e-5)


def test_text_alone_has_one_state_per_word_and_ignores_padding():
    model = _model()
    _, words = _inputs()
    assert model(None, words).shape == (2, 1 + 6, 16)
    torch.testing.assert_close(model(None, words[:1, :4]), model(None, words[:1])[:, :1 + 4], atol=1e-5, rtol=1e-5)


def test_hidden_patches_show_the_mask_vector_instead_of_their_pixels():
    model = _masked_model()
    patches, words = _inputs()
    hidden = torch.zeros(2, 9, dtype=torch.bool)
    hidden[:, [0, 4]] = True
    other_pixels = torch.where(hidden[..., None], torch.randn_like(patches), patches)
    out = model(patches, words, hidden)
    torch.testing.assert_close(out, model(other_pixels, words, hidden))
    assert not torch.allclose(out, model(patches, words), atol=1e-5)


@pytest.mark.parametrize("call, match", [
    (lambda m: m(None, None), "both None"),
    (lambda m: _model()(torch.zeros(2, 9, 12), None, torch.zeros(2, 9, dtype=torch.bool)), "mask_token=True"),
    (lambda m: m(torch.zeros(2, 9, 12), None, torch.zeros(2, 8, dtype=torch.bool)), r"hidden must be a boolean"),
    (lambda m: m(None, torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 9, dtype=torch.bool)), "hidden must be"),
])
def test_bad_pretraining_inputs_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call(_masked_model())


def test_learned_tables_start_as_random_vectors_of_spread_learned_std():
    torch.manual_seed(0)
    config = TransformerConfig(embed_dim=32, num_heads=4, ff_dim=64, num_layers=1, dropout=0.0)
    learned = PatchTextEncoder(48, 20, grid=4, max_words=12, config=config, positions="learned")
    sinusoidal = PatchTextEncoder(48, 20, grid=4, max_words=12, config=config)
    assert 0.1 < float(learned.patch_pos.detach().std()) < 0.3 and float(sinusoidal.patch_pos.std()) > 0.3
    assert learned.patch_pos.requires_grad and learned.word_pos.requires_grad
    with pytest.raises(ValueError, match="learned_std"):
        PatchTextEncoder(48, 20, grid=4, max_words=12, config=config, positions="learned", learned_std=0)
