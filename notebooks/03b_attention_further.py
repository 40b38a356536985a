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
# # 03b · Attention, further: what it connects, filters from the data, words that look at pixels
#
# **Going further** from notebook 03; nothing later depends on it.
#
# **Learning goals.** After this notebook you can
#
# - measure which inputs a bidirectional RNN, a convolution and self-attention connect, and over how many steps;
# - say how a convolution's fixed kernel differs from an attention filter computed from the data, and show
#   the difference on a photo;
# - read what two heads of one attention layer look at;
# - train a cross-attention in which the words of a caption find their objects among the patches of an image.
#
# **Where this sits in the lecture.** Lecture 11 draws a bidirectional RNN, a convolution and self-attention
# side by side; contrasts "fixed weights (kernels)" with attention filters that are "dynamically" computed
# "to show how well a pixel matches its neighbors"; says that multi-head attention looks "at different aspects
# of the inputs"; and connects two sequences, or two modalities, by encoder–decoder attention.

# %%
import math
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.colors import LogNorm
from torch import nn

import mmcourse
from mmcourse import attention, check_shape, widgets
from mmcourse.data import load_photo
from mmcourse.data.scenes import COLOURS, SHAPES, make_scenes, scene_vocabulary
from mmcourse.exercises import close, student_or_reference
from mmcourse.multimodal import patchify
from mmcourse.training import TrainConfig, train

generator = mmcourse.set_seed(0)
device = mmcourse.get_device()
torch.set_num_threads(1)

# %% [markdown]
# ## 1 · BiRNN, convolution and self-attention
#
# The lecture draws three ways of encoding a sequence. They differ in which inputs each output can see,
# and in how many steps the information must travel:
#
# - a **bidirectional RNN** passes a state from step to step: every output depends on every input, but
#   through a chain of up to $T$ steps that must run one after another;
# - a **convolution** with a kernel of size $k$ mixes only a window of $k$ neighbours: to connect positions
#   $T$ apart it needs about $T/(k-1)$ layers;
# - **self-attention** connects every pair of positions in a single step, at a cost of $T^2$ scores.
#
# **Measurement.** How much does input $x_j$ influence output $y_i$? The size of the derivative
# $\lVert \partial y_i / \partial x_j \rVert$, computed for all pairs with `torch.autograd.functional.jacobian`
# for one (randomly initialised) layer of each kind, on a sequence of 24 elements.

# %%
T_demo, C_demo = 24, 8
g = torch.Generator().manual_seed(0)
x_demo = torch.randn(T_demo, C_demo, generator=g)  # (T, C)
torch.manual_seed(0)
birnn = nn.GRU(C_demo, C_demo // 2, batch_first=True, bidirectional=True)
conv = nn.Conv1d(C_demo, C_demo, kernel_size=3, padding=1)
self_attention = attention.MultiHeadAttention(C_demo, num_heads=1)
encoders = {
    "BiRNN": lambda x: birnn(x[None])[0][0],  # (T, C) -> (T, C)
    "convolution (k = 3)": lambda x: conv(x.T[None])[0].T,
    "self-attention": lambda x: self_attention(x[None], x[None], x[None])[0][0],
}
influence = {}
for name, encode in encoders.items():
    jacobian = torch.autograd.functional.jacobian(encode, x_demo)  # (T, C, T, C): ∂y[i, c] / ∂x[j, c']
    norms = jacobian.norm(dim=(1, 3))  # (T, T): ||∂y_i / ∂x_j||
    influence[name] = norms / norms.max(dim=1, keepdim=True).values  # each row relative to its largest entry
    check_shape(influence[name], (T_demo, T_demo), f"influence of {name}")

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), layout="constrained")
for ax, (name, matrix) in zip(axes, influence.items()):
    image = ax.imshow(matrix.clamp(min=1e-6), norm=LogNorm(1e-6, 1), cmap="viridis")
    ax.set(title=name, xlabel="input position j", ylabel="output position i")
fig.colorbar(image, ax=axes, label="||∂y_i/∂x_j|| (relative, log)")
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
distance = (torch.arange(T_demo)[:, None] - torch.arange(T_demo)[None, :]).abs()  # (T, T): |i - j|
params = {"BiRNN": birnn, "convolution (k = 3)": conv, "self-attention": self_attention}
sequential = {"BiRNN": "T = 24", "convolution (k = 3)": "1", "self-attention": "1"}
layers_needed = {"BiRNN": 1, "convolution (k = 3)": math.ceil((T_demo - 1) / 2), "self-attention": 1}
print(f"{'layer':20s} {'inputs seen by y_i':>18s} {'steps in sequence':>18s} {'layers to link 0 and 23':>24s} "
      f"{'parameters':>10s}")
for name, matrix in influence.items():
    seen = (matrix > 1e-9).sum(dim=1).float().mean()
    n_params = sum(p.numel() for p in params[name].parameters())
    print(f"{name:20s} {seen:18.1f} {sequential[name]:>18s} {layers_needed[name]:24d} {n_params:10d}")

# %%
for name in ("BiRNN", "self-attention"):
    decay = [float(influence[name][distance == d].mean()) for d in (1, 5, 15)]
    print(f"{name:15s} mean relative influence at distance 1, 5, 15: " + ", ".join(f"{v:.1e}" for v in decay))
assert float(influence["convolution (k = 3)"][distance > 1].max()) == 0.0, "a k = 3 convolution sees 3 inputs"
assert float(influence["self-attention"].min()) > 1e-6 and float(influence["BiRNN"].min()) > 0

# %% [markdown]
# The convolution's influence is a band three wide: nothing outside its window. The BiRNN sees everything,
# but an input's influence fades with every step it has to travel through the recurrence (orders of
# magnitude over 15 steps), and the 24 steps cannot run in parallel. Self-attention sees every input, at
# every distance, in one step. The price is a score for every pair: $T^2$ of them, which notebook 04 meets
# again, along with the other thing self-attention lacks: it does not know the *order* of its inputs.
#
# ## 2 · Fixed kernels and dynamic filters on an image
#
# **Intuition.** The lecture: *convolution layers use fixed weights (kernels) to filter information;
# self-attention layers dynamically compute attention filters to show how well a pixel matches its
# neighbours.* A convolution applies the *same* kernel at every pixel. An attention filter is computed anew
# for each pixel from the image itself: the pixel is the query, its neighbours are keys and values, and
# neighbours that look like it get more weight.
#
# **Math.** For pixel $i$ with colour $x_i$ and its $7 \times 7$ neighbourhood $\mathcal N(i)$:
#
# $$\text{convolution: } y_i = \sum_{j \in \mathcal N(i)} w_{j - i}\, x_j , \qquad
#   \text{attention: } y_i = \sum_{j \in \mathcal N(i)} a_{ij}\, x_j, \quad
#   a_{ij} = \mathrm{softmax}_{j \in \mathcal N(i)}\!\left(-\frac{\lVert x_i - x_j \rVert^2}{\tau}\right).$$
#
# The kernel $w$ depends only on the offset $j - i$ (here a Gaussian blur); $a_{ij}$ depends on the colours.
# The score $-\lVert x_i - x_j\rVert^2 = 2 x_i^\top x_j - \lVert x_i\rVert^2 - \lVert x_j\rVert^2$ is a dot product
# plus terms that either cancel in the softmax ($\lVert x_i \rVert^2$, the same for every key) or act as a
# bias per key. No training is needed to see the difference: we denoise a photo with both.

# %%
photo = torch.from_numpy(load_photo()).permute(2, 0, 1)[None]  # (1, 3, 600, 512)
clean = F.avg_pool2d(photo, 4)  # (1, 3, 150, 128): a quarter of the size in each direction
noisy = clean + 0.1 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))
_, _, H_img, W_img = clean.shape
k = 7  # neighbourhood size
offsets = torch.arange(k) - k // 2


def gaussian_kernel(sigma):
    """A k×k Gaussian blur kernel: the same weights at every pixel."""
    w = torch.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * sigma ** 2))  # (k, k)
    return w / w.sum()


def neighbourhoods(image):
    """Each pixel's k×k neighbourhood: (1, 3, H, W) -> (3, k·k, H·W)."""
    padded = F.pad(image, (k // 2,) * 4, mode="reflect")
    return F.unfold(padded, k).view(3, k * k, -1)


def fixed_filter(image, sigma):
    """Convolution with a Gaussian kernel, channel by channel."""
    padded = F.pad(image, (k // 2,) * 4, mode="reflect")
    return F.conv2d(padded, gaussian_kernel(sigma).expand(3, 1, k, k), groups=3)  # (1, 3, H, W)


def psnr(image):
    """Peak signal-to-noise ratio against the clean photo, in dB (higher is better)."""
    return 10 * math.log10(1 / float(((image - clean) ** 2).mean()))


# %% [raw]
# # BEGIN QUESTION
# name: q03_attention_filter
# points: 2

# %% [markdown]
# **Exercise 3b.1: an attention filter.** Write `attention_filter(image, tau)` for a photo `image` of shape
# `(1, 3, H, W)`. Every pixel is the query of its own $k \times k$ neighbourhood, whose pixels are its keys and
# values; `neighbourhoods(image)` gives their colours, `(3, k·k, H·W)`. Return `(filtered, weights)`: the
# weights `(k·k, H·W)`, one filter per pixel as defined above, and the filtered image `(1, 3, H, W)`. Because
# each filter is computed from the image itself, it can average the noise away without averaging across an
# edge, which no fixed kernel can: the next cell measures it.

# %% [raw]
# # BEGIN SOLUTION

# %%
def attention_filter(image, tau):
    """Each pixel attends to its neighbours by colour similarity: returns (filtered image, weights (k·k, H·W))."""
    # BEGIN SOLUTION
    hood = neighbourhoods(image)  # (3, k·k, H·W): keys and values
    query_colour = image.reshape(3, 1, -1)  # (3, 1, H·W): each pixel is the query of its own neighbourhood
    # e_ij = -||x_i - x_j||² / τ
    e = -((hood - query_colour) ** 2).sum(dim=0) / tau  # (k·k, H·W)
    a = e.softmax(dim=0)  # (k·k, H·W): a different filter for every pixel
    # y_i = Σ_j a_ij x_j
    return (a.unsqueeze(0) * hood).sum(dim=1).reshape(image.shape), a
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_attention_filter_on_a_small_image(attention_filter, neighbourhoods):
    import torch
    from mmcourse.exercises import ExerciseError, close, finished, not_the_mistake, same_shape

    image = torch.rand(1, 3, 9, 8, generator=torch.Generator().manual_seed(8))
    tau = 0.2
    hood = neighbourhoods(image)  # (3, K, P): every pixel's neighbours
    K, P = hood.shape[1:]
    query = image.reshape(3, 1, -1)  # (3, 1, P)
    d2 = ((hood - query) ** 2).sum(0)  # (K, P): squared colour distances
    right = (-d2 / tau).softmax(0)
    result = finished(attention_filter(image, tau), "attention_filter(image, 0.2)")
    if not (isinstance(result, tuple) and len(result) == 2):
        raise ExerciseError("attention_filter must return two things: `return filtered, weights`")
    filtered, weights = result
    same_shape(weights, (K, P), "the weights (one row per neighbour, one column per pixel) of a 9 × 8 image")
    same_shape(filtered, (1, 3, 9, 8), "the filtered image")
    not_the_mistake(weights, (d2 / tau).softmax(0), "the weights",
                    "your weights favour the neighbours whose colour differs most: the score is minus the squared "
                    "distance, -||x_i - x_j||² / τ")
    not_the_mistake(weights, (-d2 * tau).softmax(0), "the weights",
                    "you multiplied the distances by τ; divide them by τ, so that a small τ gives a sharp filter")
    not_the_mistake(weights, (-d2).softmax(0), "the weights", "your weights do not depend on τ: divide the scores by τ")
    not_the_mistake(weights, (-(hood - query).abs().sum(0) / tau).softmax(0), "the weights",
                    "you used the absolute colour differences; the score is minus the squared distance")
    not_the_mistake(weights, (-d2 / tau).softmax(1), "the weights",
                    "you took the softmax over the pixels (dim 1): the weights of one pixel's neighbourhood (dim 0) "
                    "must sum to 1")
    close(weights.sum(0), torch.ones(P), "the sum of each pixel's neighbourhood weights",
          hint="the softmax runs over the neighbours of a pixel, dim 0")
    close(weights, right, "the weights")
    not_the_mistake(filtered, hood.mean(1).reshape(1, 3, 9, 8), "the filtered image",
                    "your output is the plain mean of the neighbourhood (a box blur): weight each neighbour's colour "
                    "by its a_ij")
    close(filtered, (right.unsqueeze(0) * hood).sum(1).reshape(1, 3, 9, 8), "the filtered image Σ_j a_ij x_j")


test_attention_filter_on_a_small_image(attention_filter, neighbourhoods)

# %%
# HIDDEN
def test_attention_filter_keeps_a_flat_image_and_follows_tau(attention_filter, neighbourhoods):
    import torch
    from mmcourse.exercises import close, finished

    flat = torch.full((1, 3, 8, 8), 0.4)
    filtered, weights = finished(attention_filter(flat, 0.05), "attention_filter(flat_image, 0.05)")
    close(filtered, flat, "the filtered image of a flat grey image")
    close(weights, torch.full(weights.shape, 1 / weights.shape[0]), "the weights on a flat grey image")
    image = torch.rand(1, 3, 8, 10, generator=torch.Generator().manual_seed(9))
    hood = neighbourhoods(image)
    d2 = ((hood - image.reshape(3, 1, -1)) ** 2).sum(0)
    for tau in (0.05, 3.0):
        right = (-d2 / tau).softmax(0)
        filtered, weights = attention_filter(image, tau)
        close(weights, right, f"the weights at τ = {tau}")
        close(filtered, (right.unsqueeze(0) * hood).sum(1).reshape(image.shape), f"the filtered image at τ = {tau}")


test_attention_filter_keeps_a_flat_image_and_follows_tau(attention_filter, neighbourhoods)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
def both_close(got, expected):
    """Compare two (output, weights) pairs tensor by tensor."""
    close(got[0], expected[0], "the filtered image")
    close(got[1], expected[1], "the weights")


attention_filter_used = student_or_reference(attention_filter, lambda image, tau: attention.attention_filter(image, tau, k),
                                             (noisy[..., :20, :24].contiguous(), 0.1), "attention_filter", check=both_close)
sigmas = (0.5, 0.75, 1.0, 1.5)
blurred = {s: fixed_filter(noisy, s) for s in sigmas}
best_sigma = max(sigmas, key=lambda s: psnr(blurred[s]))
TAU_PIXEL = 0.1
denoised, pixel_weights = attention_filter_used(noisy, TAU_PIXEL)
check_shape(denoised, (1, 3, H_img, W_img), "denoised")
check_shape(pixel_weights, (k * k, H_img * W_img), "pixel_weights")
print(f"PSNR: noisy {psnr(noisy):.1f} dB; best Gaussian kernel (σ = {best_sigma}) {psnr(blurred[best_sigma]):.1f} dB; "
      f"attention filter {psnr(denoised):.1f} dB")
mmcourse.record("fixed_kernel_psnr_db", psnr(blurred[best_sigma]))
mmcourse.record("attention_filter_psnr_db", psnr(denoised))
assert psnr(denoised) > psnr(blurred[best_sigma]) + 2, "the dynamic filter should denoise better than any fixed blur"

# %% [markdown]
# **Picture.** The four images, and the filters at two pixels: one in a flat region and one on an edge.
# The convolution kernel is the same at both; the attention filter at the edge keeps to its own side.

# %%
gray = clean.mean(dim=1)[0]  # (H, W)
edge_strength = (gray[1:-1, 2:] - gray[1:-1, :-2]).abs() + (gray[2:, 1:-1] - gray[:-2, 1:-1]).abs()  # (H-2, W-2)
inner = edge_strength[20:-20, 20:-20]  # stay away from the borders: inner[i, j] is pixel (i + 21, j + 21)
edge_pixel = tuple(int(v) + 21 for v in np.unravel_index(int(inner.argmax()), inner.shape))
calm = F.avg_pool2d(inner[None], 5, 1, 2)[0]  # edge strength averaged over 5×5: small in flat regions
flat_pixel = tuple(int(v) + 21 for v in np.unravel_index(int(calm.argmin()), inner.shape))


def show_rgb(ax, image, title):
    ax.imshow(image[0].permute(1, 2, 0).clamp(0, 1))
    ax.set_title(title, fontsize=9)
    ax.axis("off")


fig, axes = plt.subplots(1, 4, figsize=(12, 3.6))
show_rgb(axes[0], noisy, f"noisy: {psnr(noisy):.1f} dB")
show_rgb(axes[1], blurred[best_sigma], f"fixed kernel: {psnr(blurred[best_sigma]):.1f} dB")
show_rgb(axes[2], denoised, f"attention filter: {psnr(denoised):.1f} dB")
show_rgb(axes[3], clean, "clean")
for (r, c), colour in ((flat_pixel, "cyan"), (edge_pixel, "yellow")):
    axes[0].plot(c, r, "s", mfc="none", mec=colour, ms=8)
plt.show()

shown_filters = [gaussian_kernel(best_sigma)] + [pixel_weights[:, r * W_img + c].view(k, k)
                                                  for r, c in (flat_pixel, edge_pixel)]
top = max(float(f.max()) for f in shown_filters)  # one colour scale for the three filters
fig, axes = plt.subplots(1, 3, figsize=(8.6, 2.8), layout="constrained")
axes[0].imshow(shown_filters[0], cmap="viridis", vmin=0, vmax=top)
axes[0].set_title("fixed kernel (every pixel)", fontsize=9)
for ax, weights, name in ((axes[1], shown_filters[1], "flat pixel (cyan)"),
                          (axes[2], shown_filters[2], "edge pixel (yellow)")):
    image = ax.imshow(weights, cmap="viridis", vmin=0, vmax=top)
    ax.set_title(f"attention filter, {name}", fontsize=9)
for ax in axes:
    ax.set_xticks([])
    ax.set_yticks([])
fig.colorbar(image, ax=axes, label="weight of the neighbour", shrink=0.9)
plt.show()

# %% [markdown]
# The fixed kernel cannot tell noise from edges, so the blur that removes the noise also smears the
# edges; the attention filter averages only over neighbours of similar colour, which removes noise and keeps
# edges. (Image processing knows this filter as a *bilateral* filter, here with a box instead of a Gaussian
# window; non-local means compares whole patches instead of single colours. Non-local
# neural networks and vision transformers learn the projections instead of fixing them.)

# %% [markdown]
# ## 3 · Two heads, two aspects
#
# *Transformers use multi-head attention to look at different aspects of the inputs.* What does that mean?
# We build a two-head attention by hand over the pixels of a scene image. Every pixel's feature vector has
# $C = 8$ numbers: its colour as a unit vector (3 numbers and a 0), then its position as
# $(\cos \pi y / S, \sin \pi y / S, \cos \pi x / S, \sin \pi x / S)$, where $S = 32$ is the image size. The
# projections are fixed, not learned: head 1 reads the colour block, head 2 the position block ($q^\top k$ of
# two position blocks is $\cos(\pi \Delta y/S) + \cos(\pi \Delta x/S)$, largest for nearby pixels); each head's
# $W_Q$ is a multiple of the identity, which sets how sharp it is.

# %%
demo_scenes = make_scenes(50, seed=3)
# a scene with three objects, two of them of the same colour
pick = next(i for i, scene in enumerate(demo_scenes.scenes)
            if len(scene.objects) == 3 and len({o.colour for o in scene.objects}) == 2)
scene_image = demo_scenes.images[pick]  # (3, 32, 32)
S = scene_image.shape[-1]
ys, xs = torch.meshgrid(torch.arange(S, dtype=torch.float32), torch.arange(S, dtype=torch.float32), indexing="ij")
colour_block = F.pad(F.normalize(scene_image.permute(1, 2, 0).reshape(S * S, 3), dim=1), (0, 1))  # (S·S, 4)
angle_y, angle_x = math.pi * ys.flatten() / S, math.pi * xs.flatten() / S
position_block = torch.stack([angle_y.cos(), angle_y.sin(), angle_x.cos(), angle_x.sin()], dim=1)  # (S·S, 4)
pixels = torch.cat([colour_block, position_block], dim=1)[None]  # (1, S·S, C=8)
sharpness = torch.tensor([30.0] * 4 + [200.0] * 4)  # head 1 (colour), head 2 (position)
two_heads_q = attention.split_heads(pixels * sharpness, 2)  # (1, 2, S·S, 4): W_Q = diag(sharpness)
two_heads_kv = attention.split_heads(pixels, 2)  # (1, 2, S·S, 4): W_K = W_V = I
_, pixel_head_weights = attention.scaled_dot_product_attention(two_heads_q, two_heads_kv, two_heads_kv)  # (1, 2, S·S, S·S)
check_shape(pixel_head_weights, (1, 2, S * S, S * S), "pixel_head_weights")

# the query: the centre pixel of one of the two objects that share a colour (cells are 10 px, starting at px 1)
colours_in_scene = [o.colour for o in demo_scenes.scenes[pick].objects]
twin = next(o for o in demo_scenes.scenes[pick].objects if colours_in_scene.count(o.colour) == 2)
query_pixel = (1 + 10 * twin.row + 5 + twin.dy) * S + (1 + 10 * twin.col + 5 + twin.dx)
fig, axes = plt.subplots(1, 3, figsize=(9.6, 3), layout="constrained")
axes[0].imshow(scene_image.permute(1, 2, 0))
axes[0].plot(query_pixel % S, query_pixel // S, "w+", ms=10)
axes[0].set_title("scene, query pixel +", fontsize=9)
for ax, head, name in ((axes[1], 0, "head 1: same colour"), (axes[2], 1, "head 2: nearby")):
    image = ax.imshow(pixel_head_weights[0, head, query_pixel].view(S, S), cmap="viridis", vmin=0)
    ax.set_title(name, fontsize=9)
    fig.colorbar(image, ax=ax, label="weight", shrink=0.8)
for ax in axes:
    ax.axis("off")
plt.show()

# %% [markdown]
# Head 1 finds the pixels of the same colour wherever they are; head 2 finds the pixels around the query,
# whatever their colour, like a convolution would. Concatenated, the output of this layer carries both. In a
# trained transformer nobody chooses what the heads read: each learns its own projections.
#
# ## 4 · Encoder–decoder attention: caption words look at image patches
#
# **Intuition.** The original attention (and the transformer's encoder–decoder block) connects *two*
# sequences: the queries come from one (the decoder's words), the keys and values from the other (the
# encoder's outputs). Across modalities, the queries can be words and the keys image patches: each word
# looks for the part of the image it is about. This is **cross-attention**.
#
# **Task.** The course's scene world draws coloured shapes on a 3 × 3 grid and writes a caption such as
# "a red circle left of a blue square". We cut each 32 × 32 image into 8 × 8 = 64 patches of 4 × 4 pixels.
# For every colour or shape word of the caption, the model must say in which of the 9 grid cells its object
# lies. The caption never says where an object is ("left of" is only relative), so the word must *find*
# its object in the image. We build the model so that it can answer only through the attention:
#
# - **queries**: each word's embedding, plus its neighbours' through a width-3 convolution over the caption
#   (so "circle" knows it is the *red* circle);
# - **keys**: each patch's pixels through a small MLP (what the patch shows);
# - **values**: a learned embedding of each patch's *position* only (where the patch is).
#
# The output of the attention is then a weighted average of positions, and a linear layer reads the cell
# off it: to be right, the word must put its weight on its object's patches.
#
# **Math.** Words $w_1 \dots w_L$ give queries $Q$ of shape $(L, C)$, patches $p_1 \dots p_{64}$ give keys
# $K$ and values $V$ of shape $(64, C)$, and $\mathrm{softmax}(Q K^\top / \sqrt{C})$ has one row per word and
# one column per patch: the word → patch attention map.

# %%
vocab = scene_vocabulary()
PATCH = 4  # pixels per patch side: 32 / 4 = 8 patches per side


def word_targets(scene_set):
    """Caption ids (B, L) and, for each colour or shape word, its object's grid cell (else -100: no target)."""
    ids = vocab.encode_batch(scene_set.captions)  # (B, L)
    targets = torch.full(ids.shape, -100)  # (B, L)
    for n, (scene, caption) in enumerate(zip(scene_set.scenes, scene_set.captions)):
        obj = 0  # objects appear in the caption in the order of scene.objects
        for t, word in enumerate(caption.split()):
            if word in COLOURS or word in SHAPES:
                targets[n, t] = scene.objects[obj].row * 3 + scene.objects[obj].col
            if word in SHAPES:
                obj += 1
    return ids, targets


scenes_train, scenes_test = make_scenes(2000, seed=0), make_scenes(500, seed=0, split="test")
ids_train, cells_train = word_targets(scenes_train)
ids_test, cells_test = word_targets(scenes_test)
# mmcourse.multimodal.patchify: (B, 3, 32, 32) -> (B, 64, 48), the 4×4×3 pixels of each patch, row by row
patches_train, patches_test = patchify(scenes_train.images, PATCH), patchify(scenes_test.images, PATCH)
check_shape(patches_train, (2000, 64, 48), "patches_train")
print(f"{len(scenes_train)} training and {len(scenes_test)} test scenes; captions up to {ids_train.shape[1]} words, "
      f"e.g. '{scenes_test.captions[0]}'")

# %%
class WordToPatchAttention(nn.Module):
    """Cross-attention: caption words (queries) attend to image patches (keys: content, values: position)."""

    def __init__(self, vocab_size, patch_dim=48, num_patches=64, dim=32, cells=9):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.context = nn.Conv1d(dim, dim, kernel_size=3, padding=1)  # each word sees its two neighbours
        self.patch_content = nn.Sequential(nn.Linear(patch_dim, 64), nn.ReLU(), nn.Linear(64, dim))
        self.patch_position = nn.Parameter(0.1 * torch.randn(num_patches, dim))
        self.cross = attention.MultiHeadAttention(dim, num_heads=1)
        self.readout = nn.Linear(dim, cells)

    def forward(self, ids, patches):
        words = self.embed(ids)  # (B, L, C)
        words = words + torch.relu(self.context(words.transpose(1, 2))).transpose(1, 2)  # (B, L, C)
        keys = self.patch_content(patches)  # (B, 64, C): what each patch shows
        values = self.patch_position.expand(len(patches), -1, -1)  # (B, 64, C): where each patch is
        found, weights = self.cross(words, keys, values)  # (B, L, C), (B, 1, L, 64)
        return self.readout(found), weights[:, 0]  # (B, L, 9), (B, L, 64)


grounder = WordToPatchAttention(len(vocab))
history = train(grounder, lambda i, p, y: F.cross_entropy(grounder(i, p)[0].flatten(0, 1), y.flatten()),
                (ids_train, patches_train, cells_train), TrainConfig(epochs=10, batch_size=64, lr=3e-3))
with torch.no_grad():
    cell_logits, word_maps = grounder(ids_test, patches_test)  # (B, L, 9), (B, L, 64)
check_shape(word_maps, (len(scenes_test), ids_test.shape[1], 64), "word_maps")
has_target = cells_test != -100
cell_accuracy = float((cell_logits.argmax(-1) == cells_test)[has_target].float().mean())
# where does each word look hardest? The patch with the largest weight, as a grid cell (cells are 10 px, from px 1)
peak = word_maps.argmax(-1)  # (B, L)
peak_row, peak_col = (peak // 8) * PATCH + PATCH // 2, (peak % 8) * PATCH + PATCH // 2  # pixel centre
peak_cell = ((peak_row - 1) // 10).clamp(0, 2) * 3 + ((peak_col - 1) // 10).clamp(0, 2)
peak_on_object = float((peak_cell == cells_test)[has_target].float().mean())
print(f"test: cell of the object right for {cell_accuracy:.3f} of "
      f"the words, the word's strongest patch inside its object's cell for {peak_on_object:.3f}")
mmcourse.record("cross_attention_cell_accuracy", cell_accuracy)
mmcourse.record("cross_attention_peak_on_object", peak_on_object)
assert cell_accuracy > 0.9 and peak_on_object > 0.9, "the words should find their objects"

# %% [markdown]
# **Picture.** Test scenes with the attention map of each colour and shape word of the caption, drawn over
# the image.

# %%
def word_map_image(weights):
    """A (64,) attention map as a (32, 32) picture: each patch's weight over its 4×4 pixels."""
    return weights.view(8, 8).repeat_interleave(PATCH, 0).repeat_interleave(PATCH, 1)


three_objects = [n for n, scene in enumerate(scenes_test.scenes) if len(scene.objects) == 3]
shared = [n for n in three_objects if len({o.colour for o in scenes_test.scenes[n].objects}) < 3]
drawn = [shared[0], *[n for n in three_objects if n != shared[0]][:2]]  # first, a scene with a shared colour
strongest = float(word_maps[drawn].max())  # one colour scale for every map
fig, axes = plt.subplots(3, 7, figsize=(13.5, 7), layout="constrained")
for row, n in enumerate(drawn):
    words = scenes_test.captions[n].split()
    content = [t for t, w in enumerate(words) if w in COLOURS or w in SHAPES]
    axes[row, 0].imshow(scenes_test.images[n].permute(1, 2, 0))
    axes[row, 0].set_title(textwrap.fill(scenes_test.captions[n], 26), fontsize=7)
    for col, t in enumerate(content, start=1):
        axes[row, col].imshow(scenes_test.images[n].permute(1, 2, 0))
        overlay = axes[row, col].imshow(word_map_image(word_maps[n, t]), cmap="inferno", alpha=0.65, vmin=0, vmax=strongest)
        axes[row, col].set_title(f"'{words[t]}'", fontsize=9)
for ax in axes.flat:
    ax.axis("off")
fig.suptitle("cross-attention: where each colour and shape word of the caption looks (test scenes)")
fig.colorbar(overlay, ax=axes, label="weight of the patch", shrink=0.6)
plt.show()

# %% [markdown]
# Each colour word and each shape word lights up the patches of its own object. When two objects share a
# colour (first row), colour is no longer enough and the word must also recognise the shape, which it knows
# from its neighbour in the caption (through the convolution): here the words of the blue circle find it,
# while those of the blue triangle split their weight between the two blue objects.
# This is the mechanism that a captioning decoder uses to look at the right part of the image before it
# writes each word, and that text-to-image models use in the other direction (notebook 07).
#
# ## 5 · Play with attention
#
# Choose a query: a **pixel** of the noisy photo (its attention filter, section 2) or a **word** of a test
# caption (cross-attention, section 4; words such as "a" or "of" had no target in training, so where they
# look means nothing). The **temperature** $\tau$ divides the scores before the softmax,
# $a = \mathrm{softmax}(e / \tau)$: below 1 the weights sharpen towards a lookup, above 1 they flatten towards
# an average. All scores are computed here, once; the widget only redraws.

# %%
pixel_choices = {"edge": edge_pixel, "flat": flat_pixel, "glasses": (52, 48), "star": (44, 12), "collar": (98, 52)}
pixel_scores = {name: pixel_weights[:, r * W_img + c].log() for name, (r, c) in pixel_choices.items()}  # (k·k,)
scene_n = drawn[0]  # the first test scene of the picture above
scene_words = scenes_test.captions[scene_n].split()
word_scores = {t: word_maps[scene_n, t].log() for t, w in enumerate(scene_words)}  # (64,) each: log a = e + const
queries = {**{f"pixel: {name} {rc}": ("pixel", name) for name, rc in pixel_choices.items()},
           **{f"word {t}: '{w}'": ("word", t) for t, w in enumerate(scene_words)}}


def draw_query(query=("word", 2), temperature=1.0):
    """The attention weights of one query (a pixel or a word) at a temperature."""
    kind, which = query
    fig, axes = plt.subplots(1, 2, figsize=(8, 2.8), gridspec_kw={"width_ratios": [1.6, 1]})
    if kind == "pixel":
        r, c = pixel_choices[which]
        weights = (pixel_scores[which] / temperature).softmax(0).view(k, k)  # (k, k)
        crop = noisy[0, :, r - 10:r + 11, c - 10:c + 11].permute(1, 2, 0).clamp(0, 1)  # (21, 21, 3)
        axes[0].imshow(crop)
        axes[0].add_patch(plt.Rectangle((10 - k // 2 - 0.5, 10 - k // 2 - 0.5), k, k, fill=False, ec="yellow"))
        axes[0].set_title(f"query: pixel {which} {pixel_choices[which]} (noisy photo)", fontsize=9)
        axes[1].imshow(weights, cmap="viridis")
        axes[1].set_title("its attention filter", fontsize=9)
    else:
        weights = (word_scores[which] / temperature).softmax(0)  # (64,)
        axes[0].imshow(scenes_test.images[scene_n].permute(1, 2, 0))
        axes[0].set_title(" ".join(f"[{w}]" if t == which else w for t, w in enumerate(scene_words)), fontsize=8)
        axes[1].imshow(scenes_test.images[scene_n].permute(1, 2, 0))
        axes[1].imshow(word_map_image(weights), cmap="inferno", alpha=0.65)
        axes[1].set_title(f"where '{scene_words[which]}' looks", fontsize=9)
    for ax in axes:
        ax.axis("off")
    fig.suptitle(f"τ = {temperature:.2f}: largest weight {float(weights.max()):.2f}", fontsize=9)
    fig.tight_layout()
    return fig


widgets.show(draw_query())
widgets.explore(draw_query, query=queries, temperature=(0.1, 3.0, 0.1, 1.0))

# %% [markdown]
# ## Take-aways
#
# - A convolution sees a window and an RNN's influence fades with distance; self-attention links every pair
#   in one step, at a cost of $T^2$ scores.
# - A convolution's kernel is fixed; an attention filter is computed from the data, which is why it could
#   denoise a photo without blurring its edges.
# - Two heads of one layer can look for different things: the same colour, or the same place.
# - Cross-attention lets one modality query another: caption words found their objects among image patches.
#
# ## Further reading
#
# - K. Xu et al., "Show, Attend and Tell: Neural Image Caption Generation with Visual Attention", ICML 2015
#   (words attending to image regions).
# - A. Buades, B. Coll and J.-M. Morel, "A non-local algorithm for image denoising", CVPR 2005; X. Wang et al.,
#   "Non-local Neural Networks", CVPR 2018 (the attention filter on images).
# - J.-B. Cordonnier, A. Loukas and M. Jaggi, "On the Relationship between Self-Attention and Convolutional
#   Layers", ICLR 2020.
