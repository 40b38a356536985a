"""The lecture's diagrams, drawn from code: boxes, arrows and the symbols of each method.

Each function returns a matplotlib figure, so a notebook shows it like any other figure and the tests
check what it draws (every box labelled, no two boxes on top of each other):

- ``encoder_state_decoder``: encoder -> intermediate state -> decoder, for one modality, for several
  encoders, and for one shared encoder (notebook 02, pipelines);
- ``attention_five_steps``: the lecture's five steps of attention, from encoder outputs h_t to the
  weighted sum (notebook 03, attention);
- ``transformer_block``: an encoder block and a decoder block with masked self-attention and
  encoder-decoder attention, post-norm as in the original transformer or pre-norm (notebook 04).

Source of the diagrams: Lecture 11, "Multimodal Data Processing" (``shared/seeds/000_*``).
"""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyBboxPatch

__all__ = ["encoder_state_decoder", "attention_five_steps", "transformer_block"]

# one colour per role, the same in every diagram
COLOURS = {
    "data": "#e8eef7",      # inputs and outputs
    "encoder": "#cfe3c4",   # encoders, attention and feed-forward layers
    "state": "#f6d7a7",     # intermediate states, weights, the weighted sum
    "decoder": "#c9d7f0",   # decoders and output layers
    "norm": "#eeeeee",      # add & norm
}


def _box(ax, x: float, y: float, text: str, role: str, width: float = 1.6, height: float = 0.5,
         fontsize: float = 9):
    """A rounded box centred at (x, y) with ``text`` in it; its patch is tagged with ``text`` for the tests."""
    patch = FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.02,rounding_size=0.08",
                           facecolor=COLOURS[role], edgecolor="#333333", linewidth=1.0)
    patch.set_gid(text)
    ax.add_patch(patch)
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)
    return patch


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], text: str | None = None,
           style: str = "-|>", colour: str = "#333333", rad: float = 0.0):
    """An arrow from ``start`` to ``end``, with an optional label beside its middle."""
    ax.annotate("", xy=end, xytext=start,
                arrowprops=dict(arrowstyle=style, color=colour, lw=1.2, shrinkA=0, shrinkB=0,
                                connectionstyle=f"arc3,rad={rad}"))
    if text:
        ax.text((start[0] + end[0]) / 2 + 0.08, (start[1] + end[1]) / 2, text, fontsize=8, color=colour,
                ha="left", va="center")


def _frame(ax, xlim: tuple[float, float], ylim: tuple[float, float], title: str) -> None:
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=10)


# ---- notebook 02: encoder -> intermediate state -> decoder --------------------------------------

def encoder_state_decoder():
    """Three pipelines side by side: one modality, one encoder per modality, one shared encoder.

    Defined in notebook 02 (pipelines). The intermediate state is what the decoder sees of the inputs.
    """
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.4))

    # (a) one modality: a sentence in, a sentence out
    ax = axes[0]
    _frame(ax, (-1.2, 1.2), (-0.4, 5.0), "one modality (sequence to sequence)")
    _box(ax, 0, 0, "input sequence\nx_1 … x_T", "data", height=0.6)
    _box(ax, 0, 1.3, "encoder", "encoder")
    _box(ax, 0, 2.5, "intermediate state h", "state", width=2.0)
    _box(ax, 0, 3.7, "decoder", "decoder")
    _box(ax, 0, 4.7, "output sequence\ny_1 … y_S", "data", height=0.6)
    for y0, y1 in ((0.3, 1.05), (1.55, 2.25), (2.75, 3.45), (3.95, 4.4)):
        _arrow(ax, (0, y0), (0, y1))

    # (b) several modalities, one encoder each; the decoder sees all their states
    ax = axes[1]
    _frame(ax, (-2.2, 2.2), (-0.4, 5.0), "one encoder per modality")
    for x, name in ((-1.1, "A"), (1.1, "B")):
        _box(ax, x, 0, f"modality {name}", "data", width=1.7)
        _box(ax, x, 1.3, f"encoder {name}", "encoder", width=1.7)
        _box(ax, x, 2.5, f"state h_{name}", "state", width=1.7)
        _arrow(ax, (x, 0.25), (x, 1.05))
        _arrow(ax, (x, 1.55), (x, 2.25))
        _arrow(ax, (x, 2.75), (0.45 * np.sign(x), 3.45))
    _box(ax, 0, 3.7, "decoder", "decoder")
    _box(ax, 0, 4.7, "prediction", "data")
    _arrow(ax, (0, 3.95), (0, 4.45))

    # (c) all modalities through one shared encoder into one state
    ax = axes[2]
    _frame(ax, (-2.2, 2.2), (-0.4, 5.0), "one shared encoder")
    for x, name in ((-1.1, "A"), (1.1, "B")):
        _box(ax, x, 0, f"modality {name}", "data", width=1.7)
        _arrow(ax, (x, 0.25), (0.5 * np.sign(x), 1.05))
    _box(ax, 0, 1.3, "shared encoder", "encoder", width=2.4)
    _box(ax, 0, 2.5, "one joint state h", "state", width=2.4)
    _box(ax, 0, 3.7, "decoder", "decoder")
    _box(ax, 0, 4.7, "prediction", "data")
    for y0, y1 in ((1.55, 2.25), (2.75, 3.45), (3.95, 4.45)):
        _arrow(ax, (0, y0), (0, y1))
    fig.tight_layout()
    return fig


# ---- notebook 03: the five steps of attention ---------------------------------------------------

def attention_five_steps(weights: Sequence[float] | None = None):
    """The lecture's five steps for T encoder outputs, bottom to top, with the weights a_t as bars.

    Defined in notebook 03 (attention). ``weights``: the T attention weights to draw (non-negative,
    summing to 1; default four illustrative ones). T is ``len(weights)``, between 1 and 8.
    """
    a = np.array([0.1, 0.6, 0.2, 0.1] if weights is None else weights, dtype=float)
    if a.ndim != 1 or not 1 <= len(a) <= 8:
        raise ValueError(f"weights must be a 1-D sequence of 1 to 8 numbers (one per h_t), got shape {a.shape}")
    if not np.all(np.isfinite(a)) or np.any(a < 0) or abs(a.sum() - 1) > 1e-3:
        raise ValueError(f"weights must be non-negative and sum to 1 (they are a softmax), got {np.round(a, 3).tolist()}")
    T = len(a)
    xs = np.arange(T) * 1.25  # one column per time step t
    fig, ax = plt.subplots(figsize=(2.0 + 1.6 * T, 6.2))
    left, right = -2.9, xs[-1] + 2.9
    _frame(ax, (left, right), (-0.5, 6.4), "attention in five steps")
    rows = {1: 0.0, 2: 1.3, 3: 2.6, 4: 3.9, 5: 5.5}
    steps = {1: "1  encoder outputs $h_t$", 2: r"2  $u_t = \tanh(W h_t)$", 3: r"3  $e_t = q^\top u_t$",
             4: r"4  $a = \mathrm{softmax}(e)$", 5: r"5  $c = \sum_t a_t h_t$"}
    for step, y in rows.items():
        ax.text(left + 0.05, y, steps[step], fontsize=9, ha="left", va="center", fontweight="bold")
    for t, x in enumerate(xs, start=1):
        _box(ax, x, rows[1], f"$h_{t}$", "encoder", width=0.9, height=0.45)
        _box(ax, x, rows[2], f"$u_{t}$", "encoder", width=0.9, height=0.45)
        _box(ax, x, rows[3], f"$e_{t}$", "state", width=0.9, height=0.45)
        _arrow(ax, (x, rows[1] + 0.23), (x, rows[2] - 0.23), "$W$" if t == T else None)
        _arrow(ax, (x, rows[2] + 0.23), (x, rows[3] - 0.23))
        # step 4: the weight a_t as a bar, its height proportional to a_t
        height = 0.9 * a[t - 1] / a.max()
        ax.add_patch(plt.Rectangle((x - 0.3, rows[4] - 0.45), 0.6, height, facecolor=COLOURS["state"],
                                   edgecolor="#333333"))
        ax.text(x, rows[4] - 0.6, f"$a_{t}$={a[t - 1]:.2f}", ha="center", va="top", fontsize=8)
        _arrow(ax, (x, rows[3] + 0.23), (x, rows[4] - 0.78), style="-")
        # step 5: each h_t, scaled by its weight a_t, flows into the weighted sum
        _arrow(ax, (x, rows[4] + 0.5), (xs.mean() + 0.25 * (x - xs.mean()) / max(1.0, xs[-1] / 2), rows[5] - 0.25),
               "$a_t h_t$" if t == T else None, colour="#777777")
    _box(ax, xs[-1] + 1.6, rows[3], "$q$", "decoder", width=0.6, height=0.45)
    _arrow(ax, (xs[-1] + 1.3, rows[3]), (xs[-1] + 0.45, rows[3]))
    _box(ax, xs.mean(), rows[5], "context $c$", "state", width=1.6, height=0.5)
    ax.text(xs[-1] + 1.6, rows[3] - 0.35, "one trainable\nquery, scored\nagainst every $u_t$", fontsize=7,
            ha="center", va="top", color="#555555")
    fig.tight_layout()
    return fig


# ---- notebook 04: the transformer block ---------------------------------------------------------

def transformer_block(norm_first: bool = False):
    """An encoder block beside a decoder block, with the residual connections drawn.

    Defined in notebook 04 (positional encoding and the transformer). ``norm_first=False`` draws the
    original post-norm block (sublayer, then add & norm); ``True`` the pre-norm block (norm, sublayer,
    then add), which is ``torch.nn.TransformerEncoderLayer(norm_first=True)``.
    """
    if not isinstance(norm_first, bool):
        raise ValueError(f"norm_first must be True or False, got {norm_first!r}")
    width, gap = 2.3, 0.3
    fig, ax = plt.subplots(figsize=(9.5, 8.6 if norm_first else 7.2))

    def stack(x: float, sublayers: list[tuple[str, str]], residual_side: int) -> dict[str, float]:
        """Draw the sublayers upwards from an input box at y=0, each wrapped in its residual connection.

        Returns the centre height of each sublayer and of the block's output ("top").
        """
        where, y = {}, 0.25  # y: the top edge of what was drawn last
        for name, role in sublayers:
            branch = y + gap / 2  # the sublayer's input splits here: one path through it, one around it
            y += gap
            if norm_first:
                _box(ax, x, y + 0.2, "layer norm", "norm", width=width, height=0.4)
                _arrow(ax, (x, y - gap), (x, y))
                y += 0.4 + gap
            _box(ax, x, y + 0.3, name, role, width=width, height=0.6)
            _arrow(ax, (x, y - gap), (x, y))
            where[name] = y + 0.3
            y += 0.6 + gap
            _box(ax, x, y + 0.2, "add" if norm_first else "add & norm", "norm", width=width, height=0.4)
            _arrow(ax, (x, y - gap), (x, y))
            # the residual: from the branch point around the sublayer into the addition
            side = x + residual_side * (width / 2 + 0.3)
            ax.plot([x, side, side], [branch, branch, y + 0.2], color="#888888", lw=1.1)
            _arrow(ax, (side, y + 0.2), (x + residual_side * width / 2, y + 0.2), colour="#888888")
            y += 0.4
        return where | {"top": y}

    enc_x, dec_x = -1.6, 2.4
    encoder = stack(enc_x, [("multi-head\nself-attention", "encoder"), ("feed-forward", "encoder")], -1)
    decoder = stack(dec_x, [("masked multi-head\nself-attention", "decoder"),
                            ("encoder–decoder\nattention", "decoder"), ("feed-forward", "decoder")], +1)
    _box(ax, enc_x, 0, "input embeddings + PE", "data", width=width, height=0.5)
    _box(ax, dec_x, 0, "output embeddings + PE", "data", width=width, height=0.5)
    _box(ax, dec_x, decoder["top"] + gap + 0.25, "linear + softmax", "decoder", width=width, height=0.5)
    _arrow(ax, (dec_x, decoder["top"]), (dec_x, decoder["top"] + gap))
    ax.text(enc_x - width / 2 - 0.45, encoder["top"] / 2, "encoder block\n× N", fontsize=9, ha="right",
            va="center", fontweight="bold")
    ax.text(dec_x + width / 2 + 0.45, decoder["top"] / 2, "decoder block\n× N", fontsize=9, ha="left",
            va="center", fontweight="bold")
    # the encoder's outputs give the keys and values of the decoder's encoder-decoder attention
    cross = decoder["encoder–decoder\nattention"]
    mid = (enc_x + width / 2 + dec_x - width / 2) / 2
    ax.plot([enc_x, enc_x, mid, mid], [encoder["top"], encoder["top"] + 0.4, encoder["top"] + 0.4, cross],
            color="#b5562b", lw=1.5)
    _arrow(ax, (mid, cross), (dec_x - width / 2, cross), colour="#b5562b")
    ax.text(mid - 0.1, encoder["top"] + 0.55, "keys and values\nfrom the encoder", fontsize=8, color="#b5562b",
            ha="center", va="bottom")
    _frame(ax, (-4.6, 5.4), (-0.5, decoder["top"] + gap + 0.7),
           f"the transformer: encoder block and decoder block ({'pre' if norm_first else 'post'}-norm)")
    fig.tight_layout()
    return fig
