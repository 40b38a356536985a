"""Voices a model never heard: the features and augmentations that help a speech model generalise.

Notebook 03's digit classifier is trained on some voices and tested on others. On real speech (the
Free Spoken Digit Dataset) every speaker also brings their own microphone, room and vocal tract, and
a model trained on four speakers may learn those instead of the words. This module holds what
notebook 03c measures against that:

- ``frames_and_mask``: the log-mel front end of notebook 03 for a ``SpokenDigits`` set: frames
  ``(N, T, M)`` and a padding mask ``(N, T)``;
- ``SpokenDigitAttention``: notebook 03's model (a bidirectional GRU over the real frames, the
  lecture's five attention steps, a linear classifier), so that 03c trains the same network;
- ``normalise_per_utterance``: subtract from each mel band its mean over the recording's own real
  frames. A fixed filter (microphone, room, the speaker's overall timbre) multiplies the power in each
  band by a constant, so it *adds* a constant per band to a log-mel spectrogram; this removes it
  (cepstral mean normalisation, in the mel domain);
- ``mask_bands_and_frames`` and ``spec_augment``: SpecAugment-style masking. Random blocks of
  mel bands and of frames are hidden during training, so that no single band or moment can carry
  the decision.

Letters: N or B recordings, T frames, M mel bands.

Defined in notebook 03c (real voices); the model is notebook 03's.
Sources: B. Atal (1974) and S. Furui (1981), cepstral mean normalisation; D. S. Park et al.,
"SpecAugment: A Simple Data Augmentation Method for Automatic Speech Recognition", Interspeech 2019.
"""
from __future__ import annotations

import numbers

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from mmcourse.attention import AttentionPooling, padding_mask
from mmcourse.data.speech import SpokenDigits, log_mel_spectrogram, pad_or_trim

__all__ = ["frames_and_mask", "SpokenDigitAttention", "normalise_per_utterance", "mask_bands_and_frames",
           "draw_masks", "spec_augment"]


def _int_at_least(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)


def _frames(x, name: str = "x") -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not torch.is_floating_point(x) or x.ndim != 3:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a float tensor (B, T, M) of log-mel frames, got {got}")
    return x


def _mask(mask, x: torch.Tensor, name: str = "mask") -> torch.Tensor:
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.shape != x.shape[:2]:
        got = f"{mask.dtype} {tuple(mask.shape)}" if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ValueError(f"{name} must be a boolean tensor (B, T) = {tuple(x.shape[:2])}, True at real frames, "
                         f"got {got}")
    if not mask.any(dim=1).all():
        raise ValueError(f"{name} has a recording with no real frame (row {int((~mask.any(dim=1)).nonzero()[0])}): "
                         "its mean is undefined")
    return mask


def frames_and_mask(data: SpokenDigits, length: int, hop_length: int, n_fft: int = 256, n_mels: int = 32):
    """Log-mel frames ``(N, T, n_mels)`` of every recording cut or padded to ``length`` samples, and the mask.

    Defined in notebook 03c (notebook 03 writes the same steps in its cells). Windows of ``n_fft``
    samples every ``hop_length`` samples, ``T = 1 + length // hop_length``; the mask ``(N, T)`` is True
    at the frames that hold the recording, False at the padding (whose frames hold ``log(eps)``).
    """
    if not isinstance(data, SpokenDigits) or len(data) == 0:
        raise ValueError(f"data must be a non-empty SpokenDigits, got {type(data).__name__}")
    length = _int_at_least(length, "length", 1)
    hop_length = _int_at_least(hop_length, "hop_length", 1)
    spectrograms = log_mel_spectrogram(pad_or_trim(data.waveforms, length), sample_rate=data.sample_rate,
                                       n_mels=n_mels, n_fft=n_fft, hop_length=hop_length)  # (N, M, T)
    frames = spectrograms.transpose(1, 2).contiguous()  # (N, T, M)
    lengths = torch.tensor([1 + min(len(w), length) // hop_length for w in data.waveforms])  # (N,)
    return frames, padding_mask(lengths, frames.shape[1])


class SpokenDigitAttention(nn.Module):
    """Notebook 03's model: a bidirectional GRU over the real frames (packed), attention pooling, a classifier.

    Defined in notebook 03 (in its cells); kept here for notebook 03c. ``forward(x (B, T, M), mask
    (B, T)) -> logits (B, classes)``; ``attend`` also returns the attention weights ``(B, T)``.
    """

    def __init__(self, n_mels: int = 32, hidden: int = 32, attn_dim: int = 32, classes: int = 10):
        super().__init__()
        self.encoder = nn.GRU(_int_at_least(n_mels, "n_mels", 1), _int_at_least(hidden, "hidden", 1),
                              batch_first=True, bidirectional=True)
        self.pool = AttentionPooling(2 * hidden, attn_dim)
        self.classifier = nn.Linear(2 * hidden, _int_at_least(classes, "classes", 2))

    def encode(self, x, mask):
        """Step 1: h_t for the real frames of each recording, 0 at the padding: (B, T, 2·hidden)."""
        packed = pack_padded_sequence(x, mask.sum(dim=1).cpu(), batch_first=True, enforce_sorted=False)
        h, _ = pad_packed_sequence(self.encoder(packed)[0], batch_first=True, total_length=x.shape[1])
        return h  # (B, T, 2·hidden)

    def attend(self, x, mask):
        """Logits (B, classes) and the attention weights a_t (B, T) of steps 2-5."""
        context, weights = self.pool(self.encode(x, mask), mask)  # (B, 2·hidden), (B, T)
        return self.classifier(context), weights

    def forward(self, x, mask):
        return self.attend(x, mask)[0]  # (B, classes)


def normalise_per_utterance(x, mask) -> torch.Tensor:
    """Each recording's mel bands minus their mean over its own real frames; the padding stays 0.

    Defined in notebook 03c (exercise 3c.1). ``x`` is ``(B, T, M)`` log-mel frames, ``mask`` ``(B, T)``
    is True at real frames. Returns ``(B, T, M)``.
    """
    x = _frames(x)
    m = _mask(mask, x).unsqueeze(-1).to(x.dtype)  # (B, T, 1): 1 at real frames
    # μ_{b,m} = Σ_t mask_{b,t} x_{b,t,m} / Σ_t mask_{b,t}: the mean of band m over recording b's real frames
    mean = (x * m).sum(dim=1, keepdim=True) / m.sum(dim=1, keepdim=True)  # (B, 1, M)
    # x̃_{b,t,m} = (x_{b,t,m} − μ_{b,m}) at real frames, 0 at the padding
    return (x - mean) * m  # (B, T, M)


def _per_recording(value, B: int, name: str) -> torch.Tensor:
    t = torch.as_tensor(value)
    if t.dtype == torch.bool or t.is_floating_point() or t.shape not in ((), (B,)) or (t < 0).any():
        raise ValueError(f"{name} must be an int >= 0 or a tensor of {B} such ints (one per recording), "
                         f"got {value!r}")
    return t.expand(B).long()


def mask_bands_and_frames(x, band_start, band_width, frame_start, frame_width) -> torch.Tensor:
    """A copy of ``x`` with, in each recording b, the bands ``[band_start[b], band_start[b] + band_width[b])``
    and the frames ``[frame_start[b], frame_start[b] + frame_width[b])`` set to 0.

    Defined in notebook 03c (exercise 3c.2). ``x`` is ``(B, T, M)`` frames normalised to mean 0, so a
    masked block holds the recording's mean. Each argument is an int or one int per recording ``(B,)``.
    """
    x = _frames(x)
    B, T, M = x.shape
    f0, fw = _per_recording(band_start, B, "band_start"), _per_recording(band_width, B, "band_width")
    t0, tw = _per_recording(frame_start, B, "frame_start"), _per_recording(frame_width, B, "frame_width")
    bands = torch.arange(M)  # (M,)
    hidden_bands = (bands >= f0[:, None]) & (bands < (f0 + fw)[:, None])  # (B, M)
    frames = torch.arange(T)  # (T,)
    hidden_frames = (frames >= t0[:, None]) & (frames < (t0 + tw)[:, None])  # (B, T)
    hidden = hidden_bands[:, None, :] | hidden_frames[:, :, None]  # (B, T, M)
    return x.masked_fill(hidden.to(x.device), 0.0)


def draw_masks(mask, n_mels: int, max_bands: int, max_frames: int, generator: torch.Generator | None = None):
    """Random SpecAugment blocks for a batch: ``(band_start, band_width, frame_start, frame_width)``, each ``(B,)``.

    Defined in notebook 03c. Widths are uniform in ``0 … max_bands`` and ``0 … max_frames``; a block
    starts anywhere it fits, the frames' block inside the recording's real frames (``mask`` ``(B, T)``).
    """
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.ndim != 2:
        raise ValueError(f"mask must be a boolean tensor (B, T), got {getattr(mask, 'shape', type(mask).__name__)}")
    n_mels = _int_at_least(n_mels, "n_mels", 1)
    max_bands = _int_at_least(max_bands, "max_bands", 0)
    max_frames = _int_at_least(max_frames, "max_frames", 0)
    if max_bands > n_mels:
        raise ValueError(f"max_bands must be at most n_mels = {n_mels}, got {max_bands}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    B = mask.shape[0]
    lengths = mask.sum(dim=1).cpu()  # (B,) real frames
    band_width = torch.randint(0, max_bands + 1, (B,), generator=generator)
    band_start = (torch.rand(B, generator=generator) * (n_mels - band_width + 1)).long()
    frame_width = torch.minimum(torch.randint(0, max_frames + 1, (B,), generator=generator), lengths)
    frame_start = (torch.rand(B, generator=generator) * (lengths - frame_width + 1)).long()
    return band_start, band_width, frame_start, frame_width


def spec_augment(x, mask, max_bands: int, max_frames: int, generator: torch.Generator | None = None,
                 masker=None) -> torch.Tensor:
    """``x`` ``(B, T, M)`` with one random block of bands and one of frames hidden in each recording.

    Defined in notebook 03c. ``masker`` (default ``mask_bands_and_frames``) applies the drawn blocks.
    """
    x = _frames(x)
    masker = mask_bands_and_frames if masker is None else masker
    return masker(x, *draw_masks(mask, x.shape[2], max_bands, max_frames, generator))
