"""The Free Spoken Digit Dataset (FSDD), opt-in: real speech, downloaded once and checked file by file.

FSDD v1.0.10 holds 3,000 recordings (mono WAV, 8 kHz) of the digits 0-9 spoken by 6 speakers, 50
times each, named ``{digit}_{speaker}_{take}.wav``. It is licensed CC BY-SA 4.0, so the project
never commits it: a user asks for it once with ``download=True``; it is fetched from the
dataset's public GitHub repository (the v1.0.10 tag archive), only ``recordings/*.wav`` are kept,
in a cache folder (``$MMCOURSE_FSDD_DIR``, else ``~/.cache/mmcourse/fsdd-v1.0.10``). Every file is
checked against a manifest of SHA-256 sums, ``data/fsdd-v1.0.10-sha256.csv``, so that a corrupted
download, an edited file or a foreign file is caught with a message naming it.

Defined in notebook 01 (modalities); used in notebooks 02 and 05 as the real-speech alternative
to the bundled espeak-ng digits (``load_spoken_digits(source="fsdd")``).
Sources: Z. Jackson, C. Souza, J. Flaks, Y. Pan, H. Nicolas and A. Thite, "Jakobovski/
free-spoken-digit-dataset: v1.0.8", Zenodo (2018), and the repository's v1.0.10 release.
"""
from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import torch

from mmcourse.data.speech import SAMPLE_RATE, SpokenDigits, data_dir

__all__ = ["FSDDDownloadError", "FSDD_URL", "N_RECORDINGS", "cache_dir", "manifest_path", "load_manifest",
           "download_fsdd", "load_fsdd"]

VERSION = "v1.0.10"
FSDD_URL = "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/v1.0.10.tar.gz"
N_RECORDINGS = 3000
FILE_PATTERN = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")
_HOW_TO = (
    "Run load_fsdd(download=True) (or load_spoken_digits('fsdd', download=True)) once with network "
    "access, or copy the recordings into a folder and point MMCOURSE_FSDD_DIR at it. "
    "load_spoken_digits(source='bundled') works offline."
)


class FSDDDownloadError(ConnectionError):
    """The FSDD archive could not be fetched (no network, server error, or a broken archive)."""


def cache_dir() -> Path:
    """Where the FSDD recordings live: ``$MMCOURSE_FSDD_DIR`` if set, else ``~/.cache/mmcourse/fsdd-v1.0.10``."""
    override = os.environ.get("MMCOURSE_FSDD_DIR")
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "mmcourse" / f"fsdd-{VERSION}"


def manifest_path() -> Path:
    """The SHA-256 manifest that ships with the project: ``data/fsdd-v1.0.10-sha256.csv``.

    Looked up in ``data_dir()`` (``$MMCOURSE_DATA_DIR`` may move it), else beside the package.
    """
    name = f"fsdd-{VERSION}-sha256.csv"
    candidate = data_dir() / name
    if candidate.is_file():
        return candidate
    import mmcourse

    return Path(mmcourse.__file__).resolve().parents[1] / "data" / name


def load_manifest() -> dict[str, str]:
    """``{file name: SHA-256 hex digest}`` for the 3,000 recordings of FSDD v1.0.10."""
    path = manifest_path()
    if not path.is_file():
        raise FileNotFoundError(f"the FSDD manifest {path} is missing; it ships with the project in data/")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != ["file", "sha256"]:
            raise ValueError(f"{path} must have the columns file,sha256, got {reader.fieldnames}")
        manifest = {row["file"]: row["sha256"].lower() for row in reader}
    if len(manifest) != N_RECORDINGS:
        raise ValueError(f"{path} must list {N_RECORDINGS} recordings, got {len(manifest)}")
    return manifest


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _resolve_cache(cache) -> Path:
    if cache is None:
        return cache_dir()
    if not isinstance(cache, (str, os.PathLike)):
        raise ValueError(f"cache must be None or a folder path, got {type(cache).__name__}")
    return Path(cache).expanduser()


def download_fsdd(cache=None, url: str = FSDD_URL, timeout: float = 60.0) -> Path:
    """Fetch the v1.0.10 archive, keep its ``recordings/*.wav`` in ``cache`` (verified), return ``cache``.

    Defined in notebook 01. Streams the tar.gz from GitHub with ``urllib`` (nothing else is used);
    each recording is checked against the manifest before it is written, so a failed download
    never leaves a wrong file. Raises ``FSDDDownloadError`` when the network is unavailable.
    """
    folder = _resolve_cache(cache)
    if not isinstance(url, str) or not url.startswith(("https://", "http://", "file:")):
        raise ValueError(f"url must be an http(s) or file URL string, got {url!r}")
    manifest = load_manifest()
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            with tarfile.open(fileobj=response, mode="r|gz") as archive:  # streamed, read once in order
                for member in archive:
                    parts = Path(member.name).parts
                    if not member.isfile() or len(parts) < 2 or parts[-2] != "recordings":
                        continue
                    name = parts[-1]
                    if name not in manifest:  # only known names are written (never a path from the archive)
                        continue
                    data = archive.extractfile(member).read()
                    if _sha256(data) != manifest[name]:
                        raise ValueError(f"downloaded {name} has SHA-256 {_sha256(data)} but the manifest says "
                                         f"{manifest[name]}: the archive at {url} is not FSDD {VERSION}")
                    part = folder / (name + ".part")
                    part.write_bytes(data)
                    part.replace(folder / name)
                    written += 1
    except (urllib.error.URLError, OSError, EOFError, tarfile.TarError) as err:
        raise FSDDDownloadError(
            f"could not download the Free Spoken Digit Dataset from {url} ({err}). The network is needed "
            f"once, to fill the cache {folder}; after that FSDD loads offline. Alternatively copy the "
            "recordings/*.wav of FSDD v1.0.10 into a folder and set MMCOURSE_FSDD_DIR to it. "
            "load_spoken_digits(source='bundled') needs no network."
        ) from err
    if written < N_RECORDINGS:
        raise FSDDDownloadError(f"the archive at {url} held {written} of the {N_RECORDINGS} FSDD recordings")
    return folder


def _parse_name(name: str) -> tuple[int, str, int]:
    match = FILE_PATTERN.match(name)
    if match is None:
        raise ValueError(f"{name} is not named like an FSDD recording, {{digit}}_{{speaker}}_{{take}}.wav")
    return int(match.group(1)), match.group(2), int(match.group(3))


def _sort_key(name: str) -> tuple[str, int, int]:
    digit, speaker, take = _parse_name(name)
    return speaker, digit, take


def load_fsdd(cache=None, download: bool = False, verify: bool = True, allow_partial: bool = False) -> SpokenDigits:
    """Load FSDD v1.0.10 from ``cache`` as ``SpokenDigits`` (speakers are the FSDD speaker names).

    Defined in notebook 01. Every ``.wav`` in the cache must be named in the manifest and, with
    ``verify=True``, have its SHA-256 sum; otherwise a ``ValueError`` names the file. When fewer
    than 3,000 recordings are there, ``allow_partial=True`` loads those present, ``download=True``
    fetches the rest, and otherwise a ``FileNotFoundError`` says how many are missing. Ordered by
    speaker, digit and take.
    """
    for name, value in (("download", download), ("verify", verify), ("allow_partial", allow_partial)):
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be True or False, got {value!r}")
    folder = _resolve_cache(cache)
    manifest = load_manifest()
    present = sorted(p.name for p in folder.glob("*.wav")) if folder.is_dir() else []
    if len(present) < N_RECORDINGS and download:
        download_fsdd(folder)
        present = sorted(p.name for p in folder.glob("*.wav"))
    if not present:
        raise FileNotFoundError(
            f"no FSDD recordings in {folder}. The Free Spoken Digit Dataset (CC BY-SA 4.0) is not shipped "
            f"with the course: pass download=True to fetch it once. {_HOW_TO}"
        )
    foreign = [name for name in present if name not in manifest]
    if foreign:
        raise ValueError(f"{folder / foreign[0]} is not a recording of FSDD {VERSION} (not in the manifest "
                         f"{manifest_path().name}; {len(foreign)} such files): remove it from the cache")
    if len(present) < N_RECORDINGS and not allow_partial:
        raise FileNotFoundError(
            f"{folder} holds {len(present)} of the {N_RECORDINGS} FSDD recordings "
            f"({N_RECORDINGS - len(present)} missing). Pass allow_partial=True to load only these, or "
            f"download=True to fetch the rest. {_HOW_TO}"
        )
    import soundfile as sf

    waves, labels, speakers, files = [], [], [], []
    for name in sorted(present, key=_sort_key):
        digit, speaker, _take = _parse_name(name)
        raw = (folder / name).read_bytes()
        if verify and _sha256(raw) != manifest[name]:
            raise ValueError(f"{folder / name} is corrupted or was changed: its SHA-256 is {_sha256(raw)} but the "
                             f"manifest says {manifest[name]}. Delete it and load again with download=True")
        audio, sr = sf.read(io.BytesIO(raw), dtype="float32", always_2d=True)  # (T, channels)
        if sr != SAMPLE_RATE:
            raise ValueError(f"{name} has sample rate {sr} Hz but FSDD recordings have {SAMPLE_RATE} Hz")
        waves.append(torch.from_numpy(audio.mean(axis=1)))  # (T,)
        labels.append(digit)
        speakers.append(speaker)
        files.append(name)
    return SpokenDigits(waveforms=waves, labels=torch.tensor(labels, dtype=torch.int64), speakers=speakers,
                        sample_rate=SAMPLE_RATE, files=files)
