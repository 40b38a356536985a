"""Spoken digits: the audio modality of the course, and how to turn a waveform into a spectrogram.

Two sources share one container, ``SpokenDigits`` (variable-length 1-D waveforms at 8 kHz, labels
and who spoke):

- ``"bundled"`` (default, offline): 600 utterances of "zero" … "nine" made by the project with the
  ``espeak-ng`` synthesiser, 12 voices × 5 speed/pitch settings per digit, stored as 16-bit FLAC in
  ``data/spoken_digits/`` (see ``data/README.md`` and ``scripts/make_spoken_digits.py``);
- ``"fsdd"`` (offline too): the real Free Spoken Digit Dataset v1.0.10, 3,000 recordings of 6 human
  speakers, bundled as FLAC in ``data/fsdd/`` and checked against its SHA-256 manifest
  (``mmcourse.data.fsdd``; CC BY-SA 4.0, credit in ``data/fsdd/LICENSE.md``).

``select_speakers`` keeps some speakers and ``split_by_speaker`` holds whole speakers out, so a
model can be tested on voices it never heard.

A network needs fixed-size inputs, so ``pad_or_trim`` cuts or zero-pads every waveform to one
length ``L``, and ``log_mel_spectrogram`` turns ``(N, L)`` waveforms into ``(N, n_mels, frames)``
log-mel spectrograms: short-time Fourier power, pooled by triangular filters equally spaced on
the mel scale, then ``log(· + eps)``, the time–frequency "image" of a sound.

Defined in notebook 01 (modalities); used in notebooks 00, 02, 03, 03c and 05.
Sources: espeak-ng (https://github.com/espeak-ng/espeak-ng); Z. Jackson et al., Free Spoken Digit
Dataset (CC BY-SA 4.0); ``torchaudio.transforms.MelSpectrogram``.
"""
from __future__ import annotations

import csv
import numbers
import os
import sys
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import torch

__all__ = ["SpokenDigits", "data_dir", "load_spoken_digits", "speech_source", "SPEECH_ENV", "select_speakers", "split_by_speaker", "pad_or_trim",
           "log_mel_spectrogram"]

SAMPLE_RATE = 8000
SOURCES = ("bundled", "fsdd")
SPEECH_ENV = "MMCOURSE_SPEECH"  # names the source a speech notebook runs on, over its default
INDEX_COLUMNS = ("file", "label", "voice", "speed", "pitch")


@dataclass
class SpokenDigits:
    """Spoken digits: ``N`` waveforms of different lengths with their labels and speakers.

    Defined in notebook 01.
    """

    waveforms: list[torch.Tensor]  # N tensors (T_i,), float32 in [-1, 1]
    labels: torch.Tensor  # (N,) int64, the digit 0-9
    speakers: list[str]  # N names: the espeak-ng voice (bundled) or the FSDD speaker
    sample_rate: int = SAMPLE_RATE  # samples per second
    files: list[str] = field(default_factory=list)  # N file names (empty if not from files)

    def __post_init__(self):
        n = len(self.waveforms)
        if not isinstance(self.labels, torch.Tensor) or self.labels.shape != (n,):
            got = tuple(self.labels.shape) if isinstance(self.labels, torch.Tensor) else type(self.labels).__name__
            raise ValueError(f"labels must be a tensor of shape ({n},), one per waveform, got {got}")
        if len(self.speakers) != n:
            raise ValueError(f"speakers must have one name per waveform ({n}), got {len(self.speakers)}")
        if self.files and len(self.files) != n:
            raise ValueError(f"files must be empty or have one name per waveform ({n}), got {len(self.files)}")

    def __len__(self) -> int:
        return len(self.waveforms)

    def subset(self, indices) -> SpokenDigits:
        """The utterances at ``indices`` (a sequence of ints, an int tensor or a bool mask), in that order."""
        try:
            idx = torch.as_tensor(indices)
        except (TypeError, ValueError, RuntimeError) as err:
            raise ValueError(f"indices must be a 1-D sequence of ints or a bool mask, got {indices!r}") from err
        if idx.dtype == torch.bool:
            if idx.shape != (len(self),):
                raise ValueError(f"indices as a bool mask must have shape ({len(self)},), got {tuple(idx.shape)}")
            idx = torch.nonzero(idx).flatten()
        if idx.ndim != 1 or (idx.numel() and torch.is_floating_point(idx)):
            raise ValueError(f"indices must be a 1-D sequence of ints or a bool mask, got {indices!r}")
        idx = idx.long()
        if idx.numel() and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise ValueError(f"indices must lie in [0, {len(self)}), got values from {int(idx.min())} to {int(idx.max())}")
        keep = [int(i) for i in idx]
        return SpokenDigits(
            waveforms=[self.waveforms[i] for i in keep],
            labels=self.labels[idx],
            speakers=[self.speakers[i] for i in keep],
            sample_rate=self.sample_rate,
            files=[self.files[i] for i in keep] if self.files else [],
        )


def data_dir() -> Path:
    """The project's ``data/`` folder: ``$MMCOURSE_DATA_DIR`` if set, else the one beside the package.

    A non-editable install (``pip install .``) has no folder beside the package; its wheel puts
    ``data/`` in ``<prefix>/share/mmcourse/data`` (``data-files`` in ``pyproject.toml``), used then.
    """
    override = os.environ.get("MMCOURSE_DATA_DIR")
    if override:
        return Path(override).expanduser()
    import mmcourse

    beside = Path(mmcourse.__file__).resolve().parents[1] / "data"
    if (beside / "spoken_digits").is_dir() or (beside / "fsdd").is_dir():  # a checkout (or editable install)
        return beside
    for prefix in (sysconfig.get_path("data"), sys.prefix):
        installed = Path(prefix) / "share" / "mmcourse" / "data"
        if installed.is_dir():
            return installed
    return beside


@lru_cache(maxsize=4)
def _read_bundled(folder: str) -> tuple[tuple[torch.Tensor, ...], tuple[int, ...], tuple[str, ...], tuple[str, ...]]:
    """Read every utterance listed in ``folder/index.csv`` (cached; callers get copies)."""
    import soundfile as sf

    index = Path(folder) / "index.csv"
    if not index.is_file():
        raise FileNotFoundError(
            f"the bundled spoken digits are missing: {index} does not exist. They ship with the project "
            "in data/spoken_digits/ (regenerate with scripts/make_spoken_digits.py), or set MMCOURSE_DATA_DIR "
            "to the folder that holds spoken_digits/"
        )
    with open(index, newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != INDEX_COLUMNS:
            raise ValueError(f"{index} must have the columns {','.join(INDEX_COLUMNS)}, got {reader.fieldnames}")
        rows = list(reader)
    waves, labels, voices, files = [], [], [], []
    for row in rows:
        audio, sr = sf.read(Path(folder) / row["file"], dtype="float32", always_2d=True)  # (T, channels)
        if sr != SAMPLE_RATE:
            raise ValueError(f"{row['file']} has sample rate {sr} Hz but {SAMPLE_RATE} Hz was expected")
        waves.append(torch.from_numpy(audio.mean(axis=1)))  # (T,)
        labels.append(int(row["label"]))
        voices.append(row["voice"])
        files.append(row["file"])
    return tuple(waves), tuple(labels), tuple(voices), tuple(files)


def speech_source(default: str) -> str:
    """The speech source a notebook runs on: ``default`` ("bundled" or "fsdd"), unless the environment
    variable ``MMCOURSE_SPEECH`` names one. Each speech notebook chooses its default for teaching;
    ``make results`` runs it once more on the other source, so both are measured. Defined in notebook 01."""
    if default not in SOURCES:
        raise ValueError(f"default must be one of {SOURCES}, got {default!r}")
    chosen = os.environ.get(SPEECH_ENV, "").strip() or default
    if chosen not in SOURCES:
        raise ValueError(f"the environment variable {SPEECH_ENV} must be one of {SOURCES} or unset, got {chosen!r}")
    return chosen


def load_spoken_digits(source: str = "bundled", root=None, speakers=None) -> SpokenDigits:
    """Load spoken digits from ``source``: ``"bundled"`` (espeak-ng) or ``"fsdd"`` (real speech); both offline.

    Defined in notebook 01. ``root`` is the folder to read: for ``"bundled"`` the folder holding
    ``index.csv`` (default ``data_dir() / "spoken_digits"``), for ``"fsdd"`` the folder holding the
    FLAC files and their manifest (default ``data_dir() / "fsdd"``). ``speakers`` (a list of names:
    espeak-ng voices or FSDD speakers) keeps only those speakers. Nothing is downloaded.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise ValueError(f"root must be None or a folder path, got {type(root).__name__}")
    if source == "fsdd":
        from mmcourse.data.fsdd import load_fsdd

        return load_fsdd(root=root, speakers=speakers)
    folder = Path(root) if root is not None else data_dir() / "spoken_digits"
    waves, labels, voices, files = _read_bundled(str(folder.expanduser().resolve()))
    data = SpokenDigits(
        waveforms=[w.clone() for w in waves],
        labels=torch.tensor(labels, dtype=torch.int64),
        speakers=list(voices),
        sample_rate=SAMPLE_RATE,
        files=list(files),
    )
    return data if speakers is None else select_speakers(data, speakers)


def _speaker_names(data, names, argument: str) -> tuple[str, ...]:
    """``names`` (one name or a non-empty list of names) checked against the speakers of ``data``."""
    if not isinstance(data, SpokenDigits):
        raise ValueError(f"data must be a SpokenDigits, got {type(data).__name__}")
    if isinstance(names, str):
        names = (names,)
    if not isinstance(names, (Sequence, set, frozenset)) or not names or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{argument} must be a speaker name or a non-empty list of names, got {names!r}")
    known = sorted(set(data.speakers))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"{argument} must name speakers of the data ({', '.join(known)}), got {unknown[0]!r}")
    return tuple(names)


def select_speakers(data: SpokenDigits, speakers) -> SpokenDigits:
    """The utterances of ``data`` spoken by ``speakers`` (a name or a list of names), in their order in ``data``.

    Defined in notebook 03.
    """
    chosen = set(_speaker_names(data, speakers, "speakers"))
    return data.subset(torch.tensor([s in chosen for s in data.speakers], dtype=torch.bool))


def split_by_speaker(data: SpokenDigits, test_speakers) -> tuple[SpokenDigits, SpokenDigits]:
    """``(train, test)``: ``test`` holds every utterance of ``test_speakers``, ``train`` all the others.

    Defined in notebook 03. No voice is in both halves, so the test measures how a model fares on
    speakers it never heard (for FSDD: train on four speakers, test on the other two).
    """
    held_out = set(_speaker_names(data, test_speakers, "test_speakers"))
    if held_out >= set(data.speakers):
        raise ValueError(f"test_speakers must leave at least one speaker for training, got all of "
                         f"{sorted(held_out)}")
    test = torch.tensor([s in held_out for s in data.speakers], dtype=torch.bool)  # (N,)
    return data.subset(~test), data.subset(test)


def pad_or_trim(waveforms, length: int) -> torch.Tensor:
    """Stack waveforms into ``(N, length)``: longer ones lose their end, shorter ones get zeros appended.

    Defined in notebook 01. ``waveforms`` is a list of 1-D tensors (e.g. ``SpokenDigits.waveforms``),
    a ``(N, T)`` tensor or a single ``(T,)`` tensor (giving ``(1, length)``).
    """
    if isinstance(length, bool) or not isinstance(length, numbers.Integral) or length < 1:
        raise ValueError(f"length must be an int >= 1 (samples), got {length!r}")
    if isinstance(waveforms, torch.Tensor):
        if waveforms.ndim not in (1, 2):
            raise ValueError(f"waveforms must have shape (T,) or (N, T), got {tuple(waveforms.shape)}")
        waveforms = list(waveforms.reshape(-1, waveforms.shape[-1]))  # N tensors (T,)
    if not isinstance(waveforms, Sequence) or isinstance(waveforms, (str, bytes)):
        raise ValueError(f"waveforms must be a list of 1-D tensors or a tensor, got {type(waveforms).__name__}")
    out = torch.zeros(len(waveforms), int(length))  # (N, L)
    for i, w in enumerate(waveforms):
        if not isinstance(w, torch.Tensor) or w.ndim != 1:
            got = tuple(w.shape) if isinstance(w, torch.Tensor) else type(w).__name__
            raise ValueError(f"waveforms[{i}] must be a 1-D tensor, got {got}")
        n = min(w.numel(), int(length))
        out[i, :n] = w[:n]
    return out


@lru_cache(maxsize=8)
def _mel_transform(sample_rate: int, n_mels: int, n_fft: int, hop_length: int):
    import torchaudio

    return torchaudio.transforms.MelSpectrogram(
        sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, power=2.0,
        f_min=0.0, f_max=sample_rate / 2,
    )


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return int(value)


_MEL_CHUNK = 256  # rows of a batch transformed together (bounds the memory of a large batch)


def log_mel_spectrogram(
    waveforms, sample_rate: int = SAMPLE_RATE, n_mels: int = 32, n_fft: int = 256, hop_length: int = 80,
    eps: float = 1e-6,
) -> torch.Tensor:
    """``log(mel power + eps)`` of each waveform: ``(N, L)`` → ``(N, n_mels, frames)``.

    Defined in notebook 01. Windows of ``n_fft`` samples (256 = 32 ms at 8 kHz) every ``hop_length``
    samples (80 = 10 ms), so ``frames = 1 + L // hop_length``. A single ``(L,)`` waveform gives
    ``(n_mels, frames)``; a list of 1-D tensors is first padded to the longest with ``pad_or_trim``.
    """
    sample_rate = _positive_int(sample_rate, "sample_rate")
    n_mels = _positive_int(n_mels, "n_mels")
    n_fft = _positive_int(n_fft, "n_fft")
    hop_length = _positive_int(hop_length, "hop_length")
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps > 0:
        raise ValueError(f"eps must be a number > 0, got {eps!r}")
    if n_mels > n_fft // 2 + 1:
        raise ValueError(f"n_mels must be at most n_fft // 2 + 1 = {n_fft // 2 + 1} frequency bins, got {n_mels}")
    if isinstance(waveforms, (list, tuple)):
        if not waveforms:
            raise ValueError("waveforms must not be an empty list")
        waveforms = pad_or_trim(waveforms, max(int(w.numel()) for w in waveforms if hasattr(w, "numel")))
    if not isinstance(waveforms, torch.Tensor) or waveforms.ndim not in (1, 2) or waveforms.shape[-1] == 0:
        got = tuple(waveforms.shape) if isinstance(waveforms, torch.Tensor) else type(waveforms).__name__
        raise ValueError(f"waveforms must be a tensor (N, L) or (L,) with L > 0, or a list of 1-D tensors, got {got}")
    x = waveforms.float()
    transform = _mel_transform(sample_rate, n_mels, n_fft, hop_length).to(x.device)
    # 256 waveforms at a time: the complex spectrum of every window holds about 20 times the waveforms' memory
    chunks = x.split(_MEL_CHUNK) if x.ndim == 2 and len(x) > _MEL_CHUNK else [x]
    mel = torch.cat([transform(chunk) for chunk in chunks])  # (N, n_mels, frames)
    return torch.log(mel + eps)  # (N, n_mels, frames)
