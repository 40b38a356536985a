"""Tests for mmcourse.transformer: blocks against torch's layers, causality, padding and permutation equivariance."""
import pytest
import torch
from torch import nn

from mmcourse.attention import padding_mask
from mmcourse.attention import MultiHeadAttention
from mmcourse.transformer import (DecoderBlock, EncoderBlock, FeedForward, TransformerConfig, TransformerDecoder,
                                  TransformerEncoder, copy_from_torch, post_norm_encoder_block)

TOL = dict(atol=1e-5, rtol=1e-5)


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _config(**changes):
    fields = dict(embed_dim=16, num_heads=4, ff_dim=32, num_layers=2, dropout=0.0)
    fields.update(changes)
    return TransformerConfig(**fields)


def _copy_with_random_biases(ours, theirs):
    """copy_from_torch, after moving every bias and LayerNorm gain away from 0 and 1 so the test sees them."""
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in theirs.parameters():
            if p.ndim == 1:
                p.add_(torch.randn(p.shape, generator=g) * 0.1)
    copy_from_torch(ours, theirs)


# ---- configuration and shapes --------------------------------------------------------------------

@pytest.mark.parametrize("changes, match", [(dict(embed_dim=10, num_heads=4), "divisible"),
                                            (dict(num_layers=0), "num_layers"), (dict(dropout=1.0), "dropout"),
                                            (dict(activation="tanh"), "activation")])
def test_config_rejects_bad_values_by_name(changes, match):
    with pytest.raises(ValueError, match=match):
        _config(**changes)


def test_feed_forward_acts_on_each_token_alone():
    ff = FeedForward(_config())
    x = _randn(2, 5, 16)
    torch.testing.assert_close(ff(x)[:, 3], ff(x[:, 3:4])[:, 0], **TOL)


@pytest.mark.parametrize("norm_first", [True, False])
def test_stacks_keep_the_shape_and_expose_attention_weights(norm_first):
    config = _config(norm_first=norm_first, num_layers=3)
    encoder, decoder = TransformerEncoder(config), TransformerDecoder(config)
    memory = encoder(_randn(2, 7, 16))
    out = decoder(_randn(2, 4, 16, seed=1), memory)
    assert memory.shape == (2, 7, 16) and out.shape == (2, 4, 16)
    assert [w.shape for w in encoder.attn_weights] == [(2, 4, 7, 7)] * 3
    assert [w.shape for w in decoder.attn_weights] == [(2, 4, 4, 4)] * 3
    assert [w.shape for w in decoder.cross_attn_weights] == [(2, 4, 4, 7)] * 3
    torch.testing.assert_close(decoder.cross_attn_weights[0].sum(-1), torch.ones(2, 4, 4), **TOL)


def test_blocks_reject_tokens_of_the_wrong_size():
    with pytest.raises(ValueError, match="embed_dim = 16"):
        EncoderBlock(_config())(_randn(2, 5, 8))
    with pytest.raises(ValueError, match="memory"):
        DecoderBlock(_config())(_randn(2, 5, 16), _randn(2, 3, 8))


# ---- against torch's own layers -------------------------------------------------------------------

@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_block_matches_torch_encoder_layer(norm_first, activation):
    torch.manual_seed(0)
    config = _config(norm_first=norm_first, activation=activation)
    ours = EncoderBlock(config)
    theirs = nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, dropout=0.0, activation=activation,
                                        batch_first=True, norm_first=norm_first)
    _copy_with_random_biases(ours, theirs)
    theirs.train()  # dropout is 0; training mode keeps torch off its fused fast path
    x = _randn(3, 6, 16)
    real = padding_mask([6, 4, 2])
    torch.testing.assert_close(ours(x), theirs(x), **TOL)
    torch.testing.assert_close(ours(x, key_padding_mask=real), theirs(x, src_key_padding_mask=~real), **TOL)


@pytest.mark.parametrize("norm_first", [True, False])
def test_decoder_block_matches_torch_decoder_layer(norm_first):
    torch.manual_seed(0)
    ours = DecoderBlock(_config(norm_first=norm_first, activation="relu"))
    theirs = nn.TransformerDecoderLayer(16, 4, dim_feedforward=32, dropout=0.0, batch_first=True, norm_first=norm_first)
    _copy_with_random_biases(ours, theirs)
    x, memory = _randn(2, 5, 16), _randn(2, 7, 16, seed=1)
    real_memory = padding_mask([7, 3])
    ref = theirs(x, memory, tgt_mask=nn.Transformer.generate_square_subsequent_mask(5),
                 memory_key_padding_mask=~real_memory)
    torch.testing.assert_close(ours(x, memory, memory_key_padding_mask=real_memory), ref, **TOL)


# ---- the properties that make a transformer a transformer -----------------------------------------

def test_causal_decoder_output_at_t_ignores_later_tokens():
    decoder = TransformerDecoder(_config()).eval()
    x, memory = _randn(2, 8, 16), _randn(2, 5, 16, seed=1)
    changed = x.clone()
    changed[:, 5:] = _randn(2, 3, 16, seed=2)  # rewrite the future from position 5 on
    out, out_changed = decoder(x, memory), decoder(changed, memory)
    torch.testing.assert_close(out[:, :5], out_changed[:, :5], **TOL)
    assert not torch.allclose(out[:, 5:], out_changed[:, 5:])
    assert (decoder.attn_weights[0].triu(diagonal=1) == 0).all()


def test_non_causal_decoder_sees_later_tokens():
    decoder = TransformerDecoder(_config()).eval()
    x, memory = _randn(1, 6, 16), _randn(1, 4, 16, seed=1)
    changed = x.clone()
    changed[:, -1] = _randn(1, 16, seed=2)  # (adding a constant would not do: LayerNorm removes it)
    assert not torch.allclose(decoder(x, memory, causal=False)[:, 0], decoder(changed, memory, causal=False)[:, 0])


def test_padded_positions_do_not_change_the_real_outputs():
    encoder = TransformerEncoder(_config()).eval()
    x = _randn(2, 6, 16)
    real = padding_mask([4, 6])
    changed = x.clone()
    changed[0, 4:] = 50.0  # garbage in the padding of sequence 0
    out, out_changed = encoder(x, key_padding_mask=real), encoder(changed, key_padding_mask=real)
    torch.testing.assert_close(out[0, :4], out_changed[0, :4], **TOL)
    torch.testing.assert_close(out[1], out_changed[1], **TOL)
    assert (encoder.attn_weights[0][0, :, :, 4:] == 0).all()


def test_padded_memory_is_ignored_by_cross_attention():
    decoder = TransformerDecoder(_config()).eval()
    x, memory = _randn(2, 3, 16), _randn(2, 5, 16, seed=1)
    real = padding_mask([2, 5])
    changed = memory.clone()
    changed[0, 2:] = -30.0
    out = decoder(x, memory, memory_key_padding_mask=real)
    torch.testing.assert_close(out, decoder(x, changed, memory_key_padding_mask=real), **TOL)


@pytest.mark.parametrize("norm_first", [True, False])
def test_position_free_encoder_is_permutation_equivariant(norm_first):
    encoder = TransformerEncoder(_config(norm_first=norm_first)).eval()
    x = _randn(2, 7, 16)
    perm = torch.randperm(7, generator=torch.Generator().manual_seed(3))
    # permuting the inputs permutes the outputs in the same way: self-attention sees a set
    torch.testing.assert_close(encoder(x[:, perm]), encoder(x)[:, perm], **TOL)


def test_dropout_is_active_in_training_and_off_in_eval():
    encoder = TransformerEncoder(_config(dropout=0.5))
    x = _randn(2, 5, 16)
    encoder.train()
    assert not torch.allclose(encoder(x), encoder(x))
    encoder.eval()
    torch.testing.assert_close(encoder(x), encoder(x))


# ---- weights from torch ---------------------------------------------------

def test_copy_from_torch_makes_attention_agree_and_rejects_mismatched_pairs():
    torch.manual_seed(0)
    theirs = nn.MultiheadAttention(16, 4, batch_first=True)
    ours = MultiHeadAttention(16, 4)
    copy_from_torch(ours, theirs)
    x = _randn(2, 5, 16)
    torch.testing.assert_close(ours(x, x, x)[0], theirs(x, x, x, need_weights=False)[0], **TOL)
    with pytest.raises(ValueError, match="EncoderBlock with nn.TransformerEncoderLayer"):
        copy_from_torch(EncoderBlock(_config()), theirs)



@pytest.mark.parametrize("ours, theirs, field", [
    (lambda: MultiHeadAttention(16, 2), lambda: nn.MultiheadAttention(16, 4, batch_first=True), "num_heads"),
    (lambda: MultiHeadAttention(16, 4, bias=False), lambda: nn.MultiheadAttention(16, 4, batch_first=True),
     "the attention's bias"),
    (lambda: EncoderBlock(_config(num_heads=2)), lambda: nn.TransformerEncoderLayer(16, 4, 32, batch_first=True,
                                                                                     norm_first=True, activation="gelu"),
     "num_heads"),
    (lambda: EncoderBlock(_config()), lambda: nn.TransformerEncoderLayer(16, 4, 32, batch_first=True,
                                                                         norm_first=False, activation="gelu"),
     "norm_first"),
    (lambda: EncoderBlock(_config()), lambda: nn.TransformerEncoderLayer(16, 4, 32, batch_first=True, norm_first=True),
     "activation"),  # torch's default is ReLU, ours GELU
    (lambda: EncoderBlock(_config(layer_norm_eps=1e-6)),
     lambda: nn.TransformerEncoderLayer(16, 4, 32, batch_first=True, norm_first=True, activation="gelu"), "eps"),
    (lambda: EncoderBlock(_config(bias=False)),
     lambda: nn.TransformerEncoderLayer(16, 4, 32, batch_first=True, norm_first=True, activation="gelu"), "bias"),
    (lambda: DecoderBlock(_config(norm_first=False)),
     lambda: nn.TransformerDecoderLayer(16, 4, 32, batch_first=True, norm_first=True, activation="gelu"),
     "norm_first"),
])
def test_copy_from_torch_refuses_a_pair_that_would_compute_something_else(ours, theirs, field):
    # copying between mismatched configurations used to succeed, and the "equivalent" models then differed
    with pytest.raises(ValueError, match=f"{field}.* differs"):
        copy_from_torch(ours(), theirs())

class _Parts(nn.Module):
    """A block laid out like notebook 04's `EncoderLayer`: torch's names, self_attn(x) -> (B, T, C)."""

    class _Attention(MultiHeadAttention):
        def forward(self, x, memory=None, allowed=None):
            memory = x if memory is None else memory
            return super().forward(x, memory, memory, allowed)[0]

    def __init__(self, C, H, ff_dim):
        super().__init__()
        self.self_attn = self._Attention(C, H)
        self.norm1, self.norm2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.linear1, self.linear2 = nn.Linear(C, ff_dim), nn.Linear(ff_dim, C)


def test_copy_from_torch_fills_a_module_laid_out_like_torch_and_the_post_norm_reference_matches():
    torch.manual_seed(0)
    theirs = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, activation="relu", batch_first=True)
    ours = _Parts(16, 4, 32)
    _copy_with_random_biases(ours, theirs)
    x = _randn(2, 5, 16)
    with torch.no_grad():
        torch.testing.assert_close(post_norm_encoder_block(x, ours), theirs.train()(x), **TOL)
    with pytest.raises(ValueError, match="laid out like them"):
        copy_from_torch(ours, nn.TransformerDecoderLayer(16, 4, 32, batch_first=True))
