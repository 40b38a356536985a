"""Tests for mmcourse.attention: every piece against torch's own attention, masks included."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmcourse.attention import (AdditiveScore, AttentionPooling, attention_filter, GeneralScore, MultiHeadAttention, attention_pooling,
                                causal_mask, dot_score, masked_softmax, merge_heads, padding_mask,
                                scaled_dot_product_attention, scaled_dot_score, split_heads)

TOL = dict(atol=1e-5, rtol=1e-5)


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _random_mask(*shape, seed=0):
    """A random boolean mask that allows the first key of every row (so no row is empty)."""
    mask = torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) < 0.6
    mask[..., 0] = True
    return mask


# ---- masks and the masked softmax ---------------------------------------------------------------

def test_causal_mask_lets_query_i_see_keys_up_to_i():
    mask = causal_mask(4)
    expected = torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool)
    assert torch.equal(mask, expected)
    assert causal_mask(2, 3).shape == (2, 3)


def test_padding_mask_is_true_at_real_positions():
    expected = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1]], dtype=torch.bool)
    assert torch.equal(padding_mask([3, 1, 4]), expected)
    assert padding_mask(torch.tensor([2]), max_len=5).tolist() == [[True, True, False, False, False]]


@pytest.mark.parametrize("lengths, max_len, match", [([3, -1], None, "lengths"), ([1.5], None, "lengths"),
                                                     ([2, 6], 4, "max_len"), ([2], 0, "max_len")])
def test_bad_padding_mask_arguments_are_rejected_by_name(lengths, max_len, match):
    with pytest.raises(ValueError, match=match):
        padding_mask(lengths, max_len)


@pytest.mark.parametrize("shape", [(5,), (3, 7), (2, 4, 6)])
def test_attention_weights_sum_to_one(shape):
    scores = _randn(*shape)
    mask = _random_mask(*shape)
    for weights in (masked_softmax(scores), masked_softmax(scores, mask)):
        torch.testing.assert_close(weights.sum(-1), torch.ones(shape[:-1]), **TOL)
        assert (weights >= 0).all()


def test_masked_positions_get_exactly_zero_weight():
    scores = _randn(3, 6)
    mask = _random_mask(3, 6, seed=1)
    weights = masked_softmax(scores, mask)
    assert (weights[~mask] == 0).all()
    # the allowed ones are the softmax over the allowed scores only, computed by hand
    row = scores[1][mask[1]]
    torch.testing.assert_close(weights[1][mask[1]], row.exp() / row.exp().sum(), **TOL)


def test_fully_masked_row_raises_and_names_the_row():
    mask = torch.ones(2, 3, 4, dtype=torch.bool)
    mask[1, 2] = False
    with pytest.raises(ValueError, match=r"mask allows no key at all in row \(1, 2\)"):
        masked_softmax(_randn(2, 3, 4), mask)
    with pytest.raises(ValueError, match=r"row \(1, 2\)"):
        scaled_dot_product_attention(_randn(2, 3, 8), _randn(2, 4, 8), _randn(2, 4, 8), mask)


@pytest.mark.parametrize("mask, match", [(torch.ones(3, 4), "boolean"),
                                         (torch.ones(5, 4, dtype=torch.bool), "broadcast")])
def test_bad_masks_are_rejected(mask, match):
    with pytest.raises(ValueError, match=match):
        masked_softmax(_randn(2, 3, 4), mask)


# ---- the lecture's five steps --------------------------------------------------------------------

def test_attention_pooling_follows_the_five_steps_by_hand():
    h, W, q = _randn(2, 5, 6), _randn(3, 6, seed=1), _randn(3, seed=2)
    context, weights = attention_pooling(h, W, q)
    assert context.shape == (2, 6) and weights.shape == (2, 5)
    for b in range(2):
        e = torch.stack([q @ torch.tanh(W @ h[b, t]) for t in range(5)])  # steps 2 and 3, one frame at a time
        a = torch.exp(e) / torch.exp(e).sum()  # step 4
        torch.testing.assert_close(weights[b], a, **TOL)
        torch.testing.assert_close(context[b], sum(a[t] * h[b, t] for t in range(5)), **TOL)  # step 5


def test_attention_pooling_is_sdpa_with_one_query_and_unit_scale():
    h, W, q = _randn(3, 7, 8), _randn(4, 8, seed=1), _randn(4, seed=2)
    mask = padding_mask([7, 3, 5])
    context, _ = attention_pooling(h, W, q, mask)
    u = torch.tanh(h @ W.T)  # (B, T, Du): the keys
    reference = F.scaled_dot_product_attention(q.expand(3, 1, 4), u, h, attn_mask=mask[:, None, :], scale=1.0)
    torch.testing.assert_close(context, reference[:, 0], **TOL)


def test_attention_pooling_ignores_padded_frames():
    h, W, q = _randn(2, 6, 4), _randn(3, 4, seed=1), _randn(3, seed=2)
    mask = padding_mask([4, 6])
    changed = h.clone()
    changed[0, 4:] = 100.0  # garbage in the padding of sequence 0
    context, weights = attention_pooling(h, W, q, mask)
    context2, _ = attention_pooling(changed, W, q, mask)
    torch.testing.assert_close(context, context2, **TOL)
    assert (weights[0, 4:] == 0).all()


def test_attention_pooling_module_learns_through_W_and_q():
    pool = AttentionPooling(hidden_dim=6, attn_dim=3)
    context, weights = pool(_randn(2, 5, 6))
    context.sum().backward()
    assert pool.W.weight.grad is not None and pool.q.grad is not None
    torch.testing.assert_close(context, attention_pooling(_randn(2, 5, 6), pool.W.weight, pool.q)[0])


@pytest.mark.parametrize("W_shape, q_shape, match", [((3, 5), (3,), "W"), ((3, 6), (4,), "q")])
def test_attention_pooling_rejects_mismatched_sizes_by_name(W_shape, q_shape, match):
    with pytest.raises(ValueError, match=match):
        attention_pooling(_randn(2, 5, 6), _randn(*W_shape), _randn(*q_shape))


# ---- score functions ----------------------------------------------------------------------------

def test_dot_and_scaled_dot_scores_by_hand():
    q, k = torch.tensor([[1.0, 2.0, 0.0, 1.0]]), torch.tensor([[3.0, 1.0, 5.0, -1.0], [0.0, 0.0, 1.0, 0.0]])
    assert dot_score(q, k).tolist() == [[4.0, 0.0]]
    assert scaled_dot_score(q, k).tolist() == [[2.0, 0.0]]  # √4 = 2


def test_general_score_with_identity_is_the_dot_score():
    score = GeneralScore(5, 5)
    with torch.no_grad():
        score.W.copy_(torch.eye(5))
    q, k = _randn(2, 3, 5), _randn(2, 4, 5, seed=1)
    torch.testing.assert_close(score(q, k), dot_score(q, k), **TOL)


def test_general_score_is_the_bilinear_form_for_every_pair():
    score = GeneralScore(3, 5)
    q, k = _randn(4, 3), _randn(6, 5, seed=1)
    by_hand = torch.tensor([[float(q[i] @ score.W.detach() @ k[j]) for j in range(6)] for i in range(4)])
    torch.testing.assert_close(score(q, k).detach(), by_hand, **TOL)


def test_additive_score_is_v_tanh_W1_q_plus_W2_k_for_every_pair():
    score = AdditiveScore(query_dim=3, key_dim=5, hidden_dim=7)
    q, k = _randn(2, 4, 3), _randn(2, 6, 5, seed=1)
    e = score(q, k).detach()
    assert e.shape == (2, 4, 6)
    W1, W2, v = score.W1.weight, score.W2.weight, score.v
    for b, i, j in [(0, 0, 0), (1, 3, 5), (0, 2, 4)]:
        torch.testing.assert_close(e[b, i, j], (v @ torch.tanh(W1 @ q[b, i] + W2 @ k[b, j])).detach(), **TOL)


def test_dot_score_rejects_mismatched_sizes():
    with pytest.raises(ValueError, match="query has last dimension 32 but key has 64"):
        dot_score(_randn(2, 32), _randn(2, 64))


# ---- scaled dot-product attention ---------------------------------------------------------------

@pytest.mark.parametrize("batch", [(), (3,), (2, 4)])
@pytest.mark.parametrize("Lq, Lk, D, Dv", [(5, 5, 8, 8), (3, 7, 4, 6)])
def test_sdpa_matches_torch(batch, Lq, Lk, D, Dv):
    q, k, v = _randn(*batch, Lq, D), _randn(*batch, Lk, D, seed=1), _randn(*batch, Lk, Dv, seed=2)
    out, weights = scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v), **TOL)
    torch.testing.assert_close(weights, torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(D), -1), **TOL)


@pytest.mark.parametrize("mask_shape", [(3, 7), (2, 1, 3, 7), (2, 4, 3, 7), (1, 7)])
def test_sdpa_with_a_boolean_mask_matches_torch(mask_shape):
    q, k, v = _randn(2, 4, 3, 8), _randn(2, 4, 7, 8, seed=1), _randn(2, 4, 7, 5, seed=2)
    mask = _random_mask(*mask_shape, seed=3)
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), **TOL)
    assert (weights[~mask.expand(2, 4, 3, 7)] == 0).all()


@pytest.mark.parametrize("Lq, Lk", [(6, 6), (4, 6)])
def test_sdpa_causal_matches_torch_is_causal(Lq, Lk):
    q, k, v = _randn(2, Lq, 8), _randn(2, Lk, 8, seed=1), _randn(2, Lk, 8, seed=2)
    out, weights = scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True), **TOL)
    assert (weights.triu(diagonal=1) == 0).all()


@pytest.mark.parametrize("scale", [1.0, 0.1])
def test_sdpa_custom_scale_matches_torch(scale):
    q, k, v = _randn(2, 5, 8), _randn(2, 5, 8, seed=1), _randn(2, 5, 8, seed=2)
    out, _ = scaled_dot_product_attention(q, k, v, scale=scale)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, scale=scale), **TOL)


def test_fused_path_gives_the_manual_result_without_weights():
    q, k, v = _randn(2, 2, 5, 8), _randn(2, 2, 6, 8, seed=1), _randn(2, 2, 6, 8, seed=2)
    mask = _random_mask(2, 1, 5, 6)
    manual, _ = scaled_dot_product_attention(q, k, v, mask)
    fused, weights = scaled_dot_product_attention(q, k, v, mask, use_fused=True)
    torch.testing.assert_close(fused, manual, **TOL)
    assert weights is None


def test_sdpa_output_is_a_weighted_average_of_the_values():
    # one query that matches key 1 far better than the others picks (almost) value 1: a soft lookup
    k = torch.eye(3) * 20
    v = torch.tensor([[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    out, weights = scaled_dot_product_attention(torch.tensor([[0.0, 1.0, 0.0]]), k, v)
    torch.testing.assert_close(out, v[1:2], atol=1e-4, rtol=0)
    assert weights.argmax().item() == 1


@pytest.mark.parametrize("shapes, match", [(((2, 4), (3, 5), (3, 5)), "query has last dimension 4 but key has 5"),
                                           (((2, 4), (3, 4), (2, 4)), "key has 3 positions but value has 2")])
def test_sdpa_rejects_mismatched_shapes(shapes, match):
    q, k, v = (_randn(*s) for s in shapes)
    with pytest.raises(ValueError, match=match):
        scaled_dot_product_attention(q, k, v)


# ---- heads ---------------------------------------------------------------------------------------

def test_split_heads_gives_each_head_its_slice_and_merge_undoes_it():
    x = _randn(2, 5, 12)
    heads = split_heads(x, 3)
    assert heads.shape == (2, 3, 5, 4)
    torch.testing.assert_close(heads[:, 1], x[..., 4:8])  # head 1 sees features 4..7
    torch.testing.assert_close(merge_heads(heads), x)


def test_split_heads_rejects_an_indivisible_size():
    with pytest.raises(ValueError, match="num_heads=5"):
        split_heads(_randn(2, 5, 12), 5)


# ---- multi-head attention against torch.nn.MultiheadAttention ------------------------------------

def _pair(C=16, H=4, bias=True, seed=0):
    """Our MultiHeadAttention and torch's, holding the same weights."""
    torch.manual_seed(seed)
    ours = MultiHeadAttention(C, H, bias=bias)
    theirs = nn.MultiheadAttention(C, H, bias=bias, batch_first=True)
    with torch.no_grad():
        q_w, k_w, v_w = theirs.in_proj_weight.chunk(3)
        ours.q_proj.weight.copy_(q_w), ours.k_proj.weight.copy_(k_w), ours.v_proj.weight.copy_(v_w)
        ours.out_proj.weight.copy_(theirs.out_proj.weight)
        if bias:
            # torch starts its biases at zero: give them random values so the test sees them
            theirs.in_proj_bias.normal_(generator=torch.Generator().manual_seed(seed))
            theirs.out_proj.bias.normal_(generator=torch.Generator().manual_seed(seed + 1))
            q_b, k_b, v_b = theirs.in_proj_bias.chunk(3)
            ours.q_proj.bias.copy_(q_b), ours.k_proj.bias.copy_(k_b), ours.v_proj.bias.copy_(v_b)
            ours.out_proj.bias.copy_(theirs.out_proj.bias)
    return ours, theirs


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("Lq, Lk", [(5, 5), (3, 6)])
def test_multi_head_attention_matches_torch(bias, Lq, Lk):
    ours, theirs = _pair(bias=bias)
    q, k, v = _randn(2, Lq, 16), _randn(2, Lk, 16, seed=1), _randn(2, Lk, 16, seed=2)
    out, weights = ours(q, k, v)
    ref, ref_mean = theirs(q, k, v)  # torch averages the heads' weights by default
    _, ref_heads = theirs(q, k, v, average_attn_weights=False)
    assert weights.shape == (2, 4, Lq, Lk)
    torch.testing.assert_close(out, ref, **TOL)
    torch.testing.assert_close(weights.mean(1), ref_mean, **TOL)
    torch.testing.assert_close(weights, ref_heads, **TOL)


@pytest.mark.parametrize("mask_shape", [(4, 6), (2, 4, 6), (2, 1, 4, 6), (2, 4, 4, 6)])
def test_multi_head_attention_masks_match_torch(mask_shape):
    ours, theirs = _pair()
    q, k = _randn(2, 4, 16), _randn(2, 6, 16, seed=1)
    mask = _random_mask(*mask_shape, seed=2)
    out, weights = ours(q, k, k, mask=mask)
    # torch wants True = NOT allowed, and a 3-D mask of shape (B·H, Lq, Lk)
    per_head = mask.unsqueeze(1) if mask.ndim == 3 else mask  # ours reads a 3-D mask as (B, Lq, Lk)
    torch_mask = (~per_head).expand(2, 4, 4, 6).reshape(8, 4, 6) if mask.ndim > 2 else ~mask
    ref, ref_heads = theirs(q, k, k, attn_mask=torch_mask, average_attn_weights=False)
    torch.testing.assert_close(out, ref, **TOL)
    torch.testing.assert_close(weights, ref_heads, **TOL)


def test_multi_head_attention_key_padding_mask_matches_torch():
    ours, theirs = _pair()
    x = _randn(3, 5, 16)
    real = padding_mask([5, 2, 4])
    out, weights = ours(x, x, x, key_padding_mask=real, mask=causal_mask(5))
    ref, ref_heads = theirs(x, x, x, key_padding_mask=~real, attn_mask=~causal_mask(5), average_attn_weights=False)
    torch.testing.assert_close(out, ref, **TOL)
    torch.testing.assert_close(weights, ref_heads, **TOL)
    assert (weights[1, :, :, 2:] == 0).all()  # nobody attends to the padding of sequence 1


def test_multi_head_attention_fused_matches_manual():
    ours, _ = _pair()
    x = _randn(2, 5, 16)
    manual, _ = ours(x, x, x, key_padding_mask=padding_mask([5, 3]))
    ours.use_fused = True
    fused, weights = ours(x, x, x, key_padding_mask=padding_mask([5, 3]))
    torch.testing.assert_close(fused, manual, **TOL)
    assert weights is None


@pytest.mark.parametrize("kwargs, match", [(dict(embed_dim=10, num_heads=3), "num_heads=3"),
                                           (dict(embed_dim=0, num_heads=1), "embed_dim"),
                                           (dict(embed_dim=8, num_heads=2, dropout=1.5), "dropout")])
def test_multi_head_attention_rejects_bad_sizes(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MultiHeadAttention(**kwargs)


def test_multi_head_attention_rejects_bad_inputs_by_name():
    mha = MultiHeadAttention(16, 4)
    x = _randn(2, 5, 16)
    with pytest.raises(ValueError, match="query has last dimension 8"):
        mha(_randn(2, 5, 8), x, x)
    with pytest.raises(ValueError, match="key_padding_mask"):
        mha(x, x, x, key_padding_mask=torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask must be a boolean"):
        mha(x, x, x, mask=torch.ones(5, 5))


@pytest.mark.parametrize("make", [lambda: GeneralScore(3, 5), lambda: AdditiveScore(3, 5, 4)])
def test_learned_scores_reject_sizes_they_were_not_built_for(make):
    with pytest.raises(ValueError, match="built for 3 and 5"):
        make()(_randn(2, 3), _randn(4, 6))


# ---- the attention filter on an image (notebook 03b) ---------------------------------------------

def test_attention_filter_weights_sum_to_one_and_a_flat_image_stays_flat():
    image = torch.rand(1, 3, 8, 9, generator=torch.Generator().manual_seed(0))
    filtered, weights = attention_filter(image, 0.1, k=5)
    assert filtered.shape == image.shape and weights.shape == (25, 72)
    torch.testing.assert_close(weights.sum(0), torch.ones(72))
    flat = torch.full((1, 3, 6, 6), 0.3)
    out, w = attention_filter(flat, 0.05, k=3)
    torch.testing.assert_close(out, flat)
    torch.testing.assert_close(w, torch.full((9, 36), 1 / 9))


def test_attention_filter_does_not_average_across_an_edge_but_a_huge_tau_does():
    image = torch.zeros(1, 3, 8, 8)
    image[..., 4:] = 1.0  # a vertical edge between columns 3 and 4
    sharp, _ = attention_filter(image, 0.01, k=3)
    torch.testing.assert_close(sharp, image)  # every neighbour across the edge has weight ~0
    blurred, _ = attention_filter(image, 1e6, k=3)
    assert 0.2 < float(blurred[0, 0, 4, 3]) < 0.5, "a huge τ gives a plain 3×3 average, which crosses the edge"


def test_attention_filter_rejects_a_batch_and_a_bad_tau():
    with pytest.raises(ValueError, match="one image"):
        attention_filter(torch.rand(2, 3, 8, 8), 0.1)
    with pytest.raises(ValueError, match="tau"):
        attention_filter(torch.rand(1, 3, 8, 8), 0.0)
