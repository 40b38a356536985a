"""Connections between modalities: association and dependency, measured.

Lecture 11 says modalities are *connected* when they share information, in two ways:

- **association** (correlation, co-occurrence): the two go together, with no direction.
  ``correlation_matrix`` (Pearson ρ between channels) and ``mutual_information`` I(A; B) between
  paired discrete labels measure it; both are symmetric.
- **dependency** (causal, temporal): one comes from, or comes before, the other: a direction.
  ``cross_correlation`` finds the lag at which one signal follows another; ``granger_causality``
  asks whether the past of one signal helps to predict the other. A causal direction between two
  variables observed together is shown by an intervention (notebook 01 changes an image and
  watches its caption change), not by ``conditional_entropy``: H(A | B) − H(B | A) = H(A) − H(B)
  always, so unequal conditional entropies only say which variable has more entropy.

Defined in notebook 01 (modalities, "Connections between modalities"). Sources: T. M. Cover and
J. A. Thomas, "Elements of Information Theory" (2006), ch. 2; C. W. J. Granger (1969); J. Geweke (1982).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from mmcourse.core import as_tensor
from mmcourse.modalities import entropy_of_samples

__all__ = ["joint_labels", "mutual_information", "conditional_entropy", "correlation_matrix",
           "cross_correlation", "granger_causality"]


def _paired(a: Sequence, b: Sequence) -> tuple[list, list]:
    a, b = list(a.tolist() if hasattr(a, "tolist") else a), list(b.tolist() if hasattr(b, "tolist") else b)
    if len(a) != len(b) or len(a) == 0:
        raise ValueError(f"a and b must be paired: the same non-zero length, got {len(a)} and {len(b)}")
    return a, b


def joint_labels(a: Sequence, b: Sequence) -> list[tuple]:
    """The pairs (a_i, b_i), one joint symbol per example. Defined in notebook 01."""
    a, b = _paired(a, b)
    return list(zip(a, b))


def mutual_information(a: Sequence, b: Sequence) -> float:
    """I(A; B) = H(A) + H(B) − H(A, B) in bits, from paired discrete labels (plug-in estimate).

    Defined in notebook 01. 0 when A and B are independent; H(A) when B determines A.
    """
    a, b = _paired(a, b)
    h_joint = entropy_of_samples(joint_labels(a, b))
    # I(A;B) = H(A) + H(B) - H(A,B), clipped at 0 against round-off
    return max(entropy_of_samples(a) + entropy_of_samples(b) - h_joint, 0.0)


def conditional_entropy(a: Sequence, b: Sequence) -> float:
    """H(A | B) = H(A, B) − H(B) in bits: what is left unknown about A once B is known.

    Defined in notebook 01. Not symmetric, but H(A | B) − H(B | A) = H(A) − H(B) for any pair, so
    the difference says which variable has more entropy, not which way a dependency runs.
    """
    a, b = _paired(a, b)
    # H(A|B) = H(A,B) - H(B), clipped at 0 against round-off
    return max(entropy_of_samples(joint_labels(a, b)) - entropy_of_samples(b), 0.0)


def correlation_matrix(signals) -> torch.Tensor:
    """Pearson correlation ρ_ij between the channels of ``signals`` (T, C), shape (C, C).

    Defined in notebook 01. ρ_ij = Σ_t (x_ti − x̄_i)(x_tj − x̄_j) / (T σ_i σ_j).
    """
    X = as_tensor(signals, "signals", torch.float64)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"signals must have shape (T, C) with T >= 2 time steps, got {tuple(X.shape)}")
    T, C = X.shape
    X = X - X.mean(dim=0)  # (T, C)
    std = torch.sqrt((X ** 2).mean(dim=0))  # (C,)
    if bool((std == 0).any()):
        raise ValueError("a channel of signals is constant: its correlation is undefined")
    Z = X / std  # (T, C), standardised
    return Z.T @ Z / T  # (C, C)


def cross_correlation(x, y, max_lag: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pearson correlation of x_t with y_{t+k} for every lag k in −max_lag..max_lag.

    Defined in notebook 01. Returns (lags, r), both of shape (2·max_lag + 1,). A peak at k > 0
    means y follows x by k samples (x leads); at k < 0, y leads.
    """
    x, y = as_tensor(x, "x", torch.float64), as_tensor(y, "y", torch.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"x and y must be 1-D of the same length, got {tuple(x.shape)} and {tuple(y.shape)}")
    T = x.numel()
    if not isinstance(max_lag, int) or not 0 <= max_lag <= T - 2:
        raise ValueError(f"max_lag must be an int in 0..{T - 2} (length − 2), got {max_lag!r}")
    lags = torch.arange(-max_lag, max_lag + 1)
    r = []
    for k in lags.tolist():
        a, b = (x[:T - k], y[k:]) if k >= 0 else (x[-k:], y[:T + k])  # x_t paired with y_{t+k}
        r.append(correlation_matrix(torch.stack([a, b], dim=1))[0, 1])
    return lags, torch.stack(r)


def _lagged(x: torch.Tensor, order: int) -> torch.Tensor:
    """Columns x_{t-1}, ..., x_{t-order} for t = order..T-1, shape (T - order, order)."""
    T = x.numel()
    return torch.stack([x[order - k:T - k] for k in range(1, order + 1)], dim=1)


def _residual_variance(target: torch.Tensor, inputs: torch.Tensor) -> float:
    X = torch.cat([inputs, torch.ones(len(inputs), 1, dtype=inputs.dtype)], dim=1)  # add a bias column
    w = torch.linalg.lstsq(X, target[:, None]).solution  # least squares
    return float(((target[:, None] - X @ w) ** 2).mean())


def granger_causality(source, target, order: int = 5) -> float:
    """How much the past of ``source`` helps to predict ``target`` beyond target's own past.

    Defined in notebook 01. Fit two linear predictors of y_t by least squares: one from
    y_{t-1..t-p}, one from y_{t-1..t-p} and x_{t-1..t-p}; return ln(σ²_own / σ²_both) (Geweke's
    measure, ≥ 0). It is directed: granger_causality(x, y) ≠ granger_causality(y, x) in general.
    """
    x, y = as_tensor(source, "source", torch.float64), as_tensor(target, "target", torch.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"source and target must be 1-D of the same length, got {tuple(x.shape)} "
                         f"and {tuple(y.shape)}")
    if not isinstance(order, int) or not 1 <= order <= (x.numel() - 1) // 4:
        raise ValueError(f"order must be an int in 1..{(x.numel() - 1) // 4} for {x.numel()} time steps, "
                         f"got {order!r}")
    y_now = y[order:]  # (T - p,)
    own = _lagged(y, order)  # (T - p, p)
    both = torch.cat([own, _lagged(x, order)], dim=1)  # (T - p, 2p)
    # F_{x→y} = ln( σ²(y | y_past) / σ²(y | y_past, x_past) )
    return max(math.log(_residual_variance(y_now, own) / _residual_variance(y_now, both)), 0.0)
