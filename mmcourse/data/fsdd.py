"""The Free Spoken Digit Dataset (FSDD): real human speech, bundled with the course and checked file by file.

FSDD v1.0.10 holds 3,000 recordings of the digits 0-9, spoken 50 times each by 6 speakers (mono,
16-bit, 8 kHz), named ``{digit}_{speaker}_{take}``. The course ships all of them in ``data/fsdd/``,
re-encoded losslessly as FLAC (12 MB instead of 21 MB of WAV), beside their licence (CC BY-SA 4.0)
and credit. Nothing is downloaded.

Integrity: ``fsdd-v1.0.10-sha256.csv`` is the SHA-256 manifest of the *original WAV files*. A FLAC
stores the same samples, and every FSDD WAV is a canonical 44-byte header followed by those samples,
so decoding a FLAC and putting the header back (``pcm16_wav_bytes``) rebuilds the original file
byte for byte. ``load_fsdd`` checks every recording this way (hashing 21 MB takes a few hundredths
of a second), so a missing, corrupted or changed file is reported by name.

Splits: the dataset's own split (``official_split``) tests on takes 0-4 of every speaker and trains
on takes 5-49; ``split_by_speaker`` (in ``speech``) holds out whole speakers, voices the model
never heard.

Defined in notebook 01 (modalities); used in notebooks 00, 02, 03, 03c and 05 as the real-speech source
(``load_spoken_digits(source="fsdd")``). Built by ``scripts/make_fsdd_flac.py``.
Sources: Z. Jackson, C. Souza, J. Flaks, Y. Pan, H. Nicolas and A. Thite, Free Spoken Digit Dataset,
https://github.com/Jakobovski/free-spoken-digit-dataset (release v1.0.10), CC BY-SA 4.0.
"""
from __future__ import annotations

import csv
import hashlib
import os
import re
import struct
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from mmcourse.data.speech import SAMPLE_RATE, SpokenDigits, data_dir, select_speakers

__all__ = ["FSDD_SPEAKERS", "TEST_TAKES", "N_RECORDINGS", "fsdd_dir", "manifest_path", "load_manifest",
           "pcm16_wav_bytes", "verify_fsdd", "load_fsdd", "fsdd_takes", "official_split"]

VERSION = "v1.0.10"
N_RECORDINGS = 3000
FSDD_SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")  # 6 male English speakers
TEST_TAKES = (0, 1, 2, 3, 4)  # the dataset's own test set: takes 0-4 of every speaker and digit
MANIFEST_NAME = f"fsdd-{VERSION}-sha256.csv"
FILE_PATTERN = re.compile(r"^(\d)_([a-z]+)_(\d+)\.(wav|flac)$")
_RESTORE = ("Restore it with `git checkout -- data/fsdd` (it ships with the course) or rebuild the folder with "
            "scripts/make_fsdd_flac.py")


def fsdd_dir() -> Path:
    """The bundled recordings: ``data_dir() / "fsdd"`` (``$MMCOURSE_DATA_DIR`` may move ``data/``)."""
    return data_dir() / "fsdd"


def _resolve_root(root) -> Path:
    if root is None:
        return fsdd_dir()
    if not isinstance(root, (str, os.PathLike)):
        raise ValueError(f"root must be None or the folder holding the FSDD FLAC files, got {type(root).__name__}")
    return Path(root).expanduser()


def manifest_path(root=None) -> Path:
    """The SHA-256 manifest beside the recordings: ``root / "fsdd-v1.0.10-sha256.csv"``."""
    return _resolve_root(root) / MANIFEST_NAME


def read_manifest(path) -> dict[str, str]:
    """``{WAV file name: SHA-256 hex digest}`` read from a ``file,sha256`` CSV at ``path``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"the FSDD manifest {path} is missing. {_RESTORE}")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != ["file", "sha256"]:
            raise ValueError(f"{path} must have the columns file,sha256, got {reader.fieldnames}")
        return {row["file"]: row["sha256"].lower() for row in reader}


def load_manifest(root=None) -> dict[str, str]:
    """``{WAV file name: SHA-256}`` for the 3,000 recordings of FSDD v1.0.10 (defined in notebook 01)."""
    path = manifest_path(root)
    manifest = read_manifest(path)
    if len(manifest) != N_RECORDINGS:
        raise ValueError(f"{path} must list {N_RECORDINGS} recordings, got {len(manifest)}")
    return manifest


def pcm16_wav_bytes(samples, sample_rate: int = SAMPLE_RATE) -> bytes:
    """The canonical mono 16-bit PCM WAV file of ``samples`` (int16, shape (T,)): a 44-byte header + the samples.

    Every FSDD v1.0.10 WAV is exactly this file, so its SHA-256 can be checked from the decoded FLAC.
    """
    samples = np.asarray(samples)
    if samples.dtype != np.int16 or samples.ndim != 1:
        raise ValueError(f"samples must be a 1-D int16 array, got {samples.dtype} with shape {samples.shape}")
    data = samples.astype("<i2").tobytes()  # little-endian 16-bit PCM
    # RIFF header, then a 16-byte "fmt " chunk (PCM = 1, 1 channel, rate, byte rate, block align 2, 16 bits)
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, sample_rate, 2 * sample_rate, 2, 16)
    return b"RIFF" + struct.pack("<I", 4 + len(fmt) + 8 + len(data)) + b"WAVE" + fmt + b"data" + struct.pack(
        "<I", len(data)) + data


def _parse_name(name: str) -> tuple[int, str, int]:
    match = FILE_PATTERN.match(name)
    if match is None:
        raise ValueError(f"{name!r} is not named like an FSDD recording, {{digit}}_{{speaker}}_{{take}}.flac")
    return int(match.group(1)), match.group(2), int(match.group(3))


def _sort_key(name: str) -> tuple[str, int, int]:
    digit, speaker, take = _parse_name(name)
    return speaker, digit, take


def _decode_checked(path: Path, expected_sha: str) -> np.ndarray:
    """The int16 samples of the FLAC at ``path``, after checking them against the WAV's SHA-256."""
    import soundfile as sf

    if not path.is_file():
        raise FileNotFoundError(f"the FSDD recording {path} is missing. {_RESTORE}")
    try:
        samples, sr = sf.read(path, dtype="int16")  # (T,) for a mono file
    except (RuntimeError, ValueError, TypeError) as err:  # soundfile's LibsndfileError is a RuntimeError
        raise ValueError(f"the FSDD recording {path} is corrupt: it cannot be decoded as FLAC ({err}). "
                         f"{_RESTORE}") from err
    if sr != SAMPLE_RATE or samples.ndim != 1:
        raise ValueError(f"the FSDD recording {path} is {sr} Hz with {samples.shape[-1] if samples.ndim > 1 else 1} "
                         f"channel(s); FSDD is mono {SAMPLE_RATE} Hz. {_RESTORE}")
    got = hashlib.sha256(pcm16_wav_bytes(samples, sr)).hexdigest()
    if got != expected_sha:
        raise ValueError(f"the FSDD recording {path} is corrupt or was changed: its samples, written back as the "
                         f"original WAV, have SHA-256 {got} but the manifest says {expected_sha}. {_RESTORE}")
    return samples


def _checked_names(folder: Path, manifest: dict[str, str]) -> list[tuple[str, str]]:
    """``(FLAC name, expected SHA-256)`` for every recording, in speaker, digit, take order."""
    if not folder.is_dir():
        raise FileNotFoundError(
            f"the bundled FSDD recordings are missing: {folder} does not exist. They ship with the course in "
            "data/fsdd/; set MMCOURSE_DATA_DIR to the folder holding fsdd/ if you moved data/")
    expected = {Path(name).with_suffix(".flac").name: sha for name, sha in manifest.items()}
    foreign = sorted({p.name for p in folder.glob("*.flac")} - set(expected))
    if foreign:
        raise ValueError(f"{folder / foreign[0]} is not a recording of FSDD {VERSION} (not in the manifest "
                         f"{MANIFEST_NAME}; {len(foreign)} such files): remove it")
    return [(name, expected[name]) for name in sorted(expected, key=_sort_key)]


def verify_fsdd(root=None) -> int:
    """Decode every bundled recording and check it against the manifest; return how many were checked.

    Defined in notebook 01. Reads the files again (no cache); raises ``FileNotFoundError`` or
    ``ValueError`` naming the first missing or corrupt file.
    """
    folder = _resolve_root(root)
    names = _checked_names(folder, load_manifest(folder))
    for name, sha in names:
        _decode_checked(folder / name, sha)
    return len(names)


@lru_cache(maxsize=2)
def _read_fsdd(folder: str) -> tuple[tuple[torch.Tensor, ...], tuple[int, ...], tuple[str, ...], tuple[str, ...]]:
    """Every recording in ``folder``, checked against the manifest (cached; callers get copies)."""
    path = Path(folder)
    waves, labels, speakers, files = [], [], [], []
    for name, sha in _checked_names(path, load_manifest(path)):
        samples = _decode_checked(path / name, sha)  # (T,) int16
        digit, speaker, _take = _parse_name(name)
        waves.append(torch.from_numpy(samples.astype(np.float32) / 32768.0))  # (T,) in [-1, 1)
        labels.append(digit)
        speakers.append(speaker)
        files.append(name)
    return tuple(waves), tuple(labels), tuple(speakers), tuple(files)


def load_fsdd(root=None, speakers=None) -> SpokenDigits:
    """Load the bundled FSDD v1.0.10 as ``SpokenDigits`` (3,000 utterances, speakers = FSDD speaker names).

    Defined in notebook 01. Offline: reads ``root`` (default ``fsdd_dir()``, i.e. ``data/fsdd/``),
    checks every file against the SHA-256 manifest (the first load takes about a second; later loads
    in the same process are copies of a cached read), and orders the utterances by speaker, digit
    and take. ``speakers`` (names from ``FSDD_SPEAKERS``) keeps only those speakers. ``files`` holds
    the FLAC names, ``{digit}_{speaker}_{take}.flac``.
    """
    folder = _resolve_root(root)
    waves, labels, names, files = _read_fsdd(str(folder.resolve()))
    data = SpokenDigits(waveforms=[w.clone() for w in waves], labels=torch.tensor(labels, dtype=torch.int64),
                        speakers=list(names), sample_rate=SAMPLE_RATE, files=list(files))
    return data if speakers is None else select_speakers(data, speakers)


def fsdd_takes(data: SpokenDigits) -> torch.Tensor:
    """``(N,)`` the take number (0-49) of each FSDD utterance in ``data``, read from its file name."""
    if not isinstance(data, SpokenDigits):
        raise ValueError(f"data must be a SpokenDigits, got {type(data).__name__}")
    if len(data) and len(data.files) != len(data):
        raise ValueError("data must hold FSDD recordings with their file names (data.files is empty); "
                         "load it with load_fsdd() or load_spoken_digits('fsdd')")
    return torch.tensor([_parse_name(name)[2] for name in data.files], dtype=torch.int64)  # (N,)


def official_split(data: SpokenDigits) -> tuple[SpokenDigits, SpokenDigits]:
    """``(train, test)``: the dataset's own split, takes 5-49 for training and takes 0-4 for testing.

    Defined in notebook 03. Every speaker is in both halves, so it measures new takes of known
    voices (2,700 + 300 recordings for the full set); ``split_by_speaker`` measures unseen voices.
    """
    takes = fsdd_takes(data)  # (N,)
    test = torch.isin(takes, torch.tensor(TEST_TAKES))  # (N,) bool
    return data.subset(~test), data.subset(test)
