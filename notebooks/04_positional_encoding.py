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
# - show with numbers that self-attention treats its input as a *set*, so "a red circle left of a blue
#   square" and its mirror image look alike to it;
# - write the lecture's sinusoidal positional encoding $PE_{(pos, i)}$, read its pictures, and read a
#   position back from its code;
# - build the matrix that moves an encoding by $k$ positions, and see why it makes relative offsets easy;
# - build the transformer's encoder block, and its decoder block with a causal mask and encoder–decoder
#   attention, and check both against PyTorch's layers;
# - train one transformer over the patches of an image *and* the words of a question, and see it answer
#   spatial questions with positions and fail without them.
#
# **Where this sits in the lecture.** Lecture 11 builds the transformer out of the attention of notebook 03 and
# points at a catch: self-attention "looks at the input as a set of elements". The fix is a **positional
# encoding**, a vector that depends only on the position, added to each input embedding. The same transformer
# reads several modalities at once, which is what section 7 does with an image and a question.

# %% [markdown]
# ## Setup

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

import mmcourse
from mmcourse import check_shape, positional, schematics, widgets
from mmcourse.attention import MultiHeadAttention
from mmcourse.data.scenes import SceneConfig, answers, make_scenes, make_vqa, relation_holds, scene_vocabulary
from mmcourse.exercises import student_or_reference
from mmcourse.multimodal import PatchTextEncoder, patchify
from mmcourse.training import accuracy, predict
from mmcourse.transformer import TransformerConfig, copy_from_torch, post_norm_encoder_block

generator = mmcourse.set_seed(0)
device = mmcourse.get_device()  # every model here is small: the notebook computes on the CPU
torch.set_num_threads(1)

# %% [markdown]
# ## 1 · Self-attention sees a set
#
# **Intuition.** In self-attention every token is compared with every other token, and nothing in the
# comparison says *where* a token sits. Swap two words and each still meets the same partners with the same
# scores: its output only moves to the new place. Anything that pools the outputs (a mean, a `[CLS]` token's
# view) then cannot tell a sentence from any reordering of its words.
#
# **Math.** Let $P$ be a permutation matrix (it reorders the rows of $X$). Self-attention with
# $Q = XW_Q$, $K = XW_K$, $V = XW_V$ satisfies
#
# $$\mathrm{Attn}(PX) = \mathrm{softmax}\!\Big(\frac{PXW_Q (PXW_K)^\top}{\sqrt{d_k}}\Big) PXW_V
#   = P\,\mathrm{softmax}\!\Big(\frac{XW_Q W_K^\top X^\top}{\sqrt{d_k}}\Big) P^\top P X W_V = P\,\mathrm{Attn}(X),$$
#
# because the softmax acts on each row and $P^\top P = I$. We check it on two captions of the scene world that
# describe opposite pictures with the same eight words, using the multi-head attention of notebook 03 with
# random weights.

# %%
vocab = scene_vocabulary()
sentence, mirror = "a red circle left of a blue square", "a blue square left of a red circle"
assert sorted(sentence.split()) == sorted(mirror.split())
print("both captions use the same words:", " ".join(sorted(sentence.split())))

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
unmoved_difference = float((out - out_of_permuted).abs().max())
print(f"permutation {perm.tolist()}:\n  largest |Attn(PX) - P·Attn(X)| = {permutation_difference:.1e}  "
      f"(the outputs move with the inputs)\n  largest |Attn(PX) - Attn(X)|   = {unmoved_difference:.2f}  "
      f"(they do not stay where they were)")
mmcourse.record("permutation_max_abs_diff", permutation_difference)
assert permutation_difference < 1e-5

# %% [markdown]
# Now the two captions, pooled by a mean over their tokens (what a sentence classifier would see), without
# and with the sinusoidal positional encoding of section 2 added to the word vectors.

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
# Without positions the difference is zero in every feature, up to float32 rounding: no layer on top could
# learn which object is on the left. With positions it is not zero, and training can make it as large as needed.
#
# > **Erratum.** The lecture says self-attention is "permutation invariant". It is permutation
# > **equivariant**: reorder the inputs and the outputs are reordered the same way (the first printout:
# > $\mathrm{Attn}(PX)$ equals $P\,\mathrm{Attn}(X)$ to $10^{-7}$, while it differs from $\mathrm{Attn}(X)$ by
# > more than $0.1$). What is invariant is the *set* of outputs, and so any pooled summary of them: the mean
# > over the tokens of the two mirror captions is the same to $10^{-7}$.

# %% [markdown]
# ## 2 · The sinusoidal encoding, exactly as in the lecture
#
# **Intuition.** Give every position a fingerprint: a vector of $d$ numbers, the size of a token embedding,
# added to the token. Each pair of dimensions is a clock hand turning at its own speed as the position grows:
# the first pair turns fast (once every 6.3 positions), the last so slowly that it hardly moves over thousands
# of positions. Read together, the hands name the position, and the values stay between −1 and 1 however
# long the sequence.
#
# **Math.** For position $pos = 0, 1, 2, \dots$ and dimension $i = 0, \dots, d - 1$ (with $d = d_{model}$):
#
# $$PE_{(pos, i)} = \begin{cases} \sin\!\left(\dfrac{pos}{10000^{\,i/d}}\right) & \text{if } i \bmod 2 = 0,\\[2ex]
#   \cos\!\left(\dfrac{pos}{10000^{\,(i-1)/d}}\right) & \text{otherwise.} \end{cases}$$
#
# Dimensions $i = 2j$ and $i = 2j + 1$ share the angular frequency $\omega_j = 1 / 10000^{2j/d}$: one holds
# the sine of $\omega_j \, pos$, the other its cosine. (The paper writes the same thing with $i$ counting
# pairs, $\sin(pos / 10000^{2i/d})$; here $i$ is the dimension itself.)

# %% [markdown]
# **In code**, checked against a reference: PyTorch has no sinusoidal encoding, so the reference is the formula
# evaluated one entry at a time with Python's `math`. Ours and `mmcourse.positional.sinusoidal_encoding` must
# agree with it to $10^{-5}$, for an even and an odd $d$.

# %%
def positional_encoding(num_positions, dim):
    """(num_positions, dim): row pos is the lecture's PE(pos, ·), for pos = 0 … num_positions − 1."""
    pos = torch.arange(num_positions, dtype=torch.float64)[:, None]  # (P, 1)
    i = torch.arange(dim, dtype=torch.float64)  # (d,)
    angle = pos / 10000 ** ((i - i % 2) / dim)  # (P, d): the exponent is i/d for even i, (i-1)/d for odd i
    return torch.where(i % 2 == 0, torch.sin(angle), torch.cos(angle)).float()  # (P, d)


def encoding_by_loop(num_positions, dim):
    """The lecture's formula, one entry at a time."""
    return torch.tensor([[math.sin(pos / 10000 ** (i / dim)) if i % 2 == 0 else math.cos(pos / 10000 ** ((i - 1) / dim))
                          for i in range(dim)] for pos in range(num_positions)], dtype=torch.float64)


sinusoidal_difference = max(float((f(P, d).double() - encoding_by_loop(P, d)).abs().max())
                            for f in (positional_encoding, positional.sinusoidal_encoding) for P, d in ((100, 64), (30, 7)))
print(f"largest difference from the formula evaluated entry by entry: {sinusoidal_difference:.1e}")
mmcourse.record("sinusoidal_max_abs_diff_vs_loop", sinusoidal_difference)
assert sinusoidal_difference < 1e-5

# %% [raw]
# # BEGIN QUESTION
# name: q04_sinusoidal
# points: 2

# %% [markdown]
# **Exercise 4.1: read the clock.** If the hands, read together, *name* the position, you can go back:
# write `read_position(pe)`, which takes rows of the encoding (shape `(N, d)`, `d` even and at least 8, rows in
# any order) and returns the position each row encodes, shape `(N,)`, right to 0.01. The positions lie anywhere
# in 0 … 2000 and need not be whole (the formula takes any real $pos$; `positional.sinusoidal_encoding_at`
# encodes such positions), so compute each one from its row. Not every hand can be trusted over that range.

# %% [raw]
# # BEGIN SOLUTION

# %%
def read_position(pe):
    """(N,): the position named by each row of a sinusoidal encoding pe of shape (N, d), d even."""
    # BEGIN SOLUTION
    d = pe.shape[1]
    omega = 1 / 10000 ** ((d - 2) / d)  # the last pair turns slowest: under half a turn over 0 … 2000 when d >= 8
    return torch.atan2(pe[:, d - 2].double(), pe[:, d - 1].double()) / omega  # its angle ω·pos, over ω
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_read_position(read_position):
    import math

    import torch
    from mmcourse.exercises import ExerciseError, close, finished, not_the_mistake, same_shape
    from mmcourse.positional import frequencies, sinusoidal_encoding_at

    positions = torch.tensor([123.5, 0.0, 1800.0, 3.0, 999.0, 1999.5, 0.5, 40.0, 1500.0, 7.25, 404.0],
                             dtype=torch.float64)  # in no order, fractions included
    for d in (8, 32):
        what = f"read_position(pe) for {len(positions)} rows with d = {d}"
        got = finished(read_position(sinusoidal_encoding_at(positions, d)), what)
        got = torch.as_tensor(same_shape(got, (len(positions),), what)).double()
        omega = frequencies(d)[0::2]  # (d/2,): ω_j, the angle per position of pair j
        right = (got - positions).abs() <= 0.01
        if bool(right.all()):
            continue
        for j in range(d // 2 - 1):
            turn = 2 * math.pi / float(omega[j])  # positions per full turn of hand j
            for reading in (torch.remainder(positions, turn), torch.remainder(positions + turn / 2, turn) - turn / 2):
                not_the_mistake(got, reading, what,
                                f"you read the hand of pair {j} (dimensions {2 * j} and {2 * j + 1}); it comes round "
                                f"every {turn:.1f} positions, so positions {turn:.1f} apart look the same to it. "
                                "Over 0 … 2000 you need a hand that turns less than half a turn", atol=0.05)
        slow = float(omega[-1])  # the last pair
        angle = slow * positions  # (N,)
        not_the_mistake(got, (torch.remainder(1.5 * math.pi - angle, 2 * math.pi) - math.pi) / slow, what,
                        "the two numbers of the pair went into atan2 the other way round: dimension 2j holds the "
                        "sine (atan2's first argument, y) and 2j + 1 the cosine (x)", atol=0.05)
        beyond = angle > math.pi / 2 + 0.1
        if bool(beyond.any()):
            not_the_mistake(got[beyond], (math.pi - angle[beyond]) / slow, what,
                            "past a quarter turn your reading folds back: the sine alone cannot tell an angle a "
                            "from π − a (sin a = sin(π − a)). Use both numbers of the pair", atol=0.05)
        moved = positions > 0
        ratio = got[moved] / positions[moved]
        if float(ratio.std() / ratio.mean().abs()) < 1e-3:
            r = float(ratio.mean())
            j = int((omega - r).abs().argmin())
            if abs(float(omega[j]) / r - 1) < 1e-3:
                raise ExerciseError(f"{what}: you returned the angle of pair {j}'s hand in radians, ω_j · pos; the "
                                    "position is that angle divided by ω_j")
            raise ExerciseError(f"{what}: your positions are all {r:.4g} times the true ones: the angle is right "
                                "but it was divided by another frequency than its pair's. Dimensions 2j and 2j + 1 "
                                "both turn at ω_j = 1 / 10000^(2j/d)")
        if float((got - got.round()).abs().max()) < 1e-6 and float((got - positions).abs().max()) <= 0.5:
            raise ExerciseError(f"{what}: your positions are whole numbers, but a position may be a fraction "
                                "(0.5, 7.25, 1999.5 here). Compute it from the row instead of picking the nearest "
                                "whole position")
        near_zero = angle < 0.3
        if bool(right[~near_zero].all()):
            k = int(torch.nonzero(~right)[0])
            raise ExerciseError(f"{what}: right far from position 0 but not near it (for position "
                                f"{float(positions[k]):g} you return {float(got[k]):.3f}). Near angle 0 the cosine "
                                "hardly changes (cos a ≈ 1 − a²/2), so a rounding error in it becomes a large error "
                                "in the angle. Use both numbers of the pair")
        close(got, positions, what, atol=0.01, rtol=0, hint="each row names one position, to be found within 0.01")


test_read_position(read_position)

# %%
# HIDDEN
def test_read_position_on_other_sizes(read_position):
    import torch
    from mmcourse.exercises import close, same_shape
    from mmcourse.positional import sinusoidal_encoding_at

    positions = torch.cat([torch.arange(0.0, 2000.0, 37.0), torch.linspace(0.0, 1999.9, 7),
                           torch.tensor([1e-3, 1234.567])]).double()
    for d in (8, 10, 16, 64, 128):
        what = f"read_position(pe) for {len(positions)} rows with d = {d}"
        got = same_shape(read_position(sinusoidal_encoding_at(positions, d)), (len(positions),), what)
        close(torch.as_tensor(got).double(), positions, what, atol=0.01, rtol=0)
    what = "read_position(pe) for one row, position 42, with d = 12"
    got = same_shape(read_position(sinusoidal_encoding_at([42.0], 12)), (1,), what)
    close(torch.as_tensor(got).double(), torch.tensor([42.0], dtype=torch.float64), what, atol=0.01, rtol=0)


test_read_position_on_other_sizes(read_position)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
read_position_used = student_or_reference(read_position, positional.read_position,
                                          (positional.sinusoidal_encoding_at([0.0, 3.5, 1999.0], 16),),
                                          "read_position", atol=0.01)

# %% [markdown]
# **Reading back 8,000 positions**, every quarter position from 0 to 2000 with $d = 64$, and why $d$ had to be at
# least 8: with $d = 6$ the slowest hand turns once every 2,916 positions, so past half a turn (1,458) the
# reading comes round to negative positions.

# %%
probe_positions = torch.arange(0, 2000, 0.25, dtype=torch.float64)  # (8000,)
read_back = read_position_used(positional.sinusoidal_encoding_at(probe_positions, 64))  # (8000,)
read_error = float((read_back - probe_positions).abs().max())
wrapped = positional.read_position(positional.sinusoidal_encoding_at([1400.0, 2000.0], 6))  # (2,)
print(f"d = 64: largest error over the 8000 positions {read_error:.4f}\n"
      f"d = 6: position 1400 reads as {float(wrapped[0]):.1f}, position 2000 as {float(wrapped[1]):.1f}")
mmcourse.record("read_position_max_abs_error", read_error)
assert read_error < 0.01

# %% [markdown]
# ## 3 · Pictures of the encoding
#
# Left: each row is one position's vector, each column one dimension; the left columns change fast from row to
# row, the right ones hardly at all. Right: four columns as curves over the positions, a sine and a cosine per
# pair, the wavelength $2\pi/\omega_j$ growing by a constant factor from pair to pair. Below the figure: all
# values lie in $[-1, 1]$, so the encoding never swamps the token it is added to, and no two positions share
# a vector.

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
distinct = torch.cdist(pe, pe) + torch.eye(P_show) * 10  # distances between different positions
print(f"wavelengths from {wavelength[0]:.2f} (dimensions 0, 1) to {wavelength[-1]:.0f} (dimensions {d_show - 2}, "
      f"{d_show - 1})\nvalues in [{float(pe.min()):.2f}, {float(pe.max()):.2f}]; the closest two different "
      f"positions are {float(distinct.min()):.2f} apart")

# %% [markdown]
# ## 4 · Moving by k positions is a fixed linear map
#
# **Intuition.** If every pair is a clock hand, moving $k$ positions forward turns hand $j$ by the angle
# $\omega_j k$, *whichever position you start from*. Turning a hand is a linear map of its two numbers. So there
# should be one matrix $M_k$, the same for every position, with
#
# $$PE(pos + k) = M_k \, PE(pos) \quad \text{for every } pos .$$
#
# This is the reason Vaswani et al. (2017) gave for sines *and* cosines: a layer that multiplies keys or
# queries by a matrix could then learn "the token $k$ places back" once, for all positions, from an absolute
# code (the exercise below builds $M_k$; no model here is shown learning it).

# %% [raw]
# # BEGIN QUESTION
# name: q04_shift_matrix
# points: 2

# %% [markdown]
# **Exercise 4.2: an offset is a matrix.** Write `shift_matrix(k, dim)`, the `(dim, dim)` float tensor $M_k$
# with $PE(pos + k) = M_k \, PE(pos)$ for every position, for an even `dim` and any integer offset `k`
# (negative moves back). $PE(pos)$ is a column here; for a table whose rows are positions this reads
# `pe[k:] == pe[:-k] @ shift_matrix(k, dim).T` (for $k > 0$). Work it out on paper for one pair of dimensions
# first. The test checks your matrix on offsets and sizes it has not told you.

# %% [raw]
# # BEGIN SOLUTION

# %%
def shift_matrix(k, dim):
    """(dim, dim): M_k with PE(pos + k) = M_k PE(pos) for every pos; dim even."""
    # BEGIN SOLUTION
    angle = k / 10000 ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)  # (dim/2,): ω_j k for pair j
    c, s = torch.cos(angle), torch.sin(angle)
    even, odd = torch.arange(0, dim, 2), torch.arange(1, dim, 2)
    M = torch.zeros(dim, dim, dtype=torch.float64)
    M[even, even], M[even, odd] = c, s  # sin(a + b) = sin a cos b + cos a sin b
    M[odd, even], M[odd, odd] = -s, c  # cos(a + b) = cos a cos b - sin a sin b
    return M.float()
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_shift_matrix(shift_matrix):
    import torch
    from mmcourse.exercises import ExerciseError, close, finished, not_the_mistake, same_shape
    from mmcourse.positional import sinusoidal_encoding

    k, d = 3, 16
    what = "shift_matrix(3, 16)"
    M = same_shape(finished(shift_matrix(k, d), what), (d, d), what)
    M = torch.as_tensor(M).double()
    pair = torch.arange(d // 2, dtype=torch.float64)  # j = 0 … d/2 - 1

    def rotations(angle):
        """Block-diagonal: pair j is mapped by [[cos, sin], [-sin, cos]] of angle[j]."""
        even, odd = torch.arange(0, d, 2), torch.arange(1, d, 2)
        out = torch.zeros(d, d, dtype=torch.float64)
        out[even, even], out[even, odd], out[odd, even], out[odd, odd] = (angle.cos(), angle.sin(), -angle.sin(),
                                                                          angle.cos())
        return out

    omega = 1 / 10000 ** (2 * pair / d)
    in_blocks = torch.block_diag(*[torch.ones(2, 2)] * (d // 2)).bool()
    if float(M[~in_blocks].abs().max()) > 1e-5:
        raise ExerciseError(f"{what}: entries outside the 2 × 2 blocks on the diagonal are not 0. Moving k "
                             "positions turns each (sin, cos) pair, dimensions (2j, 2j + 1), on its own: no pair "
                             "mixes with another")
    not_the_mistake(M, rotations(-omega * k), what,
                    "this is M_(-k): it moves 3 positions back. Either the signs of the sines in your 2 × 2 blocks "
                    "are swapped, or you built the matrix for rows (pe @ M) instead of columns (M @ PE(pos)); "
                    "the two are each other's transpose", atol=1e-4)
    not_the_mistake(M, rotations(torch.full_like(pair, k)), what,
                    "every pair turns by the same angle k; pair j turns by ω_j k, with its own frequency "
                    "ω_j = 1 / 10000^(2j/d)", atol=1e-4)
    not_the_mistake(M, rotations(k / 10000 ** (pair / d)), what,
                    "pair j's frequency is ω_j = 1 / 10000^(2j/d) (the exponent of dimension 2j is 2j/d); "
                    "you used j/d", atol=1e-4)
    not_the_mistake(M, rotations(k * 10000 ** (2 * pair / d)), what,
                    "the offset must be divided by 10000^(2j/d) (times ω_j), not multiplied by it", atol=1e-4)
    pe = sinusoidal_encoding(40, d, dtype=torch.float64)  # (40, 16)
    close(pe[:-k] @ M.T, pe[k:], "M_k PE(pos) for pos = 0 … 36 (pe[:-3] @ M.T)",
          hint="it should be PE(pos + 3), that is pe[3:]")


test_shift_matrix(shift_matrix)

# %%
# HIDDEN
def test_shift_matrix_on_other_offsets_and_sizes(shift_matrix):
    import torch
    from mmcourse.exercises import close, same_shape
    from mmcourse.positional import sinusoidal_encoding

    for k, d in ((1, 2), (7, 8), (-4, 32), (0, 6), (40, 128), (-25, 10)):
        what = f"shift_matrix({k}, {d})"
        M = torch.as_tensor(same_shape(shift_matrix(k, d), (d, d), what)).double()
        P = 60 + abs(k)
        pe = sinusoidal_encoding(P, d, dtype=torch.float64)  # (P, d)
        source, target = pe[max(0, -k):P - max(0, k)], pe[max(0, k):P - max(0, -k)]  # PE(pos), PE(pos + k)
        close(source @ M.T, target, f"M_k PE(pos) with {what}, for 60 positions", hint=f"it should be PE(pos + {k})")


test_shift_matrix_on_other_offsets_and_sizes(shift_matrix)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
shift_matrix_used = student_or_reference(shift_matrix, positional.relative_shift_matrix, (3, 16), "shift_matrix")

# %% [markdown]
# **Why it works.** With $a = \omega_j \, pos$ and $b = \omega_j k$, the addition theorems give
#
# $$\begin{pmatrix} \sin(a + b) \\ \cos(a + b) \end{pmatrix} =
#   \begin{pmatrix} \cos b & \sin b \\ -\sin b & \cos b \end{pmatrix}
#   \begin{pmatrix} \sin a \\ \cos a \end{pmatrix},$$
#
# a rotation that depends on $k$ but not on $pos$; $M_k$ has one such block per pair on its diagonal. Below:
# the check on all 100 positions of `pe` for four offsets, that $M_k$ is a rotation ($M_k M_k^\top = I$), and
# the first three pairs for positions 0 to 12 as points on the unit circle: each step turns pair $j$ by the
# same angle $\omega_j$.

# %%
shift_errors = {}
for k in (1, 5, 17, -3):
    M_k = shift_matrix_used(k, d_show)  # (64, 64)
    start = max(0, -k)
    moved = pe[start:P_show - max(k, 0)] @ M_k.T  # (P - |k|, 64): M_k PE(pos), one row per pos
    target = pe[start + k:P_show + min(k, 0)]  # PE(pos + k)
    shift_errors[k] = float((moved - target).abs().max())
    assert torch.allclose(M_k @ M_k.T, torch.eye(d_show), atol=1e-6), "M_k is a rotation"
print("largest |M_k PE(pos) - PE(pos + k)| over all positions: " +
      ", ".join(f"k = {k}: {e:.1e}" for k, e in shift_errors.items()))
mmcourse.record("shift_rotation_max_abs_error", max(shift_errors.values()))
assert max(shift_errors.values()) < 1e-5

fig, axes = plt.subplots(1, 3, figsize=(10, 3.2), layout="constrained")
for j, ax in enumerate(axes):
    points = pe[:13, 2 * j:2 * j + 2]  # (13, 2): (sin, cos) of pair j
    ax.add_patch(plt.Circle((0, 0), 1, fill=False, color="lightgray"))
    dots = ax.scatter(points[:, 0], points[:, 1], c=range(13), cmap="viridis", s=25, zorder=3)
    steps = points[1:] - points[:-1]  # (12, 2): one arrow from each position to the next
    ax.quiver(points[:-1, 0], points[:-1, 1], steps[:, 0], steps[:, 1], angles="xy", scale_units="xy", scale=1,
              color="tab:gray", width=0.006)
    ax.set(xlim=(-1.2, 1.2), ylim=(-1.2, 1.2), aspect="equal", xlabel=f"PE(pos, {2 * j}) = sin",
           title=f"pair j = {j}: {math.degrees(float(omega[2 * j])):.0f}° per position")
    ax.set_ylabel(f"PE(pos, {2 * j + 1}) = cos")
    ax.title.set_fontsize(9)
fig.colorbar(dots, ax=axes, fraction=0.02, label="position")
plt.show()

# %% [markdown]
# ## 5 · Similarity depends on distance, not on place
#
# The dot product of two encodings is a sum over pairs of $\sin a \sin a' + \cos a \cos a' = \cos(a - a')$, so
#
# $$PE(p)^\top PE(q) = \sum_{j} \cos\big(\omega_j (p - q)\big),$$
#
# a function of the offset $p - q$ alone, largest ($d/2$) at $p = q$. In the matrix of all dot products every
# diagonal is constant, which we check; on the right, the similarity of position 50 to all others.

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
# ## 6 · The transformer block, built from its parts
#
# The lecture's diagram, drawn as in the original paper: the encoder block (left) is self-attention and then
# a small MLP (the *feed-forward* layer, applied to every token alone); the decoder block (right) has a
# *masked* self-attention and, before its MLP, the encoder–decoder attention, whose keys and values come from
# the encoder's output. Follow the grey lines: each sub-layer's input also goes *around* it and is added to its
# output (a **residual connection**), and every sum is normalised ("add & norm").

# %%
schematics.transformer_block()
plt.show()

# %% [markdown]
# **The parts.** A **layer norm** rescales each token's $C$ features to mean 0 and variance 1, then applies a
# learned scale $\gamma$ and shift $\beta$, so that the sums do not grow from block to block. **Multi-head
# attention** is the one you built in notebook 03; here it takes its queries from `x` and its keys and values
# from `memory` (`x` itself for self-attention). The **feed-forward** layer is
# $W_2\,\mathrm{ReLU}(W_1 x + b_1) + b_2$ with a hidden size $d_{ff}$ larger than $C$. The names of the parts
# follow PyTorch's `nn.TransformerEncoderLayer`, so that `copy_from_torch` can give ours its weights.
#
# **Post-norm or pre-norm.** The diagram (and PyTorch's default `norm_first=False`) normalises *after* each sum:
# *post-norm*, built here. Most later models, and those of section 7, normalise each sub-layer's *input*
# instead: *pre-norm* (see Going further).

# %%
class LayerNorm(nn.Module):
    """Each token's C features to mean 0 and variance 1, then the learned scale γ (weight) and shift β (bias)."""

    def __init__(self, C, eps=1e-5):
        super().__init__()
        self.weight, self.bias, self.eps = nn.Parameter(torch.ones(C)), nn.Parameter(torch.zeros(C)), eps

    def forward(self, x):  # (B, T, C)
        mean = x.mean(-1, keepdim=True)  # (B, T, 1)
        variance = x.var(-1, keepdim=True, unbiased=False)  # (B, T, 1)
        return (x - mean) / torch.sqrt(variance + self.eps) * self.weight + self.bias  # (B, T, C)


class Attention(nn.Module):
    """Multi-head attention (notebook 03): queries from x (B, T, C), keys and values from memory (B, S, C)."""

    def __init__(self, C, num_heads):
        super().__init__()
        self.H, self.weights = num_heads, None
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(C, C) for _ in range(4))

    def forward(self, x, memory=None, allowed=None):
        memory = x if memory is None else memory
        B, T, C = x.shape
        heads = lambda t: t.view(B, -1, self.H, C // self.H).transpose(1, 2)  # (B, L, C) -> (B, H, L, D)
        q, k, v = heads(self.q_proj(x)), heads(self.k_proj(memory)), heads(self.v_proj(memory))
        scores = q @ k.transpose(-2, -1) / math.sqrt(C // self.H)  # (B, H, T, S)
        if allowed is not None:  # (T, S), True where query t may look at key s
            scores = scores.masked_fill(~allowed, float("-inf"))
        self.weights = scores.softmax(dim=-1)  # (B, H, T, S), kept for the pictures
        return self.out_proj((self.weights @ v).transpose(1, 2).reshape(B, T, C))  # (B, T, C)


class EncoderLayer(nn.Module):
    """The parts of one encoder block, named as in nn.TransformerEncoderLayer."""

    def __init__(self, C, num_heads, ff_dim):
        super().__init__()
        self.self_attn = Attention(C, num_heads)
        self.norm1, self.norm2 = LayerNorm(C), LayerNorm(C)
        self.linear1, self.linear2 = nn.Linear(C, ff_dim), nn.Linear(ff_dim, C)  # the MLP: C -> ff_dim -> C


# %% [markdown]
# **Check the parts against PyTorch.** We make PyTorch's encoder layer with random weights (biases and layer
# norm gains moved away from 0 and 1, so that a forgotten one shows), copy them into an `EncoderLayer`, and
# compare the attention and a layer norm on the same tokens (dropout 0).

# %%
C, H, FF = 32, 4, 64
torch.manual_seed(1)
torch_encoder_layer = nn.TransformerEncoderLayer(C, H, FF, dropout=0.0, activation="relu", batch_first=True,
                                                 norm_first=False)  # post-norm, as in the diagram
with torch.no_grad():
    for parameter in torch_encoder_layer.parameters():
        if parameter.ndim == 1:
            parameter.add_(0.3 * torch.randn(parameter.shape))
layer = EncoderLayer(C, H, FF)
copy_from_torch(layer, torch_encoder_layer)
source = torch.randn(2, 7, C, generator=generator)  # (B, S, C): e.g. 7 embedded input tokens
with torch.no_grad():
    attention_difference = (layer.self_attn(source) - torch_encoder_layer.self_attn(source, source, source)[0]).abs().max()
    norm_difference = (layer.norm1(source) - torch_encoder_layer.norm1(source)).abs().max()
print(f"largest difference from torch: attention {float(attention_difference):.1e}, "
      f"layer norm {float(norm_difference):.1e}")

# %% [raw]
# # BEGIN QUESTION
# name: q04_encoder_block
# points: 3

# %% [markdown]
# **Exercise 4.3: the encoder block.** Write `encoder_block(x, layer)`: the post-norm encoder block of the
# diagram (left), applied to tokens `x` of shape `(B, T, C)`, using the parts of `layer`, an `EncoderLayer`
# with the weights checked above. It must give what PyTorch's `nn.TransformerEncoderLayer(norm_first=False)`
# gives with the same weights: read the wiring off the diagram. This block, repeated $N$ times, *is* the
# transformer's encoder; how its parts are joined is what the diagram is about.

# %% [raw]
# # BEGIN SOLUTION

# %%
def encoder_block(x, layer):
    """Post-norm encoder block: (B, T, C) -> (B, T, C)."""
    # BEGIN SOLUTION
    x = layer.norm1(x + layer.self_attn(x))  # self-attention, then add & norm
    return layer.norm2(x + layer.linear2(torch.relu(layer.linear1(x))))  # the MLP, then add & norm
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_encoder_block(encoder_block, EncoderLayer):
    import math

    import torch
    import torch.nn.functional as F
    from mmcourse.exercises import close, finished, not_the_mistake, same_shape
    from mmcourse.transformer import copy_from_torch
    from torch import nn

    B, T, C, H, FF = 2, 6, 16, 4, 32
    with torch.random.fork_rng():  # the notebook's random numbers stay as they were
        torch.manual_seed(0)
        theirs = nn.TransformerEncoderLayer(C, H, FF, dropout=0.0, activation="relu", batch_first=True)
        with torch.no_grad():
            for p in theirs.parameters():  # biases and layer norm gains away from 0 and 1
                if p.ndim == 1:
                    p.add_(0.3 * torch.randn(p.shape))
        ours = EncoderLayer(C, H, FF)
        x = torch.randn(B, T, C)
    copy_from_torch(ours, theirs)
    what = "encoder_block(x, layer) for x of shape (2, 6, 16)"
    with torch.no_grad():
        got = same_shape(finished(encoder_block(x, ours), what), (B, T, C), what)
        n1, n2, attn = theirs.norm1, theirs.norm2, theirs.self_attn

        def attend(z, scale=None):  # torch's self-attention, optionally with another scale of the scores
            q, k, v = (t.view(B, T, H, C // H).transpose(1, 2)
                       for t in F.linear(z, attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1))
            heads = F.scaled_dot_product_attention(q, k, v, scale=scale)  # (B, H, T, D)
            return attn.out_proj(heads.transpose(1, 2).reshape(B, T, C))

        def mlp(z, act=torch.relu):
            return theirs.linear2(act(theirs.linear1(z)))

        def post_norm(a):  # the right block around an attention output a
            h = n1(x + a)
            return n2(h + mlp(h))

        a = attend(x)
        h = n1(x + a)
        pre = x + attend(n1(x))
        inside = x + n1(a)
        mistakes = [
            (n2(mlp(n1(a))), "both residual connections are missing: each sub-layer's input must be added to its "
                             "output (x + sublayer(x)) before the layer norm"),
            (n2(n1(a) + mlp(n1(a))), "the residual connection around the attention is missing: add x to "
                                     "self_attn(x) before norm1"),
            (n2(mlp(h)), "the residual connection around the MLP is missing: add its input to its output before "
                         "norm2"),
            (pre + mlp(n2(pre)), "this is the pre-norm block (norm_first=True): the layer norms are applied to each "
                                 "sub-layer's input. The diagram and nn.TransformerEncoderLayer's default are "
                                 "post-norm: add first, then normalise the sum"),
            (inside + n2(mlp(inside)), "you normalised each sub-layer's output before adding it; 'add & norm' "
                                       "normalises the sum x + sublayer(x)"),
            (n2(h + theirs.linear2(theirs.linear1(h))), "the MLP has no non-linearity: put a ReLU between linear1 "
                                                        "and linear2 (two linear maps in a row are just one)"),
            (n2(h + mlp(h, F.gelu)), "you used GELU; this block (the paper's, and PyTorch's default) uses ReLU"),
            (n1(h + mlp(h)), "the second 'add & norm' reuses norm1: each sub-layer has its own layer norm (norm2)"),
            (post_norm(attend(x, scale=1.0)), "the attention scores are not divided by √D (D = C / H, one head's "
                                              "size): use layer.self_attn as given, or check your attention"),
            (post_norm(attend(x, scale=1 / math.sqrt(C))), "the attention scores are divided by √C; the scale is "
                                                           "√D with D = C / H, the size of one head"),
        ]
        for wrong, diagnosis in mistakes:
            not_the_mistake(got, wrong, what, diagnosis, atol=1e-4)
        close(got, theirs.train()(x), what + ", compared with nn.TransformerEncoderLayer",
              hint="follow the diagram from bottom to top: each sub-layer, its residual, its add & norm")


test_encoder_block(encoder_block, EncoderLayer)

# %%
# HIDDEN
def test_encoder_block_on_other_sizes(encoder_block, EncoderLayer):
    import torch
    from mmcourse.exercises import close, same_shape
    from mmcourse.transformer import copy_from_torch
    from torch import nn

    for seed, (B, T, C, H, FF) in enumerate([(3, 9, 24, 3, 40), (1, 1, 8, 2, 8), (4, 5, 12, 1, 48)]):
        with torch.random.fork_rng():
            torch.manual_seed(10 + seed)
            theirs = nn.TransformerEncoderLayer(C, H, FF, dropout=0.0, activation="relu", batch_first=True)
            with torch.no_grad():
                for p in theirs.parameters():
                    if p.ndim == 1:
                        p.add_(0.3 * torch.randn(p.shape))
            ours = EncoderLayer(C, H, FF)
            x = 2 * torch.randn(B, T, C)
        copy_from_torch(ours, theirs)
        what = f"encoder_block(x, layer) for x of shape {(B, T, C)} and {H} heads"
        with torch.no_grad():
            got = same_shape(encoder_block(x, ours), (B, T, C), what)
            close(got, theirs.train()(x), what + ", compared with nn.TransformerEncoderLayer")


test_encoder_block_on_other_sizes(encoder_block, EncoderLayer)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
encoder_block_used = student_or_reference(encoder_block, post_norm_encoder_block, (source, layer),
                                          "encoder_block")

# %% [markdown]
# **The whole block against PyTorch**, on the 7 tokens of `source`. (We call PyTorch's layer in training mode
# so that it computes exactly the formulas above; with dropout 0, training mode changes nothing else.)

# %%
with torch.no_grad():
    memory = encoder_block_used(source, layer)  # (B, S, C): the encoder's output, the decoder's memory below
    encoder_difference = float((memory - torch_encoder_layer.train()(source)).abs().max())
check_shape(memory, (2, 7, C), "encoder block output")
print(f"largest difference from nn.TransformerEncoderLayer: {encoder_difference:.1e}")
mmcourse.record("encoder_block_max_abs_diff_vs_torch", encoder_difference)
assert encoder_difference < 1e-5

# %% [markdown]
# **The decoder block** has the same parts and two new ideas. Its self-attention is *masked*: output token $t$
# may look only at tokens $0 \dots t$ (a lower-triangular `allowed`), so the decoder can be trained on whole
# sentences at once and still generate one word at a time. And between that and the MLP sits the
# **encoder–decoder attention**: queries from the decoder, keys and values from the encoder's output, the
# *memory*. We build it, names as in `nn.TransformerDecoderLayer`, and check it the same way.

# %%
class DecoderLayer(nn.Module):
    """One post-norm decoder block; its parts are named as in nn.TransformerDecoderLayer."""

    def __init__(self, C, num_heads, ff_dim):
        super().__init__()
        self.self_attn, self.multihead_attn = Attention(C, num_heads), Attention(C, num_heads)
        self.norm1, self.norm2, self.norm3 = LayerNorm(C), LayerNorm(C), LayerNorm(C)
        self.linear1, self.linear2 = nn.Linear(C, ff_dim), nn.Linear(ff_dim, C)

    def forward(self, y, memory):  # y (B, T, C): the output so far; memory (B, S, C): the encoder's output
        T = y.shape[1]
        causal = torch.ones(T, T, dtype=torch.bool).tril()  # (T, T): token t may look at tokens 0 … t
        y = self.norm1(y + self.self_attn(y, allowed=causal))  # masked self-attention
        y = self.norm2(y + self.multihead_attn(y, memory))  # encoder–decoder attention
        return self.norm3(y + self.linear2(torch.relu(self.linear1(y))))  # the MLP


torch.manual_seed(2)
torch_decoder_layer = nn.TransformerDecoderLayer(C, H, FF, dropout=0.0, activation="relu", batch_first=True)
decoder_layer = DecoderLayer(C, H, FF)
copy_from_torch(decoder_layer, torch_decoder_layer)
target = torch.randn(2, 5, C, generator=generator)  # (B, T, C): the output so far
with torch.no_grad():
    changed = target.clone()
    changed[:, -1] += 5.0  # change only the last output token
    decoded_changed = decoder_layer(changed, memory)  # (B, T, C)
    decoded = decoder_layer(target, memory)  # (B, T, C)
    decoded_torch = torch_decoder_layer.train()(target, memory, tgt_is_causal=True,
                                                tgt_mask=nn.Transformer.generate_square_subsequent_mask(5))
change_per_position = (decoded_changed - decoded).abs().amax(dim=(0, 2))  # (T,)
decoder_difference = float((decoded - decoded_torch).abs().max())
print(f"largest difference from nn.TransformerDecoderLayer: {decoder_difference:.1e}")
print("change the last output token; largest change of the output at each position:",
      ", ".join(f"{float(c):.1e}" for c in change_per_position))
mmcourse.record("decoder_block_max_abs_diff_vs_torch", decoder_difference)
assert decoder_difference < 1e-5
assert float(change_per_position[:-1].max()) == 0.0 and float(change_per_position[-1]) > 0.1

# %% [markdown]
# The second line is the causal mask at work: only the last position changes. Below, the three attentions of
# the lecture's picture, head 0 of the second example: the encoder's self-attention (every token sees every
# token), the decoder's masked self-attention (a lower triangle) and the encoder–decoder attention (each
# output token over the 7 input tokens).

# %%
fig, axes = plt.subplots(1, 3, figsize=(10, 3), layout="constrained")
panels = [(layer.self_attn, "encoder self-attention", "key (input token)", "query (input token)"),
          (decoder_layer.self_attn, "decoder masked self-attention", "key (output so far)", "query (output token)"),
          (decoder_layer.multihead_attn, "encoder–decoder attention", "key (input token)", "query (output token)")]
for ax, (attention, title, xlabel, ylabel) in zip(axes, panels):
    image = ax.imshow(attention.weights[1, 0].detach(), cmap="viridis", vmin=0, vmax=1)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.title.set_fontsize(9)
fig.colorbar(image, ax=axes, fraction=0.02, label="attention weight")
plt.show()

# %% [markdown]
# ## 7 · One transformer over an image and a question: spatial questions need positions
#
# **The task.** Scenes of the scene world with three objects, and questions such as "what shape is left of the
# red circle": exactly one object is left of it (in an earlier column), and the answer is its shape. To answer,
# a model must find the named object, find the others, and compare *where* they are. The scenes are 24 × 24
# pixels on a 3 × 3 grid, each object drawn in the middle of its cell, so each 8 × 8 patch is exactly one cell:
# an object's place is *which* patch it is in.
#
# **The model** (`mmcourse.multimodal.PatchTextEncoder`, the single-stream design of the lecture's vision +
# language transformers): one sequence `[CLS]`, 9 patch tokens, the question's words (less the "what shape is"
# that starts them all). Each token is *content* (the patch's pixels mapped linearly, or the word's embedding)
# + *modality* (one learned vector per modality) + *position*: the sinusoidal code for the words, and for the
# patches a 2-D code $[PE(r), PE(c)]$, half of the dimensions for the row and half for the column. A linear
# layer reads the answer off `[CLS]`. We train it three times, identical but for the positions: sinusoidal,
# none, and a learned table (one trained vector per position, as in BERT and the Vision Transformer).

# %%
scene_config = SceneConfig(image_size=24, min_objects=3, max_objects=3, jitter=0)  # each object centred in its cell
PATCH = 8  # 24 / 8 = 3 patches per side: one patch per cell
spatial_vocab, answer_vocab = scene_vocabulary(scene_config), answers(scene_config)
scenes_train = make_scenes(1000, seed=0, config=scene_config)
scenes_test = make_scenes(1000, seed=0, config=scene_config, split="test")
vqa_train = make_vqa(scenes_train, per_scene=2, seed=0, kinds=("relation",))
vqa_test = make_vqa(scenes_test, per_scene=1, seed=0, kinds=("relation",))


def spatial_tensors(scene_set, vqa):
    """Patches (M, 9, 192) of each question's image, question ids (M, L) and answer ids (M,)."""
    patches = patchify(scene_set.images, PATCH)[vqa.scene_index]  # (M, 9, 3·8·8)
    words = spatial_vocab.encode_batch([q.removeprefix("what shape is ") for q in vqa.questions])  # (M, L)
    labels = torch.tensor([answer_vocab.index(a) for a in vqa.answers])  # (M,)
    return patches, words, labels


train_tensors, test_tensors = spatial_tensors(scenes_train, vqa_train), spatial_tensors(scenes_test, vqa_test)
check_shape(train_tensors[0], (2 * 1000, 9, 192), "training patches")
print(f"{len(vqa_train)} training questions about {len(scenes_train)} scenes; {len(vqa_test)} test questions about "
      f"{len(scenes_test)} new scenes")

# %% [markdown]
# **Training.** The same data, sizes (32 features, 4 heads, 2 layers) and budget (350 steps of
# 64 questions) for all three models; only the position term differs. The learned table starts as random
# vectors of spread 1, about the size of the sinusoidal codes.

# %%
class SpatialVQA(nn.Module):
    """PatchTextEncoder + a linear layer on [CLS]: patches (B, 9, 192) and question ids (B, L) -> answer logits."""

    def __init__(self, positions):
        super().__init__()
        config = TransformerConfig(embed_dim=32, num_heads=4, ff_dim=64, num_layers=2, dropout=0.0)
        self.encoder = PatchTextEncoder(patch_dim=3 * PATCH * PATCH, vocab_size=len(spatial_vocab), grid=3,
                                        max_words=16, config=config, positions=positions, learned_std=1.0)
        self.answer = nn.Linear(32, len(answer_vocab))

    def forward(self, patches, words):
        return self.answer(self.encoder(patches, words)[:, 0])  # (B, answers): read off [CLS]


def train_spatial(positions, seed, steps=350, batch_size=64):
    """A SpatialVQA with these positions, trained with Adam on `steps` random mini-batches of training questions."""
    mmcourse.set_seed(seed)
    model = SpatialVQA(positions)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3, foreach=True)
    draw = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(len(train_tensors[2]), (batch_size,), generator=draw)  # a random mini-batch
        patches, words, labels = (t[idx] for t in train_tensors)
        loss = F.cross_entropy(model(patches, words), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval()


spatial_models, spatial_accuracy = {}, {}
for positions in ("sinusoidal", "none", "learned"):
    spatial_models[positions] = train_spatial(positions, seed=0)
    spatial_accuracy[positions] = accuracy(predict(spatial_models[positions], *test_tensors[:2]), test_tensors[2])
    print(f"positions = {positions:<10}: test accuracy {spatial_accuracy[positions]:.3f}")
for name, positions in (("with_pe", "sinusoidal"), ("without_pe", "none"), ("learned_pe", "learned")):
    mmcourse.record(f"spatial_vqa_accuracy_{name}", round(spatial_accuracy[positions], 4))
mmcourse.set_seed(0)
learned_before_training = SpatialVQA("learned").encoder.patch_pos.detach()  # (9, 32): the table before training

# %% [markdown]
# Single training runs (seed 0): with positions the model *can* learn these questions; the test below shows
# that without them it *cannot*, whatever the seed.
#
# **Why "none" is stuck near 60 %, not at 25 %.** Without positions the model still sees *which* objects are
# in the picture and knows the answer is the shape of one of the two *other* objects, but not which one. When
# both have the same shape, that is enough; otherwise it can only guess between two, which scores (printout):
#
# **A test that leaves no doubt.** Shuffle the 9 patches of every test image (the same pixels, in another
# order) and ask again. A model without positions must give *exactly* the same answers, because its input is a
# set; the models with positions see a different picture, and their answers change.

# %%
def best_guess_without_positions(scene, question):
    """1 if the two objects other than the named one share a shape (no need to know which), else 1/2."""
    named = question.split(" the ")[-1]  # e.g. "red circle"
    others = [o.shape for o in scene.objects if f"{o.colour} {o.shape}" != named]
    return 1.0 if len(set(others)) == 1 else 0.5


guess_ceiling = sum(best_guess_without_positions(scenes_test.scenes[int(s)], q)
                    for s, q in zip(vqa_test.scene_index, vqa_test.questions)) / len(vqa_test)
chance_spread = (sum(p * (1 - p) for p in (best_guess_without_positions(scenes_test.scenes[int(s)], q)
                                          for s, q in zip(vqa_test.scene_index, vqa_test.questions))) ** 0.5
                 / len(vqa_test))
print(f"expected score of guessing between the two other objects: {guess_ceiling:.3f} ± {chance_spread:.3f} "
      f"(chance spread over {len(vqa_test)} questions); the model without positions: {spatial_accuracy['none']:.3f}")

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
# **Where `[CLS]` looks.** The attention of the `[CLS]` token over the 9 patches in the last layer of the
# sinusoidal model (mean over its 4 heads). Top: four test questions, with the true answer and the model's.
# Bottom: the attention, with the answer object's patch framed in red. What to see: `[CLS]` does not spread its
# attention over the picture; it looks hardest at the object whose shape is the answer, in 98 % of all test
# questions (the printout). In the four examples that patch gets 0.57 to 0.73 of the attention, no other patch
# more than 0.14.

# %%
def answer_patch(scene, question):
    """The patch (row · 3 + column) of the object that answers 'what shape is <relation> the <object>'."""
    relation, named = question.removeprefix("what shape is ").split(" the ")
    target = next(o for o in scene.objects if f"{o.colour} {o.shape}" == named)
    found = next(o for o in scene.objects if relation_holds(o, relation, target))
    return found.row * 3 + found.col


model = spatial_models["sinusoidal"]
with torch.no_grad():
    model(*test_tensors[:2])
cls_to_patches = model.encoder.encoder.attn_weights[-1].mean(1)[:, 0, 1:10]  # (M, 9): [CLS] -> patches
truth_patch = torch.tensor([answer_patch(scenes_test.scenes[int(s)], q)
                            for s, q in zip(vqa_test.scene_index, vqa_test.questions)])  # (M,)
on_answer = float((cls_to_patches.argmax(1) == truth_patch).float().mean())
print(f"[CLS]'s most attended patch holds the answer object in {on_answer:.0%} of the {len(vqa_test)} test "
      f"questions (3 of the 9 patches hold an object)")
mmcourse.record("cls_attends_answer_patch_fraction", round(on_answer, 4))
predicted_answers = predict(model, test_tensors[0][:4], test_tensors[1][:4]).argmax(1)

fig, axes = plt.subplots(2, 4, figsize=(10, 5.4), layout="constrained")
for n in range(4):
    axes[0, n].imshow(scenes_test.images[vqa_test.scene_index[n]].permute(1, 2, 0))
    for line in (7.5, 15.5):
        axes[0, n].axhline(line, color="gray", lw=0.5)
        axes[0, n].axvline(line, color="gray", lw=0.5)
    axes[0, n].set_title(f"{vqa_test.questions[n].replace('what shape is ', '')}?\ntrue: {vqa_test.answers[n]} · "
                         f"model: {answer_vocab.decode([int(predicted_answers[n])])}", fontsize=8)
    heat = axes[1, n].imshow(cls_to_patches[n].view(3, 3), cmap="viridis", vmin=0, vmax=float(cls_to_patches[:4].max()))
    row, col = divmod(int(truth_patch[n]), 3)
    axes[1, n].add_patch(plt.Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="red", lw=2))
    for r in range(3):
        for c in range(3):
            axes[1, n].text(c, r, f"{float(cls_to_patches[n, 3 * r + c]):.2f}", ha="center", va="center", fontsize=7,
                            color="white" if cls_to_patches[n, 3 * r + c] < 0.5 * cls_to_patches[:4].max() else "black")
    for ax in axes[:, n]:
        ax.set(xticks=[], yticks=[])
axes[1, 0].set_ylabel("[CLS] → patches\n(red: the answer object)", fontsize=8)
fig.colorbar(heat, ax=axes[1], fraction=0.02, label="attention weight")
plt.show()

# %% [markdown]
# ## 8 · Play with the encoding
#
# Choose a **position** and a **dimension**. Left: the encoding, with your position's row and your dimension's
# column marked. Middle: your dimension over all positions and its wavelength. Right: how similar your
# position is to every other, $PE(pos)^\top PE(q)$.

# %%
def draw_encoding(position=20, dimension=6):
    """The sinusoidal encoding (100 positions, 64 dimensions) seen from one position and one dimension."""
    fig, axes = plt.subplots(1, 3, figsize=(10, 2.9))
    image = axes[0].imshow(pe, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1)
    fig.colorbar(image, ax=axes[0], fraction=0.05)
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
widgets.explore(draw_encoding, position=(0, P_show - 1, 1, 20), dimension=(0, d_show - 1, 1, 6))

# %% [markdown]
# ## Take-aways
#
# - Self-attention is permutation *equivariant* (the lecture's "invariant" is an erratum): reorder the inputs
#   and the outputs are reordered the same way. Pooled, a sentence and its mirror image are identical, and so
#   are an image and its shuffled patches.
# - A positional encoding is a vector that depends only on the position, added to each token. The lecture's
#   sinusoidal one turns each pair of dimensions like a clock hand at its own speed; its values stay in
#   $[-1, 1]$, and its slowest hand alone gives the position back.
# - Moving $k$ positions is one fixed block-diagonal rotation $M_k$ for every position, and the dot product of
#   two encodings depends only on their distance: attention can learn *relative* offsets from an *absolute* code.
# - A transformer block is attention and a per-token MLP, each inside a residual connection with a layer norm.
#   The decoder adds a causal mask and the encoder–decoder attention. Ours match PyTorch's layers to $10^{-6}$.
# - One transformer can read two modalities as one sequence of tokens. On spatial questions it answered
#   correctly with positions and fell to a guess between two objects without them.

# %% [markdown]
# ## Going further
#
# ### Learned and 2-D encodings
#
# **Learned.** Instead of a formula, keep a table with one trainable vector per position and add row $t$ to
# token $t$ (BERT and the Vision Transformer do this). It can learn whatever pattern the task needs, but it
# starts as noise, knows nothing about neighbours until the data teach it, and has no row for a position
# beyond the longest seen in training. `mmcourse.positional.LearnedPositionalEncoding` is such a table.
#
# **2-D.** The patches of an image sit on a grid, not on a line. Numbering them row by row and using the 1-D
# encoding puts the patch *below* a patch eight positions away, farther than the patch three to its right. A
# 2-D encoding spends half the dimensions on the row and half on the column, $PE_{2D}(r, c) = [\,PE(r) \,,\,
# PE(c)\,]$, so that closeness in both directions is closeness in the code. Below: the cosine similarity of
# one patch of an 8 × 8 grid (the white dot) to all others, for the three kinds.

# %%
grid_side, d_grid = 8, 64
pe_2d = positional.sinusoidal_encoding_2d(grid_side, grid_side, d_grid).reshape(grid_side ** 2, d_grid)  # (64, 64)
pe_raster = positional.sinusoidal_encoding(grid_side ** 2, d_grid)  # (64, 64): patch n = r·8 + c as a 1-D position
learned_table = positional.LearnedPositionalEncoding(grid_side ** 2, d_grid).weight.detach()  # (64, 64), untrained
centre = 3 * grid_side + 3  # patch (3, 3)

fig, axes = plt.subplots(1, 3, figsize=(9.5, 3), layout="constrained")
for ax, (name, table) in zip(axes, [("1-D, row by row", pe_raster), ("2-D: [PE(row), PE(column)]", pe_2d),
                                    ("learned, before training", learned_table)]):
    cosine = F.cosine_similarity(table[centre][None], table, dim=1).view(grid_side, grid_side)  # (8, 8)
    fig.colorbar(ax.imshow(cosine, cmap="viridis"), ax=ax, fraction=0.046)  # each panel on its own scale
    ax.plot(3, 3, "o", color="white", ms=5)
    ax.set_title(name, fontsize=9)
    ax.axis("off")
fig.suptitle("cosine similarity of patch (3, 3) to every patch of an 8 × 8 grid", fontsize=9)
plt.show()

# %% [markdown]
# The 1-D code sees the row (neighbours left and right are similar) but treats the patches above and below as
# far away; the 2-D code is a blob round the patch in both directions; the untrained table is noise.
#
# ### What the learned table learned
#
# Section 7 trained a learned table on spatial questions alone. Did it discover the grid? One number answers
# it: the correlation, over all pairs of different patches, between the cosine similarity of their vectors and
# (minus) their distance on the grid in cells, $|r_1 - r_2| + |c_1 - c_2|$. It is near 0 for a random table
# and near 1 when nearby patches get similar vectors. The printout (one training run): it did not. The table went
# from −0.02 to +0.08, far from the 0.97 of the 2-D code built for the grid, and still the model answered about
# as well as the sinusoidal one (0.986 against 0.991). Our guess, not tested here: its random start already
# gives each patch a vector of its own, and that is all these questions need, the layers above learning which
# patch lies left of which.

# %%
learned_patch_positions = spatial_models["learned"].encoder.patch_pos.detach()  # (9, 32)
sinusoidal_patch_positions = spatial_models["sinusoidal"].encoder.patch_pos  # (9, 32)
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
mmcourse.record("learned_pe_grid_correlation", round(grid_correlation(learned_patch_positions), 4))

fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.2), layout="constrained")
for ax, table, title in ((axes[0], learned_patch_positions, "learned table, after training"),
                         (axes[1], sinusoidal_patch_positions, "2-D sinusoidal")):
    image = ax.imshow(F.cosine_similarity(table[:, None], table[None], dim=-1), cmap="viridis")
    fig.colorbar(image, ax=ax, fraction=0.046, label="cosine similarity")  # each panel on its own scale
    ax.set(title=title, xlabel="patch", ylabel="patch", xticks=range(9), yticks=range(9))
    ax.title.set_fontsize(9)
plt.show()

# %% [markdown]
# ### Pre-norm blocks, and the stacks
#
# The blocks of `mmcourse.transformer` (used in section 7 and in notebooks 07 and 08) are pre-norm by default,
# $x + f(\mathrm{LN}(x))$, with a GELU in the MLP; their stacks `TransformerEncoder` and `TransformerDecoder`
# repeat a block `num_layers` times and end with one more layer norm. They match PyTorch's layers with
# `norm_first=True`:

# %%
from mmcourse.transformer import DecoderBlock, EncoderBlock  # noqa: E402  (only this part needs them)

config_demo = TransformerConfig(embed_dim=C, num_heads=H, ff_dim=FF, dropout=0.0)
torch_pre_encoder = nn.TransformerEncoderLayer(C, H, FF, dropout=0.0, activation="gelu", batch_first=True,
                                               norm_first=True)
torch_pre_decoder = nn.TransformerDecoderLayer(C, H, FF, dropout=0.0, activation="gelu", batch_first=True,
                                               norm_first=True)
pre_encoder, pre_decoder = EncoderBlock(config_demo).eval(), DecoderBlock(config_demo).eval()
copy_from_torch(pre_encoder, torch_pre_encoder)
copy_from_torch(pre_decoder, torch_pre_decoder)
with torch.no_grad():
    pre_memory = pre_encoder(source)
    pre_differences = (float((pre_memory - torch_pre_encoder.train()(source)).abs().max()),
                       float((pre_decoder(target, pre_memory) - torch_pre_decoder.train()(
                           target, pre_memory, tgt_is_causal=True,
                           tgt_mask=nn.Transformer.generate_square_subsequent_mask(5))).abs().max()))
print(f"pre-norm blocks, largest difference from torch: encoder {pre_differences[0]:.1e}, "
      f"decoder {pre_differences[1]:.1e}")

# %% [markdown]
# ## Further reading
#
# - A. Vaswani et al., "Attention Is All You Need", NeurIPS 2017 (section 3: the block; section 3.5: the
#   sinusoidal encoding and its relative-offset property).
# - A. Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale", ICLR
#   2021 (patches as tokens, learned and 2-D position embeddings).
# - W. Kim, B. Son and I. Kim, "ViLT: Vision-and-Language Transformer Without Convolution or Region
#   Supervision", ICML 2021 (one stream of patches and words with modality embeddings).
# - P. Shaw, J. Uszkoreit and A. Vaswani, "Self-Attention with Relative Position Representations", NAACL 2018;
#   J. Su et al., "RoFormer: Enhanced Transformer with Rotary Position Embedding", 2021 (positions as rotations,
#   built into attention).
# - R. Xiong et al., "On Layer Normalization in the Transformer Architecture", ICML 2020 (pre-norm vs post-norm).
