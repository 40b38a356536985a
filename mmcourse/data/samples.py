"""Real photos and signals that ship with matplotlib: one example of each of several modalities.

Notebook 01 measures the characteristics of a modality (element representation, distribution,
structure, information, noise) on real data of several kinds. matplotlib installs a few sample
files in ``mpl-data/sample_data`` (read with ``matplotlib.cbook.get_sample_data``; no download):

- ``grace_hopper.jpg``: a colour photograph of Rear Admiral Grace Hopper, 600 × 512 pixels (image);
- ``eeg.dat``: 800 samples × 4 channels of EEG as raw float64, plotted over 10 s in matplotlib's
  "MRI with EEG" example (so 80 samples per second) with channels PG3, PG5, PG7, PG9 (time series);
- ``s1045.ima.gz``: one 256×256 MRI slice of a head, 16-bit unsigned integers (medical image);
- ``goog.npz``: daily prices of Google shares, 2004-08-19 onwards, a NumPy record array with fields
  date, open, high, low, close, volume, adj_close (a financial time series).

Defined in notebook 01 (modalities). Sources: matplotlib's ``sample_data`` and its gallery examples
"MRI with EEG" and the date-handling examples that read ``goog.npz``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["load_photo", "load_eeg", "load_mri", "load_stock_prices"]

EEG_SHAPE = (800, 4)  # (T, C): samples × channels, as in matplotlib's example
EEG_DURATION_S = 10.0
EEG_CHANNELS = ["PG3", "PG5", "PG7", "PG9"]
MRI_SHAPE = (256, 256)


def _sample_path(name: str) -> str:
    from matplotlib import cbook

    return cbook.get_sample_data(name, asfileobj=False)


def load_photo() -> np.ndarray:
    """The Grace Hopper photograph as float32 ``(H, W, 3)`` = ``(600, 512, 3)`` RGB in [0, 1].

    Defined in notebook 01.
    """
    from matplotlib import image

    pixels = image.imread(_sample_path("grace_hopper.jpg"))  # (H, W, 3) uint8
    return pixels.astype(np.float32) / 255.0


def load_eeg() -> tuple[np.ndarray, float, list[str]]:
    """The EEG recording: ``(signals (T, C) float64, sample_rate in Hz, channel names)``.

    Defined in notebook 01. ``T = 800`` samples over 10 s (80 Hz) and ``C = 4`` channels; each
    channel is already standardised (mean ≈ 0, standard deviation ≈ 1).
    """
    signals = np.fromfile(_sample_path("eeg.dat"), dtype="<f8")  # (T·C,)
    signals = signals.reshape(EEG_SHAPE)  # (T, C)
    return signals, EEG_SHAPE[0] / EEG_DURATION_S, list(EEG_CHANNELS)


def load_mri(normalize: bool = True) -> np.ndarray:
    """The MRI slice ``(256, 256)``: float32 in [0, 1] (divided by its maximum), or raw uint16.

    Defined in notebook 01. ``normalize=False`` gives the stored 16-bit intensities; zero is the
    background outside the head.
    """
    if not isinstance(normalize, bool):
        raise ValueError(f"normalize must be True or False, got {normalize!r}")
    import gzip

    with gzip.open(_sample_path("s1045.ima.gz"), "rb") as f:
        raw = np.frombuffer(f.read(), dtype="<u2").reshape(MRI_SHAPE)  # (256, 256)
    if not normalize:
        return raw.copy()
    return raw.astype(np.float32) / float(raw.max())


def load_stock_prices() -> tuple[np.ndarray, np.ndarray]:
    """Google's daily share prices: ``(dates (N,) datetime64[D], closing prices (N,) float64)``.

    Defined in notebook 01. ``N = 1047`` trading days from 2004-08-19, in date order.
    """
    with np.load(_sample_path("goog.npz")) as archive:
        table = archive["price_data"]  # (N,) record array
    return table["date"].astype("datetime64[D]"), table["close"].astype(np.float64)
