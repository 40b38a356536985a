"""Contrastive learning: losses that pull positive pairs together and push negative pairs apart.

Notebook 06 derives each piece; notebook 08 reuses ``clip_loss``. Two embeddings form a
**positive pair** when they describe the same thing (an image and its caption) and a **negative
pair** otherwise. Every loss here compares them by the cosine similarity
``sim(a, b) = aᵀb / (‖a‖ ‖b‖)`` (the functions normalise), except the pair loss, which uses the
Euclidean distance as in its paper.

- ``info_nce``: one direction, ``−1/N Σ_i log( exp(sim(a_i, b_i)/τ) / Σ_j exp(sim(a_i, b_j)/τ) )``,
  a cross-entropy whose correct "class" for row i is column i;
- ``clip_loss``: the symmetric loss of CLIP, ``(info_nce(a, b) + info_nce(b, a)) / 2``;
- ``margin_contrastive_loss``: ``max(0, margin − sim(a, pos) + sim(a, neg))`` per row;
- ``pair_contrastive_loss``: ``y·d² + (1 − y)·max(0, margin − d)²`` (Hadsell, Chopra and LeCun 2006);
- ``similarity_matrix``, ``recall_at_k``, ``zero_shot_classify``, ``harmonic_mean``: what a
  trained model is measured with (retrieval, zero-shot classification, generalized zero-shot);
- ``TwoPathwayImageEncoder``, ``TextEncoder``, ``TinyCLIP``: the tiny CLIP of notebook 06 (its encoders,
  and the reference of the model that notebook writes in its cells), reused by notebook 06b.

Shapes: N pairs (rows), M candidates (columns), D embedding size, K classes.
Sources: lecture 11 (contrastive learning, InfoNCE, CLIP zero-shot); the seminar on CLIP;
van den Oord et al. 2018 (InfoNCE); Radford et al. 2021 (CLIP); Hadsell et al. 2006 (the pair
loss); Chao et al. 2016 (generalized zero-shot learning, calibrated stacking).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from mmcourse.pipelines import ImageEncoder, SequenceEncoder

__all__ = ["similarity_matrix", "info_nce", "clip_loss", "margin_contrastive_loss", "pair_contrastive_loss",
           "recall_at_k", "zero_shot_classify", "harmonic_mean", "TwoPathwayImageEncoder", "TextEncoder", "TinyCLIP"]


def _check_matrix(z: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(z, torch.Tensor):
        raise ValueError(f"{name} must be a tensor of shape (N, D), got {type(z).__name__}")
    if z.ndim != 2 or z.shape[0] == 0 or z.shape[1] == 0:
        raise ValueError(f"{name} must have shape (N, D) with N, D >= 1, got {tuple(z.shape)}")
    return z


def _check_pairs(**tensors: torch.Tensor) -> None:
    """Every tensor is (N, D) with the same N and D (rows are pairs)."""
    shapes = {name: tuple(_check_matrix(z, name).shape) for name, z in tensors.items()}
    if len(set(shapes.values())) > 1:
        shown = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ValueError(f"the embeddings must have the same shape (N, D), row i of each being pair i; got {shown}")


def _check_temperature(temperature) -> None:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, torch.Tensor)):
        raise ValueError(f"temperature must be a number > 0, got {type(temperature).__name__}")
    if isinstance(temperature, torch.Tensor) and temperature.numel() != 1:
        raise ValueError(f"temperature must be a single number, got a tensor of shape {tuple(temperature.shape)}")
    value = float(temperature.detach()) if isinstance(temperature, torch.Tensor) else float(temperature)
    if not value > 0 or not math.isfinite(value):
        raise ValueError(f"temperature must be > 0 (it divides the similarities), got {value}")


def _check_margin(margin) -> None:
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin >= 0 or not math.isfinite(margin):
        raise ValueError(f"margin must be a number >= 0, got {margin!r}")


def _unit(z: torch.Tensor) -> torch.Tensor:
    """Each row divided by its length: ẑ = z / ‖z‖ (a zero row stays zero)."""
    return z / z.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def similarity_matrix(z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
    """Cosine similarities ``S[i, j] = sim(a_i, b_j)`` of every row of ``z_a`` (N, D) with every row of
    ``z_b`` (M, D): an (N, M) matrix with values in [−1, 1]. Defined in notebook 06."""
    _check_matrix(z_a, "z_a")
    _check_matrix(z_b, "z_b")
    if z_a.shape[1] != z_b.shape[1]:
        raise ValueError(f"z_a has D = {z_a.shape[1]} but z_b has D = {z_b.shape[1]}: a cosine needs equal sizes")
    # S = Â B̂ᵀ, rows scaled to unit length
    return _unit(z_a) @ _unit(z_b).T  # (N, M)


def info_nce(z_a: torch.Tensor, z_b: torch.Tensor, temperature=0.07) -> torch.Tensor:
    """InfoNCE from a to b: ``−1/N Σ_i log( exp(S_ii/τ) / Σ_j exp(S_ij/τ) )`` with ``S`` the cosine
    similarities of rows ``a_i`` (N, D) and ``b_j`` (N, D). Row i's positive is b_i; the other N − 1
    rows of ``z_b`` are its negatives. Equals ``F.cross_entropy(S / τ, arange(N))``. ``temperature``
    may be a one-element tensor (a learnable temperature). Defined in notebook 06."""
    _check_pairs(z_a=z_a, z_b=z_b)
    _check_temperature(temperature)
    # logits_ij = sim(a_i, b_j) / τ
    logits = similarity_matrix(z_a, z_b) / temperature  # (N, N)
    # log p(j = i | a_i) = logits_ii − log Σ_j exp(logits_ij)   (logsumexp: no overflow)
    log_p_positive = logits.diagonal() - logits.logsumexp(dim=1)  # (N,)
    return -log_p_positive.mean()


def clip_loss(z_a: torch.Tensor, z_b: torch.Tensor, temperature=0.07) -> torch.Tensor:
    """The symmetric contrastive loss of CLIP: ``(info_nce(a, b) + info_nce(b, a)) / 2``, the mean of the
    cross-entropies over the rows and over the columns of the similarity matrix. Defined in notebook 06."""
    return (info_nce(z_a, z_b, temperature) + info_nce(z_b, z_a, temperature)) / 2


def margin_contrastive_loss(z_a: torch.Tensor, z_pos: torch.Tensor, z_neg: torch.Tensor,
                            margin: float = 0.2) -> torch.Tensor:
    """The margin (triplet) loss with cosine similarity, mean over rows:
    ``max(0, margin − sim(a, pos) + sim(a, neg))``. It is zero once each positive is more similar to
    its anchor than the negative is, by at least ``margin``. Defined in notebook 06."""
    _check_pairs(z_a=z_a, z_pos=z_pos, z_neg=z_neg)
    _check_margin(margin)
    a, pos, neg = _unit(z_a), _unit(z_pos), _unit(z_neg)
    sim_pos = (a * pos).sum(dim=1)  # (N,) sim(a_i, pos_i)
    sim_neg = (a * neg).sum(dim=1)  # (N,) sim(a_i, neg_i)
    # max{0, α − sim(z_A, z_B⁺) + sim(z_A, z_B⁻)}
    return (margin - sim_pos + sim_neg).clamp_min(0).mean()


def pair_contrastive_loss(z_p: torch.Tensor, z_q: torch.Tensor, y: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """The contrastive loss of Hadsell, Chopra and LeCun (2006), mean over rows:
    ``y·d² + (1 − y)·max(0, margin − d)²`` with ``d = ‖z_p − z_q‖`` (Euclidean, not normalised) and
    ``y`` (N,) = 1 for a positive pair, 0 for a negative one. Positives are pulled together; negatives
    are pushed apart until they are ``margin`` away. Defined in notebook 06."""
    _check_pairs(z_p=z_p, z_q=z_q)
    _check_margin(margin)
    if not isinstance(y, torch.Tensor) or tuple(y.shape) != (z_p.shape[0],):
        raise ValueError(f"y must be a tensor of shape ({z_p.shape[0]},): one label per pair, "
                         f"got {tuple(getattr(y, 'shape', ())) or type(y).__name__}")
    y = y.to(z_p.dtype)
    if ((y < 0) | (y > 1)).any():
        raise ValueError("y must be 1 (positive pair) or 0 (negative pair), got values outside [0, 1]")
    # d = ‖f(x_p) − f(x_q)‖   (vector_norm's gradient at d = 0 is 0, not NaN)
    d = torch.linalg.vector_norm(z_p - z_q, dim=1)  # (N,)
    # y·d² + (1 − y)·max(0, m − d)²
    return (y * d ** 2 + (1 - y) * (margin - d).clamp_min(0) ** 2).mean()


def recall_at_k(similarity: torch.Tensor, relevant: torch.Tensor, k: int) -> float:
    """Retrieval recall@k: the fraction of queries (rows of ``similarity``, (Q, G)) with at least one
    relevant gallery item (``relevant`` (Q, G) True) among their ``k`` most similar. Defined in notebook 06."""
    _check_matrix(similarity, "similarity")
    if not isinstance(relevant, torch.Tensor) or relevant.shape != similarity.shape:
        raise ValueError(f"relevant must be a boolean tensor of the shape of similarity {tuple(similarity.shape)}, "
                         f"got {tuple(getattr(relevant, 'shape', ())) or type(relevant).__name__}")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= similarity.shape[1]:
        raise ValueError(f"k must be an int in [1, {similarity.shape[1]}] (the gallery size), got {k!r}")
    top = similarity.topk(k, dim=1).indices  # (Q, k)
    return float(relevant.bool().gather(1, top).any(dim=1).float().mean())


def zero_shot_classify(z_images: torch.Tensor, z_prompts: torch.Tensor) -> torch.Tensor:
    """Zero-shot classification: each image (N, D) gets the class whose prompt embedding (K, D) is the
    most similar (cosine), ``ŷ_i = argmax_k sim(image_i, prompt_k)``. Returns (N,) int64 class indices.
    No classifier is trained: the prompts are the classifier. Defined in notebook 06."""
    return similarity_matrix(z_images, z_prompts).argmax(dim=1)  # (N,)


def harmonic_mean(a: float, b: float) -> float:
    """``H = 2ab / (a + b)`` (0 when both are 0): high only when both are. In generalized zero-shot
    learning, a and b are the accuracies on seen and unseen classes. Defined in notebook 06."""
    a, b = float(a), float(b)
    if not (0 <= a and 0 <= b):
        raise ValueError(f"harmonic_mean needs two numbers >= 0, got {a} and {b}")
    return 0.0 if a + b == 0 else 2 * a * b / (a + b)


# ---- the tiny CLIP of notebook 06 ------------------------------------------------------------------

LUMA = (0.299, 0.587, 0.114)  # grey level = 0.299 R + 0.587 G + 0.114 B


class TwoPathwayImageEncoder(nn.Module):
    """Images ``(B, 3, S, S)`` → ``(B, D)`` from two pathways that meet in an MLP: the course's convolutions
    (notebook 02's ``ImageEncoder``) on the grey-level image, max-pooled to a ``grid × grid`` map (outlines,
    hardly any colour), and the largest red, green and blue value of each grid cell (colour, no outline).
    Seeing colour and shape apart lets a new colour–shape combination be read from its parts."""

    def __init__(self, out_size: int = 64, channels: int = 16, hidden: int = 128, grid: int = 3):
        super().__init__()
        self.shape = ImageEncoder(hidden, channels, grid, in_channels=1).conv  # (B, channels, grid, grid)
        self.colour = nn.AdaptiveMaxPool2d(grid)  # (B, 3, grid, grid)
        self.mix = nn.Sequential(nn.Linear((channels + 3) * grid * grid, hidden), nn.ReLU(),
                                 nn.Linear(hidden, out_size))
        self.register_buffer("luma", torch.tensor(LUMA).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        grey = (images * self.luma).sum(dim=1, keepdim=True)  # (B, 1, S, S)
        cells = torch.cat([self.shape(grey), self.colour(images)], dim=1)  # (B, channels + 3, grid, grid)
        return self.mix(cells.flatten(1))  # (B, D)


class TextEncoder(nn.Module):
    """Tokens ``(B, T)`` → ``(B, D)``: the last state of notebook 02's GRU reader, projected ("recurrent":
    knows word order), plus the projected sum of the word vectors ("additive": composes words that never
    met in training); either part can be left out. ``<pad>`` (id 0) embeds to zero."""

    def __init__(self, vocab_size: int, recurrent: bool = True, additive: bool = True, out_size: int = 64,
                 embed_size: int = 32, hidden: int = 64):
        super().__init__()
        if not (recurrent or additive):
            raise ValueError("a TextEncoder needs at least one part: recurrent, additive or both")
        self.gru = SequenceEncoder(vocab_size, embed_size, hidden)  # its .embed holds the word vectors
        self.from_state = nn.Linear(hidden, out_size) if recurrent else None
        self.from_sum = nn.Linear(embed_size, out_size, bias=False) if additive else None

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        z = 0
        if self.from_state is not None:
            z = z + self.from_state(self.gru(tokens))  # (B, D)
        if self.from_sum is not None:
            z = z + self.from_sum(self.gru.embed(tokens).sum(dim=1))  # (B, D)
        return z


class TinyCLIP(nn.Module):
    """An image encoder, a text encoder and a learnable temperature τ (stored as log τ, so τ > 0; kept
    >= ``min_temperature``). ``model(images, tokens)`` is the CLIP loss of a batch of pairs. Defined in
    notebook 06."""

    def __init__(self, image_encoder: nn.Module, text_encoder: nn.Module, temperature: float = 0.07,
                 min_temperature: float = 0.01):
        super().__init__()
        self.image_encoder, self.text_encoder = image_encoder, text_encoder
        self.min_temperature = min_temperature
        self.log_temperature = nn.Parameter(torch.tensor(math.log(temperature)))

    @property
    def temperature(self) -> torch.Tensor:
        return self.log_temperature.exp().clamp(min=self.min_temperature)

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        return clip_loss(self.image_encoder(images), self.text_encoder(tokens), self.temperature)
