"""Measuring a modality: the six characteristics of the lecture, each as a number.

Lecture 11 ("Multimodal Data Processing") says that modalities differ in their element
representations, element distributions, structure, information, noise and relevance. This module
turns each of them into something one can compute on real data:

1. elements: ``element_summary`` (dtype, distinct values, granularity, bits per element);
2. distributions: ``value_counts`` and ``zipf_fit`` (slope of log frequency over log rank);
3. structure: ``neighbour_correlation`` (spatial, at a distance), ``autocorrelation`` (temporal),
   ``pca_variance_explained`` (latent);
4. information: ``entropy`` H(·) in bits, ``entropy_of_samples``, ``compression_ratio`` (zlib);
5. noise and 6. relevance: ``fit_quick_classifier`` and ``task_accuracy`` (how well a quick
   classifier does one task from one input), ``relevance_score`` (accuracy above chance).

Additive noise at an SNR and occlusion live in ``mmcourse.noise``; the connections *between*
modalities (mutual information, lead/lag) in ``mmcourse.connections``.

Defined in notebook 01 (modalities). Sources: C. E. Shannon, "A Mathematical Theory of
Communication" (1948); G. K. Zipf, "Human Behavior and the Principle of Least Effort" (1949).
"""
from __future__ import annotations

import math
import zlib
from collections import Counter

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from mmcourse.core import as_tensor

__all__ = [
    "element_summary", "value_counts", "entropy", "entropy_of_samples", "compression_ratio",
    "zipf_fit", "neighbour_correlation", "autocorrelation", "pca_variance_explained",
    "fit_quick_classifier", "task_accuracy", "relevance_score",
]


def _is_tokens(values) -> bool:
    return isinstance(values, (list, tuple)) and len(values) > 0 and isinstance(values[0], str)


# ---------------------------------------------------------------- 1. element representations
def _grid_step(levels: np.ndarray) -> tuple[float, bool]:
    """The step of the grid that the sorted distinct ``levels`` lie on, and whether there is one.

    The step is the smallest gap between levels, or a fraction 1/d of it (d ≤ 16) when some grid
    points are never seen; without a grid, the smallest gap and False.
    """
    if levels.size < 2:
        return float("nan"), True
    smallest_gap = float(np.diff(levels).min())
    for d in range(1, 17):
        ratio = levels / (smallest_gap / d)
        # quantised: every level v is (close to) an integer multiple of the step, v / step ∈ ℤ
        if np.all(np.abs(ratio - np.round(ratio)) < 1e-3):
            return smallest_gap / d, True
    return smallest_gap, False


def element_summary(values) -> dict:
    """How the elements of one modality are represented: a dict of numbers for a table.

    Defined in notebook 01. ``values`` is a tensor/array (pixels, samples) or a list of tokens.
    Keys: ``dtype``; ``elements``; ``distinct`` (different values seen); ``step`` (the granularity:
    the spacing of the grid the values lie on, else the smallest gap between two of them);
    ``discrete`` (symbols, integers, or numbers that all lie on such a grid, i.e. quantised);
    ``storage_bits`` (bits the dtype spends per element; for tokens, the UTF-8 bits of an average
    token) and ``needed_bits`` = log2(distinct), the bits of a fixed-length code for the values seen.
    """
    if _is_tokens(values):
        dtype, n, distinct, step, discrete = "str (token)", len(values), len(set(values)), float("nan"), True
        storage = 8 * sum(len(t.encode("utf-8")) for t in values) / n  # UTF-8 bits of an average token
    else:
        arr = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
        if arr.size == 0 or arr.dtype.kind not in "biuf":
            raise ValueError(f"values must be a non-empty numeric array or a list of tokens, got {arr.dtype} "
                             f"with {arr.size} elements")
        levels = np.unique(arr.astype(np.float64))  # sorted distinct values
        dtype, n, distinct, storage = str(arr.dtype), int(arr.size), int(levels.size), float(arr.dtype.itemsize * 8)
        step, discrete = _grid_step(levels)
        discrete = discrete or arr.dtype.kind in "biu"
    # bits of a fixed-length code for `distinct` symbols: log2 |V|
    needed = math.log2(distinct) if distinct > 1 else 0.0
    return {"dtype": dtype, "elements": n, "distinct": distinct, "step": step, "discrete": discrete,
            "storage_bits": storage, "needed_bits": needed}


# ---------------------------------------------------------------- 2. element distributions
def value_counts(values) -> tuple[list, torch.Tensor]:
    """The distinct values of ``values`` and how often each occurs, most frequent first.

    Defined in notebook 01. ``values`` is a list of hashable symbols (tokens, labels, pairs) or a
    tensor/array of numbers (flattened).
    """
    if isinstance(values, (list, tuple)):
        if not values:
            raise ValueError("values must not be empty")
        pairs = Counter(values).most_common()
        return [v for v, _ in pairs], torch.tensor([c for _, c in pairs], dtype=torch.float64)
    flat = as_tensor(values, "values", torch.float64).flatten()
    if flat.numel() == 0:
        raise ValueError("values must not be empty")
    distinct, counts = torch.unique(flat, return_counts=True)  # sorted by value
    order = torch.argsort(counts, descending=True, stable=True)  # most frequent first
    return distinct[order].tolist(), counts[order].double()


def zipf_fit(counts, min_rank: int = 1, max_rank: int | None = None) -> tuple[float, float]:
    """Fit Zipf's law f(r) ∝ r^s to word counts: the slope ``s`` and intercept of a straight line
    through log10 frequency over log10 rank (least squares), ranks ``min_rank..max_rank``.

    Defined in notebook 01. Zipf's law for natural language says s ≈ -1.
    """
    freq = torch.sort(as_tensor(counts, "counts", torch.float64).flatten(), descending=True).values
    if freq.numel() < 2 or bool((freq < 0).any()):
        raise ValueError(f"counts must hold at least 2 non-negative numbers, got {freq.numel()} values")
    max_rank = freq.numel() if max_rank is None else max_rank
    if not 1 <= min_rank < max_rank <= freq.numel():
        raise ValueError(f"need 1 <= min_rank < max_rank <= {freq.numel()} (number of counts), "
                         f"got min_rank={min_rank}, max_rank={max_rank}")
    freq = freq[min_rank - 1:max_rank]
    ranks = torch.arange(min_rank, max_rank + 1, dtype=torch.float64)
    keep = freq > 0
    x, y = torch.log10(ranks[keep]), torch.log10(freq[keep])
    # s = Σ (x - x̄)(y - ȳ) / Σ (x - x̄)²,  b = ȳ - s x̄
    slope = ((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()
    intercept = y.mean() - slope * x.mean()
    return float(slope), float(intercept)


# ---------------------------------------------------------------- 3. structure
def neighbour_correlation(images, distance: int = 1, axis: int = -1) -> float:
    """Pearson correlation between every pixel and the pixel ``distance`` steps further along
    ``axis`` (-1: to the right, -2: below), pooled over all such pairs of all images.

    Defined in notebook 01. Near 1 for neighbours in natural images (spatial structure), falling
    with ``distance``; near 0 for pixels in random order.
    """
    x = as_tensor(images, "images", torch.float64)
    if x.ndim < 2 or axis not in (-1, -2):
        raise ValueError(f"images must have shape (..., H, W) and axis must be -1 or -2, got shape "
                         f"{tuple(x.shape)} and axis={axis!r}")
    n = x.shape[axis]
    if isinstance(distance, bool) or not isinstance(distance, int) or not 1 <= distance < n:
        raise ValueError(f"distance must be an int in 1..{n - 1} (the image has {n} pixels along axis={axis}), "
                         f"got {distance!r}")
    # pixel i paired with pixel i + distance
    a, b = x.narrow(axis, 0, n - distance).flatten(), x.narrow(axis, distance, n - distance).flatten()
    a, b = a - a.mean(), b - b.mean()
    # ρ = Σ (a - ā)(b - b̄) / sqrt(Σ (a - ā)² Σ (b - b̄)²)
    return float((a * b).sum() / torch.sqrt((a ** 2).sum() * (b ** 2).sum()))


def autocorrelation(signal, max_lag: int) -> torch.Tensor:
    """Normalised autocorrelation r(k) of a 1-D signal for lags k = 0..max_lag, shape (max_lag + 1,).

    Defined in notebook 01. r(k) = Σ_t (x_t − x̄)(x_{t+k} − x̄) / Σ_t (x_t − x̄)², so r(0) = 1; it
    stays high over many lags when the signal changes slowly (temporal structure).
    """
    x = as_tensor(signal, "signal", torch.float64)
    if x.ndim != 1 or not isinstance(max_lag, int) or not 0 <= max_lag < x.numel():
        raise ValueError(f"signal must be 1-D and 0 <= max_lag < its length, got shape {tuple(x.shape)} "
                         f"and max_lag={max_lag!r}")
    x = x - x.mean()
    energy = (x ** 2).sum()
    if energy == 0:
        raise ValueError("signal is constant: its autocorrelation is undefined")
    T = x.numel()
    # r(k) = Σ_{t=0}^{T-1-k} x_t x_{t+k} / Σ_t x_t²
    return torch.stack([(x[:T - k] * x[k:]).sum() for k in range(max_lag + 1)]) / energy


def pca_variance_explained(features) -> torch.Tensor:
    """Fraction of the total variance along each principal component of ``features`` (N, D),
    largest first; it sums to 1. Defined in notebook 01 (latent structure)."""
    X = as_tensor(features, "features", torch.float64)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"features must have shape (N, D) with N >= 2, got {tuple(X.shape)}")
    X = X - X.mean(dim=0)  # (N, D), centred
    S = torch.linalg.svdvals(X)  # (min(N, D),) singular values
    # variance along component i ∝ σ_i²;  ratio_i = σ_i² / Σ_j σ_j²
    power = S ** 2
    if power.sum() == 0:
        raise ValueError("features are all equal: there is no variance to explain")
    return power / power.sum()


# ---------------------------------------------------------------- 4. information
def entropy(p, dim: int = -1) -> torch.Tensor:
    """Shannon entropy H(X) = -Σ_x p(x) log2 p(x) in bits, along ``dim``; 0·log 0 counts as 0.

    Defined in notebook 01. ``p`` holds probabilities or counts (non-negative weights): each slice
    is divided by its sum first. A 1-D input gives a 0-d tensor; (N, K) gives (N,) entropies.
    """
    p = as_tensor(p, "p", torch.float64)
    if p.numel() == 0 or bool((p < 0).any()) or bool(torch.isnan(p).any()):
        raise ValueError("p must hold non-negative numbers (probabilities or counts)")
    total = p.sum(dim=dim, keepdim=True)
    if bool((total == 0).any()):
        raise ValueError(f"every slice of p along dim={dim} needs a positive sum, but one sums to 0")
    p = p / total
    # p log2 p, with the limit 0·log2 0 = 0
    plogp = torch.where(p > 0, p * torch.log2(torch.where(p > 0, p, 1.0)), torch.zeros_like(p))
    return -plogp.sum(dim=dim)


def entropy_of_samples(values) -> float:
    """Plug-in entropy in bits of the empirical distribution of ``values`` (tokens or numbers):
    H = entropy(counts of each distinct value). Defined in notebook 01."""
    return float(entropy(value_counts(values)[1]))


def compression_ratio(data, level: int = 9) -> float:
    """Size before / size after zlib compression (DEFLATE) of ``data``: bytes, a str (UTF-8) or
    an array (its raw bytes). Defined in notebook 01.

    A ratio above 1 means the bytes are redundant (predictable); 8 / ratio bounds the bits of
    information per byte that remain.
    """
    if isinstance(data, str):
        raw = data.encode("utf-8")
    elif isinstance(data, (bytes, bytearray)):
        raw = bytes(data)
    elif isinstance(data, (np.ndarray, torch.Tensor)):
        raw = (data.detach().cpu().numpy() if isinstance(data, torch.Tensor) else data).tobytes()
    else:
        raise ValueError(f"data must be bytes, str, a NumPy array or a tensor, got {type(data).__name__}")
    if len(raw) == 0:
        raise ValueError("data is empty: there is nothing to compress")
    return len(raw) / len(zlib.compress(raw, level))


# ---------------------------------------------------------------- 5. noise and 6. relevance
def fit_quick_classifier(features, labels, C: float = 1.0) -> Pipeline:
    """A multinomial logistic regression on standardised ``features`` (N, D) and ``labels`` (N,),
    trained in a second: the yardstick for noise and relevance. Defined in notebook 01.

    Returns a fitted scikit-learn pipeline: ``.predict(X)``, ``.predict_proba(X)``, ``.score(X, y)``.
    """
    X, y = as_tensor(features, "features", torch.float64).detach().cpu().numpy(), np.asarray(labels)
    if X.ndim != 2 or y.ndim != 1 or len(X) != len(y):
        raise ValueError(f"features must be (N, D) and labels (N,), got {X.shape} and {y.shape}")
    # standardise each feature with the training mean and std, then a linear softmax classifier
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000)).fit(X, y)


def task_accuracy(features, labels, test_fraction: float = 0.3, seed: int = 0) -> tuple[float, float]:
    """Held-out accuracy of a quick classifier that predicts ``labels`` from ``features``, and the
    chance level (the most frequent test label's share). Defined in notebook 01.

    The split is stratified and seeded, so the same inputs give the same numbers on every run.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction!r}")
    X, y = as_tensor(features, "features", torch.float64).detach().cpu().numpy(), np.asarray(labels)
    if X.ndim != 2 or y.ndim != 1 or len(X) != len(y):
        raise ValueError(f"features must be (N, D) and labels (N,), got {X.shape} and {y.shape}")
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_fraction, random_state=seed,
                                                        stratify=y)
    model = fit_quick_classifier(X_train, y_train)
    chance = Counter(y_test.tolist()).most_common(1)[0][1] / len(y_test)
    return float(model.score(X_test, y_test)), float(chance)


def relevance_score(accuracy: float, chance: float) -> float:
    """How much of the way from chance to perfect a task's accuracy goes: (acc − chance) / (1 − chance).

    Defined in notebook 01. 0: the input says nothing about the task; 1: it decides it.
    """
    if not (0 <= accuracy <= 1 and 0 <= chance < 1):
        raise ValueError(f"accuracy must be in [0, 1] and chance in [0, 1), got {accuracy!r} and {chance!r}")
    return (accuracy - chance) / (1 - chance)
