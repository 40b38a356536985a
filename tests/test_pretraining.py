"""Tests for mmcourse.pretraining: masking, hard negatives and the five objectives."""
import pytest
import torch
import torch.nn.functional as F

from mmcourse.contrastive import clip_loss
from mmcourse.data.scenes import COLOURS, SHAPES, make_scenes, scene_vocabulary
from mmcourse.multimodal import patchify
from mmcourse.pretraining import (IGNORE, MASK, PretrainingModel, hard_negatives, hide_patches, mask_tokens,
                                  masked_patch_loss, pretraining_vocabulary)
from mmcourse.transformer import TransformerConfig


def _words(seed=0, B=5, L=9, pad_id=0):
    g = torch.Generator().manual_seed(seed)
    words = torch.randint(4, 30, (B, L), generator=g)
    lengths = torch.randint(1, L + 1, (B,), generator=g)
    words[torch.arange(L)[None, :] >= lengths[:, None]] = pad_id
    return words, torch.rand(B, L, generator=g)


def _model(seed=0):
    torch.manual_seed(seed)
    config = TransformerConfig(embed_dim=16, num_heads=2, ff_dim=32, num_layers=2, dropout=0.0)
    return PretrainingModel(patch_dim=12, vocab_size=30, grid=3, max_words=8, config=config, mask_id=29).eval()


def _pairs(seed=0, B=4, L=6):
    g = torch.Generator().manual_seed(seed)
    words = torch.randint(4, 29, (B, L), generator=g)
    words[0, 4:] = 0  # one padded caption
    return torch.rand(B, 9, 12, generator=g), words


# ---- vocabulary ----------------------------------------------------------------------------------
def test_pretraining_vocabulary_keeps_the_scene_ids_and_adds_mask_last():
    scene, ours = scene_vocabulary(), pretraining_vocabulary()
    assert ours.itos[:-1] == scene.itos and ours.itos[-1] == MASK


# ---- mask_tokens -------------------------------------------------------------------------------
def test_mask_tokens_hides_real_words_below_the_rate_and_targets_only_them():
    words, u = _words()
    before = words.clone()
    inputs, targets = mask_tokens(words, u, 0.4, 99)
    hidden = (u < 0.4) & (words != 0)
    assert torch.equal(words, before), "words must not change"
    assert torch.equal(inputs == 99, hidden)
    assert torch.equal(inputs[~hidden], words[~hidden])
    assert torch.equal(targets[hidden], words[hidden]) and (targets[~hidden] == IGNORE).all()


def test_mask_tokens_never_hides_padding_even_at_rate_one():
    words, u = _words(1, pad_id=3)
    inputs, targets = mask_tokens(words, u, 1.0, 99, pad_id=3)
    assert torch.equal(inputs == 99, words != 3) and (inputs[words == 3] == 3).all()
    inputs, targets = mask_tokens(words, u, 0.0, 99, pad_id=3)
    assert torch.equal(inputs, words) and (targets == IGNORE).all()


def test_mask_tokens_targets_make_cross_entropy_count_only_hidden_words():
    words, u = _words(2)
    _, targets = mask_tokens(words, u, 0.5, 99)
    logits = torch.randn(*words.shape, 40, generator=torch.Generator().manual_seed(0))
    hidden = targets != IGNORE
    expected = -logits.log_softmax(-1)[hidden].gather(1, targets[hidden][:, None]).mean()
    torch.testing.assert_close(F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE), expected)


@pytest.mark.parametrize("args, match", [((torch.zeros(2, 3), torch.rand(2, 3), 0.4, 9), "words must be int ids"),
                                         ((torch.zeros(2, 3, dtype=torch.long), torch.rand(2, 4), 0.4, 9), "u must"),
                                         ((torch.zeros(2, 3, dtype=torch.long), torch.rand(2, 3), 1.5, 9), "rate")])
def test_mask_tokens_rejects_bad_input_by_name(args, match):
    with pytest.raises(ValueError, match=match):
        mask_tokens(*args)


# ---- hide_patches and the MIM loss ---------------------------------------------------------------
def test_hide_patches_hides_exactly_k_patches_with_the_smallest_draws():
    u = torch.rand(6, 9, generator=torch.Generator().manual_seed(3))
    hidden = hide_patches(u, 3)
    assert hidden.dtype == torch.bool and (hidden.sum(1) == 3).all()
    assert (u[hidden].view(6, 3).max(1).values < u.masked_fill(hidden, 2.0).min(1).values).all()
    assert not hide_patches(u, 0).any() and hide_patches(u, 9).all()


@pytest.mark.parametrize("u, k, match", [(torch.rand(2, 9), 10, "num_hidden"), (torch.rand(9), 2, "u must"),
                                         (torch.rand(2, 9), True, "num_hidden")])
def test_hide_patches_rejects_bad_input_by_name(u, k, match):
    with pytest.raises(ValueError, match=match):
        hide_patches(u, k)


def test_masked_patch_loss_is_the_mse_of_the_hidden_patches_only():
    g = torch.Generator().manual_seed(4)
    predicted, patches = torch.rand(3, 9, 12, generator=g), torch.rand(3, 9, 12, generator=g)
    hidden = hide_patches(torch.rand(3, 9, generator=g), 4)
    loss = masked_patch_loss(predicted, patches, hidden)
    torch.testing.assert_close(loss, F.mse_loss(predicted[hidden], patches[hidden]))
    perfect = torch.where(hidden[..., None], patches, torch.zeros_like(patches))  # visible patches all wrong
    assert float(masked_patch_loss(perfect, patches, hidden)) == 0.0


def test_masked_patch_loss_gives_visible_patches_no_gradient():
    g = torch.Generator().manual_seed(5)
    predicted = torch.rand(2, 9, 12, generator=g).requires_grad_()
    hidden = hide_patches(torch.rand(2, 9, generator=g), 2)
    masked_patch_loss(predicted, torch.rand(2, 9, 12, generator=g), hidden).backward()
    assert (predicted.grad[~hidden] == 0).all() and (predicted.grad[hidden] != 0).any()


def test_masked_patch_loss_rejects_bad_input_by_name():
    x = torch.rand(2, 9, 12)
    with pytest.raises(ValueError, match="tensors of one shape"):
        masked_patch_loss(x, torch.rand(2, 9, 11), torch.ones(2, 9, dtype=torch.bool))
    with pytest.raises(ValueError, match="hidden must be a boolean"):
        masked_patch_loss(x, x, torch.ones(2, 9))
    with pytest.raises(ValueError, match="at least one"):
        masked_patch_loss(x, x, torch.zeros(2, 9, dtype=torch.bool))


# ---- hard negatives -------------------------------------------------------------------------------
def test_hard_negatives_change_exactly_one_colour_shape_or_relation():
    caption = "a red circle left of a blue square above a green cross"
    negatives = hard_negatives(caption)
    # 3 colours × 5 others + 3 shapes × 3 others + 2 relations
    assert len(negatives) == len(set(negatives)) == 3 * 5 + 3 * 3 + 2 and caption not in negatives
    same_length = [n for n in negatives if len(n.split()) == len(caption.split())]
    for negative in same_length:  # one colour for another colour, or one shape for another shape
        changed = [{x, y} for x, y in zip(caption.split(), negative.split()) if x != y]
        assert len(changed) == 1 and (changed[0] <= set(COLOURS) or changed[0] <= set(SHAPES)), negative
    relations = sorted(set(negatives) - set(same_length))  # "left of" <-> "above", never "right of" or "below"
    assert relations == ["a red circle above a blue square above a green cross",
                         "a red circle left of a blue square left of a green cross"]


def test_hard_negatives_of_real_captions_leave_out_the_caption_and_count_right():
    for scene, caption in zip(*(lambda s: (s.scenes, s.captions))(make_scenes(300, seed=3))):
        negatives = hard_negatives(caption)
        assert caption not in negatives  # the canonical caption is the only true one, so every negative is false
        # 5 other colours and 3 other shapes per object, one swap per relation
        assert len(negatives) == len(set(negatives)) == 8 * len(scene.objects) + len(scene.objects) - 1


def test_hard_negatives_rejects_a_non_caption():
    with pytest.raises(ValueError, match="caption must be a non-empty string"):
        hard_negatives("")


# ---- the model and its objectives ---------------------------------------------------------------------
def test_mlm_loss_is_the_cross_entropy_of_the_hidden_words():
    model, (patches, words) = _model(), _pairs()
    with torch.no_grad():
        loss = model.mlm_loss(patches, words, 0.5, generator=torch.Generator().manual_seed(1))
        u = torch.rand(words.shape, generator=torch.Generator().manual_seed(1))  # the draws mlm_loss makes
        inputs, targets = mask_tokens(words, u, 0.5, 29)
        logits = model.mlm_head(model.encoder(patches, inputs)[:, 1 + 9:])
    hidden = targets != IGNORE
    expected = -logits.log_softmax(-1)[hidden].gather(1, targets[hidden][:, None]).mean()
    torch.testing.assert_close(loss, expected)


def test_mim_loss_does_not_see_the_pixels_it_must_rebuild():
    model, (patches, words) = _model(), _pairs()
    hidden = hide_patches(torch.rand(4, 9, generator=torch.Generator().manual_seed(2)), 3)
    changed = torch.where(hidden[..., None], torch.rand_like(patches), patches)  # other pixels behind the mask
    with torch.no_grad():
        _, pixels = model.reconstruct(patches, words, hidden)
        _, pixels_changed = model.reconstruct(changed, words, hidden)
    torch.testing.assert_close(pixels, pixels_changed)


def test_mmm_loss_is_mlm_plus_weighted_mim_on_one_draw():
    model, (patches, words) = _model(), _pairs()
    with torch.no_grad():
        total = model.mmm_loss(patches, words, 0.5, 3, mim_weight=2.0, generator=torch.Generator().manual_seed(3))
        inputs, targets, hidden = model.masked_inputs(patches, words, 0.5, 3, torch.Generator().manual_seed(3))
        word_logits, pixels = model.reconstruct(patches, inputs, hidden)
    expected = F.cross_entropy(word_logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE) \
        + 2.0 * masked_patch_loss(pixels, patches, hidden)
    torch.testing.assert_close(total, expected)


def test_gc_loss_is_clip_loss_of_image_alone_and_text_alone():
    model, (patches, words) = _model(), _pairs()
    with torch.no_grad():
        z_image = model.image_proj(model.encoder(patches, None)[:, 0])
        z_text = model.text_proj(model.encoder(None, words)[:, 0])
        torch.testing.assert_close(model.gc_loss(patches, words, 0.2), clip_loss(z_image, z_text, 0.2))


def test_itm_loss_is_binary_cross_entropy_and_counts_a_copied_caption_as_a_match():
    model, (patches, words) = _model(), _pairs()
    negatives = words.roll(1, 0)
    negatives[2] = words[2]  # a "negative" that is the true caption
    with torch.no_grad():
        loss = model.itm_loss(patches, words, negatives)
        s = model.itm_logit(torch.cat([patches, patches]), torch.cat([words, negatives]))
    y = torch.tensor([1.0] * 4 + [0.0, 0.0, 1.0, 0.0])
    expected = -(y * torch.log(torch.sigmoid(s)) + (1 - y) * torch.log(1 - torch.sigmoid(s))).mean()
    torch.testing.assert_close(loss, expected)
    with pytest.raises(ValueError, match="negatives must have the shape"):
        model.itm_loss(patches, words, words[:, :3])


def test_image_features_are_cls_and_mean_of_patch_states_of_the_image_alone():
    model, (patches, _) = _model(), _pairs()
    features = model.image_features(patches)
    h = model.encoder(patches, None)
    assert features.shape == (4, 32)
    torch.testing.assert_close(features, torch.cat([h[:, 0], h[:, 1:].mean(1)], -1))


def test_a_short_mlm_run_lowers_its_loss():
    scenes = make_scenes(64, seed=0)
    vocab = pretraining_vocabulary()
    torch.manual_seed(0)
    config = TransformerConfig(embed_dim=16, num_heads=2, ff_dim=32, num_layers=1, dropout=0.0)
    model = PretrainingModel(3 * 8 * 8, len(vocab), 4, 16, config, vocab.stoi[MASK])  # 32 px images, 8 px patches
    patches, words = patchify(scenes.images, 8), vocab.encode_batch(scenes.captions)
    g = torch.Generator().manual_seed(0)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)

    def held_out_loss():  # the same hidden words before and after training
        with torch.no_grad():
            return float(model.mlm_loss(patches, words, 0.4, generator=torch.Generator().manual_seed(123)))

    before = held_out_loss()
    for _ in range(60):
        loss = model.mlm_loss(patches, words, 0.4, generator=g)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert held_out_loss() < 0.7 * before


def test_bad_mask_id_is_named():
    config = TransformerConfig(embed_dim=16, num_heads=2)
    with pytest.raises(ValueError, match="mask_id"):
        PretrainingModel(12, 30, 3, 8, config, mask_id=30)
