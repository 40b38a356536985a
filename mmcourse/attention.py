"""Attention: a soft lookup table, written by hand.

A lookup table returns the value whose key equals the query. Attention matches the query against
*every* key softly: each key gets a weight between 0 and 1 (a softmax of scores), and the answer is
the weighted average of the values. This module builds it in the order of the lecture:

- ``attention_pooling`` / ``AttentionPooling``: the lecture's five steps over encoder outputs h_t,
  with one learned query q;
- the score functions of the literature: ``dot_score``, ``scaled_dot_score``, ``GeneralScore``
  (bilinear qᵀ W k) and ``AdditiveScore`` (concat, vᵀ tanh(W₁ q + W₂ k));
- ``masked_softmax`` and the masks ``causal_mask`` and ``padding_mask``;
- ``scaled_dot_product_attention``: softmax(Q Kᵀ / √d_k) V, with the fused torch call beside it;
- ``split_heads`` / ``merge_heads`` and ``MultiHeadAttention``;
- ``attention_filter``: every pixel of an image attends to its k×k neighbours by colour (notebook 03b).

**Masks** are boolean and True where attention is *allowed* (a real frame, an earlier token), as in
``torch.nn.functional.scaled_dot_product_attention``; ``torch.nn.MultiheadAttention`` uses the
opposite convention. A row whose mask allows no key at all has no softmax (0 / 0), so
``masked_softmax`` raises a ``ValueError`` naming that row rather than returning NaN silently.

Letters: B batch, H heads, T positions, Lq / Lk query / key positions, C embedding, D head dimension.

Defined in notebook 03 (attention); used in notebooks 04 (transformers), 07 and 08.
Sources: Bahdanau, Cho and Bengio (2015), additive attention; Luong, Pham and Manning (2015), the
dot and general scores; Vaswani et al. (2017), scaled dot-product and multi-head attention.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["causal_mask", "padding_mask", "masked_softmax", "dot_score", "scaled_dot_score", "GeneralScore",
           "AdditiveScore", "attention_pooling", "AttentionPooling", "scaled_dot_product_attention",
           "split_heads", "merge_heads", "MultiHeadAttention", "attention_filter"]


def _float(x, name: str, ndim: int | None = None, min_ndim: int = 0) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not torch.is_floating_point(x):
        got = f"a {x.dtype} tensor" if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a float torch.Tensor, got {got}")
    if (ndim is not None and x.ndim != ndim) or x.ndim < min_ndim:
        want = f"{ndim} dimensions" if ndim is not None else f"at least {min_ndim} dimensions"
        raise ValueError(f"{name} must have {want}, got shape {tuple(x.shape)}")
    return x


def _positive_int(n, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{name} must be a positive int, got {n!r}")
    return n


def _bool_mask(mask, name: str = "mask") -> torch.Tensor:
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        got = f"a {mask.dtype} tensor" if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ValueError(f"{name} must be a boolean tensor (True = may attend), got {got}")
    return mask


def _check_mask(mask, shape: tuple, name: str = "mask") -> torch.Tensor:
    """``mask`` must be boolean and broadcast to ``shape``, and allow at least one key in every row."""
    _bool_mask(mask, name)
    try:
        fits = torch.broadcast_shapes(mask.shape, shape) == torch.Size(shape)
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(f"{name} has shape {tuple(mask.shape)}, which does not broadcast to the scores' shape "
                         f"{tuple(shape)} (..., Lq, Lk)")
    # softmax over an empty set of keys is 0 / 0: refuse rather than return NaN
    empty = ~mask.expand(shape).any(dim=-1)  # (..., Lq)
    if empty.any():
        row = tuple(int(i) for i in empty.nonzero()[0])
        raise ValueError(f"{name} allows no key at all in row {row} (of {tuple(shape[:-1])}): its softmax would "
                         f"be 0/0 = NaN; let every query attend to at least one key")
    return mask


def causal_mask(num_queries: int, num_keys: int | None = None, device=None) -> torch.Tensor:
    """``(Lq, Lk)`` boolean, True on and below the diagonal: query i may see keys 0…i, not the future.

    Defined in notebook 03. ``num_keys`` defaults to ``num_queries`` (self-attention).
    """
    Lq = _positive_int(num_queries, "num_queries")
    Lk = Lq if num_keys is None else _positive_int(num_keys, "num_keys")
    return torch.ones(Lq, Lk, dtype=torch.bool, device=device).tril()  # (Lq, Lk)


def padding_mask(lengths, max_len: int | None = None) -> torch.Tensor:
    """``(B, max_len)`` boolean, True at the real positions ``t < lengths[b]``, False at the padding.

    Defined in notebook 03. ``max_len`` defaults to the longest length.
    """
    lengths = torch.as_tensor(lengths)
    if lengths.ndim != 1 or lengths.numel() == 0 or lengths.is_floating_point() or lengths.dtype == torch.bool:
        raise ValueError(f"lengths must be a non-empty 1-D sequence of ints, got {lengths.tolist()!r}")
    if (lengths < 0).any():
        raise ValueError(f"lengths must be >= 0, got {lengths.tolist()}")
    T = int(lengths.max()) if max_len is None else _positive_int(max_len, "max_len")
    if (lengths > T).any():
        raise ValueError(f"max_len is {T} but lengths has {int(lengths.max())}: a sequence longer than max_len")
    return torch.arange(T, device=lengths.device) < lengths[:, None]  # (B, T)


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None = None, name: str = "mask") -> torch.Tensor:
    """Softmax over the last dimension; where ``mask`` is False the weight is exactly 0.

    Defined in notebook 03. Raises ``ValueError`` if a row of ``mask`` allows nothing (see the module).
    """
    scores = _float(scores, "scores", min_ndim=1)
    if mask is None:
        return scores.softmax(dim=-1)
    _check_mask(mask, tuple(scores.shape), name)
    # a_j = exp(e_j) / Σ_{allowed j'} exp(e_j'): a masked score of -inf has exp(-inf) = 0
    return scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)


def _check_query_key(query, key) -> None:
    _float(query, "query", min_ndim=2)
    _float(key, "key", min_ndim=2)
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(f"query has last dimension {query.shape[-1]} but key has {key.shape[-1]}: "
                         f"q·k needs equal sizes")


def _check_score_inputs(query, key, query_dim: int, key_dim: int) -> None:
    _float(query, "query", min_ndim=2)
    _float(key, "key", min_ndim=2)
    if (query.shape[-1], key.shape[-1]) != (query_dim, key_dim):
        raise ValueError(f"query and key have last dimensions {query.shape[-1]} and {key.shape[-1]} but this "
                         f"score was built for {query_dim} and {key_dim}")


def dot_score(query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
    """Luong's *dot* score ``e_ij = q_iᵀ k_j`` for ``(..., Lq, D)`` and ``(..., Lk, D)``: ``(..., Lq, Lk)``.

    Defined in notebook 03 ("other score functions").
    """
    _check_query_key(query, key)
    # e_ij = q_i · k_j
    return query @ key.transpose(-2, -1)  # (..., Lq, Lk)


def scaled_dot_score(query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
    """Vaswani's score ``e_ij = q_iᵀ k_j / √D``: the dot score kept at unit variance as D grows.

    Defined in notebook 03.
    """
    # e_ij = q_i · k_j / √D
    return dot_score(query, key) / math.sqrt(query.shape[-1])  # (..., Lq, Lk)


class GeneralScore(nn.Module):
    """Luong's *general* (bilinear) score ``e_ij = q_iᵀ W k_j``, with a learned ``W`` of shape ``(Dq, Dk)``.

    Defined in notebook 03. Query and key may have different sizes; ``W = I`` gives the dot score.
    """

    def __init__(self, query_dim: int, key_dim: int):
        super().__init__()
        self.W = nn.Parameter(torch.empty(_positive_int(query_dim, "query_dim"), _positive_int(key_dim, "key_dim")))
        nn.init.xavier_uniform_(self.W)

    def forward(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        _check_score_inputs(query, key, *self.W.shape)
        # e_ij = q_iᵀ W k_j
        return query @ self.W @ key.transpose(-2, -1)  # (..., Lq, Lk)


class AdditiveScore(nn.Module):
    """Bahdanau's *additive* (concat) score ``e_ij = vᵀ tanh(W₁ q_i + W₂ k_j)``: a one-hidden-layer MLP.

    Defined in notebook 03. ``W₁`` is ``(A, Dq)``, ``W₂`` is ``(A, Dk)`` and ``v`` is ``(A,)``, with
    ``A = hidden_dim``; the lecture's steps 2–3 (u = tanh(W h), e = qᵀu) are the case of one query.
    """

    def __init__(self, query_dim: int, key_dim: int, hidden_dim: int):
        super().__init__()
        A = _positive_int(hidden_dim, "hidden_dim")
        self.W1 = nn.Linear(_positive_int(query_dim, "query_dim"), A, bias=False)
        self.W2 = nn.Linear(_positive_int(key_dim, "key_dim"), A, bias=False)
        self.v = nn.Parameter(torch.randn(A) / math.sqrt(A))

    def forward(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        _check_score_inputs(query, key, self.W1.in_features, self.W2.in_features)
        # W₁ q_i and W₂ k_j, laid out so that they broadcast over every pair (i, j)
        wq = self.W1(query).unsqueeze(-2)  # (..., Lq, 1, A)
        wk = self.W2(key).unsqueeze(-3)  # (..., 1, Lk, A)
        # e_ij = vᵀ tanh(W₁ q_i + W₂ k_j)
        return torch.tanh(wq + wk) @ self.v  # (..., Lq, Lk)


def attention_pooling(h: torch.Tensor, W: torch.Tensor, q: torch.Tensor, mask: torch.Tensor | None = None):
    """The lecture's five steps: a context vector ``Σ_t a_t h_t`` for each sequence of encoder outputs.

    Defined in notebook 03. ``h`` is ``(B, T, Dh)``, ``W`` is ``(Du, Dh)``, ``q`` is ``(Du,)`` and the
    optional ``mask`` ``(B, T)`` is True at real frames. Returns ``(context (B, Dh), weights (B, T))``.
    It is ``scaled_dot_product_attention`` with one query ``q``, keys ``u_t``, values ``h_t`` and scale 1.
    """
    h = _float(h, "h", ndim=3)
    B, T, Dh = h.shape
    W = _float(W, "W", ndim=2)
    q = _float(q, "q", ndim=1)
    if W.shape[1] != Dh:
        raise ValueError(f"W has shape {tuple(W.shape)} but h has last dimension {Dh}: "
                         f"W h_t needs W of shape (Du, {Dh})")
    if q.shape[0] != W.shape[0]:
        raise ValueError(f"q has size {q.shape[0]} but W has {W.shape[0]} rows: qᵀ u_t needs equal sizes")
    if mask is not None and (not isinstance(mask, torch.Tensor) or mask.shape != (B, T)):
        raise ValueError(f"mask must have shape (B, T) = {(B, T)}, got {getattr(mask, 'shape', type(mask).__name__)}")
    # Step 1: h_t, the encoder outputs  (B, T, Dh)
    # Step 2: u_t = tanh(W h_t)
    u = torch.tanh(h @ W.T)  # (B, T, Du)
    # Step 3: e_t = qᵀ u_t
    e = u @ q  # (B, T)
    # Step 4: [a_1 … a_T] = softmax([e_1 … e_T]), over the real frames only
    a = masked_softmax(e, mask)  # (B, T)
    # Step 5: context = Σ_t a_t h_t
    context = (a.unsqueeze(-1) * h).sum(dim=1)  # (B, Dh)
    return context, a


class AttentionPooling(nn.Module):
    """The five steps with a learnable ``W`` (``Linear(hidden_dim, attn_dim)``, no bias) and query ``q``.

    Defined in notebook 03. ``forward(h, mask=None) -> (context (B, Dh), weights (B, T))``.
    """

    def __init__(self, hidden_dim: int, attn_dim: int):
        super().__init__()
        self.W = nn.Linear(_positive_int(hidden_dim, "hidden_dim"), _positive_int(attn_dim, "attn_dim"), bias=False)
        self.q = nn.Parameter(torch.randn(attn_dim) / math.sqrt(attn_dim))

    def forward(self, h: torch.Tensor, mask: torch.Tensor | None = None):
        return attention_pooling(h, self.W.weight, self.q, mask)


def scaled_dot_product_attention(query, key, value, mask=None, *, is_causal: bool = False, scale: float | None = None,
                                 dropout_p: float = 0.0, use_fused: bool = False):
    """``softmax(Q Kᵀ / √D) V`` for ``(..., Lq, D)``, ``(..., Lk, D)``, ``(..., Lk, Dv)``.

    Defined in notebook 03. ``mask`` is boolean, broadcastable to ``(..., Lq, Lk)``, True where
    attention is allowed; ``is_causal`` adds ``causal_mask(Lq, Lk)``; ``scale`` replaces ``1/√D``.
    Returns ``(output (..., Lq, Dv), weights (..., Lq, Lk))``; ``weights`` are the softmax weights
    (before dropout). ``use_fused=True`` runs ``torch.nn.functional.scaled_dot_product_attention``
    instead (same result, faster, but it returns no weights: ``weights`` is then ``None``).
    """
    _check_query_key(query, key)
    _float(value, "value", min_ndim=2)
    Lq, D = query.shape[-2:]
    Lk = key.shape[-2]
    if value.shape[-2] != Lk:
        raise ValueError(f"key has {Lk} positions but value has {value.shape[-2]}: each key needs its value")
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p must be in [0, 1), got {dropout_p!r}")
    try:
        scores_shape = (*torch.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2]), Lq, Lk)
    except RuntimeError:
        raise ValueError(f"query, key and value have batch shapes {tuple(query.shape[:-2])}, {tuple(key.shape[:-2])} "
                         f"and {tuple(value.shape[:-2])}, which do not broadcast together") from None
    if mask is not None:
        _bool_mask(mask)
    if is_causal:
        causal = causal_mask(Lq, Lk, device=query.device)  # (Lq, Lk)
        mask = causal if mask is None else mask & causal
    if mask is not None:
        _check_mask(mask, scores_shape)
    scale = 1.0 / math.sqrt(D) if scale is None else scale
    if use_fused:
        # the same computation in one fused library call (flash or memory-efficient kernels)
        out = F.scaled_dot_product_attention(query, key, value, attn_mask=mask, dropout_p=dropout_p, scale=scale)
        return out, None
    # 1. scores e_ij = q_i · k_j / √D
    scores = (query @ key.transpose(-2, -1)) * scale  # (..., Lq, Lk)
    # 2. weights a_ij = softmax_j(e_ij), with a_ij = 0 where the mask is False
    weights = masked_softmax(scores, mask)  # (..., Lq, Lk)
    # 3. (training only) drop some weights, as regularisation
    dropped = F.dropout(weights, dropout_p) if dropout_p > 0 else weights
    # 4. output o_i = Σ_j a_ij v_j
    return dropped @ value, weights  # (..., Lq, Dv)


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """``(B, L, C) -> (B, H, L, D)`` with ``D = C / H``: each head gets its own slice of the features.

    Defined in notebook 03.
    """
    x = _float(x, "x", ndim=3)
    H = _positive_int(num_heads, "num_heads")
    B, L, C = x.shape
    if C % H:
        raise ValueError(f"x has last dimension {C}, which num_heads={H} does not divide: "
                         f"every head needs C/H features")
    # (B, L, C) -> (B, L, H, D) -> (B, H, L, D)
    return x.view(B, L, H, C // H).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``(B, H, L, D) -> (B, L, H·D)``: concatenate the heads again (the inverse of ``split_heads``).

    Defined in notebook 03.
    """
    x = _float(x, "x", ndim=4)
    B, H, L, D = x.shape
    # (B, H, L, D) -> (B, L, H, D) -> (B, L, H·D)
    return x.transpose(1, 2).reshape(B, L, H * D)


class MultiHeadAttention(nn.Module):
    """``MultiHead(Q, K, V) = Concat(head_1, …, head_H) W_O`` with ``head_h = Attention(Q W_Q^h, K W_K^h, V W_V^h)``.

    Defined in notebook 03. Batch first: ``forward(query (B, Lq, C), key (B, Lk, C), value (B, Lk, C),
    mask=None, key_padding_mask=None) -> (output (B, Lq, C), weights (B, H, Lq, Lk))``.
    ``mask`` (True = may attend) is ``(Lq, Lk)``, ``(B, Lq, Lk)``, ``(B, 1, Lq, Lk)`` or ``(B, H, Lq, Lk)``;
    ``key_padding_mask`` ``(B, Lk)`` is True at real keys. ``weights.mean(1)`` is what
    ``torch.nn.MultiheadAttention`` returns by default; ``use_fused`` makes ``weights`` ``None``.
    """

    def __init__(self, embed_dim: int, num_heads: int, bias: bool = True, dropout: float = 0.0,
                 use_fused: bool = False):
        super().__init__()
        C, H = _positive_int(embed_dim, "embed_dim"), _positive_int(num_heads, "num_heads")
        if C % H:
            raise ValueError(f"embed_dim={C} is not divisible by num_heads={H}: every head needs C/H features")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.embed_dim, self.num_heads, self.head_dim = C, H, C // H
        self.dropout, self.use_fused = dropout, use_fused
        self.q_proj = nn.Linear(C, C, bias=bias)
        self.k_proj = nn.Linear(C, C, bias=bias)
        self.v_proj = nn.Linear(C, C, bias=bias)
        self.out_proj = nn.Linear(C, C, bias=bias)

    def _mask(self, mask, key_padding_mask, B: int, Lk: int):
        """Both masks as one boolean mask that broadcasts to ``(B, H, Lq, Lk)`` (or ``None``)."""
        if mask is not None:
            if _bool_mask(mask).ndim not in (2, 3, 4):
                raise ValueError(f"mask must have shape (Lq, Lk), (B, Lq, Lk), (B, 1, Lq, Lk) or (B, H, Lq, Lk), "
                                 f"got {tuple(mask.shape)}")
            if mask.ndim == 3:
                mask = mask.unsqueeze(1)  # (B, 1, Lq, Lk)
        if key_padding_mask is not None:
            if not isinstance(key_padding_mask, torch.Tensor) or key_padding_mask.dtype != torch.bool \
                    or key_padding_mask.shape != (B, Lk):
                raise ValueError(f"key_padding_mask must be a boolean tensor of shape (B, Lk) = {(B, Lk)}, True at "
                                 f"real keys, got {getattr(key_padding_mask, 'shape', key_padding_mask)}")
            keep = key_padding_mask[:, None, None, :]  # (B, 1, 1, Lk)
            mask = keep if mask is None else mask & keep
        return mask

    def forward(self, query, key, value, mask=None, key_padding_mask=None):
        query, key, value = (_float(t, n, ndim=3) for t, n in ((query, "query"), (key, "key"), (value, "value")))
        B, Lq, C = query.shape
        Lk = key.shape[1]
        for name, t in (("query", query), ("key", key), ("value", value)):
            if t.shape[-1] != self.embed_dim:
                raise ValueError(f"{name} has last dimension {t.shape[-1]} but embed_dim is {self.embed_dim}")
        if key.shape[:2] != value.shape[:2] or key.shape[0] != B:
            raise ValueError(f"query, key and value have shapes {tuple(query.shape)}, {tuple(key.shape)}, "
                             f"{tuple(value.shape)}: they need the same batch size, and key and value the same length")
        mask = self._mask(mask, key_padding_mask, B, Lk)
        H = self.num_heads
        # Q = X_q W_Qᵀ, K = X_k W_Kᵀ, V = X_v W_Vᵀ, each cut into H heads of D = C / H features
        q = split_heads(self.q_proj(query), H)  # (B, H, Lq, D)
        k = split_heads(self.k_proj(key), H)  # (B, H, Lk, D)
        v = split_heads(self.v_proj(value), H)  # (B, H, Lk, D)
        # head_h = softmax(Q_h K_hᵀ / √D) V_h, for all heads at once
        heads, weights = scaled_dot_product_attention(q, k, v, mask, dropout_p=self.dropout if self.training else 0.0,
                                                      use_fused=self.use_fused)  # (B, H, Lq, D), (B, H, Lq, Lk)
        # MultiHead = Concat(head_1, …, head_H) W_Oᵀ
        return self.out_proj(merge_heads(heads)), weights  # (B, Lq, C)


def attention_filter(image: torch.Tensor, tau: float, k: int = 7):
    """A filter computed from the image: every pixel attends to its ``k × k`` neighbourhood by colour.

    Defined in notebook 03b. ``image`` is ``(1, C, H, W)`` (at least ``k // 2 + 1`` pixels a side: the
    border is padded by reflection). The pixel ``x_i`` is the query; its neighbours ``x_j`` are the keys
    and the values. Returns ``(filtered (1, C, H, W), weights (k·k, H·W))``, one column of weights per pixel.
    """
    image = _float(image, "image", ndim=4)
    if image.shape[0] != 1:
        raise ValueError(f"image must be one image (1, C, H, W), got shape {tuple(image.shape)}")
    if not tau > 0:
        raise ValueError(f"tau must be > 0, got {tau!r}")
    C = image.shape[1]
    padded = F.pad(image, (k // 2,) * 4, mode="reflect")
    hood = F.unfold(padded, k).reshape(C, k * k, -1)  # (C, k·k, H·W): each pixel's neighbours
    query = image.reshape(C, 1, -1)  # (C, 1, H·W): each pixel, the query of its own neighbourhood
    # e_ij = -||x_i - x_j||² / τ
    e = -((hood - query) ** 2).sum(dim=0) / tau  # (k·k, H·W)
    # a_ij = softmax over the neighbours j of pixel i
    a = e.softmax(dim=0)  # (k·k, H·W)
    # y_i = Σ_j a_ij x_j
    return (a.unsqueeze(0) * hood).sum(dim=1).reshape(image.shape), a
