"""Audio-visual digits: a spoken digit paired with a handwritten digit of the same label.

Like AV-MNIST (MNIST images paired with FSDD speech), each example has two modalities that carry
the same label: a real 8×8 handwritten digit (``mmcourse.data.digits``) and a spoken digit
(``mmcourse.data.speech``). Every spoken utterance is paired with an image of its label drawn
with a seeded generator. Each modality can be degraded on its own, which is what notebook 05
needs to compare early, late and joint fusion:

- speech noise: white Gaussian noise at ``snr_db`` per utterance (``torchaudio.functional.add_noise``,
  the SNR measured over the utterance itself, not its zero padding);
- a competing talker (optional): another utterance of the same split, of another digit, added at
  ``interferer_snr_db`` (each utterance's power measured over its own samples), the speech-like
  noise that audio-visual speech enhancement (notebook 05) is made for;
- image noise: a square occlusion of ``occlusion`` of the area, then pixel noise of ``pixel_noise_std``
  (``mmcourse.noise``);
- missing modalities: with probability ``p_missing_audio`` (``p_missing_image``) a pair's audio (image)
  is zeroed and ``has_audio`` (``has_image``) is False. The two draws are independent.

The split is disjoint in images and in speakers, so the test set has unseen writers' images and
unseen voices: images are split 75/25 per label with a fixed seed; the bundled voices
``TEST_VOICES`` (3 of the 12: a Scottish, a Caribbean and a female RP voice) and the FSDD speakers
``FSDD_TEST_SPEAKERS`` (2 of 6) are only in the test split. With FSDD, ``held_out="takes"`` splits
the speech by the dataset's own split instead (takes 0-4 of every speaker in test): new recordings
of known people, when speaker generalisation is not the point. Separate seeded random streams draw
the pairing, the audio noise, the competing talker, the occlusion, the pixel noise and each missing
mask, so changing one setting never changes the others' draws. ``clean_waveforms`` / ``clean_images``
keep the undegraded inputs (targets for audio-visual enhancement).

Defined in notebook 01 (modalities); used in notebooks 02 (pipelines) and 05 (fusion).
Sources: the seminar's AVDCNN and fusion sections; AV-MNIST (Vielzeuf et al., "CentralNet", 2018).
"""
from __future__ import annotations

import hashlib
import math
import numbers
from dataclasses import dataclass, field
from functools import lru_cache

import torch

from mmcourse.data.digits import load_digits
from mmcourse.data.fsdd import TEST_TAKES, fsdd_takes
from mmcourse.data.speech import SAMPLE_RATE, load_spoken_digits, pad_or_trim
from mmcourse.noise import add_pixel_noise, occlude

__all__ = ["AVDigitsConfig", "AVDigits", "make_av_digits", "TEST_VOICES", "FSDD_TEST_SPEAKERS"]

SPLITS = ("train", "test")
TEST_VOICES = ("en-gb-scotland", "en-029", "en-gb-x-rp+f4")  # held-out bundled voices (3 of 12)
FSDD_TEST_SPEAKERS = ("theo", "yweweler")  # held-out FSDD speakers (2 of 6)
IMAGE_TEST_FRACTION = 0.25
_IMAGE_SPLIT_SEED = 0  # fixed: the image split never depends on AVDigitsConfig.seed
_STREAMS = ("pairing", "audio_noise", "occlusion", "pixel_noise", "missing_audio", "missing_image", "interferer",
            "share")


@dataclass
class AVDigitsConfig:
    """How to build audio-visual digit pairs. Defined in notebook 01."""

    seed: int = 0  # seeds the pairing, the noise, the occlusion and the missing masks
    snr_db: float | None = None  # speech SNR in dB; None keeps the speech clean
    occlusion: float = 0.0  # fraction of each image hidden by a square patch, in [0, 1]
    pixel_noise_std: float = 0.0  # std of Gaussian pixel noise (pixels are in [0, 1])
    p_missing_audio: float = 0.0  # probability that a pair has no audio
    p_missing_image: float = 0.0  # probability that a pair has no image
    audio_length: int = 8000  # samples per waveform (1 s at 8 kHz), trimmed or zero-padded
    source: str = "bundled"  # speech source: "bundled" (espeak-ng, offline) or "fsdd"
    pairs_per_utterance: int = 1  # pair each utterance with this many images (more, differently noised pairs)
    interferer_snr_db: float | None = None  # a competing talker (another digit) at this SNR in dB; None: none
    utterance_share: float = 1.0  # use this share of the split's utterances, a seeded random draw (at least one)
    held_out: str = "speakers"  # test speech: unseen "speakers", or (FSDD only) the official split's "takes" 0-4

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first field that is out of range."""
        def is_int(v):
            return isinstance(v, numbers.Integral) and not isinstance(v, bool)

        def is_real(v):
            return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)

        if not is_int(self.seed) or self.seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {self.seed!r}")
        if self.snr_db is not None and not is_real(self.snr_db):
            raise ValueError(f"snr_db must be None (clean) or a finite number of dB, got {self.snr_db!r}")
        if self.interferer_snr_db is not None and not is_real(self.interferer_snr_db):
            raise ValueError(f"interferer_snr_db must be None (no competing talker) or a finite number of dB, "
                             f"got {self.interferer_snr_db!r}")
        for name in ("occlusion", "p_missing_audio", "p_missing_image"):
            value = getattr(self, name)
            if not is_real(value) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
        if not is_real(self.pixel_noise_std) or self.pixel_noise_std < 0:
            raise ValueError(f"pixel_noise_std must be a number >= 0, got {self.pixel_noise_std!r}")
        if not is_int(self.audio_length) or self.audio_length < 1:
            raise ValueError(f"audio_length must be an int >= 1 (samples), got {self.audio_length!r}")
        if self.source not in ("bundled", "fsdd"):
            raise ValueError(f"source must be 'bundled' or 'fsdd', got {self.source!r}")
        if not is_int(self.pairs_per_utterance) or self.pairs_per_utterance < 1:
            raise ValueError(f"pairs_per_utterance must be an int >= 1, got {self.pairs_per_utterance!r}")
        if self.held_out not in ("speakers", "takes"):
            raise ValueError(f"held_out must be 'speakers' or 'takes', got {self.held_out!r}")
        if self.held_out == "takes" and self.source != "fsdd":
            raise ValueError(f"held_out='takes' needs source='fsdd' (the synthetic voices have no takes), "
                             f"got source={self.source!r}")
        if not is_real(self.utterance_share) or not 0.0 < self.utterance_share <= 1.0:
            raise ValueError(f"utterance_share must be a number in (0, 1], got {self.utterance_share!r}")


@dataclass
class AVDigits:
    """``N`` audio-visual pairs of one split. Defined in notebook 01."""

    images: torch.Tensor  # (N, 1, 8, 8) float32, degraded as configured (zero where has_image is False)
    waveforms: torch.Tensor  # (N, L) float32, degraded as configured (zero where has_audio is False)
    labels: torch.Tensor  # (N,) int64, the digit shared by both modalities
    speakers: list[str]  # N voice (bundled) or speaker (FSDD) names
    has_audio: torch.Tensor  # (N,) bool
    has_image: torch.Tensor  # (N,) bool
    sample_rate: int = SAMPLE_RATE
    clean_images: torch.Tensor | None = field(default=None, repr=False)  # (N, 1, 8, 8) before degradation
    clean_waveforms: torch.Tensor | None = field(default=None, repr=False)  # (N, L) before degradation
    image_indices: torch.Tensor | None = field(default=None, repr=False)  # (N,) rows of load_digits()
    interferers: torch.Tensor | None = field(default=None, repr=False)  # (N,) row of each competing talker
    takes: torch.Tensor | None = field(default=None, repr=False)  # (N,) FSDD take number (0-49); None if synthetic

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def _generator(seed: int, split: str, stream: str) -> torch.Generator:
    """An independent, reproducible random stream for one (seed, split, purpose)."""
    digest = hashlib.sha256(f"avdigits/{seed}/{split}/{stream}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)


@lru_cache(maxsize=1)
def _image_split() -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """The digit images, labels and a fixed, per-label 75/25 split of their indices."""
    images, labels = load_digits()  # (M, 8, 8), (M,)
    g = torch.Generator().manual_seed(_IMAGE_SPLIT_SEED)
    train, test = [], []
    for digit in range(10):
        idx = torch.nonzero(labels == digit).flatten()
        idx = idx[torch.randperm(idx.numel(), generator=g)]
        n_test = round(idx.numel() * IMAGE_TEST_FRACTION)
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return images, labels, {"train": torch.cat(train).sort().values, "test": torch.cat(test).sort().values}


@lru_cache(maxsize=4)
def _clean_speech(source: str, audio_length: int
                  ) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...], torch.Tensor, torch.Tensor | None]:
    """All utterances of ``source``, padded/trimmed to ``audio_length``, with labels, speakers, lengths and
    (FSDD only) take numbers."""
    speech = load_spoken_digits(source)
    waveforms = pad_or_trim(speech.waveforms, audio_length)  # (M, L)
    lengths = torch.tensor([min(w.numel(), audio_length) for w in speech.waveforms])  # (M,)
    takes = fsdd_takes(speech) if source == "fsdd" else None  # (M,)
    return waveforms, speech.labels, tuple(speech.speakers), lengths, takes


def make_av_digits(split: str = "train", config: AVDigitsConfig | None = None) -> AVDigits:
    """Build the audio-visual digit pairs of ``split`` (``"train"`` or ``"test"``) as set by ``config``.

    Defined in notebook 01. Deterministic: the same ``config`` gives identical tensors. Train and
    test share no image and no speaker.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    config = AVDigitsConfig() if config is None else config
    if not isinstance(config, AVDigitsConfig):
        raise ValueError(f"config must be an AVDigitsConfig, got {type(config).__name__}")
    config.validate()
    gens = {s: _generator(config.seed, split, s) for s in _STREAMS}

    # 1. the utterances of this split's speakers (a random share of them if asked), repeated pairs_per_utterance times
    all_waves, all_labels, all_speakers, all_lengths, all_takes = _clean_speech(config.source, config.audio_length)
    if config.held_out == "takes":
        is_test = torch.isin(all_takes, torch.tensor(TEST_TAKES))  # (M,)
        keep = [i for i, t in enumerate(is_test.tolist()) if t == (split == "test")]
    else:
        held_out = TEST_VOICES if config.source == "bundled" else FSDD_TEST_SPEAKERS
        keep = [i for i, s in enumerate(all_speakers) if (s in held_out) == (split == "test")]
    if config.utterance_share < 1.0:
        n_kept = max(1, round(config.utterance_share * len(keep)))
        drawn = torch.randperm(len(keep), generator=gens["share"])[:n_kept].sort().values
        keep = [keep[int(j)] for j in drawn]
    rows = torch.tensor(keep).repeat(config.pairs_per_utterance)  # (N,)
    waveforms = all_waves[rows]  # (N, L)
    labels = all_labels[rows]  # (N,)
    lengths = all_lengths[rows]  # (N,)
    N = rows.numel()

    # 2. pair each utterance with a random image of the same label from this split's images
    digit_images, digit_labels, image_split = _image_split()
    pool = image_split[split]  # (M_split,)
    image_indices = torch.empty(N, dtype=torch.int64)  # (N,)
    for digit in range(10):
        slots = torch.nonzero(labels == digit).flatten()
        candidates = pool[digit_labels[pool] == digit]
        pick = torch.randint(candidates.numel(), (slots.numel(),), generator=gens["pairing"])
        image_indices[slots] = candidates[pick]
    clean_images = digit_images[image_indices].unsqueeze(1)  # (N, 1, 8, 8)

    # 3. degrade the speech: white noise at snr_db over each utterance's own samples
    if config.snr_db is not None:
        import torchaudio

        noise = torch.randn(waveforms.shape, generator=gens["audio_noise"])  # (N, L)
        snr = torch.full((N,), float(config.snr_db))  # (N,)
        noisy_waveforms = torchaudio.functional.add_noise(waveforms, noise, snr, lengths=lengths)  # (N, L)
    else:
        noisy_waveforms = waveforms.clone()

    # 3b. a competing talker: another row's clean utterance of a different digit, scaled so that
    #     10·log10(P_target / P_interferer) = interferer_snr_db, each power over its own samples
    interferers = None
    if config.interferer_snr_db is not None:
        interferers = _pick_interferers(labels, gens["interferer"])  # (N,)
        power = waveforms.pow(2).sum(dim=1) / lengths.clamp(min=1)  # (N,) mean power of each utterance
        p_target, p_other = power, power[interferers]  # (N,), (N,)
        scale = torch.sqrt(p_target / (p_other * 10 ** (config.interferer_snr_db / 10)))  # (N,)
        noisy_waveforms = noisy_waveforms + scale[:, None] * waveforms[interferers]  # (N, L)

    # 4. degrade the images: occlusion first (an object in front), then sensor noise on everything
    images = clean_images.clone()
    if config.occlusion > 0:
        images = occlude(images, config.occlusion, generator=gens["occlusion"])
    if config.pixel_noise_std > 0:
        images = add_pixel_noise(images, config.pixel_noise_std, generator=gens["pixel_noise"])

    # 5. missing modalities: zero the input and clear its flag
    has_audio = torch.rand(N, generator=gens["missing_audio"]) >= config.p_missing_audio  # (N,)
    has_image = torch.rand(N, generator=gens["missing_image"]) >= config.p_missing_image  # (N,)
    noisy_waveforms[~has_audio] = 0.0
    images[~has_image] = 0.0

    return AVDigits(
        images=images, waveforms=noisy_waveforms, labels=labels.clone(),
        speakers=[all_speakers[int(i)] for i in rows], has_audio=has_audio, has_image=has_image,
        sample_rate=SAMPLE_RATE, clean_images=clean_images, clean_waveforms=waveforms,
        image_indices=image_indices, interferers=interferers,
        takes=None if all_takes is None else all_takes[rows],
    )


def _pick_interferers(labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """For each row, a random other row whose label differs (the competing talker says another digit)."""
    N = labels.numel()
    if (labels == labels[0]).all():
        raise ValueError("a competing talker needs at least two different digits in the split")
    others = torch.randint(N, (N,), generator=generator)  # (N,)
    same = labels[others] == labels
    while same.any():  # redraw the rows that picked the same digit
        others[same] = torch.randint(N, (int(same.sum()),), generator=generator)
        same = labels[others] == labels
    return others
