"""Real handwritten digits, offline: scikit-learn's 1,797 images of 8×8 pixels.

The visual modality of the course. The images ship inside scikit-learn (no download): they are
the test set of the UCI "Optical Recognition of Handwritten Digits" data, 32×32 bitmaps from 43
writers reduced to 8×8 blocks whose values count the ink (0 … 16). We scale them to [0, 1].

Defined in notebook 01 (modalities); used in notebooks 02, 04, 05, 06 and 07.
Sources: ``sklearn.datasets.load_digits`` (we read its file ``digits.csv.gz`` directly, which
skips the one-second import of ``sklearn.datasets``); E. Alpaydin and C. Kaynak, UCI Machine Learning
Repository, "Optical Recognition of Handwritten Digits" (1998).
"""
from __future__ import annotations

import importlib.util
import numbers
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

__all__ = ["load_digits", "train_test_split_indices"]


def _sklearn_csv() -> Path | None:
    """scikit-learn's own copy of the data, ``sklearn/datasets/data/digits.csv.gz``, found without importing it."""
    spec = importlib.util.find_spec("sklearn")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            return path
    return None


@lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    path = _sklearn_csv()
    if path is not None:  # fast path: importing sklearn.datasets takes about a second
        table = np.loadtxt(path, delimiter=",", dtype=np.float32)  # (N, 65): 64 pixels, then the label
        images, labels = table[:, :-1].reshape(-1, 8, 8), table[:, -1]  # (N, 8, 8), (N,)
    else:
        from sklearn.datasets import load_digits as sk_load_digits

        bunch = sk_load_digits()
        images, labels = bunch.images, bunch.target  # (N, 8, 8), (N,)
    return images.astype(np.float32) / 16.0, labels.astype(np.int64)


def load_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """The 1,797 real digit images as float32 ``(N, 8, 8)`` in [0, 1] and their int64 labels ``(N,)``.

    Defined in notebook 01. Each call returns fresh tensors (safe to modify).
    """
    images, labels = _digits_arrays()
    return torch.tensor(images), torch.tensor(labels)  # (N, 8, 8), (N,)


def train_test_split_indices(n: int, test_fraction: float = 0.25, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Shuffle ``0 … n-1`` with ``seed`` and cut it into disjoint, sorted train and test index tensors.

    Defined in notebook 01. The test part has ``round(n · test_fraction)`` indices (at least one,
    and at least one index is left for training).
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 2:
        raise ValueError(f"n must be an int >= 2, got {n!r}")
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, numbers.Real) or not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be a number strictly between 0 and 1, got {test_fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    n_test = min(max(round(n * test_fraction), 1), n - 1)
    order = torch.randperm(int(n), generator=torch.Generator().manual_seed(int(seed)))  # (n,)
    return order[n_test:].sort().values, order[:n_test].sort().values  # (n - n_test,), (n_test,)
