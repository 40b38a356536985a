"""Noise as a property of a modality: additive noise at an SNR, occlusion and pixel noise.

The lecture lists *noise* among the six characteristics of a modality: a signal is never observed
perfectly. This module makes the three kinds the course measures:

- **additive noise at a signal-to-noise ratio** (audio). With signal power
  ``P_s = mean(x²)`` and noise power ``P_n = mean(n²)``, the SNR in decibels is
  ``SNR_dB = 10·log10(P_s / P_n)``. To reach a target SNR we scale the noise by
  ``a = sqrt(P_s / (P_n · 10^(SNR_dB/10)))`` and return ``x + a·n``
  (``torchaudio.functional.add_noise`` is the library version; the tests compare the two);
- **occlusion** (images): a square patch covering about a given fraction of the image is hidden;
- **pixel noise** (images): Gaussian noise added to every pixel, then clipped to the valid range.

Defined in notebook 01 (modalities); used in notebooks 02 and 05 (fusion under noise).
Sources: the lecture "Multimodal Data Processing" (characteristics of modalities: noise);
the definition of SNR in decibels; torchaudio's ``add_noise`` for the reference.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
import torch

__all__ = ["add_noise_at_snr", "measure_snr_db", "occlude", "add_pixel_noise"]


def _check_generator(generator) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")


def _randn(shape, generator, like: torch.Tensor) -> torch.Tensor:
    """Standard normal draws of ``shape`` from ``generator`` (or torch's global RNG), on ``like``'s device."""
    device = generator.device if generator is not None else like.device
    return torch.randn(shape, generator=generator, device=device).to(like.device, like.dtype)


def _rand(shape, generator, like: torch.Tensor) -> torch.Tensor:
    device = generator.device if generator is not None else like.device
    return torch.rand(shape, generator=generator, device=device).to(like.device)


def _float_tensor(x, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        if not torch.is_floating_point(x):
            x = x.float()
        return x
    raise ValueError(f"{name} must be a float torch.Tensor, got {type(x).__name__}")


def _snr_tensor(snr_db, batch: int | None, like: torch.Tensor) -> torch.Tensor:
    """``snr_db`` as a tensor of shape ``()`` (one signal) or ``(B,)`` (one value per row)."""
    if isinstance(snr_db, bool) or not isinstance(snr_db, (numbers.Real, torch.Tensor, np.ndarray)):
        raise ValueError(f"snr_db must be a finite number or a tensor of numbers, got {snr_db!r}")
    snr = torch.as_tensor(snr_db, dtype=like.dtype, device=like.device)
    if not torch.isfinite(snr).all():
        raise ValueError(f"snr_db must be finite (in dB), got {snr_db!r}")
    if snr.ndim == 0:
        return snr if batch is None else snr.expand(batch)  # (B,)
    if batch is None or snr.shape != (batch,):
        expected = "a scalar" if batch is None else f"a scalar or shape ({batch},)"
        raise ValueError(f"snr_db must be {expected} for waveform of this shape, got shape {tuple(snr.shape)}")
    return snr


def add_noise_at_snr(waveform, snr_db, generator: torch.Generator | None = None, noise=None) -> torch.Tensor:
    """Return ``waveform + a·noise`` with ``a`` chosen so that ``10·log10(P_signal / P_noise) = snr_db``.

    Defined in notebook 01. ``waveform`` is one signal ``(T,)`` or a batch ``(B, T)``; ``snr_db`` is a
    number or, for a batch, one value per row ``(B,)``. ``noise`` (same shape as ``waveform``)
    defaults to white Gaussian noise drawn from ``generator``. Powers are averages over the last
    dimension, so each row gets its own scale. The result equals
    ``torchaudio.functional.add_noise(waveform, noise, snr)``.
    """
    x = _float_tensor(waveform, "waveform")
    if x.ndim not in (1, 2) or x.shape[-1] == 0:
        raise ValueError(f"waveform must have shape (T,) or (B, T) with T > 0, got {tuple(x.shape)}")
    _check_generator(generator)
    snr = _snr_tensor(snr_db, x.shape[0] if x.ndim == 2 else None, x)  # () or (B,)
    if noise is None:
        n = _randn(x.shape, generator, x)  # (B, T) or (T,)
    else:
        n = _float_tensor(noise, "noise").to(x.device, x.dtype)
        if n.shape != x.shape:
            raise ValueError(f"noise must have the shape of waveform {tuple(x.shape)}, got {tuple(n.shape)}")
    # P_s = mean_t x_t²,  P_n = mean_t n_t²
    p_signal = x.pow(2).mean(dim=-1)  # () or (B,)
    p_noise = n.pow(2).mean(dim=-1)  # () or (B,)
    if (p_noise == 0).any():
        raise ValueError("noise has zero power in at least one row: it cannot be scaled to an SNR")
    # a = sqrt(P_s / (P_n · 10^(SNR/10)))
    scale = torch.sqrt(p_signal / (p_noise * 10 ** (snr / 10)))  # () or (B,)
    return x + scale.unsqueeze(-1) * n  # (B, T) or (T,)


def measure_snr_db(clean, noisy):
    """``10·log10(P_clean / P_(noisy − clean))``: the SNR of ``noisy`` against its ``clean`` version.

    Defined in notebook 01. Returns a float for ``(T,)`` inputs and a tensor ``(B,)`` for ``(B, T)``.
    Identical signals give ``inf``.
    """
    c = _float_tensor(clean, "clean")
    y = _float_tensor(noisy, "noisy")
    if c.ndim not in (1, 2) or c.shape[-1] == 0:
        raise ValueError(f"clean must have shape (T,) or (B, T) with T > 0, got {tuple(c.shape)}")
    if y.shape != c.shape:
        raise ValueError(f"noisy must have the shape of clean {tuple(c.shape)}, got {tuple(y.shape)}")
    p_signal = c.double().pow(2).mean(dim=-1)  # () or (B,)
    p_noise = (y.double() - c.double()).pow(2).mean(dim=-1)  # () or (B,)
    snr = 10 * torch.log10(p_signal / p_noise)  # () or (B,)
    return float(snr) if c.ndim == 1 else snr.to(c.dtype)


def _check_images(images) -> torch.Tensor:
    x = _float_tensor(images, "images")
    if x.ndim not in (3, 4) or x.shape[-1] == 0 or x.shape[-2] == 0:
        raise ValueError(f"images must have shape (N, H, W) or (N, C, H, W), got {tuple(x.shape)}")
    return x


def occlude(images, fraction: float, generator: torch.Generator | None = None, fill: float = 0.0) -> torch.Tensor:
    """Hide one random square patch per image, covering about ``fraction`` of its area.

    Defined in notebook 01. ``images`` is ``(N, H, W)`` or ``(N, C, H, W)`` (the same patch in every
    channel). The patch side is ``round(sqrt(fraction·H·W))``, at most ``min(H, W)``, so the hidden
    area is ``fraction`` up to rounding (for 8×8 digits: 0.25 → a 4×4 patch). Its top-left corner
    is uniform over the positions where it fits. Returns a new tensor; ``images`` is unchanged.
    """
    x = _check_images(images)
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be a number in [0, 1], got {fraction!r}")
    if isinstance(fill, bool) or not isinstance(fill, numbers.Real) or not math.isfinite(fill):
        raise ValueError(f"fill must be a finite number, got {fill!r}")
    _check_generator(generator)
    N, H, W = x.shape[0], x.shape[-2], x.shape[-1]
    side = min(round(math.sqrt(fraction * H * W)), H, W)
    if side == 0:
        return x.clone()
    # top-left corners, uniform over the (H - side + 1) × (W - side + 1) valid positions
    top = (_rand((N,), generator, x) * (H - side + 1)).long()  # (N,)
    left = (_rand((N,), generator, x) * (W - side + 1)).long()  # (N,)
    rows = torch.arange(H, device=x.device)  # (H,)
    cols = torch.arange(W, device=x.device)  # (W,)
    in_rows = (rows >= top[:, None]) & (rows < top[:, None] + side)  # (N, H)
    in_cols = (cols >= left[:, None]) & (cols < left[:, None] + side)  # (N, W)
    mask = in_rows[:, :, None] & in_cols[:, None, :]  # (N, H, W)
    if x.ndim == 4:
        mask = mask[:, None]  # (N, 1, H, W): the same patch in every channel
    return x.masked_fill(mask, fill)


def add_pixel_noise(images, std: float, generator: torch.Generator | None = None, clip=(0.0, 1.0)) -> torch.Tensor:
    """Add Gaussian noise ``N(0, std²)`` to every pixel, then clip to ``clip`` (``None``: no clipping).

    Defined in notebook 01. ``images`` is ``(N, H, W)`` or ``(N, C, H, W)``; returns a new tensor.
    """
    x = _check_images(images)
    if isinstance(std, bool) or not isinstance(std, numbers.Real) or not math.isfinite(std) or std < 0:
        raise ValueError(f"std must be a finite number >= 0, got {std!r}")
    if clip is not None:
        ok = isinstance(clip, (tuple, list)) and len(clip) == 2
        ok = ok and all(isinstance(c, numbers.Real) and not isinstance(c, bool) for c in clip)
        if not ok or not clip[0] < clip[1]:
            raise ValueError(f"clip must be None or a pair (low, high) with low < high, got {clip!r}")
    _check_generator(generator)
    noisy = x + std * _randn(x.shape, generator, x)  # same shape as images
    return noisy if clip is None else noisy.clamp(float(clip[0]), float(clip[1]))
