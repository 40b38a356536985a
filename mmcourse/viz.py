"""Plotting helpers: one small picture per component.

Each function draws into a new figure (or into ``ax`` when one is given) and returns the figure, so
a notebook shows it statically first and a widget can redraw it with other settings.

- ``show_images``: a grid of images (grey or RGB) with optional titles;
- ``show_waveform_and_spectrogram``: a sound as a curve over time and as a log spectrogram;
- ``heatmap``: a matrix with labelled rows and columns (attention maps, similarity matrices);
- ``audio_player``: an HTML5 player for a waveform, to listen in JupyterLab.

Defined in notebook 00 (welcome); used by every notebook.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

__all__ = ["show_images", "show_waveform_and_spectrogram", "heatmap", "log_spectrogram", "audio_player"]


def _numpy(x, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().float().numpy()
    try:
        return np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array or tensor of numbers, got {type(x).__name__}") from None


def show_images(images, titles: Sequence[str] | None = None, ncols: int = 8, size: float = 1.3,
                cmap: str = "gray_r", suptitle: str | None = None):
    """Draw ``images`` in a grid: shape ``(N, H, W)`` grey, ``(N, H, W, 3)`` or ``(N, 3, H, W)`` RGB."""
    arr = _numpy(images, "images")
    if arr.ndim == 4 and arr.shape[1] in (1, 3) and arr.shape[-1] not in (1, 3):
        arr = arr.transpose(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (3, 4) or len(arr) == 0:
        raise ValueError(f"images must have shape (N, H, W) or (N, H, W, 3) with N >= 1, got {arr.shape}")
    if titles is not None and len(titles) != len(arr):
        raise ValueError(f"titles has {len(titles)} entries but there are {len(arr)} images")
    if not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols must be a positive int, got {ncols!r}")
    n = len(arr)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.3 if suptitle else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(np.clip(arr[i], 0, 1) if arr.ndim == 4 else arr[i], cmap=None if arr.ndim == 4 else cmap)
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def log_spectrogram(waveform, n_fft: int = 256, hop_length: int = 64) -> np.ndarray:
    """Log power spectrogram (dB) of a 1-D waveform, shape ``(n_fft // 2 + 1, frames)``."""
    wave = torch.as_tensor(_numpy(waveform, "waveform"))
    if wave.ndim != 1 or wave.numel() < n_fft:
        raise ValueError(f"waveform must be 1-D with at least n_fft={n_fft} samples, got shape {tuple(wave.shape)}")
    spec = torch.stft(wave, n_fft=n_fft, hop_length=hop_length, window=torch.hann_window(n_fft),
                      return_complex=True)
    # power in decibels, floored 80 dB below the peak
    power_db = 10 * torch.log10(spec.abs() ** 2 + 1e-10)
    return torch.clamp(power_db, min=power_db.max() - 80).numpy()


def show_waveform_and_spectrogram(waveform, sample_rate: int, title: str = "", axes=None):
    """Draw a waveform (amplitude over seconds) above its log spectrogram (frequency over seconds)."""
    wave = _numpy(waveform, "waveform")
    if wave.ndim != 1:
        raise ValueError(f"waveform must be 1-D (one channel), got shape {wave.shape}")
    if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive int (Hz), got {sample_rate!r}")
    if axes is None:
        fig, axes = plt.subplots(2, 1, figsize=(6, 4), sharex=True)
    else:
        fig = axes[0].figure
    seconds = np.arange(len(wave)) / sample_rate
    axes[0].plot(seconds, wave, lw=0.6)
    axes[0].set_ylabel("amplitude")
    axes[0].set_title(title)
    spec = log_spectrogram(wave)
    axes[1].imshow(spec, origin="lower", aspect="auto", cmap="magma",
                   extent=(0, len(wave) / sample_rate, 0, sample_rate / 2))
    axes[1].set_xlabel("time (s)")
    axes[1].set_ylabel("frequency (Hz)")
    fig.tight_layout()
    return fig


def heatmap(matrix, xlabels: Sequence[str] | None = None, ylabels: Sequence[str] | None = None,
            title: str = "", cmap: str = "viridis", annotate: bool = False, ax=None, colorbar: bool = True):
    """Draw a 2-D matrix with labelled axes; ``annotate`` writes each value in its cell."""
    arr = _numpy(matrix, "matrix")
    if arr.ndim != 2:
        raise ValueError(f"matrix must be 2-D, got shape {arr.shape}")
    for labels, size, which in ((xlabels, arr.shape[1], "xlabels"), (ylabels, arr.shape[0], "ylabels")):
        if labels is not None and len(labels) != size:
            raise ValueError(f"{which} has {len(labels)} entries but the matrix has {size} along that axis")
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(3, 0.5 * arr.shape[1] + 1.5), max(2.5, 0.4 * arr.shape[0] + 1)))
    else:
        fig = ax.figure
    image = ax.imshow(arr, cmap=cmap, aspect="auto")
    if xlabels is not None:
        ax.set_xticks(range(arr.shape[1]), [str(s) for s in xlabels], rotation=60, ha="right", fontsize=8)
    if ylabels is not None:
        ax.set_yticks(range(arr.shape[0]), [str(s) for s in ylabels], fontsize=8)
    if annotate:
        middle = (np.nanmax(arr) + np.nanmin(arr)) / 2
        for (i, j), v in np.ndenumerate(arr):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                    color="black" if v > middle else "white")
    if colorbar:
        fig.colorbar(image, ax=ax)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def audio_player(waveform, sample_rate: int):
    """An HTML5 audio player for a waveform (1-D), normalised to avoid clipping."""
    from IPython.display import Audio

    wave = _numpy(waveform, "waveform")
    if wave.ndim != 1:
        raise ValueError(f"waveform must be 1-D (one channel), got shape {wave.shape}")
    if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive int (Hz), got {sample_rate!r}")
    return Audio(wave, rate=int(sample_rate), normalize=True)
