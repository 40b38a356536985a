"""Positional encoding: telling a permutation-invariant layer where each element sits.

Self-attention looks at its input as a *set*: permute the tokens and the outputs are permuted the
same way, so "a red circle left of a blue square" and its mirror look alike. Adding a vector that
depends on the position to each token breaks the symmetry. This module gives the lecture's
encoding and its relatives:

- ``sinusoidal_encoding``: the lecture's formula, for position ``pos`` and dimension ``i`` of ``d``,
  ``PE(pos, i) = sin(pos / 10000^(i/d))`` for even ``i`` and ``cos(pos / 10000^((i−1)/d))`` for odd ``i``;
  ``sinusoidal_encoding_at`` evaluates it at any real positions;
- ``read_position``: the way back, the position a row of the encoding names, read off its slowest pair;
- ``relative_shift_matrix``: the fixed linear map ``M_k`` with ``PE(pos + k) = PE(pos) M_kᵀ`` for
  every ``pos``: each (sin, cos) pair is rotated by the angle ``k ω_j``, so an offset is a rotation;
- ``sinusoidal_encoding_2d``: for a grid of image patches, half the dimensions encode the row and half
  the column;
- ``LearnedPositionalEncoding`` (one trained vector per position) and ``AddPositionalEncoding`` (the
  fixed sinusoids, kept as a buffer), both ``x ↦ x + PE[:T]``.

Defined in notebook 04 (positional encoding and transformers).
Sources: Vaswani et al. (2017), section 3.5; Dosovitskiy et al. (2021) for learned and 2-D
encodings of image patches; the lecture "Multimodal Data Processing" for the formula and notation.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["sinusoidal_encoding", "sinusoidal_encoding_at", "read_position", "frequencies", "relative_shift_matrix",
           "sinusoidal_encoding_2d", "LearnedPositionalEncoding", "AddPositionalEncoding"]


def _size(n, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise ValueError(f"{name} must be an int >= 1, got {n!r}")
    if n < 1:
        raise ValueError(f"{name} must be >= 1, got {n}")
    return n


def frequencies(dim: int, base: float = 10000.0) -> torch.Tensor:
    """``(dim,)`` angular frequency of each dimension: ``ω_i = 1 / base^(2⌊i/2⌋ / d)``.

    Defined in notebook 04. Dimensions ``2j`` and ``2j + 1`` share the frequency ``ω_j``: the first
    pair turns once per 2π positions, the last one almost never.
    """
    d = _size(dim, "dim")
    i = torch.arange(d, dtype=torch.float64)
    # the exponent i/d for even i and (i−1)/d for odd i
    even_i = i - i % 2
    # ω_i = 1 / 10000^(even_i / d)
    return 1.0 / base ** (even_i / d)  # (d,)


def sinusoidal_encoding(num_positions: int, dim: int, base: float = 10000.0,
                        dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(num_positions, dim)``: row ``pos`` is ``PE(pos, ·)`` of the lecture, for ``pos = 0 … P−1``.

    Defined in notebook 04. Works for odd ``dim`` (the last dimension is then a lone sine).
    Computed in float64 and returned as ``dtype``.
    """
    P = _size(num_positions, "num_positions")
    return sinusoidal_encoding_at(torch.arange(P, dtype=torch.float64), dim, base, dtype)  # (P, d)


def sinusoidal_encoding_at(positions, dim: int, base: float = 10000.0,
                           dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(N, dim)``: row ``n`` is ``PE(positions[n], ·)``, for any real positions (fractions and negatives too).

    Defined in notebook 04. ``positions`` is a 1-D tensor or sequence of numbers. Computed in float64 and
    returned as ``dtype``; ``sinusoidal_encoding(P, d)`` equals ``sinusoidal_encoding_at(range(P), d)``.
    """
    d = _size(dim, "dim")
    pos = torch.as_tensor(positions, dtype=torch.float64)
    if pos.ndim != 1:
        raise ValueError(f"positions must be a 1-D sequence of numbers, got shape {tuple(pos.shape)}")
    # angle = pos / 10000^(i/d) (even i) or pos / 10000^((i−1)/d) (odd i)
    angle = pos[:, None] * frequencies(d, base)  # (N, d)
    even = torch.arange(d) % 2 == 0  # (d,)
    # PE(pos, i) = sin(angle) if i is even, else cos(angle)
    return torch.where(even, torch.sin(angle), torch.cos(angle)).to(dtype)  # (N, d)


def read_position(pe: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """``(N,)`` float64: the position each row of a sinusoidal encoding ``pe`` ``(N, d)`` names (``d`` even).

    Defined in notebook 04 (the reference of Exercise 4.1). The last pair of dimensions is a hand that
    turns by ``ω = 1 / base^((d−2)/d)`` per position, the slowest of all: its angle
    ``atan2(sin, cos) = ω · pos`` is read with both numbers of the pair (the sine alone cannot tell ``a``
    from ``π − a``, the cosine alone is flat near 0) and divided by ``ω``. Exact for positions of
    absolute value below half a turn of that hand, ``π / ω`` (3,141 positions for ``d = 8``, more for a
    larger ``d``); beyond it the hand has come round and the reading wraps.
    """
    if not isinstance(pe, torch.Tensor) or pe.ndim != 2:
        raise ValueError(f"pe must be a tensor of shape (N, d), got {getattr(pe, 'shape', type(pe).__name__)}")
    d = pe.shape[1]
    if d < 2 or d % 2:
        raise ValueError(f"pe must have an even number of dimensions d >= 2 (sine, cosine pairs), got d={d}")
    omega = frequencies(d, base)[-1]  # the slowest pair's angle per position
    angle = torch.atan2(pe[:, d - 2].double(), pe[:, d - 1].double())  # (N,): ω · pos, in (−π, π]
    return angle / omega  # (N,)


def relative_shift_matrix(k: float, dim: int, base: float = 10000.0,
                          dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(dim, dim)`` matrix ``M_k`` with ``PE(pos + k) = PE(pos) @ M_kᵀ`` for every position ``pos``.

    Defined in notebook 04. From sin(a + b) = sin a cos b + cos a sin b and
    cos(a + b) = cos a cos b − sin a sin b, each pair (sin ω_j pos, cos ω_j pos) is mapped by the
    2×2 rotation [[cos ω_j k, sin ω_j k], [−sin ω_j k, cos ω_j k]]; ``M_k`` is block-diagonal with
    these blocks and depends on ``k`` only, not on ``pos``. ``dim`` must be even (a lone sine has
    no cosine partner to rotate with). ``k`` may be negative or fractional.
    """
    d = _size(dim, "dim")
    if d % 2:
        raise ValueError(f"dim must be even for a shift matrix, got {d}: the last sine would have no cosine partner")
    if isinstance(k, bool) or not isinstance(k, (int, float)):
        raise ValueError(f"k must be a number (the offset in positions), got {k!r}")
    # the angle ω_j k of each (sin, cos) pair j = 0 … d/2 − 1
    theta = frequencies(d, base)[0::2] * k  # (d/2,)
    cos, sin = torch.cos(theta), torch.sin(theta)
    M = torch.zeros(d, d, dtype=torch.float64)
    j = torch.arange(0, d, 2)
    # new sin = cos(ω k)·sin(ω pos) + sin(ω k)·cos(ω pos)
    M[j, j], M[j, j + 1] = cos, sin
    # new cos = −sin(ω k)·sin(ω pos) + cos(ω k)·cos(ω pos)
    M[j + 1, j], M[j + 1, j + 1] = -sin, cos
    return M.to(dtype)  # (d, d)


def sinusoidal_encoding_2d(height: int, width: int, dim: int, base: float = 10000.0,
                           dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(height, width, dim)``: the encoding of the patch in row ``r`` and column ``c`` of a grid.

    Defined in notebook 04. The first ``dim/2`` dimensions are ``sinusoidal_encoding(height, dim/2)[r]``
    (the row) and the last ``dim/2`` are ``sinusoidal_encoding(width, dim/2)[c]`` (the column), so two
    patches in the same row share the first half. ``dim`` must be even. For a sequence of patches
    flattened row by row (raster order) use ``.reshape(height * width, dim)``.
    """
    H, W, d = _size(height, "height"), _size(width, "width"), _size(dim, "dim")
    if d % 2:
        raise ValueError(f"dim must be even for a 2-D encoding (half for rows, half for columns), got {d}")
    rows = sinusoidal_encoding(H, d // 2, base, dtype)  # (H, d/2)
    cols = sinusoidal_encoding(W, d // 2, base, dtype)  # (W, d/2)
    # PE2d(r, c) = [PE(r), PE(c)]
    return torch.cat([rows[:, None, :].expand(H, W, d // 2), cols[None, :, :].expand(H, W, d // 2)], dim=-1)


def _check_input(x, num_positions: int, dim: int) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 3:
        raise ValueError(f"x must be a tensor of shape (B, T, C), got {getattr(x, 'shape', type(x).__name__)}")
    B, T, C = x.shape
    if C != dim:
        raise ValueError(f"x has embedding size C={C} but the encoding has dim={dim}")
    if T > num_positions:
        raise ValueError(f"x has T={T} positions but the encoding covers only num_positions={num_positions}")


class LearnedPositionalEncoding(nn.Module):
    """``x ↦ x + P[:T]`` with a trained table ``P`` of shape ``(num_positions, dim)`` (as in BERT and ViT).

    Defined in notebook 04. It can learn any pattern, but knows nothing about positions it never saw.
    """

    def __init__(self, num_positions: int, dim: int, init_std: float = 0.02):
        super().__init__()
        self.num_positions, self.dim = _size(num_positions, "num_positions"), _size(dim, "dim")
        self.weight = nn.Parameter(torch.randn(num_positions, dim) * init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.num_positions, self.dim)
        B, T, C = x.shape
        # x_t + P_t for t = 0 … T−1
        return x + self.weight[:T]  # (B, T, C)


class AddPositionalEncoding(nn.Module):
    """``x ↦ x + PE[:T]`` with the fixed sinusoids of ``sinusoidal_encoding``, stored as the buffer ``pe``.

    Defined in notebook 04. Being a buffer, ``pe`` moves with ``.to(device)`` and is saved in the
    ``state_dict``, but is not trained.
    """

    def __init__(self, num_positions: int, dim: int, base: float = 10000.0):
        super().__init__()
        self.num_positions, self.dim = _size(num_positions, "num_positions"), _size(dim, "dim")
        self.register_buffer("pe", sinusoidal_encoding(num_positions, dim, base))  # (P, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.num_positions, self.dim)
        B, T, C = x.shape
        # x_t + PE(t) for t = 0 … T−1
        return x + self.pe[:T].to(x.dtype)  # (B, T, C)
