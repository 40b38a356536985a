"""Tests for mmcourse.data.fsdd: the bundled Free Spoken Digit Dataset, real speech that loads offline.

Every bundled FLAC is checked against the SHA-256 manifest of the original WAV files; broken copies
are made in a temporary folder (links to the real files, one file replaced), never in data/.
"""
import csv
import filecmp
import io
import shutil
import socket
import tomllib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from mmcourse.data import fsdd
from mmcourse.data.fsdd import (FSDD_SPEAKERS, MANIFEST_NAME, TEST_TAKES, fsdd_dir, fsdd_takes, load_fsdd,
                                load_manifest, official_split, pcm16_wav_bytes, verify_fsdd)
from mmcourse.data.speech import load_spoken_digits, log_mel_spectrogram, pad_or_trim, split_by_speaker

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "data" / "fsdd"
SHARED_DATA = REPO.parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not (SHARED_DATA / "fsdd-v1.0.10").is_dir(), reason="../shared/data is absent")


@pytest.fixture(scope="module")
def real():
    return load_fsdd()


def _linked_copy(tmp_path, replace=()):
    """A folder that looks like data/fsdd: links to the bundled files, except those in ``replace`` (copied)."""
    folder = tmp_path / "fsdd"
    folder.mkdir()
    for path in BUNDLED.iterdir():
        if path.name in replace:
            shutil.copy(path, folder / path.name)
        else:
            (folder / path.name).symlink_to(path)
    return folder


def test_manifest_lists_3000_recordings_of_6_speakers_10_digits_50_takes():
    manifest = load_manifest()
    assert len(manifest) == 3000
    parsed = [fsdd._parse_name(name) for name in manifest]
    assert Counter(speaker for _, speaker, _ in parsed) == {s: 500 for s in FSDD_SPEAKERS}
    assert set(Counter((d, s) for d, s, _ in parsed).values()) == {50}
    assert {t for _, _, t in parsed} == set(range(50))
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in manifest.values())


@needs_shared
def test_bundled_manifest_is_the_shared_manifest_unchanged():
    assert filecmp.cmp(BUNDLED / MANIFEST_NAME, SHARED_DATA / MANIFEST_NAME, shallow=False)


def test_every_bundled_flac_decodes_to_its_original_wav_per_the_manifest():
    assert sorted(p.name for p in BUNDLED.glob("*.flac")) == sorted(
        Path(n).with_suffix(".flac").name for n in load_manifest())
    assert verify_fsdd() == 3000


@needs_shared
def test_rebuilt_wav_bytes_equal_the_original_files():
    for name in ["0_george_0.wav", "5_lucas_17.wav", "9_yweweler_49.wav"]:
        samples, sr = sf.read(BUNDLED / name.replace(".wav", ".flac"), dtype="int16")
        assert pcm16_wav_bytes(samples, sr) == (SHARED_DATA / "fsdd-v1.0.10" / name).read_bytes()


def test_pcm16_wav_bytes_is_a_wav_file_soundfile_reads_back():
    samples = np.array([0, 1, -1, 32767, -32768], dtype=np.int16)
    raw = pcm16_wav_bytes(samples, 8000)
    assert len(raw) == 44 + 2 * samples.size and raw[:4] == b"RIFF" and raw[8:16] == b"WAVEfmt "
    back, sr = sf.read(io.BytesIO(raw), dtype="int16")
    assert sr == 8000 and np.array_equal(back, samples)
    with pytest.raises(ValueError, match="samples"):
        pcm16_wav_bytes(samples.astype(np.float32))


def test_loader_gives_3000_waveforms_at_8khz_with_labels_and_speakers_from_file_names(real):
    assert len(real) == len(real.labels) == len(real.speakers) == len(real.files) == 3000
    assert real.sample_rate == 8000 and real.labels.dtype == torch.int64
    assert Counter(zip(real.speakers, real.labels.tolist())) == {(s, d): 50 for s in FSDD_SPEAKERS for d in range(10)}
    for name, label, speaker, wave in zip(real.files, real.labels.tolist(), real.speakers, real.waveforms):
        digit, who, _take = fsdd._parse_name(name)
        assert name.endswith(".flac") and label == digit and speaker == who
        assert wave.dtype == torch.float32 and wave.ndim == 1 and wave.numel() > 1000 and wave.abs().max() <= 1


def test_loaded_samples_equal_soundfiles_float_reading(real):
    for i in (0, 1234, 2999):
        expected, _ = sf.read(BUNDLED / real.files[i], dtype="float32")
        assert np.array_equal(real.waveforms[i].numpy(), expected)


def test_loading_twice_gives_equal_but_independent_waveforms(real):
    again = load_spoken_digits("fsdd")
    assert again.files == real.files and torch.equal(again.waveforms[7], real.waveforms[7])
    again.waveforms[7].zero_()
    assert load_fsdd().waveforms[7].abs().max() > 0


def test_official_split_tests_on_takes_0_to_4_of_every_speaker_and_digit(real):
    train, test = official_split(real)
    assert (len(train), len(test)) == (2700, 300)
    assert set(fsdd_takes(test).tolist()) == set(TEST_TAKES) == {0, 1, 2, 3, 4}
    assert fsdd_takes(train).min() == 5 and fsdd_takes(train).max() == 49
    assert Counter(zip(test.speakers, test.labels.tolist())) == {(s, d): 5 for s in FSDD_SPEAKERS for d in range(10)}
    assert not set(train.files) & set(test.files)


def test_split_by_speaker_holds_out_whole_speakers(real):
    train, test = split_by_speaker(real, ["theo", "yweweler"])
    assert (len(train), len(test)) == (2000, 1000)
    assert set(test.speakers) == {"theo", "yweweler"}
    assert set(train.speakers) == {"george", "jackson", "lucas", "nicolas"}
    assert len(split_by_speaker(real, "george")[1]) == 500


def test_speakers_argument_keeps_only_those_speakers():
    two = load_spoken_digits("fsdd", speakers=["lucas", "george"])
    assert len(two) == 1000 and set(two.speakers) == {"george", "lucas"}
    assert len(load_fsdd(speakers="theo")) == 500


@pytest.mark.parametrize("call, name", [
    (lambda d: split_by_speaker(d, ["bob"]), "test_speakers"),
    (lambda d: split_by_speaker(d, []), "test_speakers"),
    (lambda d: split_by_speaker(d, [3]), "test_speakers"),
    (lambda d: split_by_speaker(d, list(FSDD_SPEAKERS)), "at least one speaker"),
    (lambda d: load_fsdd(speakers=["Theo"]), "speakers"),
    (lambda d: load_fsdd(root=3), "root"),
    (lambda d: fsdd_takes([1, 2]), "data"),
    (lambda d: official_split(load_spoken_digits("bundled")), "FSDD recording"),
])
def test_bad_arguments_are_rejected_by_name(real, call, name):
    with pytest.raises(ValueError, match=name):
        call(real)


def test_unknown_speaker_error_lists_the_known_ones(real):
    with pytest.raises(ValueError, match="george, jackson, lucas, nicolas, theo, yweweler.*'bob'"):
        split_by_speaker(real, "bob")


def test_a_missing_recording_is_reported_by_name(tmp_path):
    folder = _linked_copy(tmp_path)
    (folder / "0_george_1.flac").unlink()
    with pytest.raises(FileNotFoundError, match="0_george_1.flac"):
        load_fsdd(folder)


def test_a_flipped_byte_is_reported_with_the_file_name(tmp_path):
    folder = _linked_copy(tmp_path, replace={"0_george_1.flac"})
    target = folder / "0_george_1.flac"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the audio frames
    target.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="0_george_1.flac.*corrupt"):
        verify_fsdd(folder)


def test_a_valid_flac_with_one_changed_sample_fails_the_sha256_check(tmp_path):
    folder = _linked_copy(tmp_path, replace={"0_george_1.flac"})
    target = folder / "0_george_1.flac"
    samples, sr = sf.read(target, dtype="int16")
    samples[100] += 1
    sf.write(target, samples, sr, format="FLAC", subtype="PCM_16")
    expected = load_manifest()["0_george_1.wav"]
    with pytest.raises(ValueError, match="0_george_1.flac") as err:
        load_fsdd(folder)
    assert expected in str(err.value) and "SHA-256" in str(err.value)


def test_a_foreign_file_and_a_missing_manifest_are_reported(tmp_path):
    folder = _linked_copy(tmp_path)
    (folder / "0_george_50.flac").symlink_to(BUNDLED / "0_george_0.flac")
    with pytest.raises(ValueError, match="0_george_50.flac"):
        verify_fsdd(folder)
    (folder / MANIFEST_NAME).unlink()
    with pytest.raises(FileNotFoundError, match=MANIFEST_NAME):
        verify_fsdd(folder)
    with pytest.raises(FileNotFoundError, match="nothing"):
        load_fsdd(tmp_path / "nothing")


def test_loading_works_with_every_socket_refused(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise OSError("network used")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    assert len(load_fsdd(_linked_copy(tmp_path))) == 3000  # a new folder: read from disk, not the cache
    source = Path(fsdd.__file__).read_text()
    assert "urllib" not in source and "http" not in source.replace("https://github.com", "")


def test_real_speech_fits_the_course_front_end(real):
    x = pad_or_trim(real.waveforms, 8000)  # (N, 8000): one second
    spec = log_mel_spectrogram(x[:64])
    assert x.shape == (3000, 8000) and spec.shape == (64, 32, 101) and torch.isfinite(spec).all()


def test_licence_and_credit_sit_beside_the_recordings():
    notice = (BUNDLED / "LICENSE.md").read_text()
    for words in ("CC BY-SA 4.0", "https://creativecommons.org/licenses/by-sa/4.0/", "Z. Jackson",
                  "Jakobovski/free-spoken-digit-dataset", "FLAC"):
        assert words in notice
    assert "CC BY-SA 4.0" in (REPO / "data" / "README.md").read_text()
    assert "CC BY-SA 4.0" in (REPO / "README.md").read_text()


def test_data_folder_stays_under_25_mb_and_ships_in_the_package_build():
    assert sum(p.stat().st_size for p in (REPO / "data").rglob("*") if p.is_file()) < 25 * 1024 * 1024
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    data_files = config["tool"]["setuptools"]["data-files"]
    listed = {Path(g).parent for globs in data_files.values() for g in globs}
    assert {REPO / p for p in listed} >= {p.parent for p in (REPO / "data").rglob("*") if p.is_file()}
    assert "graft data" in (REPO / "MANIFEST.in").read_text()
    assert "*.flac binary" in (REPO / ".gitattributes").read_text()


def test_default_folder_is_data_fsdd_with_its_manifest():
    assert fsdd_dir() == BUNDLED
    with open(BUNDLED / MANIFEST_NAME, newline="") as f:
        assert next(csv.reader(f)) == ["file", "sha256"]
