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
  the decision;
- ``SideBySide`` and ``train_side_by_side``: K copies of the model (one per seed) trained in
  lock-step, each on its own shuffling, as if each were trained alone: the GRU's equations written
  out for the K models at once, so that three seeds train in about half the time of three runs
  one after the other.

Letters: N or B recordings, T frames, M mel bands, K models, H hidden units, C classes.

Defined in notebook 03c (real voices); the model is notebook 03's.
Sources: B. Atal (1974) and S. Furui (1981), cepstral mean normalisation; D. S. Park et al.,
"SpecAugment: A Simple Data Augmentation Method for Automatic Speech Recognition", Interspeech 2019.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from tqdm.auto import tqdm

from mmcourse.attention import AttentionPooling, padding_mask
from mmcourse.data.speech import SpokenDigits, log_mel_spectrogram, pad_or_trim
from mmcourse.training import TrainConfig, adamw_step, learning_rate, show_progress

__all__ = ["frames_and_mask", "SpokenDigitAttention", "normalise_per_utterance", "mask_bands_and_frames",
           "draw_masks", "spec_augment", "reverse_real_frames", "SideBySide", "train_side_by_side"]


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


def reverse_real_frames(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``x`` ``(..., B, T, C)`` with the first ``lengths[..., b]`` frames of each recording in reverse order.

    Defined in notebook 03c. The padding stays where it is, so the result is padded at the end like ``x``:
    what a packed sequence gives the backward direction of a bidirectional GRU. Reversing twice gives ``x``.
    """
    t = torch.arange(x.shape[-2], device=x.device)  # (T,)
    # frame t of recording b comes from frame L_b − 1 − t while t < L_b, else it stays
    source = torch.where(t < lengths[..., None], lengths[..., None] - 1 - t, t)  # (..., B, T)
    return x.gather(-2, source.unsqueeze(-1).expand(*source.shape, x.shape[-1]))


class SideBySide(nn.Module):
    """K ``SpokenDigitAttention`` models evaluated at once: each parameter stacked along a first axis K.

    Defined in notebook 03c. ``forward(x (K, B, T, M), mask (K, B, T)) -> logits (K, B, C)``: model k reads
    batch k. The same maths as each model alone (the GRU over the real frames only, attention pooling,
    the classifier), in batched matrix products; ``unstack()`` gives the K models back.
    """

    def __init__(self, models: Sequence[SpokenDigitAttention]):
        super().__init__()
        if not models or not all(isinstance(m, SpokenDigitAttention) for m in models):
            raise ValueError("models must be a non-empty list of SpokenDigitAttention")
        if len({tuple(p.shape for p in m.parameters()) for m in models}) != 1:
            raise ValueError("the models must all have the same sizes (n_mels, hidden, attn_dim, classes)")
        self.K = len(models)

        def stacked(get):  # one parameter (K, ...) from one tensor of each model
            return nn.Parameter(torch.stack([get(m).detach() for m in models]).clone())

        # the GRU's (2K, 3H, M), (2K, 3H, H), (2K, 3H), (2K, 3H): the K forward directions, then the K backward
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            directions = [getattr(m.encoder, f"{name}_l0{d}") for d in ("", "_reverse") for m in models]
            setattr(self, name, nn.Parameter(torch.stack(directions).detach().clone()))
        self.W = stacked(lambda m: m.pool.W.weight)  # (K, attn_dim, 2H)
        self.q = stacked(lambda m: m.pool.q)  # (K, attn_dim)
        self.classifier_weight = stacked(lambda m: m.classifier.weight)  # (K, C, 2H)
        self.classifier_bias = stacked(lambda m: m.classifier.bias)  # (K, C)

    def encode(self, x, mask):
        """h_t of the K bidirectional GRUs over the real frames, 0 at the padding: (K, B, T, 2H)."""
        K, B, T, M = x.shape
        H = self.weight_hh.shape[2]
        lengths = mask.sum(dim=-1)  # (K, B)
        # both directions read their recording from its first real frame: the backward one reversed
        x2 = torch.cat([x, reverse_real_frames(x, lengths)])  # (2K, B, T, M)
        # W_i x_t + b_i for every frame at once, then split into the parts of r, z and n
        gi = torch.baddbmm(self.bias_ih[:, None], x2.reshape(2 * K, B * T, M), self.weight_ih.transpose(1, 2))
        gi_r, gi_z, gi_n = (g.unbind(2) for g in gi.view(2 * K, B, T, 3 * H).chunk(3, dim=-1))  # T × (2K, B, H)
        w_hh = self.weight_hh.transpose(1, 2)  # (2K, H, 3H)
        # where each batch is sorted longest first, frame t needs only the first Bt recordings, still speaking
        longest_first = bool((lengths[:, 1:] <= lengths[:, :-1]).all())
        active = (lengths > torch.arange(T)[:, None, None]).sum(-1).amax(-1).tolist() if longest_first else [B] * T
        h = x.new_zeros(2 * K, B, H)  # h_0 = 0
        outputs = []
        for t in range(T):
            Bt = active[t]
            h = h[:, :Bt]
            # W_h h_{t−1} + b_h  (2K, Bt, 3H)
            gh_r, gh_z, gh_n = torch.baddbmm(self.bias_hh[:, None], h, w_hh).chunk(3, dim=-1)
            # r_t = σ(W_ir x_t + b_ir + W_hr h_{t−1} + b_hr), z_t = σ(W_iz x_t + b_iz + W_hz h_{t−1} + b_hz)
            r = torch.sigmoid(gi_r[t][:, :Bt] + gh_r)  # (2K, Bt, H)
            z = torch.sigmoid(gi_z[t][:, :Bt] + gh_z)
            # n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t−1} + b_hn))
            n = torch.tanh(gi_n[t][:, :Bt] + r * gh_n)
            # h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t−1}
            h = n + z * (h - n)
            outputs.append(h if Bt == B else F.pad(h, (0, 0, 0, B - Bt)))
        out = torch.stack(outputs, dim=2)  # (2K, B, T, H); frames past a recording's end are dropped below
        out = torch.cat([out[:K], reverse_real_frames(out[K:], lengths)], dim=-1)  # (K, B, T, 2H)
        return out * mask.unsqueeze(-1)

    def attend(self, x, mask):
        """Logits (K, B, C) and the attention weights a_t (K, B, T) of the K models."""
        h = self.encode(x, mask)  # (K, B, T, 2H)
        # u_t = tanh(W h_t), e_t = qᵀ u_t
        u = torch.tanh(h @ self.W.transpose(1, 2).unsqueeze(1))  # (K, B, T, attn_dim)
        e = (u * self.q[:, None, None, :]).sum(dim=-1)  # (K, B, T)
        # a = softmax(e) over the real frames; context = Σ_t a_t h_t
        a = e.masked_fill(~mask, float("-inf")).softmax(dim=-1)  # (K, B, T)
        context = (a.unsqueeze(-1) * h).sum(dim=2)  # (K, B, 2H)
        return torch.baddbmm(self.classifier_bias[:, None], context, self.classifier_weight.transpose(1, 2)), a

    def forward(self, x, mask):
        return self.attend(x, mask)[0]  # (K, B, C)

    def unstack(self) -> list[SpokenDigitAttention]:
        """The K models as ``SpokenDigitAttention``, with the stacked weights, in evaluation mode."""
        sizes = dict(n_mels=self.weight_ih.shape[2], hidden=self.weight_hh.shape[2], attn_dim=self.W.shape[1],
                     classes=self.classifier_bias.shape[1])
        models = []
        for k in range(self.K):
            model = SpokenDigitAttention(**sizes)
            with torch.no_grad():
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(model.encoder, f"{name}_l0").copy_(getattr(self, name)[k])
                    getattr(model.encoder, f"{name}_l0_reverse").copy_(getattr(self, name)[self.K + k])
                model.pool.W.weight.copy_(self.W[k])
                model.pool.q.copy_(self.q[k])
                model.classifier.weight.copy_(self.classifier_weight[k])
                model.classifier.bias.copy_(self.classifier_bias[k])
            models.append(model.eval())
        return models


def train_side_by_side(models: Sequence[SpokenDigitAttention], tensors: Sequence[torch.Tensor], seeds: Sequence[int],
                       config: TrainConfig | None = None,
                       augment: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None):
    """Train each model on ``tensors = (x (N, T, M), mask (N, T), y (N,))`` with the cross-entropy, side by side.

    Defined in notebook 03c. Model k is trained as ``mmcourse.training.train`` would train it with
    ``replace(config, seed=seeds[k])``: the same shuffling, batches, AdamW steps (``training.adamw_step``,
    as torch takes them) and schedule, so the same model up to rounding. ``augment(x, mask)`` changes
    each batch (the K batches flattened to ``(K·B, T, M)``), if given. Returns the trained models, in
    evaluation mode.
    """
    config = config or TrainConfig()
    if len(seeds) != len(models):
        raise ValueError(f"one seed per model: got {len(seeds)} seeds for {len(models)} models")
    if len(tensors) != 3 or len({len(t) for t in tensors}) != 1:
        raise ValueError("tensors must be (x (N, T, M), mask (N, T), y (N,)) with the same N")
    x, mask, y = _frames(tensors[0]), _mask(tensors[1], tensors[0]), tensors[2]
    stack = SideBySide(models).train()
    K, n = len(models), len(x)
    params = list(stack.parameters())
    state = []  # AdamW's step counts and moments
    total_steps, step = config.epochs * math.ceil(n / config.batch_size), 0
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]  # model k's own shuffling
    lengths = mask.sum(dim=1)  # (N,)
    epochs = tqdm(range(config.epochs), desc=f"training {K} side by side", leave=False,
                  disable=not show_progress(config.progress))
    for _ in epochs:
        orders = torch.stack([torch.randperm(n, generator=g) for g in generators])  # (K, N)
        for start in range(0, n, config.batch_size):
            idx = orders[:, start:start + config.batch_size]  # (K, B)
            # longest recordings first in each batch (the mean loss does not depend on the order)
            idx = idx.gather(1, lengths[idx].argsort(dim=1, descending=True, stable=True))
            xb, mb, yb = x[idx], mask[idx], y[idx]  # (K, B, T, M), (K, B, T), (K, B)
            if augment is not None:
                xb = augment(xb.flatten(0, 1), mb.flatten(0, 1)).view_as(xb)
            logits = stack(xb, mb)  # (K, B, C)
            # Σ_k (mean cross-entropy of model k): each model's gradient is that of its own loss
            losses = F.cross_entropy(logits.flatten(0, 1), yb.flatten(), reduction="none").view(K, -1).mean(1)
            grads = torch.autograd.grad(losses.sum(), params)
            adamw_step(params, grads, state, learning_rate(config, step, total_steps), config.weight_decay)
            step += 1
    return stack.unstack()

