"""Tests for mmcourse.positional: the lecture's sinusoids, offsets as rotations, 2-D and learned encodings."""
import math

import pytest
import torch

from mmcourse.positional import (AddPositionalEncoding, LearnedPositionalEncoding, frequencies, read_position,
                                 relative_shift_matrix, sinusoidal_encoding, sinusoidal_encoding_2d,
                                 sinusoidal_encoding_at)

TOL = dict(atol=1e-5, rtol=1e-5)


def _lecture_formula(pos: int, i: int, d: int) -> float:
    """PE(pos, i) exactly as written in the lecture, one number at a time."""
    if i % 2 == 0:
        return math.sin(pos / 10000 ** (i / d))
    return math.cos(pos / 10000 ** ((i - 1) / d))


@pytest.mark.parametrize("num_positions, dim", [(1, 1), (7, 4), (50, 16), (20, 5), (9, 3)])
def test_sinusoidal_encoding_is_the_lecture_formula(num_positions, dim):
    pe = sinusoidal_encoding(num_positions, dim)
    assert pe.shape == (num_positions, dim) and pe.dtype == torch.float32
    expected = torch.tensor([[_lecture_formula(p, i, dim) for i in range(dim)] for p in range(num_positions)])
    torch.testing.assert_close(pe, expected, **TOL)


def test_position_zero_is_sine_zero_and_cosine_one():
    pe = sinusoidal_encoding(3, 6)
    assert pe[0].tolist() == [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]


def test_sinusoidal_values_lie_in_minus_one_to_one_and_pairs_have_unit_norm():
    pe = sinusoidal_encoding(200, 32)
    assert pe.abs().max() <= 1.0
    # sin² + cos² = 1 for each (2j, 2j+1) pair
    torch.testing.assert_close(pe[:, 0::2] ** 2 + pe[:, 1::2] ** 2, torch.ones(200, 16), **TOL)


def test_frequencies_fall_geometrically_from_one_and_pairs_share_them():
    w = frequencies(8)
    assert w[0] == 1.0
    torch.testing.assert_close(w[0::2], w[1::2])
    torch.testing.assert_close(w[2::2] / w[0:-2:2], torch.full((3,), 10000 ** (-2 / 8), dtype=torch.float64))


@pytest.mark.parametrize("args, match", [((0, 4), "num_positions"), ((4, 0), "dim"), ((-1, 4), "num_positions"),
                                         ((2.5, 4), "num_positions"), ((4, True), "dim")])
def test_bad_sizes_are_rejected_by_name(args, match):
    with pytest.raises(ValueError, match=match):
        sinusoidal_encoding(*args)


@pytest.mark.parametrize("dim", [2, 8, 32])
@pytest.mark.parametrize("k", [0, 1, 5, -3, 17, 2.5])
def test_an_offset_is_the_same_linear_map_at_every_position(dim, k):
    M = relative_shift_matrix(k, dim)
    pos = torch.arange(0, 60)
    pe = sinusoidal_encoding(100, dim, dtype=torch.float64)
    shifted = sinusoidal_encoding(100, dim)[pos] @ M.T  # PE(pos) M_kᵀ
    if float(k).is_integer() and k >= 0:
        target = pe[pos + int(k)]
    else:  # non-integer or negative offsets: evaluate the formula at pos + k by hand
        angle = (pos[:, None] + k) * frequencies(dim)
        target = torch.where(torch.arange(dim) % 2 == 0, torch.sin(angle), torch.cos(angle))
    torch.testing.assert_close(shifted, target.float(), **TOL)


def test_shift_matrix_is_a_block_diagonal_rotation():
    M = relative_shift_matrix(3, 8, dtype=torch.float64)
    torch.testing.assert_close(M @ M.T, torch.eye(8, dtype=torch.float64))  # orthogonal
    torch.testing.assert_close(torch.linalg.det(M), torch.tensor(1.0, dtype=torch.float64))  # a rotation
    block_mask = torch.block_diag(*[torch.ones(2, 2)] * 4).bool()
    assert (M[~block_mask] == 0).all()
    # composing shifts adds offsets: M_a M_b = M_(a+b)
    def shift(k):
        return relative_shift_matrix(k, 8, dtype=torch.float64)
    torch.testing.assert_close(shift(2) @ shift(5), shift(7))


def test_shift_matrix_needs_an_even_dim():
    with pytest.raises(ValueError, match="dim must be even"):
        relative_shift_matrix(1, 5)


def test_similarity_depends_on_the_offset_not_the_position():
    pe = sinusoidal_encoding(80, 16)
    # PE(p)·PE(p+k) = Σ_j cos(ω_j k): the same for every p
    for k in (1, 4, 9):
        dots = (pe[:40] * pe[k:40 + k]).sum(-1)
        torch.testing.assert_close(dots, dots[0].expand(40), atol=1e-4, rtol=0)


@pytest.mark.parametrize("height, width, dim", [(3, 4, 8), (8, 8, 16), (1, 5, 2)])
def test_2d_encoding_uses_half_the_dims_for_rows_and_half_for_columns(height, width, dim):
    pe = sinusoidal_encoding_2d(height, width, dim)
    assert pe.shape == (height, width, dim)
    rows, cols = sinusoidal_encoding(height, dim // 2), sinusoidal_encoding(width, dim // 2)
    for r in range(height):
        for c in range(width):
            torch.testing.assert_close(pe[r, c], torch.cat([rows[r], cols[c]]))


def test_2d_encoding_gives_every_patch_a_different_vector():
    flat = sinusoidal_encoding_2d(6, 6, 16).reshape(36, 16)
    distances = torch.cdist(flat, flat) + torch.eye(36)
    assert distances.min() > 1e-3


def test_2d_encoding_rejects_odd_dim():
    with pytest.raises(ValueError, match="dim must be even"):
        sinusoidal_encoding_2d(4, 4, 7)


def test_add_positional_encoding_adds_the_buffer_to_every_sequence():
    add = AddPositionalEncoding(num_positions=20, dim=8)
    assert "pe" in dict(add.named_buffers()) and not list(add.parameters())
    x = torch.randn(3, 5, 8, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(add(x), x + sinusoidal_encoding(5, 8))
    assert "pe" in add.state_dict()


def test_learned_encoding_adds_a_trainable_table():
    learned = LearnedPositionalEncoding(num_positions=10, dim=4)
    x = torch.zeros(2, 6, 4)
    out = learned(x)
    torch.testing.assert_close(out[0], learned.weight[:6])
    out.sum().backward()
    assert learned.weight.grad[:6].abs().sum() > 0 and (learned.weight.grad[6:] == 0).all()


@pytest.mark.parametrize("module", [AddPositionalEncoding(5, 8), LearnedPositionalEncoding(5, 8)])
@pytest.mark.parametrize("shape, match", [((2, 6, 8), "num_positions=5"), ((2, 3, 4), "C=4"), ((3, 8), "x must")])
def test_encodings_reject_inputs_they_do_not_cover(module, shape, match):
    with pytest.raises(ValueError, match=match):
        module(torch.zeros(shape))


@pytest.mark.parametrize("dim", [1, 6, 7, 16])
def test_sinusoidal_encoding_at_whole_positions_is_the_table(dim):
    torch.testing.assert_close(sinusoidal_encoding_at(range(30), dim), sinusoidal_encoding(30, dim), atol=0, rtol=0)


def test_sinusoidal_encoding_at_any_real_position_is_the_lecture_formula():
    positions = [0.5, -3.25, 1234.567]
    expected = torch.tensor([[math.sin(p / 10000 ** (i / 8)) if i % 2 == 0 else math.cos(p / 10000 ** ((i - 1) / 8))
                              for i in range(8)] for p in positions], dtype=torch.float64)
    torch.testing.assert_close(sinusoidal_encoding_at(positions, 8, dtype=torch.float64), expected)


def test_sinusoidal_encoding_at_rejects_a_table_of_positions():
    with pytest.raises(ValueError, match="1-D"):
        sinusoidal_encoding_at(torch.zeros(2, 2), 4)


@pytest.mark.parametrize("dim", [8, 10, 32, 64, 128])
def test_read_position_gives_back_every_position_within_half_a_turn_of_the_slowest_hand(dim):
    positions = torch.cat([torch.arange(0, 2000, 0.25), torch.tensor([-500.0, 1e-3])]).double()
    got = read_position(sinusoidal_encoding_at(positions, dim))  # from float32 rows
    assert got.shape == positions.shape and got.dtype == torch.float64
    assert float((got - positions).abs().max()) < 0.01


def test_read_position_wraps_past_half_a_turn():
    omega = float(frequencies(6)[-1])  # d = 6: the slowest hand turns once every 2π/ω ≈ 2916 positions
    turn = 2 * math.pi / omega
    got = read_position(sinusoidal_encoding_at([0.4 * turn, 0.6 * turn], 6, dtype=torch.float64))
    torch.testing.assert_close(got, torch.tensor([0.4 * turn, -0.4 * turn], dtype=torch.float64))


@pytest.mark.parametrize("bad", [torch.zeros(5), torch.zeros(3, 7), [[0.0, 1.0]]])
def test_read_position_rejects_what_is_not_an_even_table(bad):
    with pytest.raises(ValueError):
        read_position(bad)
