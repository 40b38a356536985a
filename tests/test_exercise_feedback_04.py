"""Notebook 04's exercise diagnoses are proven: the wrong answer that triggers each one gets its message.

The test functions are taken from the notebook source exactly as otter takes them, and called with
wrong implementations, as a student's notebook would call them.
"""
import pytest
import torch
from torch import nn

from exercise_feedback import exercise_tests, feedback
from mmcourse import positional
from mmcourse.attention import MultiHeadAttention
from mmcourse.transformer import post_norm_encoder_block

# Reading the position back from the encoding: each classic slip in reading a clock hand gets its own message.

Q04 = exercise_tests("04_positional_encoding", "q04_sinusoidal")


def _reader(pair=-1, order="sin, cos", part="both", divide=True, exponent=lambda j, d: 2 * j / d, rounded=False):
    """read_position(pe) with one deliberate slip: another hand, the pair swapped, one number of it, no division."""
    def read_position(pe):
        d = pe.shape[1]
        j = d // 2 - 1 if pair == -1 else pair
        sin, cos = pe[:, 2 * j].double(), pe[:, 2 * j + 1].double()
        if order == "cos, sin":
            sin, cos = cos, sin
        angle = {"both": torch.atan2(sin, cos), "sine": torch.asin(sin), "cosine": torch.acos(cos)}[part]
        position = angle / (1 / 10000 ** exponent(j, d)) if divide else angle
        return position.round() if rounded else position
    return read_position


MISTAKES_04 = [
    (_reader(pair=0), "you read the hand of pair 0 (dimensions 0 and 1)"),
    (_reader(pair=1), "you read the hand of pair 1 (dimensions 2 and 3)"),
    (_reader(order="cos, sin"), "went into atan2 the other way round"),
    (_reader(part="sine"), "the sine alone cannot tell an angle a from π − a"),
    (_reader(part="cosine"), "Near angle 0 the cosine hardly changes"),
    (_reader(divide=False), "you returned the angle of pair 3's hand in radians"),
    (_reader(exponent=lambda j, d: (2 * j + 1) / d), "times the true ones"),
    (_reader(exponent=lambda j, d: j / d), "times the true ones"),
    (_reader(rounded=True), "your positions are whole numbers"),
]


def test_q04_sinusoidal_passes_a_correct_answer():
    assert len(Q04) == 2
    assert all(feedback(t, read_position=positional.read_position) == "" for t in Q04.values())
    assert all(feedback(t, read_position=_reader()) == "" for t in Q04.values())


def test_q04_sinusoidal_passes_a_float32_answer_and_one_that_reads_another_slow_enough_hand():
    def float32(pe):
        d = pe.shape[1]
        return torch.atan2(pe[:, d - 2], pe[:, d - 1]) * 10000 ** ((d - 2) / d)
    assert all(feedback(t, read_position=float32) == "" for t in Q04.values())

    def second_slowest_if_enough(pe):  # for d >= 16 the second-slowest hand also stays under half a turn
        d = pe.shape[1]
        return _reader(pair=d // 2 - 2 if d >= 16 else -1)(pe)
    assert all(feedback(t, read_position=second_slowest_if_enough) == "" for t in Q04.values())


@pytest.mark.parametrize("answer, diagnosis", MISTAKES_04, ids=[m[1] for m in MISTAKES_04])
def test_q04_sinusoidal_names_each_known_mistake(answer, diagnosis):
    visible = next(iter(Q04.values()))
    message = feedback(visible, read_position=answer)
    assert diagnosis in message, f"the visible test should say {diagnosis!r}, it says {message!r}"


def test_q04_sinusoidal_says_an_unfinished_answer_is_unfinished():
    assert all("not done yet" in feedback(t, read_position=lambda pe: None) for t in Q04.values())


def test_q04_hidden_test_catches_an_answer_that_only_works_for_the_visible_sizes():
    def memorised(pe):  # the slowest hand's frequency written down for d = 8 and d = 32 only
        d = pe.shape[1]
        omega = {8: 1e-3, 32: 10000 ** (-30 / 32)}.get(d, 1e-3)
        return torch.atan2(pe[:, d - 2].double(), pe[:, d - 1].double()) / omega
    visible, hidden = Q04.values()
    assert feedback(visible, read_position=memorised) == ""
    assert "d = 10" in feedback(hidden, read_position=memorised)


# The shift matrix M_k: each slip in building it from the addition theorems gets its own message.

Q04_SHIFT = exercise_tests("04_positional_encoding", "q04_shift_matrix")


def _shift(angle=lambda k, j, d: k / 10000 ** (2 * j / d), transpose=False, dense=False):
    """shift_matrix(k, dim) with one deliberate slip: another angle per pair, the transpose, or a full matrix."""
    def shift_matrix(k, dim):
        j = torch.arange(dim // 2, dtype=torch.float64)
        a = angle(k, j, dim)
        even, odd = torch.arange(0, dim, 2), torch.arange(1, dim, 2)
        M = torch.zeros(dim, dim, dtype=torch.float64)
        M[even, even], M[even, odd], M[odd, even], M[odd, odd] = a.cos(), a.sin(), -a.sin(), a.cos()
        if dense:
            M = M + 0.01
        return (M.T if transpose else M).float()
    return shift_matrix


MISTAKES_04_SHIFT = [
    (_shift(transpose=True), "this is M_(-k): it moves 3 positions back"),
    (_shift(angle=lambda k, j, d: -k / 10000 ** (2 * j / d)), "the signs of the sines in your 2 × 2 blocks"),
    (_shift(angle=lambda k, j, d: k + 0 * j), "every pair turns by the same angle k"),
    (_shift(angle=lambda k, j, d: k / 10000 ** (j / d)), "you used j/d"),
    (_shift(angle=lambda k, j, d: k * 10000 ** (2 * j / d)), "must be divided by 10000^(2j/d)"),
    (_shift(dense=True), "entries outside the 2 × 2 blocks on the diagonal are not 0"),
]


def test_q04_shift_matrix_passes_a_correct_answer():
    assert len(Q04_SHIFT) == 2
    for answer in (positional.relative_shift_matrix, _shift()):
        assert all(feedback(t, shift_matrix=answer) == "" for t in Q04_SHIFT.values())


@pytest.mark.parametrize("answer, diagnosis", MISTAKES_04_SHIFT, ids=[m[1] for m in MISTAKES_04_SHIFT])
def test_q04_shift_matrix_names_each_known_mistake(answer, diagnosis):
    visible = next(iter(Q04_SHIFT.values()))
    message = feedback(visible, shift_matrix=answer)
    assert diagnosis in message, f"the visible test should say {diagnosis!r}, it says {message!r}"


def test_q04_shift_matrix_says_an_unfinished_answer_is_unfinished():
    assert all("not done yet" in feedback(t, shift_matrix=lambda *a: None) for t in Q04_SHIFT.values())


def test_q04_shift_matrix_hidden_test_catches_an_answer_that_only_works_for_the_visible_case():
    def memorised(k, dim):  # right for k = 3 and dim = 16 only
        return positional.relative_shift_matrix(3, 16) if (k, dim) == (3, 16) else torch.eye(dim)
    visible, hidden = Q04_SHIFT.values()
    assert feedback(visible, shift_matrix=memorised) == ""
    assert "shift_matrix(1, 2)" in feedback(hidden, shift_matrix=memorised)


# The encoder block: each wiring slip (residual, norm placement, activation, attention scale) is named.

Q04_BLOCK = exercise_tests("04_positional_encoding", "q04_encoder_block")


class _Attention(MultiHeadAttention):
    """The notebook's `Attention` interface on the course's reference: self_attn(x) -> (B, T, C)."""

    def __init__(self, C, H, scale=None):
        super().__init__(C, H)
        self.scale = scale

    def forward(self, x, memory=None, allowed=None):
        memory = x if memory is None else memory
        if self.scale is None:
            return super().forward(x, memory, memory, allowed)[0]
        B, T, C = x.shape
        heads = lambda t: t.view(B, -1, self.num_heads, C // self.num_heads).transpose(1, 2)  # noqa: E731
        q, k, v = heads(self.q_proj(x)), heads(self.k_proj(memory)), heads(self.v_proj(memory))
        weights = (q @ k.transpose(-2, -1) * self.scale(C, self.num_heads)).softmax(-1)
        return self.out_proj((weights @ v).transpose(1, 2).reshape(B, T, C))


def _layer_class(scale=None):
    """The notebook's `EncoderLayer`, built from torch's and the course's parts (optionally a wrong scale)."""
    class EncoderLayer(nn.Module):
        def __init__(self, C, H, ff_dim):
            super().__init__()
            self.self_attn = _Attention(C, H, scale)
            self.norm1, self.norm2 = nn.LayerNorm(C), nn.LayerNorm(C)
            self.linear1, self.linear2 = nn.Linear(C, ff_dim), nn.Linear(ff_dim, C)
    return EncoderLayer


def _relu_mlp(layer, h, act=torch.relu):
    return layer.linear2(act(layer.linear1(h)))


def _block(wiring):
    """encoder_block(x, layer) wired as `wiring` says."""
    def encoder_block(x, layer):
        sa, n1, n2, mlp = layer.self_attn, layer.norm1, layer.norm2, lambda h, **kw: _relu_mlp(layer, h, **kw)
        if wiring == "right":
            h = n1(x + sa(x))
            return n2(h + mlp(h))
        if wiring == "no residuals":
            return n2(mlp(n1(sa(x))))
        if wiring == "no attention residual":
            h = n1(sa(x))
            return n2(h + mlp(h))
        if wiring == "no mlp residual":
            return n2(mlp(n1(x + sa(x))))
        if wiring == "pre-norm":
            h = x + sa(n1(x))
            return h + mlp(n2(h))
        if wiring == "norm inside":
            h = x + n1(sa(x))
            return h + n2(mlp(h))
        if wiring == "no activation":
            h = n1(x + sa(x))
            return n2(h + layer.linear2(layer.linear1(h)))
        if wiring == "gelu":
            h = n1(x + sa(x))
            return n2(h + mlp(h, act=torch.nn.functional.gelu))
        if wiring == "norm1 twice":
            h = n1(x + sa(x))
            return n1(h + mlp(h))
        raise ValueError(wiring)
    return encoder_block


MISTAKES_04_BLOCK = [
    (_block("no residuals"), _layer_class(), "both residual connections are missing"),
    (_block("no attention residual"), _layer_class(), "the residual connection around the attention is missing"),
    (_block("no mlp residual"), _layer_class(), "the residual connection around the MLP is missing"),
    (_block("pre-norm"), _layer_class(), "this is the pre-norm block (norm_first=True)"),
    (_block("norm inside"), _layer_class(), "you normalised each sub-layer's output before adding it"),
    (_block("no activation"), _layer_class(), "the MLP has no non-linearity"),
    (_block("gelu"), _layer_class(), "you used GELU"),
    (_block("norm1 twice"), _layer_class(), "the second 'add & norm' reuses norm1"),
    (_block("right"), _layer_class(scale=lambda C, H: 1.0), "the attention scores are not divided by √D"),
    (_block("right"), _layer_class(scale=lambda C, H: C ** -0.5), "the attention scores are divided by √C"),
]


def test_q04_encoder_block_passes_a_correct_answer():
    assert len(Q04_BLOCK) == 2
    for answer in (post_norm_encoder_block, _block("right")):
        assert all(feedback(t, encoder_block=answer, EncoderLayer=_layer_class()) == "" for t in Q04_BLOCK.values())


@pytest.mark.parametrize("answer, layer_class, diagnosis", MISTAKES_04_BLOCK, ids=[m[2] for m in MISTAKES_04_BLOCK])
def test_q04_encoder_block_names_each_known_mistake(answer, layer_class, diagnosis):
    visible = next(iter(Q04_BLOCK.values()))
    message = feedback(visible, encoder_block=answer, EncoderLayer=layer_class)
    assert diagnosis in message, f"the visible test should say {diagnosis!r}, it says {message!r}"


def test_q04_encoder_block_says_an_unfinished_answer_is_unfinished():
    for test in Q04_BLOCK.values():
        assert "not done yet" in feedback(test, encoder_block=lambda x, layer: None, EncoderLayer=_layer_class())


def test_q04_encoder_block_hidden_test_catches_an_answer_that_assumes_the_visible_sizes():
    def sixteen_features_only(x, layer):  # right when C = 16, scrambled otherwise
        out = post_norm_encoder_block(x, layer)
        return out if x.shape[-1] == 16 else out.flip(-1)
    visible, hidden = Q04_BLOCK.values()
    assert feedback(visible, encoder_block=sixteen_features_only, EncoderLayer=_layer_class()) == ""
    assert "compared with nn.TransformerEncoderLayer" in feedback(hidden, encoder_block=sixteen_features_only,
                                                                  EncoderLayer=_layer_class())
