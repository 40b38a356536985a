"""The seminar's diagrams of notebooks 05-07, drawn from code with the boxes and arrows of ``schematics``.

- ``fusion_types``: early, late and joint fusion side by side, in the seminar's notation (notebook 05);
- ``clip_dual_encoder``: CLIP's two encoders and the similarity matrix of a batch, the matching pairs on
  its diagonal (notebook 06);
- ``diffusion_chains``: the forward chain q(x_t | x_{t-1}) and the learned reverse chain
  p_θ(x_{t-1} | x_t) (notebook 07);
- ``latent_diffusion``: autoencoder, diffusion in the latent space, and a denoiser that cross-attends to
  the other modality (notebook 07).

Each returns a matplotlib figure; the tests check that every part the seminar names is drawn and that no
two boxes overlap. Source: the seminar on multimodal learning (``shared/seeds/003_*``).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .schematics import COLOURS, _arrow, _box, _frame

__all__ = ["fusion_types", "clip_dual_encoder", "diffusion_chains", "latent_diffusion"]


# ---- notebook 05: early, late and joint fusion ---------------------------------------------------

def fusion_types():
    """Three panels: early fusion (concatenate the inputs), late fusion (weigh the predictions) and joint
    fusion (concatenate the encoders' features; each f_i trained by the loss of its own modality)."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.6))
    xs = (-1.1, 1.1)

    ax = axes[0]
    _frame(ax, (-2.2, 2.2), (-0.4, 5.0), r"early fusion: $\hat y = f(x_1 \oplus x_2)$")
    for x, i in zip(xs, (1, 2)):
        _box(ax, x, 0, f"$x_{i}$", "data", width=1.2)
        _arrow(ax, (x, 0.25), (0.35 * np.sign(x), 1.05))
    _box(ax, 0, 1.3, r"$x_1 \oplus x_2$", "state", width=1.8)
    _box(ax, 0, 2.6, "$f$", "encoder", width=1.2)
    _box(ax, 0, 3.9, r"$\hat y$", "data", width=1.2)
    _arrow(ax, (0, 1.55), (0, 2.35))
    _arrow(ax, (0, 2.85), (0, 3.65))

    ax = axes[1]
    _frame(ax, (-2.2, 2.2), (-0.4, 5.0), r"late fusion: $\hat y = \sum_i w_i \hat y_i$")
    for x, i in zip(xs, (1, 2)):
        _box(ax, x, 0, f"$x_{i}$", "data", width=1.2)
        _box(ax, x, 1.3, f"$f_{i}$", "encoder", width=1.2)
        _box(ax, x, 2.6, rf"$\hat y_{i}$", "state", width=1.2)
        _arrow(ax, (x, 0.25), (x, 1.05))
        _arrow(ax, (x, 1.55), (x, 2.35))
        _arrow(ax, (x, 2.85), (0.45 * np.sign(x), 3.65), text=f"$w_{i}$")
    _box(ax, 0, 3.9, r"$\sum_i w_i \hat y_i$", "decoder", width=1.8)

    ax = axes[2]
    _frame(ax, (-2.2, 2.2), (-0.4, 5.0), r"joint fusion: $\hat y = g(f_1(x_1) \oplus f_2(x_2))$")
    for x, i in zip(xs, (1, 2)):
        _box(ax, x, 0, f"$x_{i}$", "data", width=1.2)
        _box(ax, x, 1.3, f"$f_{i}$", "encoder", width=1.2)
        _arrow(ax, (x, 0.25), (x, 1.05))
        _arrow(ax, (x, 1.55), (0.45 * np.sign(x), 2.35))
        ax.text(x, 0.75, f"loss of $x_{i}$ only", fontsize=7, ha="center", va="center", color="#8a2c2c",
                bbox=dict(facecolor="white", edgecolor="none", pad=0.5))
    _box(ax, 0, 2.6, r"$z_{joint}$", "state", width=1.8)
    _box(ax, 0, 3.6, "$g$", "decoder", width=1.2)
    _box(ax, 0, 4.6, r"$\hat y$", "data", width=1.2)
    _arrow(ax, (0, 2.85), (0, 3.35))
    _arrow(ax, (0, 3.85), (0, 4.35))
    fig.tight_layout()
    return fig


# ---- notebook 06: CLIP ---------------------------------------------------------------------------

def clip_dual_encoder(n: int = 4):
    """An image encoder f_I and a text encoder f_T map a batch of n pairs to l_i and T_j; the n × n matrix
    of similarities l_i · T_j has the matching pairs on its diagonal."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or not 2 <= n <= 6:
        raise ValueError(f"n must be an integer from 2 to 6 (pairs drawn), got {n!r}")
    n = int(n)
    fig, ax = plt.subplots(figsize=(10, 5.2))
    _frame(ax, (-1.0, 11.0), (-0.6, 6.4), "CLIP: two encoders, one similarity matrix")
    _box(ax, 0.9, 5.6, "images $X_I$", "data", width=1.7)
    _box(ax, 0.9, 4.2, "image encoder $f_I$", "encoder", width=1.9)
    _arrow(ax, (0.9, 5.35), (0.9, 4.45))
    _box(ax, 0.9, 0.0, "texts $X_T$", "data", width=1.7)
    _box(ax, 0.9, 1.4, "text encoder $f_T$", "encoder", width=1.9)
    _arrow(ax, (0.9, 0.25), (0.9, 1.15))
    cell, left, top = 0.8, 4.6, 4.8  # the matrix: rows are images l_i, columns are texts T_j
    for i in range(n):
        _box(ax, left - 0.9, top - (i + 0.5) * cell, f"$l_{i + 1}$", "state", width=0.6, height=0.55 * cell)
        _box(ax, left + (i + 0.5) * cell, top - n * cell - 0.7, f"$T_{i + 1}$", "state", width=0.6,
             height=0.55 * cell)
        for j in range(n):
            colour = COLOURS["decoder"] if i == j else "white"
            ax.add_patch(plt.Rectangle((left + j * cell, top - (i + 1) * cell), cell, cell, facecolor=colour,
                                       edgecolor="#333333", lw=0.8))
            ax.text(left + (j + 0.5) * cell, top - (i + 0.5) * cell, rf"$l_{i + 1}\!\cdot\!T_{j + 1}$",
                    fontsize=7, ha="center", va="center")
    _arrow(ax, (1.85, 4.2), (left - 1.25, top - 0.5 * cell))
    ax.text(2.0, 4.75, r"$l_i = f_I(X_{I,i})$", fontsize=8, ha="left", va="center")
    _arrow(ax, (1.85, 1.4), (left + 0.2, top - n * cell - 0.95))
    ax.text(2.0, 0.85, r"$T_j = f_T(X_{T,j})$", fontsize=8, ha="left", va="center")
    right = left + n * cell + 0.3
    ax.text(right, top - 0.5 * n * cell,
            "diagonal: the matching pairs\n(pulled together)\n\noff the diagonal: every other\n"
            "pair in the batch (pushed apart)\n\nthe loss: a softmax along each\nrow and each column",
            fontsize=8, ha="left", va="center")
    fig.tight_layout()
    return fig


# ---- notebook 07: the diffusion chains, and latent diffusion --------------------------------------

def diffusion_chains():
    """x_0 → x_1 → … → x_T by the fixed forward process q, and back by the learned reverse process p_θ."""
    fig, ax = plt.subplots(figsize=(11, 2.4))
    _frame(ax, (-0.8, 10.8), (-0.9, 1.4), "the forward chain adds noise; the reverse chain is learned")
    names = ["$x_0$\ndata", "$x_1$", r"$\cdots$", "$x_{t-1}$", "$x_t$", r"$\cdots$", "$x_T$\nnoise"]
    xs = np.linspace(0, 10, len(names))
    for x, name in zip(xs, names):
        _box(ax, x, 0.25, name, "data" if name[0] == "$" else "norm", width=1.05, height=0.75)
    for a, b in zip(xs[:-1], xs[1:]):
        _arrow(ax, (a + 0.55, 0.45), (b - 0.55, 0.45), colour="#8a2c2c")
        _arrow(ax, (b - 0.55, 0.05), (a + 0.55, 0.05), colour="#2c4f8a")
    mid = (xs[3] + xs[4]) / 2
    ax.text(mid, 1.05, r"$q(x_t \mid x_{t-1}) = \mathcal{N}(\sqrt{1-\beta_t}\,x_{t-1},\ \beta_t I)$", fontsize=9,
            ha="center", color="#8a2c2c")
    ax.text(mid, -0.6, r"$p_\theta(x_{t-1} \mid x_t) = \mathcal{N}(\mu_\theta(x_t, t),\ \sigma_t^2 I)$", fontsize=9,
            ha="center", color="#2c4f8a")
    ax.text(xs[0], 1.05, "forward: fixed", fontsize=8, ha="center", color="#8a2c2c")
    ax.text(xs[0], -0.6, "reverse: learned", fontsize=8, ha="center", color="#2c4f8a")
    fig.tight_layout()
    return fig


def latent_diffusion():
    """Encode the image to z_0, diffuse and denoise in the latent space with a transformer that cross-attends
    to the other modality, decode the result."""
    fig, ax = plt.subplots(figsize=(12, 4.4))
    _frame(ax, (-0.9, 13.2), (-1.9, 2.6), "latent diffusion: the chain runs on z, the prompt enters by cross-attention")
    _box(ax, 0, 1.4, "image $x_0$", "data", width=1.4)
    _box(ax, 2.1, 1.4, "encoder $f^E$", "encoder", width=1.6)
    _box(ax, 4.2, 1.4, "latent $z_0$", "state", width=1.4)
    _box(ax, 6.6, 1.4, "forward chain\n$z_0 \\to z_T$", "norm", width=2.0, height=0.8)
    _box(ax, 9.2, 1.4, "noise $z_T$", "state", width=1.4)
    _box(ax, 9.2, -0.2, "denoiser\n(transformer)", "encoder", width=1.8, height=0.8)
    _box(ax, 6.6, -0.2, r"$\tilde z$", "state", width=1.2)
    _box(ax, 4.2, -0.2, "decoder", "decoder", width=1.4)
    _box(ax, 2.1, -0.2, r"image $\tilde x$", "data", width=1.4)
    _box(ax, 12.2, -0.2, "text encoder", "encoder", width=1.7)
    _box(ax, 12.2, -1.4, "prompt $x_{other}$", "data", width=1.7)
    for (a, b) in ((0.7, 1.3), (2.9, 3.5), (4.9, 5.6), (7.6, 8.5)):
        _arrow(ax, (a, 1.4), (b, 1.4))
    _arrow(ax, (9.2, 1.15), (9.2, 0.2), text="T reverse steps")
    _arrow(ax, (8.3, -0.2), (7.2, -0.2))
    _arrow(ax, (6.0, -0.2), (4.9, -0.2))
    _arrow(ax, (3.5, -0.2), (2.8, -0.2))
    _arrow(ax, (12.2, -1.15), (12.2, -0.45))
    _arrow(ax, (11.35, -0.2), (10.1, -0.2))
    ax.text(10.72, 0.05, "cross-\nattention", fontsize=7.5, ha="center", va="bottom")
    fig.tight_layout()
    return fig
