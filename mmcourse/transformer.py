"""The transformer: blocks of attention and a small MLP, joined by residual connections.

An **encoder block** lets every token attend to every other (self-attention), then passes each token
through the same two-layer MLP. A **decoder block** has three sub-layers: *causal* self-attention
(a token sees only itself and the tokens before it), *cross-attention* (encoder–decoder attention:
queries from the decoder, keys and values from the encoder's output, the "memory") and the MLP.
Each sub-layer is wrapped in a residual connection, dropout and layer normalisation.

**Pre-norm by default.** Vaswani et al. normalise *after* each residual sum (post-norm:
``x = LN(x + f(x))``); most later models normalise *before* the sub-layer (pre-norm:
``x = x + f(LN(x))``), which keeps the residual path an identity and trains without a learning-rate
warm-up (Xiong et al., 2020). ``TransformerConfig.norm_first`` picks one: ``True`` (pre-norm, the
default; the stacks then end with a final LayerNorm) or ``False`` (post-norm, the original).

Each block keeps the weights of its last forward pass for drawing: ``EncoderBlock.attn_weights`` and
``DecoderBlock.attn_weights`` (self-attention) and ``DecoderBlock.cross_attn_weights``, each
``(B, H, Lq, Lk)`` and detached. The stacks take embeddings ``(B, T, C)``: token embeddings and
positional encodings (``mmcourse.positional``) are added by the model that uses them.

Defined in notebook 04 (positional encoding and transformers); used in notebooks 07 and 08.
Sources: Vaswani et al. (2017), "Attention is all you need", section 3; Xiong et al. (2020),
"On layer normalization in the transformer architecture"; Hendrycks and Gimpel (2016) for GELU.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from mmcourse.attention import MultiHeadAttention, causal_mask

__all__ = ["TransformerConfig", "FeedForward", "EncoderBlock", "DecoderBlock", "TransformerEncoder",
           "TransformerDecoder", "copy_from_torch", "post_norm_encoder_block"]

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU}


@dataclass
class TransformerConfig:
    """The sizes of a transformer; the defaults train on a laptop's CPU in seconds. Defined in notebook 04."""

    embed_dim: int = 64  # C: size of every token vector (d_model)
    num_heads: int = 4  # H: attention heads; each sees D = C / H features
    ff_dim: int = 128  # hidden size of the MLP (d_ff; Vaswani et al. use 4·C)
    num_layers: int = 2  # blocks in a TransformerEncoder or TransformerDecoder
    dropout: float = 0.1  # dropout on attention weights and on each sub-layer's output
    activation: str = "gelu"  # the MLP's non-linearity: "gelu" or "relu" (the original)
    norm_first: bool = True  # True: pre-norm x + f(LN(x)); False: post-norm LN(x + f(x)) as in the paper
    bias: bool = True  # biases in the linear layers
    layer_norm_eps: float = 1e-5  # the ε of LayerNorm

    def __post_init__(self):
        for name in ("embed_dim", "num_heads", "ff_dim", "num_layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim={self.embed_dim} is not divisible by num_heads={self.num_heads}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {self.activation!r}")


class FeedForward(nn.Module):
    """The position-wise MLP ``FFN(x) = W₂ φ(W₁ x + b₁) + b₂``, applied to every token alone.

    Defined in notebook 04. ``(B, T, C) -> (B, T, C)`` through a hidden size of ``config.ff_dim``.
    """

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.linear1 = nn.Linear(config.embed_dim, config.ff_dim, bias=config.bias)
        self.activation = _ACTIVATIONS[config.activation]()
        self.dropout = nn.Dropout(config.dropout)
        self.linear2 = nn.Linear(config.ff_dim, config.embed_dim, bias=config.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # FFN(x) = W₂ φ(W₁ x + b₁) + b₂
        return self.linear2(self.dropout(self.activation(self.linear1(x))))  # (B, T, C)


class _Block(nn.Module):
    """What both blocks share: the residual wrapper ``sublayer`` around pre- or post-norm."""

    def __init__(self, config: TransformerConfig, num_sublayers: int):
        super().__init__()
        self.config = config
        C = config.embed_dim
        self.norms = nn.ModuleList(nn.LayerNorm(C, eps=config.layer_norm_eps, bias=config.bias)
                                   for _ in range(num_sublayers))
        self.dropout = nn.Dropout(config.dropout)

    def sublayer(self, x: torch.Tensor, i: int, f) -> torch.Tensor:
        if self.config.norm_first:
            # pre-norm: x + Dropout(f(LN(x)))
            return x + self.dropout(f(self.norms[i](x)))
        # post-norm: LN(x + Dropout(f(x)))
        return self.norms[i](x + self.dropout(f(x)))


def _check_tokens(x, config: TransformerConfig, name: str = "x") -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 3 or x.shape[-1] != config.embed_dim:
        raise ValueError(f"{name} must have shape (B, T, C) with C = embed_dim = {config.embed_dim}, "
                         f"got {getattr(x, 'shape', type(x).__name__)}")


class EncoderBlock(_Block):
    """Self-attention then the MLP, each with a residual connection. Defined in notebook 04.

    ``forward(x (B, T, C), mask=None, key_padding_mask=None) -> (B, T, C)``, masks as in
    ``MultiHeadAttention`` (True = may attend / real token). Keeps ``attn_weights`` ``(B, H, T, T)``.
    """

    def __init__(self, config: TransformerConfig):
        super().__init__(config, num_sublayers=2)
        self.self_attn = MultiHeadAttention(config.embed_dim, config.num_heads, config.bias, config.dropout)
        self.ff = FeedForward(config)
        self.attn_weights: torch.Tensor | None = None

    def _attend(self, x, mask, key_padding_mask):
        out, weights = self.self_attn(x, x, x, mask, key_padding_mask)  # (B, T, C), (B, H, T, T)
        self.attn_weights = weights.detach()
        return out

    def forward(self, x: torch.Tensor, mask=None, key_padding_mask=None) -> torch.Tensor:
        _check_tokens(x, self.config)
        # 1. every token attends to every (allowed) token
        x = self.sublayer(x, 0, lambda y: self._attend(y, mask, key_padding_mask))  # (B, T, C)
        # 2. the MLP, token by token
        return self.sublayer(x, 1, self.ff)  # (B, T, C)


class DecoderBlock(_Block):
    """Causal self-attention, cross-attention to the encoder's ``memory``, then the MLP. Defined in notebook 04.

    ``forward(x (B, T, C), memory (B, S, C), key_padding_mask=None, memory_key_padding_mask=None,
    causal=True, mask=None) -> (B, T, C)``. ``key_padding_mask`` ``(B, T)`` marks the decoder's real
    tokens, ``memory_key_padding_mask`` ``(B, S)`` the encoder's; ``mask`` is an extra self-attention
    mask, combined with the causal one. Keeps ``attn_weights`` ``(B, H, T, T)`` and
    ``cross_attn_weights`` ``(B, H, T, S)``.
    """

    def __init__(self, config: TransformerConfig):
        super().__init__(config, num_sublayers=3)
        self.self_attn = MultiHeadAttention(config.embed_dim, config.num_heads, config.bias, config.dropout)
        self.cross_attn = MultiHeadAttention(config.embed_dim, config.num_heads, config.bias, config.dropout)
        self.ff = FeedForward(config)
        self.attn_weights: torch.Tensor | None = None
        self.cross_attn_weights: torch.Tensor | None = None

    def _self(self, x, mask, key_padding_mask):
        out, weights = self.self_attn(x, x, x, mask, key_padding_mask)  # (B, T, C), (B, H, T, T)
        self.attn_weights = weights.detach()
        return out

    def _cross(self, x, memory, memory_key_padding_mask):
        # queries from the decoder, keys and values from the encoder's memory
        out, weights = self.cross_attn(x, memory, memory, None, memory_key_padding_mask)  # (B, T, C), (B, H, T, S)
        self.cross_attn_weights = weights.detach()
        return out

    def forward(self, x: torch.Tensor, memory: torch.Tensor, key_padding_mask=None, memory_key_padding_mask=None,
                causal: bool = True, mask=None) -> torch.Tensor:
        _check_tokens(x, self.config)
        _check_tokens(memory, self.config, "memory")
        B, T, C = x.shape
        if mask is not None and (not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool):
            raise ValueError(f"mask must be a boolean tensor (True = may attend), got {type(mask).__name__}")
        if causal:
            future = causal_mask(T, device=x.device)  # (T, T)
            mask = future if mask is None else mask & future
        # 1. token t attends to tokens 0 … t of the output so far
        x = self.sublayer(x, 0, lambda y: self._self(y, mask, key_padding_mask))  # (B, T, C)
        # 2. encoder–decoder attention: every output token looks at the whole input
        x = self.sublayer(x, 1, lambda y: self._cross(y, memory, memory_key_padding_mask))  # (B, T, C)
        # 3. the MLP, token by token
        return self.sublayer(x, 2, self.ff)  # (B, T, C)


class TransformerEncoder(nn.Module):
    """``config.num_layers`` encoder blocks (plus a final LayerNorm when pre-norm). Defined in notebook 04.

    ``forward(x (B, T, C), mask=None, key_padding_mask=None) -> (B, T, C)``; ``attn_weights`` lists each
    block's ``(B, H, T, T)``.
    """

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = config
        self.blocks = nn.ModuleList(EncoderBlock(config) for _ in range(config.num_layers))
        self.norm = (nn.LayerNorm(config.embed_dim, eps=config.layer_norm_eps, bias=config.bias)
                     if config.norm_first else nn.Identity())

    def forward(self, x: torch.Tensor, mask=None, key_padding_mask=None) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, mask, key_padding_mask)  # (B, T, C)
        return self.norm(x)  # (B, T, C)

    @property
    def attn_weights(self) -> list:
        return [block.attn_weights for block in self.blocks]


class TransformerDecoder(nn.Module):
    """``config.num_layers`` decoder blocks (plus a final LayerNorm when pre-norm). Defined in notebook 04.

    ``forward(x (B, T, C), memory (B, S, C), key_padding_mask=None, memory_key_padding_mask=None,
    causal=True) -> (B, T, C)``; ``attn_weights`` and ``cross_attn_weights`` list each block's.
    """

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = config
        self.blocks = nn.ModuleList(DecoderBlock(config) for _ in range(config.num_layers))
        self.norm = (nn.LayerNorm(config.embed_dim, eps=config.layer_norm_eps, bias=config.bias)
                     if config.norm_first else nn.Identity())

    def forward(self, x: torch.Tensor, memory: torch.Tensor, key_padding_mask=None, memory_key_padding_mask=None,
                causal: bool = True) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, memory, key_padding_mask, memory_key_padding_mask, causal)  # (B, T, C)
        return self.norm(x)  # (B, T, C)

    @property
    def attn_weights(self) -> list:
        return [block.attn_weights for block in self.blocks]

    @property
    def cross_attn_weights(self) -> list:
        return [block.cross_attn_weights for block in self.blocks]


@torch.no_grad()
def copy_from_torch(ours: nn.Module, theirs: nn.Module) -> None:
    """Load the weights of one of PyTorch's layers into ours, to check that both compute the same thing.

    Defined in notebook 04. Pairs: ``MultiHeadAttention`` ← ``nn.MultiheadAttention``,
    ``EncoderBlock`` ← ``nn.TransformerEncoderLayer``, ``DecoderBlock`` ← ``nn.TransformerDecoderLayer``.
    PyTorch keeps W_Q, W_K and W_V stacked in one ``in_proj_weight``; we keep three ``nn.Linear``.

    Any module laid out like ours works too (the blocks notebook 04 builds in its cells): an attention
    with ``q_proj``, ``k_proj``, ``v_proj`` and ``out_proj``; a block with ``self_attn``, for a decoder
    ``cross_attn`` or ``multihead_attn``, the MLP as ``ff.linear1``/``ff.linear2`` or ``linear1``/``linear2``,
    and the layer norms as ``norms[i]`` or ``norm1``, ``norm2`` (``norm3``), each with ``weight`` and ``bias``.
    """
    def fail():
        pairs = {MultiHeadAttention: nn.MultiheadAttention, EncoderBlock: nn.TransformerEncoderLayer,
                 DecoderBlock: nn.TransformerDecoderLayer}
        raise ValueError(f"copy_from_torch pairs "
                         f"{', '.join(f'{a.__name__} with nn.{b.__name__}' for a, b in pairs.items())} "
                         f"(or modules laid out like them); got {type(ours).__name__} with {type(theirs).__name__}")

    if isinstance(theirs, nn.MultiheadAttention):
        projections = [getattr(ours, name, None) for name in ("q_proj", "k_proj", "v_proj", "out_proj")]
        if not all(isinstance(p, nn.Linear) for p in projections) or isinstance(ours, _Block):
            fail()
        if ours.q_proj.weight.shape != theirs.out_proj.weight.shape:
            raise ValueError(f"embed_dim differs: ours {ours.q_proj.weight.shape[0]}, theirs {theirs.embed_dim}")
        heads = getattr(ours, "num_heads", getattr(ours, "H", None))  # notebook 04's own attention calls it H
        if heads is not None and heads != theirs.num_heads:
            _differs("num_heads", heads, theirs.num_heads)
        _same_bias("the attention's bias", ours.q_proj, theirs.in_proj_bias)
        biases = theirs.in_proj_bias.chunk(3) if theirs.in_proj_bias is not None else (None,) * 3
        for proj, w, b in zip(projections[:3], theirs.in_proj_weight.chunk(3), biases):
            proj.weight.copy_(w)
            if b is not None:
                proj.bias.copy_(b)
        ours.out_proj.load_state_dict(theirs.out_proj.state_dict())
        return
    decoder = isinstance(theirs, nn.TransformerDecoderLayer)
    if not (decoder or isinstance(theirs, nn.TransformerEncoderLayer)) or not hasattr(ours, "self_attn"):
        fail()
    cross = getattr(ours, "cross_attn", getattr(ours, "multihead_attn", None))
    if decoder != (cross is not None):
        fail()
    config = getattr(ours, "config", None)
    if isinstance(config, TransformerConfig):  # what the weights alone do not show: where the norms sit, φ
        if config.norm_first != theirs.norm_first:
            _differs("norm_first", config.norm_first, theirs.norm_first)
        activation = _activation_name(theirs.activation)
        if activation is not None and config.activation != activation:
            _differs("activation", config.activation, activation)
    mlp = getattr(ours, "ff", ours)
    norms = list(ours.norms) if hasattr(ours, "norms") else [getattr(ours, f"norm{i + 1}") for i in range(2 + decoder)]
    if len(norms) != 2 + decoder:
        fail()
    for i, norm in enumerate(norms):
        their_norm = getattr(theirs, f"norm{i + 1}")
        if getattr(norm, "eps", their_norm.eps) != their_norm.eps:
            _differs(f"the eps of norm{i + 1}", norm.eps, their_norm.eps)
        _same_bias(f"norm{i + 1}'s bias", norm, their_norm.bias)
    for name in ("linear1", "linear2"):
        _same_bias(f"{name}'s bias", getattr(mlp, name), getattr(theirs, name).bias)
    copy_from_torch(ours.self_attn, theirs.self_attn)
    if decoder:
        copy_from_torch(cross, theirs.multihead_attn)
    mlp.linear1.load_state_dict(theirs.linear1.state_dict())
    mlp.linear2.load_state_dict(theirs.linear2.state_dict())
    for i, norm in enumerate(norms):
        norm.load_state_dict(getattr(theirs, f"norm{i + 1}").state_dict())


def _differs(name: str, ours, theirs) -> None:
    raise ValueError(f"copy_from_torch: {name} differs (ours {ours!r}, theirs {theirs!r}): with the same weights the "
                     f"two would still compute different things, so the copy would prove nothing")


def _same_bias(name: str, ours: nn.Module, their_bias) -> None:
    """Both have the bias, or neither."""
    ours_has = getattr(ours, "bias", None) is not None
    if ours_has != (their_bias is not None):
        _differs(name, "present" if ours_has else "absent", "present" if their_bias is not None else "absent")


def _activation_name(activation) -> str | None:
    """The name in ``_ACTIVATIONS`` of torch's activation function or module, None for anything else."""
    for name, module in _ACTIVATIONS.items():
        if activation is getattr(F, name) or isinstance(activation, module):
            return name
    return None


def post_norm_encoder_block(x: torch.Tensor, layer: nn.Module) -> torch.Tensor:
    """The original (post-norm) encoder block, computed with the parts of ``layer``: the reference of
    notebook 04's exercise 4.3. Defined in notebook 04.

    ``layer`` is laid out like ``nn.TransformerEncoderLayer``: ``self_attn(x)`` returns the self-attention
    output ``(B, T, C)``; ``norm1`` and ``norm2`` are layer norms; ``linear1`` and ``linear2`` the MLP, with a
    ReLU between them. ``x (B, T, C) -> (B, T, C)``, as ``nn.TransformerEncoderLayer(norm_first=False,
    activation="relu")`` in training mode with dropout 0.
    """
    # 1. self-attention, residual, then layer norm ("add & norm")
    x = layer.norm1(x + layer.self_attn(x))  # (B, T, C)
    # 2. the MLP token by token, residual, then layer norm
    return layer.norm2(x + layer.linear2(torch.relu(layer.linear1(x))))  # (B, T, C)
