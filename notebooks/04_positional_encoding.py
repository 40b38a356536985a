# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [raw]
# # ASSIGNMENT CONFIG
# init_cell: true
# export_cell: false
# check_all_cell: false
# run_tests: false
# solutions_pdf: false
# generate: true
# tests:
#   ok_format: false

# %% [markdown]
# # 04 · Positional encoding and the transformer
#
# **Learning goals.** After this notebook you can
#
# - show with numbers that self-attention treats its input as a *set*: permute the inputs and the outputs
#   are permuted the same way, so "a red circle left of a blue square" and its mirror image look alike;
# - write the lecture's sinusoidal positional encoding $PE_{(pos, i)}$ from its formula, draw it, and read
#   its pictures;
# - prove numerically two of its properties: moving $k$ positions is a fixed rotation of each (sin, cos)
#   pair, whatever the starting position, and the similarity of two positions depends only on how far apart
#   they are;
# - tell sinusoidal, learned and 2-D encodings apart, and say what each knows before training;
# - assemble the transformer from its parts (an encoder block, a decoder block with a causal mask, and the
#   encoder–decoder attention between them) and check each against PyTorch's own layers;
# - train one transformer over the patches of an image *and* the words of a question, and see it answer
#   spatial questions ("what shape is left of the red circle?") with positions and fail without them.
#
# **Where this sits in the lecture.** Lecture 11 builds the transformer out of the attention of notebook 03:
# two self-attention blocks (one in the encoder, one in the decoder) joined by an encoder–decoder attention
# block. It then points at a catch: *self-attention is permutation invariant; it looks at its input as a set
# of elements*. The fix is a **positional encoding**, a vector that depends only on the position, added to
# each input embedding. The lecture gives the sinusoidal one, which we follow exactly. The same transformer
# reads several modalities at once (video + audio → label, vision + language → language), which is what
# section 8 does with an image and a question.

# %% [markdown]
# ## Setup
#
# Everything here trains in seconds on a CPU, so the notebook computes on the CPU whatever device torch sees,
# on one thread (tiny matrix products gain nothing from more threads, and lose a lot when the cores are busy).

# %%
import inspect
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import mmcourse
from mmcourse import check_shape, positional, widgets
from mmcourse.attention import MultiHeadAttention
from mmcourse.data.scenes import SceneConfig, answers, make_scenes, make_vqa, scene_vocabulary
from mmcourse.exercises import student_or_reference
from mmcourse.multimodal import PatchTextEncoder, patchify
from mmcourse.training import TrainConfig, accuracy, predict, train
from mmcourse.transformer import (DecoderBlock, EncoderBlock, TransformerConfig, TransformerDecoder,
                                  TransformerEncoder, copy_from_torch)

generator = mmcourse.set_seed(0)
device = mmcourse.get_device()
torch.set_num_threads(1)
print("torch sees:", device, "(this notebook computes on the CPU, on one thread)")

# %% [markdown]
# ## 1 · Self-attention sees a set
#
# **Intuition.** In self-attention every token is compared with every other token, and nothing in the
# comparison says *where* a token sits. Swap two words and each word still meets the same partners with the
# same scores; its output does not change, it only moves to the new place. So a sentence and any reordering
# of its words give the same outputs in a different order, and anything that pools them (a mean, a sum, a
# `[CLS]` token's view) cannot tell them apart.
#
# **Math.** Let $P$ be a permutation matrix (it reorders the rows of $X$). Self-attention with
# $Q = XW_Q$, $K = XW_K$, $V = XW_V$ satisfies
#
# $$\mathrm{Attn}(PX) = \mathrm{softmax}\!\Big(\frac{PXW_Q (PXW_K)^\top}{\sqrt{d_k}}\Big) PXW_V
#   = P\,\mathrm{softmax}\!\Big(\frac{XW_Q W_K^\top X^\top}{\sqrt{d_k}}\Big) P^\top P X W_V = P\,\mathrm{Attn}(X),$$
#
# because the softmax acts on each row and $P^\top P = I$. Outputs that move with the inputs are called
# *permutation equivariant*; a pooled summary of them is *permutation invariant*. Let us check it on two
# captions of the scene world that describe opposite pictures with the same eight words.

# %%
vocab = scene_vocabulary()
sentence, mirror = "a red circle left of a blue square", "a blue square left of a red circle"
print(sorted(sentence.split()) == sorted(mirror.split()), "- the two captions use the same words")

torch.manual_seed(0)
C_demo = 32
word_table = nn.Embedding(len(vocab), C_demo)  # random word vectors: no training needed for this point
self_attention = MultiHeadAttention(C_demo, num_heads=4).eval()

with torch.no_grad():
    x = word_table(vocab.encode_batch([sentence]))  # (1, 8, C)
    perm = torch.randperm(x.shape[1], generator=generator)  # a random reordering of the 8 positions
    out, _ = self_attention(x, x, x)  # (1, 8, C)
    out_of_permuted, _ = self_attention(x[:, perm], x[:, perm], x[:, perm])  # (1, 8, C)
check_shape(out, (1, 8, C_demo), "self-attention output")
permutation_difference = float((out[:, perm] - out_of_permuted).abs().max())
print(f"permutation {perm.tolist()}: largest |Attn(PX) - P·Attn(X)| = {permutation_difference:.1e}")
mmcourse.record("permutation_max_abs_diff", permutation_difference)
assert permutation_difference < 1e-5

# %% [markdown]
# Now the two captions, pooled by a mean over their tokens (what a sentence classifier would see). Then the
# same again after adding the sinusoidal positional encoding of section 2 to the word vectors.

# %%
def pooled(text, add_positions):
    """Mean over tokens of self-attention on a caption's word vectors, with or without positions."""
    with torch.no_grad():
        x = word_table(vocab.encode_batch([text]))  # (1, L, C)
        if add_positions:
            x = x + positional.sinusoidal_encoding(x.shape[1], C_demo)  # (1, L, C) + (L, C)
        return self_attention(x, x, x)[0].mean(dim=1)[0]  # (C,)


mirror_gap = {flag: float((pooled(sentence, flag) - pooled(mirror, flag)).abs().max()) for flag in (False, True)}
print(f"largest difference between the two pooled captions: without positions {mirror_gap[False]:.1e}, "
      f"with positions {mirror_gap[True]:.2f}")
mmcourse.record("mirror_captions_pooled_diff_without_pe", mirror_gap[False])
mmcourse.record("mirror_captions_pooled_diff_with_pe", mirror_gap[True])

fig, ax = plt.subplots(figsize=(9, 2.6))
for flag, style in ((False, "o-"), (True, "x-")):
    ax.plot(pooled(sentence, flag) - pooled(mirror, flag), style, ms=4,
            label=("with" if flag else "without") + " positional encoding")
ax.axhline(0, color="gray", lw=0.5)
ax.set(xlabel="feature", ylabel="difference", title=f"pooled('{sentence}') − pooled('{mirror}')")
ax.title.set_fontsize(9)
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# Without positions the difference is zero in every feature (about $10^{-8}$, the rounding of float32): no
# layer built on top could ever learn which object is on the left. With positions it is not, and a trained
# layer can make it as large as it needs. The rest of the notebook is about that added vector.

# %% [markdown]
# ## 2 · The sinusoidal encoding, exactly as in the lecture
#
# **Intuition.** Give every position a fingerprint: a vector of $d$ numbers, the same size as a token
# embedding, and add it to the token. Each pair of dimensions is a clock hand turning at its own speed as
# the position grows: the first pair turns fast (about once every 6 positions), the last pair so slowly that
# it hardly moves over thousands of positions. Read together, the hands name the position, as the hands of a
# clock name the time, and the values stay between −1 and 1 however long the sequence.
#
# **Math.** For position $pos = 0, 1, 2, \dots$ and dimension $i = 0, \dots, d - 1$ (with $d = d_{model}$,
# the embedding size):
#
# $$PE_{(pos, i)} = \begin{cases} \sin\!\left(\dfrac{pos}{10000^{\,i/d}}\right) & \text{if } i \bmod 2 = 0,\\[2ex]
#   \cos\!\left(\dfrac{pos}{10000^{\,(i-1)/d}}\right) & \text{otherwise.} \end{cases}$$
#
# Dimensions $i = 2j$ and $i = 2j + 1$ share the angular frequency $\omega_j = 1 / 10000^{2j/d}$: one holds
# the sine of $\omega_j \, pos$, the other its cosine. Their wavelength, $2\pi / \omega_j$, grows
# geometrically from $2\pi$ to almost $2\pi \cdot 10000$. (The paper writes the same thing with $i$ counting
# pairs, $\sin(pos / 10000^{2i/d})$; here $i$ is the dimension itself.)

# %% [raw]
# # BEGIN QUESTION
# name: q04_sinusoidal
# points: 2

# %% [markdown]
# **Exercise 4.1: the sinusoidal encoding.** Write `positional_encoding(num_positions, dim)` that returns a
# float tensor of shape `(num_positions, dim)` whose row `pos` and column `i` is $PE_{(pos, i)}$ from the
# formula above, for `pos = 0 … num_positions − 1`. It must work for an odd `dim` too (the last dimension
# is then a sine without its cosine partner).
#
# Hints: `torch.arange` gives the positions and the dimensions; `i - i % 2` is $i$ for even $i$ and $i - 1$
# for odd $i$; `torch.where(condition, a, b)` picks from `a` where the condition holds and from `b`
# elsewhere. Compute in float64 and return `.float()` if you like.

# %% [raw]
# # BEGIN SOLUTION

# %%
def positional_encoding(num_positions, dim):
    """(num_positions, dim): PE[pos, i] = sin(pos / 10000^(i/d)) for even i, cos(pos / 10000^((i-1)/d)) for odd i."""
    # BEGIN SOLUTION
    pos = torch.arange(num_positions, dtype=torch.float64)[:, None]  # (P, 1)
    i = torch.arange(dim, dtype=torch.float64)  # (d,)
    angle = pos / 10000 ** ((i - i % 2) / dim)  # (P, d): the exponent is i/d for even i, (i-1)/d for odd i
    return torch.where(i % 2 == 0, torch.sin(angle), torch.cos(angle)).float()  # (P, d)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_positional_encoding(positional_encoding):
    import torch
    from mmcourse.exercises import close, finished, not_the_mistake, same_shape

    P, d = 50, 16
    what = "positional_encoding(50, 16)"
    pe = finished(positional_encoding(P, d), what)
    same_shape(pe, (P, d), what)
    pos = torch.arange(P, dtype=torch.float64)[:, None]
    i = torch.arange(d, dtype=torch.float64)

    def table(exponent, positions=pos, swap=False, multiply=False):
        angle = positions * 10000 ** exponent if multiply else positions / 10000 ** exponent
        first, second = (torch.cos, torch.sin) if swap else (torch.sin, torch.cos)
        return torch.where(i % 2 == 0, first(angle), second(angle))

    right = (i - i % 2) / d
    not_the_mistake(pe, table(right, swap=True), what,
                    "sine and cosine are swapped: even dimensions (i = 0, 2, 4, …) take the sine, odd ones the cosine")
    not_the_mistake(pe, table(i / d), what,
                    "for odd i the exponent is (i − 1)/d, not i/d: dimensions 2j and 2j + 1 must share one "
                    "frequency, so that together they form a (sin, cos) pair")
    not_the_mistake(pe, table(2 * i / d), what,
                    "you used the exponent 2i/d, the paper's way of writing it, where i counts (sin, cos) pairs; "
                    "in the lecture's formula i is the dimension itself: i/d for even i, (i − 1)/d for odd i")
    not_the_mistake(pe, table((i - i % 2) / 2 / d), what,
                    "your exponent is the pair number j = i // 2 divided by d; it must be i/d for even i and "
                    "(i − 1)/d for odd i (twice that)")
    not_the_mistake(pe, table(right, multiply=True), what,
                    "the position must be divided by 10000^(i/d), not multiplied by it")
    not_the_mistake(pe, table(right, positions=pos + 1), what,
                    "positions start at 0: row 0 is PE(0) = [0, 1, 0, 1, …] because sin 0 = 0 and cos 0 = 1")
    close(pe[0], torch.tensor([0.0, 1.0] * (d // 2)), "row 0 of positional_encoding(50, 16) (position 0)",
          hint="sin(0) = 0 in the even dimensions and cos(0) = 1 in the odd ones")
    close(pe, table(right), what)


test_positional_encoding(positional_encoding)

# %%
# HIDDEN
def test_positional_encoding_on_other_sizes(positional_encoding):
    import math

    import torch
    from mmcourse.exercises import close, same_shape

    for P, d in ((1, 1), (7, 7), (3, 2), (200, 64), (12, 5)):
        pe = same_shape(positional_encoding(P, d), (P, d), f"positional_encoding({P}, {d})")
        expected = torch.tensor([[math.sin(p / 10000 ** (i / d)) if i % 2 == 0 else math.cos(p / 10000 ** ((i - 1) / d))
                                  for i in range(d)] for p in range(P)], dtype=torch.float64)
        close(pe, expected, f"positional_encoding({P}, {d})")


test_positional_encoding_on_other_sizes(positional_encoding)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
positional_encoding = student_or_reference(positional_encoding, positional.sinusoidal_encoding, (50, 16),
                                           "positional_encoding")

# %% [markdown]
# **Check against a reference.** PyTorch has no sinusoidal encoding of its own, so the reference is the
# formula itself, evaluated one number at a time with Python's `math` module, in double precision. Both the
# encoding in use above and `mmcourse.positional.sinusoidal_encoding` must agree with it to $10^{-5}$, for an
# even and an odd $d$.

# %%
def encoding_by_loop(num_positions, dim):
    """The lecture's formula, one entry at a time."""
    return torch.tensor([[math.sin(pos / 10000 ** (i / dim)) if i % 2 == 0 else math.cos(pos / 10000 ** ((i - 1) / dim))
                          for i in range(dim)] for pos in range(num_positions)], dtype=torch.float64)


sinusoidal_difference = max(float((f(P, d).double() - encoding_by_loop(P, d)).abs().max())
                            for f in (positional_encoding, positional.sinusoidal_encoding) for P, d in ((100, 64), (30, 7)))
print(f"largest difference from the formula evaluated entry by entry: {sinusoidal_difference:.1e}")
mmcourse.record("sinusoidal_max_abs_diff_vs_loop", sinusoidal_difference)
assert sinusoidal_difference < 1e-5

# %% [markdown]
# ## 3 · Pictures of the encoding
#
# Each row of the picture on the left is one position's vector; each column one dimension. The left
# columns change fast from row to row, the right ones hardly at all. On the right, four columns drawn as
# curves over the positions: each pair of dimensions is a sine and a cosine of the same wavelength, and the
# wavelength grows by a constant factor from pair to pair.

# %%
P_show, d_show = 100, 64
pe = positional_encoding(P_show, d_show)  # (100, 64)
check_shape(pe, (P_show, d_show), "pe")
omega = positional.frequencies(d_show)  # (64,): ω of each dimension
wavelength = 2 * math.pi / omega  # (64,)

fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), gridspec_kw={"width_ratios": [1, 1.3]})
image = axes[0].imshow(pe, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1)
axes[0].set(xlabel="dimension i", ylabel="position pos", title="PE(pos, i)")
fig.colorbar(image, ax=axes[0], fraction=0.05)
for i in (0, 1, 10, 30):
    axes[1].plot(pe[:, i], label=f"i = {i} ({'sin' if i % 2 == 0 else 'cos'}, wavelength {wavelength[i]:.0f})")
axes[1].set(xlabel="position pos", ylabel="PE(pos, i)", title="four dimensions over the positions")
axes[1].legend(fontsize=7, loc="lower left")
fig.tight_layout()
plt.show()
print(f"wavelengths from {wavelength[0]:.2f} (dimensions 0, 1) to {wavelength[-1]:.0f} (dimensions {d_show - 2}, {d_show - 1})")

# %% [markdown]
# Two more facts are visible. All values lie in $[-1, 1]$, whatever the position, so the encoding never
# swamps the token embedding it is added to. And no two rows are equal: the fastest pair alone repeats after
# $2\pi$ positions, but together the pairs form a code that does not repeat within any sequence we will meet.

# %%
distinct = torch.cdist(pe, pe) + torch.eye(P_show) * 10  # distances between different positions
print(f"values in [{float(pe.min()):.2f}, {float(pe.max()):.2f}]; closest two different positions are "
      f"{float(distinct.min()):.2f} apart (in a 64-dimensional space)")

# %% [markdown]
# ## 4 · Moving by k positions is a rotation
#
# **Intuition.** If every pair is a clock hand, moving $k$ positions forward turns each hand by the same
# angle, $\omega_j k$, whichever position you start from. A turn is a linear map, so one fixed matrix $M_k$
# takes $PE(pos)$ to $PE(pos + k)$ for *every* $pos$. A layer can therefore learn "look $k$ places back" once,
# as a linear map of the keys, instead of once per position.
#
# **Math.** With $a = \omega_j \, pos$ and $b = \omega_j k$, the addition theorems give
#
# $$\begin{pmatrix} \sin(a + b) \\ \cos(a + b) \end{pmatrix} =
#   \begin{pmatrix} \cos b & \sin b \\ -\sin b & \cos b \end{pmatrix}
#   \begin{pmatrix} \sin a \\ \cos a \end{pmatrix},$$
#
# a rotation that depends on $k$ but not on $pos$. Stacking one such $2 \times 2$ block per pair gives the
# block-diagonal $M_k$ of `mmcourse.positional.relative_shift_matrix`, with $PE(pos + k) = M_k \, PE(pos)$.
# We check it for all 100 positions at once, and check that $M_k$ is a rotation ($M_k M_k^\top = I$).

# %%
shift_errors = {}
for k in (1, 5, 17, -3):
    M_k = positional.relative_shift_matrix(k, d_show)  # (64, 64)
    start = max(0, -k)
    moved = pe[start:P_show - max(k, 0)] @ M_k.T  # (P - |k|, 64): M_k PE(pos), one row per pos
    target = pe[start + k:P_show + min(k, 0)]  # PE(pos + k)
    shift_errors[k] = float((moved - target).abs().max())
    assert torch.allclose(M_k @ M_k.T, torch.eye(d_show), atol=1e-6), "M_k is a rotation"
print("largest |M_k PE(pos) - PE(pos + k)| over all positions: " +
      ", ".join(f"k = {k}: {e:.1e}" for k, e in shift_errors.items()))
mmcourse.record("shift_rotation_max_abs_error", max(shift_errors.values()))
assert max(shift_errors.values()) < 1e-5

# %% [markdown]
# **Picture.** Each pair $(PE(pos, 2j), PE(pos, 2j+1))$ is a point on the unit circle. Below, the first three
# pairs for positions 0 to 12: every step of one position turns the point by the same angle $\omega_j$
# (arrows), fast for $j = 0$, slower for $j = 1$ and $j = 2$.

# %%
fig, axes = plt.subplots(1, 3, figsize=(9, 3))
for j, ax in enumerate(axes):
    points = pe[:13, 2 * j:2 * j + 2]  # (13, 2): (sin, cos) of pair j
    ax.add_patch(plt.Circle((0, 0), 1, fill=False, color="lightgray"))
    ax.scatter(points[:, 0], points[:, 1], c=range(13), cmap="viridis", s=25, zorder=3)
    for a, b in zip(points[:-1], points[1:]):
        ax.annotate("", xy=(float(b[0]), float(b[1])), xytext=(float(a[0]), float(a[1])),
                    arrowprops=dict(arrowstyle="->", color="tab:gray", lw=0.8))
    ax.set(xlim=(-1.2, 1.2), ylim=(-1.2, 1.2), aspect="equal", xlabel=f"PE(pos, {2 * j}) = sin",
           title=f"pair j = {j}: {math.degrees(float(omega[2 * j])):.0f}° per position")
    ax.set_ylabel(f"PE(pos, {2 * j + 1}) = cos")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 5 · Similarity depends on distance, not on place
#
# **Math.** The dot product of two encodings is a sum over pairs of
# $\sin a \sin a' + \cos a \cos a' = \cos(a - a')$, so
#
# $$PE(p)^\top PE(q) = \sum_{j} \cos\big(\omega_j (p - q)\big),$$
#
# a function of the offset $p - q$ alone (and even in it: $k$ steps back look like $k$ steps forward). It is
# largest, $d/2$, at $p = q$ and falls off with the distance. In the matrix of all dot products, every
# diagonal is constant (a *Toeplitz* matrix), which we check; on the right, the similarity of position 50 to
# all others.

# %%
similarity = pe @ pe.T  # (100, 100)
offsets = torch.arange(P_show)[:, None] - torch.arange(P_show)[None, :]  # p - q
predicted = torch.cos(offsets[..., None].double() * omega[0::2]).sum(-1)  # Σ_j cos(ω_j (p - q))
diagonal_deviation = max(float(similarity.diagonal(k).std()) for k in range(-P_show + 2, P_show - 1))
print(f"largest |PE(p)·PE(q) - Σ_j cos(ω_j (p - q))| = {float((similarity - predicted).abs().max()):.1e}; "
      f"largest spread along a diagonal = {diagonal_deviation:.1e}")
mmcourse.record("similarity_offset_only_max_spread", diagonal_deviation)
assert diagonal_deviation < 1e-4

fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
image = axes[0].imshow(similarity, cmap="viridis")
axes[0].set(xlabel="position q", ylabel="position p", title="PE(p)·PE(q)")
fig.colorbar(image, ax=axes[0], fraction=0.05)
axes[1].plot(similarity[50], color="tab:blue")
axes[1].axvline(50, color="gray", ls=":")
axes[1].set(xlabel="position q", ylabel="PE(50)·PE(q)", title="similarity of position 50 to the others")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 6 · Learned and 2-D encodings
#
# **Learned.** Instead of a formula, keep a table with one trainable vector per position and add row $t$ to
# token $t$ (BERT and the Vision Transformer do this). It can learn whatever pattern the task needs, but it
# starts as noise, knows nothing about neighbours until the data teach it, and has no row for a position
# longer than any seen in training. `mmcourse.positional.LearnedPositionalEncoding` is such a table.
#
# **2-D.** The patches of an image sit on a grid, not on a line. Numbering them row by row and using the 1-D
# encoding makes the patch *below* a patch eight positions away, farther than the patch three to its right.
# A 2-D encoding spends half the dimensions on the row and half on the column,
# $PE_{2D}(r, c) = [\,PE(r) \,,\, PE(c)\,]$, so that closeness in both directions is closeness in the code.
# Below: the similarity of one patch of an 8 × 8 grid (the white dot) to all others, for the three kinds.

# %%
grid_side, d_grid = 8, 64
pe_2d = positional.sinusoidal_encoding_2d(grid_side, grid_side, d_grid).reshape(grid_side ** 2, d_grid)  # (64, 64)
pe_raster = positional.sinusoidal_encoding(grid_side ** 2, d_grid)  # (64, 64): patch n = r·8 + c as a 1-D position
learned_table = positional.LearnedPositionalEncoding(grid_side ** 2, d_grid).weight.detach()  # (64, 64), untrained
centre = 3 * grid_side + 3  # patch (3, 3)

fig, axes = plt.subplots(1, 3, figsize=(9, 3))
for ax, (name, table) in zip(axes, [("1-D, row by row", pe_raster), ("2-D: [PE(row), PE(column)]", pe_2d),
                                    ("learned, before training", learned_table)]):
    cosine = F.cosine_similarity(table[centre][None], table, dim=1).view(grid_side, grid_side)  # (8, 8)
    ax.imshow(cosine, cmap="viridis")
    ax.plot(3, 3, "o", color="white", ms=5)
    ax.set_title(name, fontsize=9)
    ax.axis("off")
fig.suptitle("cosine similarity of patch (3, 3) to every patch of an 8 × 8 grid", fontsize=9)
fig.tight_layout()
plt.show()

# %% [markdown]
# The 1-D code sees the row (neighbours left and right are similar) but treats the patches above and below
# as far away; the 2-D code is a blob round the patch in both directions; the untrained table is noise.
# Section 8 trains a table and looks at it again.

# %% [markdown]
# ## 7 · The transformer: encoder block, decoder block, encoder–decoder attention
#
# The lecture's picture of the transformer has three attention blocks: self-attention in the encoder,
# self-attention in the decoder, and the encoder–decoder attention that joins them. Around each one, and
# around a small two-layer MLP applied to every token alone, sits a **residual connection** ($x + f(x)$) and a
# **layer normalisation**. In symbols, for the pre-norm arrangement that `mmcourse` uses by default
# (the original paper normalises after the sum, $\mathrm{LN}(x + f(x))$; both are available):
#
# $$\textbf{encoder block:}\quad x \leftarrow x + \mathrm{MHA}(\mathrm{LN}(x)),\qquad
#   x \leftarrow x + \mathrm{FFN}(\mathrm{LN}(x)),\qquad \mathrm{FFN}(x) = W_2\,\phi(W_1 x + b_1) + b_2 .$$
#
# $$\textbf{decoder block:}\quad y \leftarrow y + \mathrm{MHA}_{\text{causal}}(\mathrm{LN}(y)),\qquad
#   y \leftarrow y + \mathrm{MHA}(\text{queries } \mathrm{LN}(y),\ \text{keys, values } m),\qquad
#   y \leftarrow y + \mathrm{FFN}(\mathrm{LN}(y)),$$
#
# where $m$, the *memory*, is the encoder's output. The causal mask lets output token $t$ see only tokens
# $0 \dots t$, so the decoder can be trained on whole sentences at once and still generate one word at a time.
# The code is in `mmcourse/transformer.py`; here is the encoder block's `forward`, which reads like the
# formula:

# %%
print(inspect.getsource(EncoderBlock.forward))

# %% [markdown]
# **Check against PyTorch.** We build PyTorch's `nn.TransformerEncoderLayer` and `nn.TransformerDecoderLayer`,
# copy their random weights into ours (`copy_from_torch`), and compare the outputs on the same input, with a
# padding mask on the encoder and the causal mask on the decoder. Dropout is 0 so that both are
# deterministic. (PyTorch's masks say True where attention is *forbidden*; ours say True where it is
# allowed, hence the `~`.)

# %%
config_demo = TransformerConfig(embed_dim=32, num_heads=4, ff_dim=64, num_layers=2, dropout=0.0)
torch.manual_seed(1)
source = torch.randn(2, 7, 32, generator=generator)  # (B, S, C): e.g. embedded input tokens
target = torch.randn(2, 5, 32, generator=generator)  # (B, T, C): the output so far
real_source = torch.tensor([[True] * 7, [True] * 4 + [False] * 3])  # the second input has 3 padding tokens

ours_encoder_block, ours_decoder_block = EncoderBlock(config_demo).eval(), DecoderBlock(config_demo).eval()
torch_encoder_layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, activation="gelu", batch_first=True,
                                                 norm_first=True)
torch_decoder_layer = nn.TransformerDecoderLayer(32, 4, 64, dropout=0.0, activation="gelu", batch_first=True,
                                                 norm_first=True)
copy_from_torch(ours_encoder_block, torch_encoder_layer)
copy_from_torch(ours_decoder_block, torch_decoder_layer)
with torch.no_grad():
    memory_ours = ours_encoder_block(source, key_padding_mask=real_source)  # (B, S, C)
    memory_torch = torch_encoder_layer.train()(source, src_key_padding_mask=~real_source)  # train(): the plain path
    decoded_ours = ours_decoder_block(target, memory_ours, memory_key_padding_mask=real_source)  # (B, T, C)
    decoded_torch = torch_decoder_layer(target, memory_ours, tgt_mask=nn.Transformer.generate_square_subsequent_mask(5),
                                        tgt_is_causal=True, memory_key_padding_mask=~real_source)
check_shape(decoded_ours, (2, 5, 32), "decoder output")
encoder_difference = float((memory_ours - memory_torch).abs().max())
decoder_difference = float((decoded_ours - decoded_torch).abs().max())
print(f"largest difference from torch: encoder block {encoder_difference:.1e}, decoder block {decoder_difference:.1e}")
mmcourse.record("encoder_block_max_abs_diff_vs_torch", encoder_difference)
mmcourse.record("decoder_block_max_abs_diff_vs_torch", decoder_difference)
assert max(encoder_difference, decoder_difference) < 1e-5

# %% [markdown]
# **The causal mask, tested.** Change the *last* target token: the decoder's outputs at every earlier
# position must stay exactly the same, and only the last one may change.

# %%
changed = target.clone()
changed[:, -1] += 5.0
with torch.no_grad():
    after = ours_decoder_block(changed, memory_ours, memory_key_padding_mask=real_source)
change_per_position = (after - decoded_ours).abs().amax(dim=(0, 2))  # (T,)
print("largest change of the output at each position:", [f"{float(c):.1e}" for c in change_per_position])
assert float(change_per_position[:-1].max()) == 0.0 and float(change_per_position[-1]) > 0.1

# %% [markdown]
# **Pictures of the three attentions**: the encoder's self-attention (the padded tokens of the second input
# get no weight), the decoder's causal self-attention (a lower triangle), and the encoder–decoder attention
# (each output token over the input tokens), all from the blocks above, head 0.

# %%
fig, axes = plt.subplots(1, 3, figsize=(10, 2.9))
panels = [(ours_encoder_block.attn_weights[1, 0], "encoder self-attention\n(input 2: 3 padding tokens)", "key", "query"),
          (ours_decoder_block.attn_weights[1, 0], "decoder self-attention\n(causal)", "key (output so far)", "query"),
          (ours_decoder_block.cross_attn_weights[1, 0], "encoder–decoder attention", "input token (memory)",
           "output token")]
for ax, (weights, title, xlabel, ylabel) in zip(axes, panels):
    ax.imshow(weights, cmap="viridis", vmin=0)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.title.set_fontsize(9)
fig.tight_layout()
plt.show()

# %% [markdown]
# **Stacks.** A transformer repeats each block $N$ times. `TransformerEncoder` and `TransformerDecoder`
# stack `num_layers` blocks; the decoder's every block attends to the same memory, the encoder's last output.

# %%
encoder_stack, decoder_stack = TransformerEncoder(config_demo).eval(), TransformerDecoder(config_demo).eval()
with torch.no_grad():
    memory = encoder_stack(source, key_padding_mask=real_source)
    output = decoder_stack(target, memory, memory_key_padding_mask=real_source)
print(f"input {tuple(source.shape)} -> memory {tuple(memory.shape)}; output so far {tuple(target.shape)} -> "
      f"{tuple(output.shape)}")
print(f"parameters: encoder {sum(p.numel() for p in encoder_stack.parameters()):,}, "
      f"decoder {sum(p.numel() for p in decoder_stack.parameters()):,} "
      f"(each decoder block has a second attention: the encoder–decoder one)")

# %% [markdown]
# ## 8 · One transformer over an image and a question: spatial questions need positions
#
# **The task.** Scenes of the scene world with three objects, and questions such as "what shape is left of
# the red circle": exactly one object is left of it (in an earlier column), and the answer is its shape. To
# answer, a model must find the named object, find the others, and compare *where* they are. We draw the
# scenes at 24 × 24 pixels on the 3 × 3 grid, so that each 8 × 8 patch is exactly one cell: every object
# lies in one patch, and its place is *which* patch.
#
# **The model** (`mmcourse.multimodal.PatchTextEncoder`, the single-stream design of the lecture's
# vision + language transformers): one sequence `[CLS]`, 9 patch tokens, the question's word tokens; each
# token is *content* (a linear map of the patch's pixels, or the word's embedding) + *modality* (one vector
# for image, one for text) + *position* (the 2-D encoding for patches, the 1-D one for words). A linear
# layer reads the answer off `[CLS]`'s final state. We train it three times, identical but for the positions:
# sinusoidal, learned, and none.

# %%
print(inspect.getsource(PatchTextEncoder.forward))

# %%
scene_config = SceneConfig(image_size=24, min_objects=3, max_objects=3)
PATCH = 8  # 24 / 8 = 3 patches per side: one patch per cell
spatial_vocab, answer_vocab = scene_vocabulary(scene_config), answers(scene_config)
scenes_train = make_scenes(3000, seed=0, config=scene_config)
scenes_test = make_scenes(1000, seed=0, config=scene_config, split="test")
vqa_train = make_vqa(scenes_train, per_scene=2, seed=0, kinds=("relation",))
vqa_test = make_vqa(scenes_test, per_scene=1, seed=0, kinds=("relation",))


def spatial_tensors(scene_set, vqa):
    """Patches (M, 9, 192) of each question's image, question ids (M, L) and answer ids (M,)."""
    patches = patchify(scene_set.images, PATCH)[vqa.scene_index]  # (M, 9, 3·8·8)
    words = spatial_vocab.encode_batch(vqa.questions)  # (M, L), padded with 0
    labels = torch.tensor([answer_vocab.index(a) for a in vqa.answers])  # (M,)
    return patches, words, labels


train_tensors, test_tensors = spatial_tensors(scenes_train, vqa_train), spatial_tensors(scenes_test, vqa_test)
check_shape(train_tensors[0], (6000, 9, 192), "training patches")
print(f"{len(vqa_train)} training questions about {len(scenes_train)} scenes; {len(vqa_test)} test questions about "
      f"{len(scenes_test)} new scenes")

fig, axes = plt.subplots(1, 4, figsize=(10, 2.8))
for ax, n in zip(axes, range(4)):
    ax.imshow(scenes_test.images[vqa_test.scene_index[n]].permute(1, 2, 0))
    for line in (7.5, 15.5):
        ax.axhline(line, color="gray", lw=0.5)
        ax.axvline(line, color="gray", lw=0.5)
    ax.set_title(f"{vqa_test.questions[n].replace('what shape is ', '')}?\n→ {vqa_test.answers[n]}", fontsize=8)
    ax.axis("off")
fig.suptitle("test questions: 'what shape is <relation> the <object>?' (grey lines: the 9 patches)", fontsize=9)
fig.tight_layout()
plt.show()

# %% [markdown]
# **Training.** The same seed, data, sizes (64 features, 4 heads, 2 layers) and 8 epochs for all three
# models; only the position term differs. Each takes a few seconds.

# %%
class SpatialVQA(nn.Module):
    """PatchTextEncoder + a linear layer on [CLS]: patches (B, 9, 192) and question ids (B, L) -> answer logits."""

    def __init__(self, positions):
        super().__init__()
        config = TransformerConfig(embed_dim=64, num_heads=4, ff_dim=128, num_layers=2, dropout=0.0)
        self.encoder = PatchTextEncoder(patch_dim=3 * PATCH * PATCH, vocab_size=len(spatial_vocab), grid=3,
                                        max_words=16, config=config, positions=positions)
        self.answer = nn.Linear(64, len(answer_vocab))

    def forward(self, patches, words):
        return self.answer(self.encoder(patches, words)[:, 0])  # (B, answers): read off [CLS]


spatial_models, spatial_accuracy, spatial_seconds = {}, {}, {}
for positions in ("sinusoidal", "none", "learned"):
    mmcourse.set_seed(0)
    model = SpatialVQA(positions)
    if positions == "learned":
        learned_before_training = model.encoder.patch_pos.detach().clone()  # (9, 64): random at first
    start = time.perf_counter()
    train(model, lambda p, w, y: F.cross_entropy(model(p, w), y), train_tensors,
          TrainConfig(epochs=8, batch_size=128, lr=1e-3, progress=False))
    spatial_seconds[positions] = time.perf_counter() - start
    spatial_models[positions] = model.eval()
    spatial_accuracy[positions] = accuracy(predict(model, *test_tensors[:2]), test_tensors[2])
    print(f"positions = {positions:<10}: test accuracy {spatial_accuracy[positions]:.3f} "
          f"(trained in {spatial_seconds[positions]:.1f} s)")

mmcourse.record("spatial_vqa_accuracy_with_pe", spatial_accuracy["sinusoidal"])
mmcourse.record("spatial_vqa_accuracy_without_pe", spatial_accuracy["none"])
mmcourse.record("spatial_vqa_accuracy_learned_pe", spatial_accuracy["learned"])

# %% [markdown]
# **Why "none" is stuck near 60 %, not at 25 %.** Without positions the model still sees *which* objects
# are in the picture (patch contents are not hidden) and reads the question (as a bag of words, which is
# enough here: only one object is named). It knows the answer is the shape of one of the two *other*
# objects; it cannot know which one, so it guesses. When both other objects have the same shape the guess is
# free. A guess between two is right about half of the time, plus those free cases.
#
# **A test that leaves no doubt.** Shuffle the 9 patches of every test image (the same pixels, in another
# order) and ask again. A model without positions must give *exactly* the same answers, because its input is a
# set; the models with positions see a different picture, and their answers change.

# %%
shuffle = torch.randperm(9, generator=generator)
shuffled_patches = test_tensors[0][:, shuffle]  # (M, 9, 192): the same patches, in another order
answers_changed = {}
for positions, model in spatial_models.items():
    before = predict(model, *test_tensors[:2]).argmax(1)
    after = predict(model, shuffled_patches, test_tensors[1]).argmax(1)
    answers_changed[positions] = float((before != after).float().mean())
print("fraction of answers that change when the patches are shuffled: " +
      ", ".join(f"{p} {c:.3f}" for p, c in answers_changed.items()))
mmcourse.record("answers_changed_by_shuffling_without_pe", answers_changed["none"])
assert answers_changed["none"] == 0.0

# %% [markdown]
# **Pictures.** Left: the three accuracies. Middle: what the learned position table ended up as, the cosine
# similarity of each patch's learned vector with every other patch's, next to the same for the 2-D
# sinusoidal code (right). Did the table discover the grid? One number answers it: the correlation, over all
# pairs of different patches, between the cosine similarity of their vectors and (minus) their distance on
# the grid in cells, $|r_1 - r_2| + |c_1 - c_2|$. It is near 0 for a random table and near 1 when nearby
# patches get similar vectors.

# %%
learned_patch_positions = spatial_models["learned"].encoder.patch_pos.detach()  # (9, 64)
sinusoidal_patch_positions = spatial_models["sinusoidal"].encoder.patch_pos  # (9, 64)
cells = torch.tensor([(n // 3, n % 3) for n in range(9)], dtype=torch.float32)  # (9, 2): row, column of each patch
grid_distance = torch.cdist(cells, cells, p=1)  # (9, 9)
different = ~torch.eye(9, dtype=torch.bool)


def grid_correlation(table):
    """Correlation between the cosine similarity of two patches' vectors and minus their grid distance."""
    cosine = F.cosine_similarity(table[:, None], table[None], dim=-1)  # (9, 9)
    return float(torch.corrcoef(torch.stack([cosine[different], -grid_distance[different]]))[0, 1])


for name, table in (("learned, before training", learned_before_training), ("learned, after training",
                    learned_patch_positions), ("2-D sinusoidal", sinusoidal_patch_positions)):
    print(f"{name:<25}: correlation with closeness on the grid {grid_correlation(table):+.2f}")
mmcourse.record("learned_pe_grid_correlation", grid_correlation(learned_patch_positions))

fig, axes = plt.subplots(1, 3, figsize=(10, 3), gridspec_kw={"width_ratios": [1.2, 1, 1]})
names = list(spatial_accuracy)
axes[0].bar(names, [spatial_accuracy[p] for p in names], color=["tab:green", "tab:red", "tab:blue"])
axes[0].axhline(0.9, color="gray", ls=":", lw=1)
axes[0].set(ylim=(0, 1), ylabel="test accuracy", title="spatial questions, by positions")
for ax, table, title in ((axes[1], learned_patch_positions, "learned table, after training"),
                         (axes[2], sinusoidal_patch_positions, "2-D sinusoidal")):
    cosine = F.cosine_similarity(table[:, None], table[None], dim=-1)  # (9, 9)
    ax.imshow(cosine, cmap="viridis")
    ax.set(title=title, xlabel="patch", ylabel="patch", xticks=range(9), yticks=range(9))
    ax.title.set_fontsize(9)
fig.tight_layout()
plt.show()

# %% [markdown]
# **Where `[CLS]` looks.** The attention of the `[CLS]` token over the 9 patches in the last layer of the
# sinusoidal model (mean over heads), for the four test questions above.

# %%
model = spatial_models["sinusoidal"]
with torch.no_grad():
    model(test_tensors[0][:4], test_tensors[1][:4])
cls_to_patches = model.encoder.encoder.attn_weights[-1].mean(1)[:, 0, 1:10]  # (4, 9): [CLS] -> patches
predicted_answers = predict(model, test_tensors[0][:4], test_tensors[1][:4]).argmax(1)

fig, axes = plt.subplots(1, 4, figsize=(10, 2.8))
for n, ax in enumerate(axes):
    ax.imshow(scenes_test.images[vqa_test.scene_index[n]].permute(1, 2, 0))
    ax.imshow(cls_to_patches[n].view(3, 3), cmap="inferno", alpha=0.55, extent=(-0.5, 23.5, 23.5, -0.5))
    ax.set_title(f"{vqa_test.questions[n].replace('what shape is ', '')}?\nanswer: "
                 f"{answer_vocab.decode([int(predicted_answers[n])])}", fontsize=8)
    ax.axis("off")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 9 · Play with the encoding
#
# Choose a **position** and a **dimension**. Left: the encoding, with your position's row and your
# dimension's column marked. Middle: your dimension over all positions (a sine for even $i$, a cosine for
# odd $i$) and its wavelength. Right: how similar your position is to every other,
# $PE(pos)^\top PE(q)$. Everything is precomputed; the widget only redraws.

# %%
def draw_encoding(position=20, dimension=6):
    """The sinusoidal encoding (100 positions, 64 dimensions) seen from one position and one dimension."""
    fig, axes = plt.subplots(1, 3, figsize=(10, 2.9))
    axes[0].imshow(pe, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1)
    axes[0].axhline(position, color="black", lw=1)
    axes[0].axvline(dimension, color="black", lw=1)
    axes[0].set(xlabel="dimension i", ylabel="position pos", title="PE(pos, i)")
    axes[1].plot(pe[:, dimension], color="tab:blue")
    axes[1].plot(position, pe[position, dimension], "o", color="black")
    axes[1].set(ylim=(-1.1, 1.1), xlabel="position", title=f"i = {dimension} ({'sin' if dimension % 2 == 0 else 'cos'}), "
                f"wavelength {wavelength[dimension]:.1f}")
    axes[2].plot(similarity[position], color="tab:green")
    axes[2].axvline(position, color="black", ls=":")
    axes[2].set(xlabel="position q", title=f"PE({position})·PE(q)")
    for ax in axes:
        ax.title.set_fontsize(9)
    fig.tight_layout()
    return fig


widgets.show(draw_encoding())

# %%
start = time.perf_counter()
plt.close(draw_encoding(73, 41))
print(f"one redraw: {time.perf_counter() - start:.2f} s")
widgets.explore(draw_encoding, position=(0, P_show - 1, 1, 20), dimension=(0, d_show - 1, 1, 6))

# %% [markdown]
# ## Take-aways
#
# - Self-attention is permutation equivariant: reorder the inputs and the outputs are reordered the same way
#   (we measured a difference of about $10^{-7}$). Pooled, a sentence and its mirror image are identical, and so
#   are an image and its shuffled patches.
# - A positional encoding is a vector that depends only on the position, added to each token. The lecture's
#   sinusoidal one, $PE_{(pos,i)} = \sin(pos/10000^{i/d})$ or $\cos(pos/10000^{(i-1)/d})$, turns each pair of
#   dimensions like a clock hand at its own speed; its values stay in $[-1, 1]$ and no two positions share a code.
# - Moving $k$ positions is one fixed rotation $M_k$ for every position, and the dot product of two encodings
#   depends only on their distance: attention can learn *relative* offsets from an *absolute* code.
# - Learned tables can fit any pattern but start as noise; trained on spatial questions alone, ours found the
#   grid (nearby patches got similar vectors). 2-D encodings give image patches a row and a column, so that
#   neighbours in both directions look alike from the start.
# - A transformer block is attention and a per-token MLP, each inside a residual connection with layer
#   normalisation. The decoder adds a causal mask and an encoder–decoder attention; ours match PyTorch's
#   layers to $10^{-6}$.
# - One transformer can read two modalities as one sequence of tokens. On spatial questions it answered
#   correctly with positions and fell to a guess without them, and only the models with positions noticed
#   when the patches were shuffled.
#
# ## Further reading
#
# - A. Vaswani et al., "Attention Is All You Need", NeurIPS 2017 (section 3.5: the sinusoidal encoding and its
#   relative-offset property).
# - A. Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale", ICLR
#   2021 (patches as tokens, learned and 2-D position embeddings).
# - W. Kim, B. Son and I. Kim, "ViLT: Vision-and-Language Transformer Without Convolution or Region
#   Supervision", ICML 2021 (one stream of patches and words with modality embeddings).
# - P. Shaw, J. Uszkoreit and A. Vaswani, "Self-Attention with Relative Position Representations", NAACL 2018;
#   J. Su et al., "RoFormer: Enhanced Transformer with Rotary Position Embedding", 2021 (positions as rotations,
#   built into attention).
# - R. Xiong et al., "On Layer Normalization in the Transformer Architecture", ICML 2020 (pre-norm vs post-norm).
