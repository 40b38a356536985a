"""Tests for mmcourse.data.avdigits: audio-visual digit pairs with per-modality noise and dropout."""
import pytest
import torch

from mmcourse.data.avdigits import TEST_VOICES, AVDigitsConfig, make_av_digits
from mmcourse.data.digits import load_digits
from mmcourse.noise import measure_snr_db


@pytest.fixture(scope="module")
def clean():
    return make_av_digits("train"), make_av_digits("test")


def test_pairs_have_the_documented_shapes_and_dtypes(clean):
    for data in clean:
        N = len(data)
        assert data.images.shape == (N, 1, 8, 8) and data.images.dtype == torch.float32
        assert data.waveforms.shape == (N, 8000) and data.waveforms.dtype == torch.float32
        assert data.labels.shape == (N,) and data.labels.dtype == torch.int64
        assert data.has_audio.dtype == torch.bool and data.has_image.dtype == torch.bool
        assert len(data.speakers) == N and data.sample_rate == 8000


def test_image_and_speech_of_a_pair_share_the_label(clean):
    _, digit_labels = load_digits()
    for data in clean:
        assert torch.equal(digit_labels[data.image_indices], data.labels)
        assert torch.equal(data.images, load_digits()[0][data.image_indices].unsqueeze(1))


def test_train_and_test_share_no_image_and_no_voice(clean):
    train, test = clean
    assert not set(train.image_indices.tolist()) & set(test.image_indices.tolist())
    assert not set(train.speakers) & set(test.speakers)
    assert set(test.speakers) == set(TEST_VOICES)
    assert len(set(train.speakers)) + len(set(test.speakers)) >= 8
    assert 0.2 <= len(test) / (len(train) + len(test)) <= 0.3


def test_clean_config_keeps_inputs_undegraded_and_present(clean):
    train, _ = clean
    assert torch.equal(train.waveforms, train.clean_waveforms) and torch.equal(train.images, train.clean_images)
    assert train.has_audio.all() and train.has_image.all()


def test_same_config_gives_identical_pairs_and_another_seed_differs():
    config = AVDigitsConfig(seed=3, snr_db=0.0, occlusion=0.25, pixel_noise_std=0.1, p_missing_audio=0.3)
    a, b = make_av_digits("train", config), make_av_digits("train", config)
    for field in ("images", "waveforms", "labels", "has_audio", "has_image"):
        assert torch.equal(getattr(a, field), getattr(b, field))
    c = make_av_digits("train", AVDigitsConfig(seed=4, snr_db=0.0, occlusion=0.25, pixel_noise_std=0.1, p_missing_audio=0.3))
    assert not torch.equal(a.image_indices, c.image_indices) and not torch.equal(a.waveforms, c.waveforms)


@pytest.mark.parametrize("snr_db", [-5.0, 10.0])
def test_speech_noise_has_the_requested_snr_over_each_utterance(snr_db):
    data = make_av_digits("test", AVDigitsConfig(snr_db=snr_db))
    for i in range(0, len(data), 17):
        speech = data.clean_waveforms[i].nonzero().max() + 1  # ends at the utterance, before the padding
        assert measure_snr_db(data.clean_waveforms[i, :speech], data.waveforms[i, :speech]) == pytest.approx(snr_db, abs=0.3)


def test_changing_one_modalitys_noise_leaves_the_other_modality_and_the_pairing_unchanged():
    base = make_av_digits("train", AVDigitsConfig(seed=1, occlusion=0.25))
    noisier = make_av_digits("train", AVDigitsConfig(seed=1, occlusion=0.25, snr_db=-5.0))
    assert torch.equal(base.image_indices, noisier.image_indices)
    assert torch.equal(base.images, noisier.images)


def test_image_degradations_hide_pixels_and_stay_in_unit_range():
    data = make_av_digits("train", AVDigitsConfig(occlusion=0.25, pixel_noise_std=0.2))
    assert not torch.equal(data.images, data.clean_images)
    assert data.images.min() >= 0 and data.images.max() <= 1
    occluded = make_av_digits("train", AVDigitsConfig(occlusion=0.25))
    hidden = (occluded.images == 0) & (occluded.clean_images > 0)
    assert hidden.any()


def test_missing_modalities_are_zeroed_and_flagged():
    data = make_av_digits("train", AVDigitsConfig(p_missing_audio=0.5, p_missing_image=1.0))
    assert 0.35 < data.has_audio.float().mean() < 0.65
    assert (data.waveforms[~data.has_audio] == 0).all() and (data.waveforms[data.has_audio].abs().sum(1) > 0).all()
    assert not data.has_image.any() and (data.images == 0).all()


def test_more_pairs_per_utterance_multiplies_the_pairs():
    one, two = make_av_digits("test"), make_av_digits("test", AVDigitsConfig(pairs_per_utterance=2))
    assert len(two) == 2 * len(one)
    assert torch.equal(two.clean_waveforms[: len(one)], one.clean_waveforms)


def test_an_utterance_share_draws_that_share_of_the_utterances_by_seed():
    full = make_av_digits("train")
    quarter = make_av_digits("train", AVDigitsConfig(utterance_share=0.25, seed=3))
    assert len(quarter) == round(0.25 * len(full))
    again = make_av_digits("train", AVDigitsConfig(utterance_share=0.25, seed=3))
    other = make_av_digits("train", AVDigitsConfig(utterance_share=0.25, seed=4))
    assert torch.equal(quarter.clean_waveforms, again.clean_waveforms)
    assert not torch.equal(quarter.clean_waveforms, other.clean_waveforms)
    # every drawn utterance is one of the split's own
    rows = {w.numpy().tobytes() for w in full.clean_waveforms}
    drawn = [w.numpy().tobytes() for w in quarter.clean_waveforms]
    assert set(drawn) <= rows
    assert len(make_av_digits("test", AVDigitsConfig(utterance_share=1e-6))) == 1


def test_held_out_takes_is_the_official_fsdd_split_with_every_speaker_on_both_sides():
    config = AVDigitsConfig(source="fsdd", held_out="takes")
    train, test = make_av_digits("train", config), make_av_digits("test", config)
    assert len(train) == 2700 and len(test) == 300
    assert set(test.takes.tolist()) == {0, 1, 2, 3, 4} and int(train.takes.min()) == 5
    assert set(train.speakers) == set(test.speakers) and len(set(test.speakers)) == 6
    by_speaker = make_av_digits("test", AVDigitsConfig(source="fsdd"))
    assert set(by_speaker.speakers) == {"theo", "yweweler"} and by_speaker.takes is not None
    assert make_av_digits("test").takes is None


def test_audio_length_sets_the_waveform_length():
    assert make_av_digits("test", AVDigitsConfig(audio_length=4000)).waveforms.shape[1] == 4000


@pytest.mark.parametrize("kwargs, name", [({"snr_db": "loud"}, "snr_db"), ({"occlusion": 1.5}, "occlusion"),
                                          ({"pixel_noise_std": -1}, "pixel_noise_std"), ({"p_missing_audio": -0.1}, "p_missing_audio"),
                                          ({"p_missing_image": 2}, "p_missing_image"), ({"audio_length": 0}, "audio_length"),
                                          ({"source": "youtube"}, "source"), ({"seed": -1}, "seed"),
                                          ({"pairs_per_utterance": 0}, "pairs_per_utterance"),
                                          ({"utterance_share": 0.0}, "utterance_share"),
                                          ({"held_out": "writers"}, "held_out"),
                                          ({"held_out": "takes"}, "held_out='takes' needs source='fsdd'"),
                                          ({"utterance_share": 1.5}, "utterance_share"),
                                          ({"interferer_snr_db": float("inf")}, "interferer_snr_db"),
                                          ({"interferer_snr_db": "quiet"}, "interferer_snr_db")])
def test_bad_config_fields_are_rejected_by_name(kwargs, name):
    with pytest.raises(ValueError, match=name):
        AVDigitsConfig(**kwargs)


def test_bad_split_config_or_later_edited_config_is_rejected_by_name():
    with pytest.raises(ValueError, match="split"):
        make_av_digits("validation")
    with pytest.raises(ValueError, match="config"):
        make_av_digits("train", {"seed": 0})
    config = AVDigitsConfig()
    config.snr_db = float("nan")
    with pytest.raises(ValueError, match="snr_db"):
        make_av_digits("train", config)


def test_without_a_competing_talker_there_is_no_interferer():
    assert make_av_digits("test", AVDigitsConfig(snr_db=0.0)).interferers is None


@pytest.mark.parametrize("snr_db", [-5.0, 5.0])
def test_competing_talker_says_another_digit_of_the_same_split_at_the_requested_snr(snr_db):
    data = make_av_digits("test", AVDigitsConfig(interferer_snr_db=snr_db))
    other = data.interferers
    assert (data.labels[other] != data.labels).all()
    assert set(data.speakers[int(i)] for i in other) <= set(TEST_VOICES)  # held-out voices only
    added = data.waveforms - data.clean_waveforms  # (N, L): the scaled interferer, nothing else
    for i in range(0, len(data), 13):
        j = int(other[i])
        scale = added[i].abs().max() / data.clean_waveforms[j].abs().max()
        assert torch.allclose(added[i], scale * data.clean_waveforms[j], atol=1e-5)
        own, theirs = (int(data.clean_waveforms[k].nonzero().max()) + 1 for k in (i, j))  # each utterance's samples
        p_target = data.clean_waveforms[i, :own].pow(2).mean()
        p_interferer = added[i, :theirs].pow(2).mean()
        assert 10 * torch.log10(p_target / p_interferer).item() == pytest.approx(snr_db, abs=0.3)


def test_competing_talker_changes_only_the_speech():
    base = make_av_digits("train", AVDigitsConfig(seed=2, occlusion=0.25, snr_db=10.0))
    mixed = make_av_digits("train", AVDigitsConfig(seed=2, occlusion=0.25, snr_db=10.0, interferer_snr_db=0.0))
    for field in ("images", "labels", "image_indices", "clean_waveforms", "has_audio", "has_image"):
        assert torch.equal(getattr(base, field), getattr(mixed, field))
    added = mixed.waveforms - base.waveforms  # (N, L): the same white noise in both, so only the talker is left
    i = int(mixed.interferers[0])
    talker = base.clean_waveforms[i]  # (L,)
    assert torch.allclose(added[0], added[0].abs().max() / talker.abs().max() * talker, atol=1e-5)
