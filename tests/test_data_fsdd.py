"""Tests for mmcourse.data.fsdd: the opt-in Free Spoken Digit Dataset loader, fully offline.

The cache is filled from the 100-file sample in ../shared/data/fsdd-sample; the network is never
used (urllib's urlopen is replaced where a download is attempted).
"""
import filecmp
import shutil
import tarfile
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from mmcourse.data import fsdd
from mmcourse.data.fsdd import FSDDDownloadError, cache_dir, download_fsdd, load_fsdd, load_manifest
from mmcourse.data.speech import load_spoken_digits

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SAMPLE = SHARED_DATA / "fsdd-sample"
needs_sample = pytest.mark.skipif(not SAMPLE.is_dir(), reason=f"the FSDD sample folder {SAMPLE} is absent")


@pytest.fixture
def cache(tmp_path):
    folder = tmp_path / "fsdd"
    folder.mkdir()
    for wav in sorted(SAMPLE.glob("*.wav")):
        shutil.copy(wav, folder / wav.name)
    return folder


def _offline(*args, **kwargs):
    raise urllib.error.URLError("no network in tests")


def test_manifest_lists_3000_recordings_of_6_speakers_50_takes_per_digit():
    manifest = load_manifest()
    assert len(manifest) == 3000
    speakers = Counter(name.split("_")[1] for name in manifest)
    assert len(speakers) == 6 and set(speakers.values()) == {500}
    assert all(len(h) == 64 for h in manifest.values())


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is absent")
def test_manifest_copy_in_data_equals_the_shared_one():
    assert filecmp.cmp(REPO / "data" / "fsdd-v1.0.10-sha256.csv", SHARED_DATA / "fsdd-v1.0.10-sha256.csv", shallow=False)


def test_cache_dir_follows_the_environment_variable(monkeypatch, tmp_path):
    monkeypatch.delenv("MMCOURSE_FSDD_DIR", raising=False)
    assert cache_dir() == Path.home() / ".cache" / "mmcourse" / "fsdd-v1.0.10"
    monkeypatch.setenv("MMCOURSE_FSDD_DIR", str(tmp_path))
    assert cache_dir() == tmp_path


@needs_sample
def test_partial_cache_loads_every_verified_recording_with_parsed_labels(cache):
    data = load_fsdd(cache, allow_partial=True)
    assert len(data) == 100 and data.sample_rate == 8000
    assert set(data.speakers) == {"jackson", "nicolas"}
    for name, label, speaker, wave in zip(data.files, data.labels.tolist(), data.speakers, data.waveforms):
        digit, who, _take = name[:-4].split("_")
        assert label == int(digit) and speaker == who
        assert wave.ndim == 1 and wave.numel() > 1000 and wave.abs().max() <= 1


@needs_sample
def test_cache_from_environment_variable_is_used_by_default(cache, monkeypatch):
    monkeypatch.setenv("MMCOURSE_FSDD_DIR", str(cache))
    assert len(load_fsdd(allow_partial=True)) == 100


@needs_sample
def test_a_flipped_byte_is_reported_with_the_file_and_both_hashes(cache):
    target = cache / "3_nicolas_2.wav"
    data = bytearray(target.read_bytes())
    data[200] ^= 0xFF
    target.write_bytes(bytes(data))
    expected = load_manifest()["3_nicolas_2.wav"]
    with pytest.raises(ValueError, match="3_nicolas_2.wav") as err:
        load_fsdd(cache, allow_partial=True)
    assert expected in str(err.value)
    assert len(load_fsdd(cache, allow_partial=True, verify=False)) == 100


@needs_sample
def test_a_file_not_in_the_manifest_is_rejected_by_name(cache):
    shutil.copy(cache / "0_jackson_0.wav", cache / "0_jackson_99.wav")
    with pytest.raises(ValueError, match="0_jackson_99.wav"):
        load_fsdd(cache, allow_partial=True)


@needs_sample
def test_an_incomplete_cache_without_allow_partial_says_how_many_are_missing(cache):
    with pytest.raises(FileNotFoundError, match=r"100 of the 3000.*2900 missing"):
        load_fsdd(cache)
    with pytest.raises(FileNotFoundError, match="2900 missing"):
        load_spoken_digits("fsdd", root=cache)  # the speech loader delegates here


def test_an_empty_cache_explains_download_true(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True"):
        load_fsdd(tmp_path / "nothing")


def test_downloading_offline_raises_a_clear_connection_error(monkeypatch, tmp_path):
    monkeypatch.setattr(urllib.request, "urlopen", _offline)
    with pytest.raises(FSDDDownloadError) as err:
        download_fsdd(tmp_path / "fsdd")
    message = str(err.value)
    assert isinstance(err.value, ConnectionError)
    assert "network" in message and "MMCOURSE_FSDD_DIR" in message and "bundled" in message
    with pytest.raises(FSDDDownloadError, match="MMCOURSE_FSDD_DIR"):
        load_fsdd(tmp_path / "fsdd", download=True)


def _fake_archive(tmp_path, wavs, tamper=False):
    """A tar.gz laid out like GitHub's tag archive, holding ``wavs`` and a file to be ignored."""
    path = tmp_path / "v1.0.10.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for wav in wavs:
            source = wav
            if tamper:
                source = tmp_path / wav.name
                source.write_bytes(wav.read_bytes() + b"\0")
            tar.add(source, arcname=f"free-spoken-digit-dataset-1.0.10/recordings/{wav.name}")
        tar.add(wavs[0], arcname="free-spoken-digit-dataset-1.0.10/utils/not_a_recording.wav")
    return path


@needs_sample
def test_download_extracts_only_verified_recordings_and_reports_an_incomplete_archive(monkeypatch, tmp_path):
    wavs = sorted(SAMPLE.glob("*.wav"))[:10]
    archive = _fake_archive(tmp_path, wavs)
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: open(archive, "rb"))
    target = tmp_path / "cache"
    with pytest.raises(FSDDDownloadError, match="10 of the 3000"):
        download_fsdd(target)
    assert sorted(p.name for p in target.iterdir()) == [w.name for w in wavs]
    assert len(load_fsdd(target, allow_partial=True)) == 10


@needs_sample
def test_download_refuses_a_recording_whose_hash_differs(monkeypatch, tmp_path):
    archive = _fake_archive(tmp_path, sorted(SAMPLE.glob("*.wav"))[:2], tamper=True)
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: open(archive, "rb"))
    with pytest.raises(ValueError, match="SHA-256"):
        download_fsdd(tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*.wav"))


@pytest.mark.parametrize("kwargs, name", [({"download": "yes"}, "download"), ({"verify": 1}, "verify"),
                                          ({"allow_partial": None}, "allow_partial"), ({"cache": 3}, "cache")])
def test_bad_flags_are_rejected_by_name(kwargs, name):
    with pytest.raises(ValueError, match=name):
        load_fsdd(**kwargs)


def test_download_url_must_be_a_url():
    with pytest.raises(ValueError, match="url"):
        fsdd.download_fsdd(url="ftp://example.org/fsdd.tar.gz")


def test_manifest_path_points_at_the_committed_manifest():
    from mmcourse.data.fsdd import manifest_path

    path = manifest_path()
    assert path.name == "fsdd-v1.0.10-sha256.csv" and path.exists()
    assert path.read_text().splitlines()[0] == "file,sha256"
