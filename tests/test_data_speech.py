"""Tests for mmcourse.data.speech: the bundled espeak-ng digits, padding and log-mel spectrograms."""
import csv
import re
from collections import Counter
from pathlib import Path

import pytest
import torch
import torchaudio

from mmcourse.data.speech import (SpokenDigits, data_dir, load_spoken_digits, log_mel_spectrogram, pad_or_trim,
                                  select_speakers, split_by_speaker)

BUNDLED = Path(__file__).resolve().parents[1] / "data" / "spoken_digits"


@pytest.fixture(scope="module")
def bundled():
    return load_spoken_digits("bundled")


def test_bundled_digits_are_8khz_float_waveforms_in_range(bundled):
    assert bundled.sample_rate == 8000
    assert len(bundled) == len(bundled.labels) == len(bundled.speakers) == 600
    assert bundled.labels.dtype == torch.int64
    for w in bundled.waveforms:
        assert w.dtype == torch.float32 and w.ndim == 1 and 1000 < w.numel() < 12000
        assert w.abs().max() <= 1.0


def test_bundled_set_has_40_or_more_utterances_per_digit_and_8_or_more_voices(bundled):
    per_digit = Counter(bundled.labels.tolist())
    assert sorted(per_digit) == list(range(10)) and min(per_digit.values()) >= 40
    assert len(set(bundled.speakers)) >= 8


def test_bundled_labels_and_voices_agree_with_file_names(bundled):
    for name, label, voice in zip(bundled.files, bundled.labels.tolist(), bundled.speakers):
        digit, file_voice, speed, pitch = re.fullmatch(r"(\d)_(.+)_(\d+)_(\d+)\.flac", name).groups()
        assert int(digit) == label and file_voice == voice


def test_bundled_index_lists_every_file_and_the_folder_stays_small():
    with open(BUNDLED / "index.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [*rows[0]] == ["file", "label", "voice", "speed", "pitch"]
    assert {r["file"] for r in rows} == {p.name for p in BUNDLED.glob("*.flac")}
    assert sum(p.stat().st_size for p in BUNDLED.iterdir()) <= 5 * 1024 * 1024


def test_loading_twice_gives_equal_but_independent_waveforms(bundled):
    again = load_spoken_digits()
    assert torch.equal(again.waveforms[0], bundled.waveforms[0])
    again.waveforms[0].zero_()
    assert load_spoken_digits().waveforms[0].abs().max() > 0


def test_subset_keeps_waveforms_labels_speakers_and_files_together(bundled):
    part = bundled.subset([5, 0, 599])
    assert len(part) == 3 and part.labels.tolist() == bundled.labels[[5, 0, 599]].tolist()
    assert part.speakers == [bundled.speakers[i] for i in (5, 0, 599)]
    assert part.files[2] == bundled.files[599] and torch.equal(part.waveforms[0], bundled.waveforms[5])
    mask = bundled.labels == 3
    assert len(bundled.subset(mask)) == int(mask.sum())


def test_bad_subset_indices_are_rejected_by_name(bundled):
    with pytest.raises(ValueError, match="indices"):
        bundled.subset([600])
    with pytest.raises(ValueError, match="indices"):
        bundled.subset([0.5])
    with pytest.raises(ValueError, match="indices"):
        bundled.subset(torch.tensor([True, False]))


def test_container_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="labels"):
        SpokenDigits(waveforms=[torch.zeros(3)], labels=torch.tensor([1, 2]), speakers=["a"])
    with pytest.raises(ValueError, match="speakers"):
        SpokenDigits(waveforms=[torch.zeros(3)], labels=torch.tensor([1]), speakers=[])


def test_data_dir_follows_the_environment_variable(monkeypatch, tmp_path):
    assert data_dir() == BUNDLED.parent
    monkeypatch.setenv("MMCOURSE_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path
    with pytest.raises(FileNotFoundError, match="spoken_digits"):
        load_spoken_digits()


def test_bad_source_is_rejected_by_name():
    with pytest.raises(ValueError, match="source"):
        load_spoken_digits("youtube")
    with pytest.raises(ValueError, match="root"):
        load_spoken_digits("bundled", root=3)
    with pytest.raises(TypeError, match="download"):  # nothing downloads: FSDD ships with the course
        load_spoken_digits("fsdd", download=True)


def test_speakers_argument_keeps_those_voices_and_names_unknown_ones():
    two = load_spoken_digits("bundled", speakers=["en-us", "en-gb"])
    assert len(two) == 100 and set(two.speakers) == {"en-us", "en-gb"}
    with pytest.raises(ValueError, match="speakers must name speakers of the data.*'klingon'"):
        load_spoken_digits(speakers=["klingon"])


def test_split_by_speaker_holds_out_synthetic_voices(bundled):
    train, test = split_by_speaker(bundled, ["en-029", "en-gb-scotland"])
    assert (len(train), len(test)) == (500, 100) and not set(train.speakers) & set(test.speakers)
    assert select_speakers(bundled, "en-029").speakers == ["en-029"] * 50


def test_pad_or_trim_cuts_long_and_zero_pads_short_waveforms():
    out = pad_or_trim([torch.ones(5), torch.arange(1.0, 11.0)], 8)
    assert out.shape == (2, 8)
    assert out[0].tolist() == [1, 1, 1, 1, 1, 0, 0, 0]
    assert out[1].tolist() == list(range(1, 9))
    assert pad_or_trim(torch.ones(3), 4).shape == (1, 4)
    assert pad_or_trim(torch.ones(2, 10), 4).shape == (2, 4)


@pytest.mark.parametrize("args, name", [(([torch.ones(3)], 0), "length"), (([torch.ones(3, 2)], 4), r"waveforms\[0\]"),
                                        (("abc", 4), "waveforms"), ((torch.ones(2, 2, 2), 4), "waveforms")])
def test_bad_pad_or_trim_arguments_are_rejected_by_name(args, name):
    with pytest.raises(ValueError, match=name):
        pad_or_trim(*args)


def test_log_mel_spectrogram_has_n_mels_rows_and_one_frame_per_hop(bundled):
    x = pad_or_trim(bundled.waveforms[:4], 8000)  # (4, 8000)
    spec = log_mel_spectrogram(x)
    assert spec.shape == (4, 32, 1 + 8000 // 80) and spec.dtype == torch.float32
    assert torch.isfinite(spec).all()
    assert log_mel_spectrogram(x[0], n_mels=16).shape == (16, 101)
    assert log_mel_spectrogram(bundled.waveforms[:3]).shape[:2] == (3, 32)


def test_log_mel_spectrogram_equals_log_of_torchaudio_mel_power():
    x = torch.randn(2, 4000, generator=torch.Generator().manual_seed(0))
    reference = torchaudio.transforms.MelSpectrogram(sample_rate=8000, n_fft=256, hop_length=80, n_mels=32)(x)
    torch.testing.assert_close(log_mel_spectrogram(x), torch.log(reference + 1e-6), atol=1e-5, rtol=1e-5)



def test_a_batch_larger_than_a_chunk_gives_each_row_its_own_spectrogram():
    x = torch.randn(600, 800, generator=torch.Generator().manual_seed(1))  # more rows than one chunk of 256
    whole = log_mel_spectrogram(x)
    assert whole.shape == (600, 32, 11)
    for row in (0, 255, 256, 599):  # each side of each chunk boundary
        torch.testing.assert_close(whole[row], log_mel_spectrogram(x[row]), atol=1e-6, rtol=1e-6)

@pytest.mark.parametrize("kwargs, name", [({"n_mels": 0}, "n_mels"), ({"n_mels": 500}, "n_mels"),
                                          ({"sample_rate": 8000.5}, "sample_rate"), ({"hop_length": -1}, "hop_length"),
                                          ({"eps": 0}, "eps")])
def test_bad_spectrogram_settings_are_rejected_by_name(kwargs, name):
    with pytest.raises(ValueError, match=name):
        log_mel_spectrogram(torch.zeros(1, 800), **kwargs)


def test_spectrogram_of_a_non_tensor_is_rejected_by_name():
    with pytest.raises(ValueError, match="waveforms"):
        log_mel_spectrogram("audio")


def test_data_dir_of_a_wheel_install_is_prefix_share_mmcourse_data(monkeypatch, tmp_path):
    import sysconfig

    import mmcourse

    monkeypatch.delenv("MMCOURSE_DATA_DIR", raising=False)
    (tmp_path / "site-packages" / "mmcourse").mkdir(parents=True)
    (tmp_path / "site-packages" / "data").mkdir()  # some other package's folder, not the course's
    installed = tmp_path / "prefix" / "share" / "mmcourse" / "data"
    (installed / "fsdd").mkdir(parents=True)
    monkeypatch.setattr(mmcourse, "__file__", str(tmp_path / "site-packages" / "mmcourse" / "__init__.py"))
    monkeypatch.setattr(sysconfig, "get_path", lambda name: str(tmp_path / "prefix"))
    assert data_dir() == installed


def test_speech_source_is_the_default_unless_the_environment_names_one(monkeypatch):
    from mmcourse.data import SPEECH_ENV, speech_source

    monkeypatch.delenv(SPEECH_ENV, raising=False)
    assert speech_source("bundled") == "bundled" and speech_source("fsdd") == "fsdd"
    monkeypatch.setenv(SPEECH_ENV, "fsdd")
    assert speech_source("bundled") == "fsdd"
    monkeypatch.setenv(SPEECH_ENV, " ")
    assert speech_source("fsdd") == "fsdd"


def test_speech_source_names_a_bad_default_or_environment(monkeypatch):
    from mmcourse.data import SPEECH_ENV, speech_source

    monkeypatch.delenv(SPEECH_ENV, raising=False)
    with pytest.raises(ValueError, match="default must be one of"):
        speech_source("real")
    monkeypatch.setenv(SPEECH_ENV, "human")
    with pytest.raises(ValueError, match="MMCOURSE_SPEECH must be one of .* got 'human'"):
        speech_source("bundled")
