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
# # 03 · Attention: a lookup table that can be trained
#
# **Learning goals.** After this notebook you can
#
# - explain attention as a *soft* lookup: a query is compared with every key, the comparisons become
#   weights between 0 and 1 that sum to 1, and the answer is the weighted average of the values;
# - compute the lecture's five steps ($h_t$, $u_t = \tanh(W h_t)$, $e_t = q^\top u_t$, a softmax, and
#   $\sum_t a_t h_t$) by hand on real speech, and read the learned weights off a spectrogram;
# - name the usual score functions (dot, scaled dot, general, additive) and say why the dot product is
#   divided by $\sqrt{d_k}$;
# - write self-attention with queries, keys and values, and mask it (padding, causal);
# - compare how a bidirectional RNN, a convolution and self-attention connect the positions of a sequence,
#   and how a fixed convolution kernel differs from an attention filter computed from the data;
# - split a layer into heads and merge them again, and check your multi-head attention against
#   `torch.nn.MultiheadAttention`;
# - train a cross-attention in which the words of a caption look at the patches of an image.
#
# **Where this sits in the lecture.** Lecture 11 introduces attention on its way to the transformer:
# "attention is *weighted* averaging, which lets you do lookups". It contrasts a lookup table with a soft
# lookup, lists five steps that pool the outputs of a recurrent encoder, and then generalises them:
# self-attention (each input attends to all others, including itself) against a bidirectional RNN and a
# convolution; convolution's fixed kernels against attention's dynamic filters on an image; multi-head
# attention; and the encoder–decoder attention that connects two sequences, or two modalities.
# Notebook 04 adds positions and stacks all of this into a transformer.

# %% [markdown]
# ## Setup
#
# Every model in this notebook is tiny and trains in seconds on a CPU, so the notebook computes on the
# CPU whatever device torch sees. We also ask torch for a single thread: the matrix products of a small
# recurrent network, one time step after another, are too small to be worth sharing between cores, and
# when other programs keep the cores busy, several threads spend their time waiting for each other.

# %%
import math
import textwrap
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.colors import LogNorm
from torch import nn

import mmcourse
from mmcourse import attention, check_shape, widgets
from mmcourse.data import TEST_VOICES, load_photo, load_spoken_digits, log_mel_spectrogram, pad_or_trim
from mmcourse.data.scenes import COLOURS, SHAPES, make_scenes, scene_vocabulary
from mmcourse.exercises import close, student_or_reference
from mmcourse.training import TrainConfig, accuracy, predict, train
from mmcourse.multimodal import patchify

generator = mmcourse.set_seed(0)
device = mmcourse.get_device()
torch.set_num_threads(1)
print("torch sees:", device, "(this notebook computes on the CPU, on one thread)")

# %% [markdown]
# ## 1 · A lookup table, and a soft one
#
# **Intuition.** A lookup table (a Python `dict`) holds **keys** that map to **values**. A **query**
# either equals one of the keys, and you get that key's value, or it equals none, and you get an error.
# Attention never fails that way: the query is compared with *every* key, each comparison becomes a weight
# between 0 and 1, and the answer is the sum of the values multiplied by their weights.
#
# Our table maps six colours of the rainbow (keys: their RGB values) to the wavelength of light we see as
# that colour (values, in nanometres).

# %%
# NBVAL_CHECK_OUTPUT
rainbow = {"red": ((0.9, 0.1, 0.1), 680.0), "orange": ((1.0, 0.55, 0.05), 610.0), "yellow": ((0.95, 0.9, 0.1), 580.0),
           "green": ((0.15, 0.75, 0.2), 530.0), "blue": ((0.2, 0.4, 1.0), 470.0), "violet": ((0.55, 0.2, 0.9), 410.0)}
colour_names = list(rainbow)
wavelength_nm = {name: nm for name, (_, nm) in rainbow.items()}
table = {rgb: nm for rgb, nm in rainbow.values()}  # a plain lookup table: RGB -> nm

print("table[red] =", table[rainbow["red"][0]], "nm")
pinkish_red = (0.9, 0.3, 0.35)
try:
    table[pinkish_red]
except KeyError:
    print(f"table[{pinkish_red}] -> KeyError: no key equals the query exactly")

# %% [markdown]
# **Math.** Write the keys as vectors $k_1, \dots, k_N$, the values as $v_1, \dots, v_N$ and the query as
# $q$. The soft lookup scores each key by its similarity to the query, here the dot product of unit vectors
# (the cosine), turns the scores into weights with a softmax at a *temperature* $\tau$, and returns the
# weighted sum of the values:
#
# $$e_i = \frac{q^\top k_i}{\lVert q \rVert \lVert k_i \rVert}, \qquad
#   a_i = \frac{\exp(e_i / \tau)}{\sum_{j=1}^{N} \exp(e_j / \tau)}, \qquad
#   \text{output} = \sum_{i=1}^{N} a_i v_i .$$
#
# Every $a_i$ is between 0 and 1 and they sum to 1. A small $\tau$ sharpens the weights towards the best
# key (a hard lookup of the nearest key); a large $\tau$ flattens them towards $1/N$ (the plain average).

# %%
keys = F.normalize(torch.tensor([rainbow[name][0] for name in colour_names]), dim=1)  # (N, 3) unit vectors
values = torch.tensor([wavelength_nm[name] for name in colour_names])  # (N,)


def soft_lookup(query, keys, values, temperature=0.1):
    """Attention as a soft lookup: weights from the cosine of the query with each key, then Σ a_i v_i."""
    # e_i = cosine(q, k_i)
    e = keys @ F.normalize(query, dim=0)  # (N,)
    # a_i = softmax(e / τ)_i
    a = torch.softmax(e / temperature, dim=0)  # (N,)
    # output = Σ_i a_i v_i
    return a @ values, a


query = torch.tensor(pinkish_red)
check_shape(soft_lookup(query, keys, values)[1], (len(colour_names),), "weights");

# %%
# NBVAL_CHECK_OUTPUT
for tau in (1.0, 0.1, 0.01):
    out, a = soft_lookup(query, keys, values, tau)
    print(f"τ = {tau:<5}: output {out:6.1f} nm, weights " + " ".join(f"{n} {w:.2f}" for n, w in zip(colour_names, a)))
nearest = colour_names[int((keys @ F.normalize(query, dim=0)).argmax())]
print(f"nearest key: {nearest}; plain average of all values: {values.mean():.1f} nm")

# %%
sharp_output, sharp_weights = soft_lookup(query, keys, values, 1e-3)
assert abs(sharp_weights.sum() - 1) < 1e-6 and (sharp_weights >= 0).all(), "attention weights are a distribution"
assert abs(sharp_output - wavelength_nm[nearest]) < 1e-3, "at a tiny temperature the soft lookup is a hard lookup"
assert abs(soft_lookup(query, keys, values, 1e3)[0] - values.mean()) < 0.1, "at a huge one it is the plain mean"

# %% [markdown]
# ## 2 · Attention is a weighted average
#
# The lecture's summary: *attention is just a weighted average, and this is very powerful if the weights are
# learned.* Because the weights are non-negative and sum to 1, the output always lies between the smallest and
# the largest value (for vector values: inside their convex hull). Two familiar operations are special cases:
#
# | weights | the weighted average is |
# |---|---|
# | one-hot on key $i$ | a lookup: exactly $v_i$ |
# | uniform $1/N$ | the plain mean of the values (mean pooling) |
# | a softmax of learned scores | something in between, chosen by the model for each query |
#
# The temperature slides between the first two. The picture shows the output and the weights as $\tau$ goes
# from sharp to flat.

# %%
taus = torch.logspace(-3, 1, 60)
sweep = [soft_lookup(query, keys, values, float(t)) for t in taus]
fig, axes = plt.subplots(1, 2, figsize=(10, 3))
axes[0].semilogx(taus, [float(o) for o, _ in sweep])
axes[0].axhline(wavelength_nm[nearest], color="tab:red", ls="--", lw=1, label=f"hard lookup ({nearest})")
axes[0].axhline(float(values.mean()), color="gray", ls=":", lw=1, label="plain mean")
axes[0].set(xlabel="temperature τ", ylabel="output (nm)", title="the soft lookup of a pinkish red")
axes[0].legend(fontsize=8)
stack = torch.stack([a for _, a in sweep]).T.numpy()  # (N, len(taus))
axes[1].stackplot(taus.numpy(), stack, labels=colour_names, colors=[rainbow[n][0] for n in colour_names])
axes[1].set(xscale="log", xlabel="temperature τ", ylabel="weight a_i", title="the weights always sum to 1")
axes[1].legend(fontsize=7, loc="upper left", ncol=2)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 3 · The five steps, on real speech
#
# The lecture's attention sits on top of a recurrent encoder. The encoder reads a sequence and produces one
# output vector $h_t$ per time step; attention then pools them into a single vector for the whole sequence,
# giving more weight to the steps that matter:
#
# 1. get the encoder outputs $h_t$ (from the RNN);
# 2. transform them: $u_t = \tanh(W h_t)$, with a trainable $W$;
# 3. score them: $e_t = q^\top u_t$, with a trainable query $q$;
# 4. turn the scores into a distribution: $[a_1 \dots a_T] = \mathrm{softmax}([e_1 \dots e_T])$;
# 5. take the weighted sum $\sum_{t=1}^{T} a_t h_t$.
#
# Our sequences are spoken digits. Each recording becomes a log-mel spectrogram, a sequence of frames of 32
# numbers (the loudness in 32 frequency bands, every 20 ms). A bidirectional GRU (a recurrent network that reads
# the frames in both directions) gives $h_t$, attention pools them, and a linear layer names the digit. The
# test set is three voices that the model never hears in training (`TEST_VOICES`).
#
# ### 3.1 The data: frames, lengths and padding

# %%
speech = load_spoken_digits()
HOP = 160  # samples between two frames: 20 ms at 8 kHz
longest = max(len(w) for w in speech.waveforms)
spectrograms = log_mel_spectrogram(pad_or_trim(speech.waveforms, longest), hop_length=HOP)  # (N, 32, T)
frames = spectrograms.transpose(1, 2).contiguous()  # (N, T, 32): T frames of 32 mel bands
N, T, M = frames.shape
lengths = torch.tensor([1 + len(w) // HOP for w in speech.waveforms])  # (N,) real frames per recording
frame_mask = attention.padding_mask(lengths, T)  # (N, T): True at real frames, False at the padding
check_shape(frame_mask, (N, T), "frame_mask")

is_test = torch.tensor([s in TEST_VOICES for s in speech.speakers])  # (N,)
# standardise each mel band with the mean and spread of the real training frames; padding stays exactly 0
real_train_frames = frames[~is_test][frame_mask[~is_test]]  # (frames, 32)
x_all = (frames - real_train_frames.mean(0)) / real_train_frames.std(0) * frame_mask[..., None]  # (N, T, 32)
check_shape(x_all, (N, T, M), "x_all")
labels = speech.labels

# %%
# NBVAL_CHECK_OUTPUT
train_voices = sorted(set(speech.speakers) - set(TEST_VOICES))
print(f"{N} recordings padded to T = {T} frames of {M} mel bands; "
      f"real lengths {int(lengths.min())}–{int(lengths.max())} frames (mean {lengths.float().mean():.1f})")
print(f"training: {int((~is_test).sum())} recordings of {len(train_voices)} voices; "
      f"test: {int(is_test.sum())} recordings of the held-out voices {', '.join(TEST_VOICES)}")

# %% [markdown]
# Padding makes a batch one rectangle, but the padded frames are not speech: attention must give them no
# weight at all. `attention.padding_mask(lengths, T)` is True at the real frames; the picture shows it for
# the first twelve recordings.

# %%
fig, ax = plt.subplots(figsize=(7, 2.2))
ax.imshow(frame_mask[:12], cmap="Greys", aspect="auto", interpolation="nearest")
ax.set(xlabel="frame t", ylabel="recording", title="padding mask: black = real frame, white = padding")
plt.show()

# %% [markdown]
# ### 3.2 The model, trained as a digit classifier
#
# Step 1 is the GRU; steps 2–5 are `attention.AttentionPooling`, which holds the trainable $W$ (a linear
# layer without bias) and $q$; the classifier reads the pooled vector. Nobody tells the model which frames
# matter: the weights are learned only because they help to name the digit.

# %%
class SpokenDigitAttention(nn.Module):
    """A bidirectional GRU over spectrogram frames, attention pooling (the five steps), a linear classifier."""

    def __init__(self, n_mels=32, hidden=32, attn_dim=32, classes=10):
        super().__init__()
        self.encoder = nn.GRU(n_mels, hidden, batch_first=True, bidirectional=True)
        self.pool = attention.AttentionPooling(2 * hidden, attn_dim)
        self.classifier = nn.Linear(2 * hidden, classes)

    def forward(self, x, mask):
        h, _ = self.encoder(x)  # (B, T, 2·hidden): step 1
        context, weights = self.pool(h, mask)  # (B, 2·hidden), (B, T): steps 2–5
        return self.classifier(context)  # (B, classes)


model = SpokenDigitAttention()
start = time.perf_counter()
history = train(model, lambda x, m, y: F.cross_entropy(model(x, m), y),
                (x_all[~is_test], frame_mask[~is_test], labels[~is_test]),
                TrainConfig(epochs=15, batch_size=32, lr=3e-3))
train_seconds = time.perf_counter() - start
attention_pooling_accuracy = accuracy(predict(model, x_all[is_test], frame_mask[is_test]), labels[is_test])
print(f"trained in {train_seconds:.1f} s; final training loss {history[-1]:.3f}")
print(f"accuracy on the {int(is_test.sum())} recordings of the held-out voices: {attention_pooling_accuracy:.3f}")
mmcourse.record("attention_pooling_accuracy", attention_pooling_accuracy)
assert attention_pooling_accuracy >= 0.9, "attention pooling should recognise digits spoken by unseen voices"

# %% [markdown]
# ### 3.3 The five steps, one at a time
#
# Now we open the trained model and run the five steps by hand on four test recordings, checking the shape
# after each step. Letters: $B$ recordings, $T$ frames, $D_h$ = 64 features of $h_t$ (32 per direction),
# $D_u$ = 32 features of $u_t$.

# %%
test_index = torch.nonzero(is_test).flatten()
examples = torch.stack([test_index[labels[test_index] == d][0] for d in (3, 5, 7, 9)])  # a 3, 5, 7 and 9
x_batch, mask_batch = x_all[examples], frame_mask[examples]  # (B, T, 32), (B, T)
B = len(examples)
W = model.pool.W.weight.detach()  # (D_u, D_h)
q = model.pool.q.detach()  # (D_u,)
D_u, D_h = W.shape
print(f"B = {B}, T = {T}, D_h = {D_h}, D_u = {D_u}; real lengths {lengths[examples].tolist()}")

# %% [markdown]
# **Step 1.** The encoder outputs $h_t$, one vector per frame. The GRU reads the frames left to right and
# right to left; $h_t$ is both directions' states at frame $t$, side by side.

# %%
with torch.no_grad():
    h, _ = model.encoder(x_batch)  # (B, T, D_h)
check_shape(h, (B, T, D_h), "h");

# %% [markdown]
# **Step 2.** $u_t = \tanh(W h_t)$: each $h_t$ is mapped to a smaller vector (dimension reduction,
# $D_h = 64 \to D_u = 32$) squashed into $(-1, 1)$. For all frames at once, $U = \tanh(H W^\top)$.

# %%
u = torch.tanh(h @ W.T)  # (B, T, D_u)
check_shape(u, (B, T, D_u), "u");

# %% [markdown]
# **Step 3.** $e_t = q^\top u_t$: the trained query $q$ scores every frame by a dot product (a similarity).
# The query is the same for every recording: it encodes *what kind of frame is worth listening to*.

# %%
e = u @ q  # (B, T)
check_shape(e, (B, T), "e");

# %% [markdown]
# **Step 4.** $[a_1 \dots a_T] = \mathrm{softmax}([e_1 \dots e_T])$, over the real frames only: a padded
# frame gets the score $-\infty$, so $\exp(-\infty) = 0$ makes its weight exactly 0.

# %%
a = e.masked_fill(~mask_batch, float("-inf")).softmax(dim=1)  # (B, T)
check_shape(a, (B, T), "a")
print("weights sum to", a.sum(dim=1).tolist(), "| largest weight on padding:", float(a[~mask_batch].max()))

# %% [markdown]
# **Step 5.** The context vector $c = \sum_{t=1}^{T} a_t h_t$: one vector of $D_h$ numbers per recording,
# whatever its length. This is what the classifier reads.

# %%
context = (a.unsqueeze(-1) * h).sum(dim=1)  # (B, T, 1) * (B, T, D_h) summed over t -> (B, D_h)
check_shape(context, (B, D_h), "context");

# %% [markdown]
# **Check against references.** The course's `attention.attention_pooling` (which the model ran) must agree,
# and so must PyTorch's fused `F.scaled_dot_product_attention`: the five steps are dot-product attention
# with one query $q$, the keys $u_t$ and the values $h_t$, and no scaling.

# %%
reference_context, reference_weights = attention.attention_pooling(h, W, q, mask_batch)
torch_context = F.scaled_dot_product_attention(q.expand(B, 1, D_u), u, h, attn_mask=mask_batch[:, None, :],
                                               scale=1.0)[:, 0]  # (B, D_h)
print(f"largest difference from attention_pooling: {(context - reference_context).abs().max():.1e}, "
      f"from torch's scaled_dot_product_attention: {(context - torch_context).abs().max():.1e}")
assert torch.allclose(context, reference_context, atol=1e-5) and torch.allclose(context, torch_context, atol=1e-5)
assert torch.allclose(a, reference_weights, atol=1e-6)

# %% [markdown]
# ### Exercise 3.1: steps 3 to 5
#
# Now you write them.

# %% [raw]
# # BEGIN QUESTION
# name: q03_attention_steps
# points: 3

# %% [markdown]
# **Exercise 3.1: the five steps.** Complete `attention_steps(h, W, q, mask=None)`. It receives the encoder
# outputs `h` of shape `(B, T, D_h)`, the matrix `W` of shape `(D_u, D_h)`, the query `q` of shape `(D_u,)`
# and an optional boolean `mask` of shape `(B, T)`, True at real frames. Step 2 is written for you. Write
#
# - step 3, the scores $e_t = q^\top u_t$, shape `(B, T)`;
# - step 4, the weights $a = \mathrm{softmax}(e)$ over the frames $t$ of each sequence; where `mask` is
#   False the weight must be exactly 0 (give those scores $-\infty$ first, e.g. with `masked_fill`);
# - step 5, the context $\sum_t a_t h_t$, shape `(B, D_h)`;
#
# and `return context, weights`.

# %% [raw]
# # BEGIN SOLUTION

# %%
def attention_steps(h, W, q, mask=None):
    """The lecture's steps 2-5 for encoder outputs h (B, T, D_h): returns (context (B, D_h), weights (B, T))."""
    # Step 2: u_t = tanh(W h_t)
    u = torch.tanh(h @ W.T)  # (B, T, D_u)
    # BEGIN SOLUTION
    # Step 3: e_t = qᵀ u_t
    e = u @ q  # (B, T)
    # Step 4: a = softmax(e) over t, with padded frames at -inf so that their weight is 0
    if mask is not None:
        e = e.masked_fill(~mask, float("-inf"))
    weights = e.softmax(dim=1)  # (B, T)
    # Step 5: context = Σ_t a_t h_t
    context = (weights.unsqueeze(-1) * h).sum(dim=1)  # (B, D_h)
    return context, weights
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_attention_steps_on_a_padded_batch(attention_steps):
    import torch
    from mmcourse.exercises import ExerciseError, close, finished, not_the_mistake, same_shape

    g = torch.Generator().manual_seed(5)
    B, T, D_h, D_u = 3, 6, 8, 4
    h = torch.randn(B, T, D_h, generator=g)
    W = torch.randn(D_u, D_h, generator=g)
    q = torch.randn(D_u, generator=g)
    mask = torch.arange(T)[None, :] < torch.tensor([6, 4, 2])[:, None]  # (B, T): lengths 6, 4 and 2
    u = torch.tanh(h @ W.T)
    e = u @ q
    e_masked = e.masked_fill(~mask, float("-inf"))
    a = e_masked.softmax(dim=1)
    result = finished(attention_steps(h, W, q, mask), "attention_steps(h, W, q, mask)")
    if not (isinstance(result, tuple) and len(result) == 2):
        raise ExerciseError("attention_steps must return two things: `return context, weights`")
    context, weights = result
    not_the_mistake(context, (a.unsqueeze(-1) * u).sum(1), "the context",
                    "step 5 averages the encoder outputs h_t, not the transformed u_t: context = Σ_t a_t h_t")
    same_shape(weights, (B, T), "the weights a (for h of shape (3, 6, 8))")
    same_shape(context, (B, D_h), "the context Σ_t a_t h_t (for h of shape (3, 6, 8))")
    not_the_mistake(weights, e_masked.softmax(dim=0), "the weights a",
                    "you took the softmax over the batch (dim 0); the frames of one sequence are along dim 1")
    not_the_mistake(weights, e.softmax(dim=1) * mask, "the weights a",
                    "you zeroed the padded frames' weights after the softmax, so the real frames' weights no longer "
                    "sum to 1: give the padded frames' scores -inf before the softmax instead")
    leak = float(weights.detach()[~mask].abs().max())
    if leak > 1e-6:
        raise ExerciseError(f"padded frames still get weight (up to {leak:.3g}): where mask is False, set the score "
                            f"e_t to -inf before the softmax, e.g. e.masked_fill(~mask, float('-inf'))")
    close(weights.sum(dim=1), torch.ones(B), "the sum over t of the weights of each sequence",
          hint="step 4 is a softmax over the frames t (dim 1)")
    close(weights, a, "the weights a")
    close(context, (a.unsqueeze(-1) * h).sum(1), "the context Σ_t a_t h_t")


test_attention_steps_on_a_padded_batch(attention_steps)

# %%
# HIDDEN
def test_attention_steps_without_a_mask_and_with_one_frame(attention_steps):
    import torch
    from mmcourse.exercises import close, finished

    g = torch.Generator().manual_seed(6)
    B, T, D_h, D_u = 2, 9, 5, 7
    h = torch.randn(B, T, D_h, generator=g)
    W = torch.randn(D_u, D_h, generator=g)
    q = torch.randn(D_u, generator=g)
    a = (torch.tanh(h @ W.T) @ q).softmax(dim=1)
    context, weights = finished(attention_steps(h, W, q), "attention_steps(h, W, q)")
    close(weights, a, "the weights a without a mask")
    close(context, (a.unsqueeze(-1) * h).sum(1), "the context without a mask")
    one = torch.zeros(B, T, dtype=torch.bool)
    one[:, 3] = True  # a single real frame: all the weight goes there, and the context is h_3
    context, weights = attention_steps(h, W, q, one)
    close(weights, one.float(), "the weights when only frame 3 is real")
    close(context, h[:, 3], "the context when only frame 3 is real")


test_attention_steps_without_a_mask_and_with_one_frame(attention_steps)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# The rest of the notebook uses your function if it agrees with the course's `attention.attention_pooling`.
# A function that returns two tensors is compared tensor by tensor:

# %%
def both_close(got, expected):
    """Compare two (output, weights) pairs tensor by tensor."""
    close(got[0], expected[0], "the first result")
    close(got[1], expected[1], "the second result")


attention_steps = student_or_reference(attention_steps, attention.attention_pooling, (h, W, q, mask_batch),
                                       "attention_steps", check=both_close)

# %% [markdown]
# ### 3.4 Picture: where the model listens
#
# The learned weights $a_t$ of one recording of each digit by the held-out voices, drawn over the
# spectrogram. The dashed line marks the end of the real frames.

# %%
# one recording of each digit, by each of the three held-out voices in turn
shown = torch.tensor([next(int(i) for i in test_index if labels[i] == d and speech.speakers[i] == TEST_VOICES[d % 3])
                      for d in range(10)])
with torch.no_grad():
    h_shown, _ = model.encoder(x_all[shown])
    _, a_shown = attention_steps(h_shown, W, q, frame_mask[shown])  # (10, T)
fig, axes = plt.subplots(2, 5, figsize=(13, 4.2), sharey=True)
for ax, i, weights in zip(axes.flat, shown, a_shown):
    n = int(lengths[i])
    ax.imshow(spectrograms[i], origin="lower", aspect="auto", cmap="magma")
    ax.axvline(n - 0.5, color="white", ls="--", lw=0.8)
    twin = ax.twinx()
    twin.plot(weights[:n], color="cyan", lw=1.5)
    twin.set_ylim(0, float(a_shown.max()) * 1.05)
    twin.set_yticks([])
    ax.set_title(f"'{int(labels[i])}' ({speech.speakers[i]})", fontsize=8)
for ax in axes[1]:
    ax.set_xlabel("frame t (20 ms)")
for ax in axes[:, 0]:
    ax.set_ylabel("mel band")
fig.suptitle("attention weights a_t (cyan) over the spectrogram, held-out voices")
fig.tight_layout()
plt.show()
peak_share = float((a_shown.max(dim=1).values * lengths[shown]).mean())
print(f"the largest weight is on average {peak_share:.1f}× the uniform weight 1/T_real")

# %% [markdown]
# The weights are far from uniform: the model listens to the voiced part of the word (for some digits to a
# few frames of it, for others to the whole vowel), gives almost nothing to the silence before and after it,
# and nothing at all to the padding.
#
# ## 4 · Other score functions
#
# The lecture notes that *there are many ways of doing steps 2 and 3*, that is, of scoring how well a key
# matches a query. The four classic ones, for a query $q$ and a key $k$ of dimension $d_k$:
#
# | name | score $e(q, k)$ | from |
# |---|---|---|
# | dot | $q^\top k$ | Luong et al. (2015) |
# | scaled dot | $q^\top k / \sqrt{d_k}$ | Vaswani et al. (2017), the transformer |
# | general (bilinear) | $q^\top W k$ | Luong et al. (2015) |
# | additive (concat) | $v^\top \tanh(W_1 q + W_2 k)$ | Bahdanau et al. (2015) |
#
# The lecture's steps 2–3 are the additive score with a constant query: set $W_1 = 0$, $W_2 = W$ and
# $v = q$, and $v^\top \tanh(W_1 q + W_2 h_t) = q^\top \tanh(W h_t) = e_t$. The `mmcourse.attention`
# module has all four; each turns $L_q$ queries and $L_k$ keys into an $(L_q, L_k)$ matrix of scores.

# %%
g = torch.Generator().manual_seed(1)
queries_demo = torch.randn(2, 3, 16, generator=g)  # (B, Lq, D)
keys_demo = torch.randn(2, 5, 16, generator=g)  # (B, Lk, D)
score_functions = {"dot": attention.dot_score, "scaled dot": attention.scaled_dot_score,
                   "general": attention.GeneralScore(16, 16), "additive": attention.AdditiveScore(16, 16, 32)}
for name, score in score_functions.items():
    check_shape(score(queries_demo, keys_demo), (2, 3, 5), f"{name} scores")

# the lecture's steps 2-3 as an additive score: W1 = 0, W2 = W, v = q, and any query
additive = attention.AdditiveScore(1, D_h, D_u)
with torch.no_grad():
    additive.W1.weight.zero_()
    additive.W2.weight.copy_(W)
    additive.v.copy_(q)
    e_additive = additive(torch.zeros(B, 1, 1), h)[:, 0]  # (B, 1, T) -> (B, T)
assert torch.allclose(e_additive, e, atol=1e-5), "steps 2-3 are the additive score with W1 = 0"
print("the additive score with W1 = 0, W2 = W, v = q reproduces the lecture's e_t: OK")

# %% [markdown]
# **Why divide by $\sqrt{d_k}$?** If the entries of $q$ and $k$ are independent with mean 0 and variance 1,
# then $q^\top k = \sum_{i=1}^{d_k} q_i k_i$ is a sum of $d_k$ terms of variance 1, so its variance is $d_k$.
# Long vectors give large scores, and a softmax of large scores is almost one-hot: nearly all the weight on
# one key, and gradients close to zero for the others. Dividing by $\sqrt{d_k}$ brings the variance back to 1
# whatever the dimension. We measure it on random vectors.

# %%
# NBVAL_CHECK_OUTPUT
g = torch.Generator().manual_seed(0)
dims = [4, 16, 64, 256, 1024]
print(f"{'d_k':>5} {'std of qᵀk':>11} {'std of qᵀk/√d_k':>16} {'max weight, dot':>16} {'max weight, scaled':>19}")
saturation = {"dot": [], "scaled dot": []}
for d in dims:
    qs, ks = torch.randn(500, 1, d, generator=g), torch.randn(500, 10, d, generator=g)  # 500 queries, 10 keys each
    dot = attention.dot_score(qs, ks)[:, 0]  # (500, 10)
    scaled = attention.scaled_dot_score(qs, ks)[:, 0]  # (500, 10)
    saturation["dot"].append(float(dot.softmax(-1).max(-1).values.mean()))
    saturation["scaled dot"].append(float(scaled.softmax(-1).max(-1).values.mean()))
    print(f"{d:5d} {dot.std():11.1f} {scaled.std():16.2f} {saturation['dot'][-1]:16.2f} "
          f"{saturation['scaled dot'][-1]:19.2f}")

# %%
fig, ax = plt.subplots(figsize=(4.5, 3))
for name, values_ in saturation.items():
    ax.semilogx(dims, values_, "o-", label=name)
ax.axhline(0.1, color="gray", ls=":", lw=1, label="uniform (1/10)")
ax.set(xlabel="dimension d_k", ylabel="mean of the largest weight", title="softmax over 10 random keys", ylim=(0, 1.05))
ax.legend(fontsize=8)
plt.show()
assert saturation["dot"][-1] > 0.9 > 0.5 > saturation["scaled dot"][-1], "unscaled scores saturate the softmax"

# %% [markdown]
# ## 5 · Self-attention: queries, keys and values from one sequence
#
# **Intuition.** In the five steps one learned query looked at every frame. In **self-attention** *every*
# element of a sequence asks its own question of all the elements, itself included, in the lecture's words
# "how much attention each input should pay to the other inputs". Each element plays three roles, through
# three learned projections: a **query** (what it looks for), a **key** (what it offers to be found by) and a
# **value** (what it hands over when it is found).
#
# **Math.** For a sequence $X$ of shape $(T, C)$ and trainable $W_Q, W_K$ of shape $(C, d_k)$ and $W_V$ of
# shape $(C, d_v)$:
#
# $$Q = X W_Q, \quad K = X W_K, \quad V = X W_V, \qquad
#   \mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}}\right) V .$$
#
# Row $i$ of the $(T, T)$ weight matrix is the distribution of query $i$ over all keys. A **mask** forbids
# some pairs by setting their scores to $-\infty$ before the softmax:
#
# - a **padding mask** forbids the padded keys (every query may look only at real frames);
# - a **causal mask** forbids the future: query $i$ may look at keys $j \le i$ only (a decoder that writes
#   a sequence one element at a time must not read what it has not written yet).
#
# Masks here are boolean and **True where attention is allowed**, as in `F.scaled_dot_product_attention`.

# %% [raw]
# # BEGIN QUESTION
# name: q03_masked_attention
# points: 3

# %% [markdown]
# **Exercise 3.2: scaled dot-product attention with a mask.** Write `masked_attention(query, key, value, mask=None)`
# for a query of shape `(..., Lq, d_k)`, a key of shape `(..., Lk, d_k)` and a value of shape `(..., Lk, d_v)`
# (the `...` are batch dimensions, for example `B` or `B, H`). `mask` is None or a boolean tensor that broadcasts
# to `(..., Lq, Lk)`, **True where the query may attend to the key**. Return the pair `(output, weights)`:
#
# - `weights` $= \mathrm{softmax}(Q K^\top / \sqrt{d_k})$ over the keys (the last dimension), shape `(..., Lq, Lk)`,
#   with weight exactly 0 wherever the mask is False;
# - `output` $=$ `weights` $\cdot V$, shape `(..., Lq, d_v)`.
#
# `key.transpose(-2, -1)` swaps the last two dimensions whatever the batch dimensions are.

# %% [raw]
# # BEGIN SOLUTION

# %%
def masked_attention(query, key, value, mask=None):
    """softmax(Q Kᵀ / √d_k) V with a boolean mask (True = may attend): returns (output, weights)."""
    # BEGIN SOLUTION
    d_k = query.shape[-1]
    # e_ij = q_i · k_j / √d_k
    scores = query @ key.transpose(-2, -1) / math.sqrt(d_k)  # (..., Lq, Lk)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    # a_ij = softmax_j(e_ij)
    weights = scores.softmax(dim=-1)  # (..., Lq, Lk)
    # o_i = Σ_j a_ij v_j
    return weights @ value, weights  # (..., Lq, d_v), (..., Lq, Lk)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_masked_attention_with_a_padding_mask(masked_attention):
    import math

    import torch
    from mmcourse.exercises import ExerciseError, close, finished, not_the_mistake, same_shape

    g = torch.Generator().manual_seed(3)
    B, Lq, Lk, d_k, d_v = 2, 3, 5, 16, 6
    query = torch.randn(B, Lq, d_k, generator=g)
    key = torch.randn(B, Lk, d_k, generator=g)
    value = torch.randn(B, Lk, d_v, generator=g)
    mask = torch.tensor([[True, True, True, False, False], [True, True, True, True, False]])[:, None, :]  # (B, 1, Lk)
    scores = query @ key.transpose(-2, -1)  # (B, Lq, Lk), not yet scaled

    def softmax_where(s, allowed):
        return s.masked_fill(~allowed, float("-inf")).softmax(dim=-1)

    right = softmax_where(scores / math.sqrt(d_k), mask)
    result = finished(masked_attention(query, key, value, mask), "masked_attention(query, key, value, mask)")
    if not (isinstance(result, tuple) and len(result) == 2):
        raise ExerciseError("masked_attention must return two things: `return output, weights`")
    output, weights = result
    same_shape(weights, (B, Lq, Lk), "the weights (query (2, 3, 16), key (2, 5, 16))")
    same_shape(output, (B, Lq, d_v), "the output (value (2, 5, 6))")
    not_the_mistake(weights, softmax_where(scores, mask), "the weights",
                    "your weights are what you get without dividing by √d_k: scale the scores Q Kᵀ by 1/√d_k "
                    "(here 1/√16 = 1/4) before the softmax")
    not_the_mistake(weights, softmax_where(scores / d_k, mask), "the weights",
                    "you divided the scores by d_k; the scale is 1/√d_k")
    not_the_mistake(weights, softmax_where(scores / math.sqrt(d_k), ~mask), "the weights",
                    "the mask is inverted: True marks the keys a query MAY attend to, so the scores to set to "
                    "-inf are those where the mask is False (use ~mask)")
    not_the_mistake(weights, (scores / math.sqrt(d_k)).softmax(dim=-1) * mask, "the weights",
                    "you zeroed the masked weights after the softmax, so each row no longer sums to 1: set the "
                    "masked scores to -inf before the softmax instead")
    leak = float(weights.detach()[(~mask).expand(B, Lq, Lk)].abs().max())
    if leak > 1e-6:
        raise ExerciseError(f"masked positions still get weight (up to {leak:.3g}): where the mask is False, "
                            f"set the score to -inf before the softmax, e.g. scores.masked_fill(~mask, float('-inf'))")
    close(weights.sum(dim=-1), torch.ones(B, Lq), "the sum of each row of weights",
          hint="the softmax runs over the keys, the last dimension")
    close(weights, right, "the weights")
    close(output, right @ value, "the output", hint="the output is the weighted sum of the values: weights @ value")


test_masked_attention_with_a_padding_mask(masked_attention)

# %%
# HIDDEN
def test_masked_attention_with_heads_a_causal_mask_and_no_mask(masked_attention):
    import torch
    import torch.nn.functional as F
    from mmcourse.exercises import close, finished

    g = torch.Generator().manual_seed(4)
    B, H, L, d_k, d_v = 2, 3, 6, 8, 5
    query = torch.randn(B, H, L, d_k, generator=g)
    key = torch.randn(B, H, L, d_k, generator=g)
    value = torch.randn(B, H, L, d_v, generator=g)
    causal = torch.ones(L, L, dtype=torch.bool).tril()  # (Lq, Lk), broadcast over B and H
    output, weights = finished(masked_attention(query, key, value, causal), "masked_attention(query, key, value, mask)")
    close(output, F.scaled_dot_product_attention(query, key, value, attn_mask=causal), "the output with a causal mask")
    close(weights.sum(-1), torch.ones(B, H, L), "the sum of each row of weights with a causal mask")
    close(weights.triu(1), torch.zeros(B, H, L, L), "the weights above the diagonal (the future) with a causal mask")
    output, weights = masked_attention(query, key, value)
    close(output, F.scaled_dot_product_attention(query, key, value), "the output without a mask")
    close(weights, (query @ key.transpose(-2, -1) / d_k ** 0.5).softmax(-1), "the weights without a mask")


test_masked_attention_with_heads_a_causal_mask_and_no_mask(masked_attention)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
probe_q, probe_k, probe_v = torch.randn(2, 4, 8, generator=generator), torch.randn(2, 6, 8, generator=generator), \
    torch.randn(2, 6, 3, generator=generator)
probe_mask = attention.padding_mask([6, 3], 6)[:, None, :]  # (2, 1, 6)
masked_attention = student_or_reference(masked_attention, attention.scaled_dot_product_attention,
                                        (probe_q, probe_k, probe_v, probe_mask), "masked_attention", check=both_close)

# %% [markdown]
# ### 5.1 Self-attention over spoken frames, checked against PyTorch
#
# We run self-attention over the same four recordings, with projections $W_Q, W_K, W_V$ drawn at random
# (seeded) from 32 to $d_k = d_v = 16$ features, a padding mask on the keys and, in a second run, a causal
# mask as well; PyTorch's fused `F.scaled_dot_product_attention` computes the same thing in one call.

# %%
C, d_k = M, 16
g = torch.Generator().manual_seed(2)
W_Q, W_K, W_V = (torch.randn(C, d_k, generator=g) / math.sqrt(C) for _ in range(3))  # each (C, d_k)
Q, K, V = x_batch @ W_Q, x_batch @ W_K, x_batch @ W_V  # each (B, T, d_k)
check_shape(Q, (B, T, d_k), "Q")
key_mask = mask_batch[:, None, :]  # (B, 1, T): every query may see the real frames of its own recording
both_masks = key_mask & attention.causal_mask(T)  # (B, T, T): real frames, and not in the future
max_difference = 0.0
for name, mask in (("padding", key_mask), ("padding + causal", both_masks)):
    out, weights = masked_attention(Q, K, V, mask)  # (B, T, d_k), (B, T, T)
    check_shape(weights, (B, T, T), "weights")
    torch_out = F.scaled_dot_product_attention(Q, K, V, attn_mask=mask)
    max_difference = max(max_difference, float((out - torch_out).abs().max()))
    print(f"{name:17s} mask: largest difference from F.scaled_dot_product_attention "
          f"{(out - torch_out).abs().max():.1e}")
mmcourse.record("sdpa_max_abs_diff_vs_torch", max_difference)
assert max_difference < 1e-5

# %% [markdown]
# **Picture.** For the picture we let each frame be its own key and value, scaled to unit length
# ($W_K = W_V = I$), and its own query made sharper ($W_Q = 20 I$): then frame $i$ attends to the frames that
# *sound like it*. On one recording: the two masks, and the weights they allow. Bright blocks on the diagonal
# are stretches of similar sound (a vowel, the silence before the word).

# %%
one = 2  # the recording of '7'
n_one = int(lengths[examples[one]])
x_one = F.normalize(x_batch[one:one + 1], dim=-1)  # (1, T, 32): unit-length frames (padding stays 0)
_, weights_pad = masked_attention(20 * x_one, x_one, x_one, key_mask[one:one + 1])  # (1, T, T)
_, weights_causal = masked_attention(20 * x_one, x_one, x_one, both_masks[one:one + 1])  # (1, T, T)
fig, axes = plt.subplots(1, 4, figsize=(14, 3.2))
axes[0].imshow(key_mask[one].expand(T, T), cmap="Greys", interpolation="nearest")
axes[0].set_title("padding mask (True = black)")
axes[1].imshow(both_masks[one], cmap="Greys", interpolation="nearest")
axes[1].set_title("padding + causal mask")
axes[2].imshow(weights_pad[0], cmap="viridis", interpolation="nearest")
axes[2].set_title("weights, padding mask")
axes[3].imshow(weights_causal[0], cmap="viridis", interpolation="nearest")
axes[3].set_title("weights, padding + causal")
for ax in axes:
    ax.set(xlabel="key frame j", ylabel="query frame i")
fig.suptitle(f"self-attention over the frames of a spoken '{int(labels[examples[one]])}' ({n_one} real frames of {T})")
fig.tight_layout()
plt.show()
assert float(weights_pad[0][:, n_one:].max()) == 0.0 and float(weights_causal[0].triu(1).max()) == 0.0

# %% [markdown]
# Columns past the last real frame are empty (padding mask), and nothing lies above the diagonal (causal
# mask). The padded *rows* still have weights: a padded query may look at real keys; its output is simply
# ignored later.
#
# ## 6 · BiRNN, convolution and self-attention
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
# ## 7 · Fixed kernels and dynamic filters on an image
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
clean = F.avg_pool2d(photo, 4)  # (1, 3, 150, 128): smaller, so every filter runs in a blink
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


def attention_filter(image, tau):
    """Each pixel attends to its neighbours by colour similarity: returns (filtered image, weights (k·k, H·W))."""
    hood = neighbourhoods(image)  # (3, k·k, H·W): keys and values
    query_colour = image.view(3, 1, -1)  # (3, 1, H·W): each pixel is the query of its own neighbourhood
    # e_ij = -||x_i - x_j||² / τ
    e = -((hood - query_colour) ** 2).sum(dim=0) / tau  # (k·k, H·W)
    a = e.softmax(dim=0)  # (k·k, H·W): a different filter for every pixel
    # y_i = Σ_j a_ij x_j
    return (a.unsqueeze(0) * hood).sum(dim=1).view_as(image), a


def psnr(image):
    """Peak signal-to-noise ratio against the clean photo, in dB (higher is better)."""
    return 10 * math.log10(1 / float(((image - clean) ** 2).mean()))


sigmas = (0.5, 0.75, 1.0, 1.5)
blurred = {s: fixed_filter(noisy, s) for s in sigmas}
best_sigma = max(sigmas, key=lambda s: psnr(blurred[s]))
TAU_PIXEL = 0.1
denoised, pixel_weights = attention_filter(noisy, TAU_PIXEL)
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
fig, axes = plt.subplots(1, 3, figsize=(8, 2.8))
axes[0].imshow(shown_filters[0], cmap="viridis", vmin=0, vmax=top)
axes[0].set_title("fixed kernel (every pixel)", fontsize=9)
for ax, weights, name in ((axes[1], shown_filters[1], "flat pixel (cyan)"),
                          (axes[2], shown_filters[2], "edge pixel (yellow)")):
    ax.imshow(weights, cmap="viridis", vmin=0, vmax=top)
    ax.set_title(f"attention filter, {name}", fontsize=9)
for ax in axes:
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout()
plt.show()

# %% [markdown]
# The fixed kernel cannot tell noise from edges, so the blur that removes the noise also smears the
# edges; the attention filter averages only over neighbours of similar colour, which removes noise and keeps
# edges. (Image processing knows this filter as the *bilateral* or *non-local means* filter; non-local
# neural networks and vision transformers learn the projections instead of fixing them.)
#
# ## 8 · Multi-head attention
#
# **Intuition.** One softmax gives one distribution per query, so a single attention can look for one thing
# at a time. *Transformers use multi-head attention to look at different aspects of the inputs*: $H$ heads
# attend in parallel, each with its own projections, and their outputs are concatenated.
#
# **Math.** With $C$ features split into $H$ heads of $D = C / H$:
#
# $$\mathrm{head}_h = \mathrm{Attention}(Q W_Q^{h}, K W_K^{h}, V W_V^{h}), \qquad
#   \mathrm{MultiHead}(Q, K, V) = \mathrm{Concat}(\mathrm{head}_1, \dots, \mathrm{head}_H)\, W_O .$$
#
# In practice one $(C, C)$ projection computes all heads at once, and its $C$ output features are cut into
# $H$ blocks of $D$: **split** $(B, L, C) \to (B, H, L, D)$, attend in every head at once (the head axis is
# just one more batch axis), then **merge** $(B, H, L, D) \to (B, L, C)$.

# %% [raw]
# # BEGIN QUESTION
# name: q03_heads
# points: 2

# %% [markdown]
# **Exercise 3.3: split and merge heads.** Write
#
# - `split_heads(x, num_heads)`: `x` of shape `(B, L, C)` to `(B, H, L, D)` with `H = num_heads` and
#   `D = C // H`, where head `h` holds the features `h·D … h·D + D − 1` of every position;
# - `merge_heads(x)`: `(B, H, L, D)` back to `(B, L, H·D)`, so that `merge_heads(split_heads(x, H))` is `x`.
#
# Hint: a reshape alone keeps the order of the numbers in memory; you also need to swap two axes
# (`.transpose(1, 2)`). After a transpose, use `.reshape` (not `.view`).

# %% [raw]
# # BEGIN SOLUTION

# %%
def split_heads(x, num_heads):
    """(B, L, C) -> (B, H, L, D): head h gets features h·D ... h·D + D - 1."""
    # BEGIN SOLUTION
    B, L, C = x.shape
    return x.reshape(B, L, num_heads, C // num_heads).transpose(1, 2)  # (B, L, H, D) -> (B, H, L, D)
    # END SOLUTION


def merge_heads(x):
    """(B, H, L, D) -> (B, L, H·D): the inverse of split_heads."""
    # BEGIN SOLUTION
    B, H, L, D = x.shape
    return x.transpose(1, 2).reshape(B, L, H * D)  # (B, L, H, D) -> (B, L, H·D)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_split_and_merge_heads(split_heads, merge_heads):
    import torch
    from mmcourse.exercises import ExerciseError, close, finished, not_the_mistake, same_shape

    B, L, H, D = 2, 3, 4, 5
    x = torch.arange(B * L * H * D, dtype=torch.float32).reshape(B, L, H * D)  # every entry different
    heads = finished(split_heads(x, H), "split_heads(x, 4)")
    same_shape(heads, (B, H, L, D), "split_heads(x, 4) for x of shape (2, 3, 20)")
    not_the_mistake(heads, x.reshape(B, H, L, D), "split_heads(x, 4)",
                    "you reshaped (B, L, C) straight into (B, H, L, D) without a transpose, so one 'head' holds "
                    "features of different positions: reshape to (B, L, H, D) first, then .transpose(1, 2)")
    not_the_mistake(heads, x.reshape(B, L, D, H).permute(0, 3, 1, 2), "split_heads(x, 4)",
                    "each head must get a block of D = C/H neighbouring features, but yours gets every H-th "
                    "feature: reshape to (B, L, H, D), not (B, L, D, H)")
    expected = x.reshape(B, L, H, D).transpose(1, 2).contiguous()  # (B, H, L, D), laid out as attention returns it
    close(heads, expected, "split_heads(x, 4)")
    try:
        merged = finished(merge_heads(expected), "merge_heads(heads)")
    except RuntimeError as err:
        if "view" in str(err):
            raise ExerciseError("merge_heads: after .transpose the tensor is not contiguous in memory, so .view "
                                "fails; use .reshape(B, L, H * D) instead") from None
        raise
    same_shape(merged, (B, L, H * D), "merge_heads(heads) for heads of shape (2, 4, 3, 5)")
    not_the_mistake(merged, expected.reshape(B, L, H * D), "merge_heads(heads)",
                    "you reshaped (B, H, L, D) straight into (B, L, H·D) without a transpose, which mixes positions "
                    "and heads: first .transpose(1, 2) to (B, L, H, D), then reshape")
    close(merged, x, "merge_heads(split_heads(x, 4))", hint="merge_heads must undo split_heads")


test_split_and_merge_heads(split_heads, merge_heads)

# %%
# HIDDEN
def test_split_and_merge_heads_on_other_sizes(split_heads, merge_heads):
    import torch
    from mmcourse.exercises import close

    g = torch.Generator().manual_seed(7)
    for B, L, H, D in ((3, 7, 2, 3), (1, 4, 1, 6), (2, 5, 6, 2)):
        x = torch.randn(B, L, H * D, generator=g)
        expected = x.reshape(B, L, H, D).transpose(1, 2).contiguous()
        close(split_heads(x, H), expected, f"split_heads of a ({B}, {L}, {H * D}) tensor into {H} heads")
        close(merge_heads(expected), x, f"merge_heads of a ({B}, {H}, {L}, {D}) tensor")
        close(merge_heads(split_heads(x, H)), x, f"merge_heads(split_heads(x, {H})) for {H} heads")


test_split_and_merge_heads_on_other_sizes(split_heads, merge_heads)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
probe_x = torch.randn(2, 5, 12, generator=generator)  # (B, L, C)
split_heads = student_or_reference(split_heads, attention.split_heads, (probe_x, 3), "split_heads")
merge_heads = student_or_reference(merge_heads, attention.merge_heads, (attention.split_heads(probe_x, 3),),
                                   "merge_heads")

# %% [markdown]
# ### 8.1 Multi-head attention by hand, checked against `torch.nn.MultiheadAttention`
#
# We take PyTorch's layer with its random initial weights, compute the same thing with `split_heads`,
# `masked_attention` and `merge_heads`, and compare both the outputs and the weights of every head. Mind the
# masks: PyTorch's `key_padding_mask` is True at the keys to *ignore*, the opposite of ours.

# %%
def multi_head_attention(x_query, x_key_value, layer, key_mask=None):
    """The computation of torch.nn.MultiheadAttention `layer`, written out: returns (output, weights per head)."""
    H = layer.num_heads
    W_q, W_k, W_v = layer.in_proj_weight.chunk(3)  # each (C, C)
    b_q, b_k, b_v = layer.in_proj_bias.chunk(3)  # each (C,)
    # Q = X W_Qᵀ + b_Q, cut into H heads of D = C / H features (and the same for K and V)
    Q_h = split_heads(x_query @ W_q.T + b_q, H)  # (B, H, Lq, D)
    K_h = split_heads(x_key_value @ W_k.T + b_k, H)  # (B, H, Lk, D)
    V_h = split_heads(x_key_value @ W_v.T + b_v, H)  # (B, H, Lk, D)
    mask = None if key_mask is None else key_mask[:, None, None, :]  # (B, 1, 1, Lk)
    # head_h = softmax(Q_h K_hᵀ / √D) V_h, all heads at once
    heads, weights = masked_attention(Q_h, K_h, V_h, mask)  # (B, H, Lq, D), (B, H, Lq, Lk)
    # MultiHead = Concat(head_1, ..., head_H) W_Oᵀ + b_O
    return merge_heads(heads) @ layer.out_proj.weight.T + layer.out_proj.bias, weights  # (B, Lq, C)


torch.manual_seed(0)
torch_mha = nn.MultiheadAttention(embed_dim=M, num_heads=4, batch_first=True).eval()
with torch.no_grad():
    ours, our_weights = multi_head_attention(x_batch, x_batch, torch_mha, mask_batch)
    theirs, their_weights = torch_mha(x_batch, x_batch, x_batch, key_padding_mask=~mask_batch,
                                      need_weights=True, average_attn_weights=False)
    # the course's module, loaded with the same weights
    course_mha = attention.MultiHeadAttention(M, num_heads=4)
    for proj, w, b in zip((course_mha.q_proj, course_mha.k_proj, course_mha.v_proj),
                          torch_mha.in_proj_weight.chunk(3), torch_mha.in_proj_bias.chunk(3)):
        proj.weight.copy_(w)
        proj.bias.copy_(b)
    course_mha.out_proj.load_state_dict(torch_mha.out_proj.state_dict())
    course_out, _ = course_mha(x_batch, x_batch, x_batch, key_padding_mask=mask_batch)
check_shape(ours, (B, T, M), "multi-head output")
check_shape(our_weights, (B, 4, T, T), "multi-head weights")
mha_difference = max(float((ours - theirs).abs().max()), float((our_weights - their_weights).abs().max()),
                     float((course_out - theirs).abs().max()))
print(f"largest difference from torch.nn.MultiheadAttention (outputs, weights of each head, "
      f"mmcourse's MultiHeadAttention): {mha_difference:.1e}")
mmcourse.record("mha_max_abs_diff_vs_torch", mha_difference)
assert mha_difference < 1e-5

# %% [markdown]
# ### 8.2 Picture: two heads, two aspects
#
# What does "different aspects" mean? We build a two-head attention by hand over the pixels of a scene
# image. Every pixel's feature vector has $C = 8$ numbers: its colour as a unit vector (3 numbers and a 0),
# then its position as $(\cos \pi y / S, \sin \pi y / S, \cos \pi x / S, \sin \pi x / S)$, where $S = 32$ is the
# image size. The projections are fixed, not learned: head 1 reads the colour block, head 2 the position block
# ($q^\top k$ of two position blocks is $\cos(\pi \Delta y/S) + \cos(\pi \Delta x/S)$, largest for nearby pixels);
# each head's $W_Q$ is a multiple of the identity, which sets how sharp it is.

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
two_heads_q = split_heads(pixels * sharpness, 2)  # (1, 2, S·S, 4): W_Q = diag(sharpness)
two_heads_kv = split_heads(pixels, 2)  # (1, 2, S·S, 4): W_K = W_V = I
_, pixel_head_weights = masked_attention(two_heads_q, two_heads_kv, two_heads_kv)  # (1, 2, S·S, S·S)
check_shape(pixel_head_weights, (1, 2, S * S, S * S), "pixel_head_weights")

# the query: the centre pixel of one of the two objects that share a colour (cells are 10 px, starting at px 1)
colours_in_scene = [o.colour for o in demo_scenes.scenes[pick].objects]
twin = next(o for o in demo_scenes.scenes[pick].objects if colours_in_scene.count(o.colour) == 2)
query_pixel = (1 + 10 * twin.row + 5 + twin.dy) * S + (1 + 10 * twin.col + 5 + twin.dx)
fig, axes = plt.subplots(1, 3, figsize=(9, 3))
axes[0].imshow(scene_image.permute(1, 2, 0))
axes[0].plot(query_pixel % S, query_pixel // S, "w+", ms=10)
axes[0].set_title("scene, query pixel +", fontsize=9)
for ax, head, name in ((axes[1], 0, "head 1: same colour"), (axes[2], 1, "head 2: nearby")):
    ax.imshow(pixel_head_weights[0, head, query_pixel].view(S, S), cmap="viridis")
    ax.set_title(name, fontsize=9)
for ax in axes:
    ax.axis("off")
fig.tight_layout()
plt.show()

# %% [markdown]
# Head 1 finds the pixels of the same colour wherever they are; head 2 finds the pixels around the query,
# whatever their colour, like a convolution would. Concatenated, the output of this layer carries both. In a
# trained transformer nobody chooses what the heads read: each learns its own projections.
#
# ## 9 · Encoder–decoder attention: caption words look at image patches
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
start = time.perf_counter()
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
print(f"trained in {time.perf_counter() - start:.1f} s; test: cell of the object right for {cell_accuracy:.3f} of "
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
fig, axes = plt.subplots(3, 7, figsize=(13, 7))
for row, n in enumerate(drawn):
    words = scenes_test.captions[n].split()
    content = [t for t, w in enumerate(words) if w in COLOURS or w in SHAPES]
    axes[row, 0].imshow(scenes_test.images[n].permute(1, 2, 0))
    axes[row, 0].set_title(textwrap.fill(scenes_test.captions[n], 26), fontsize=7)
    for col, t in enumerate(content, start=1):
        axes[row, col].imshow(scenes_test.images[n].permute(1, 2, 0))
        axes[row, col].imshow(word_map_image(word_maps[n, t]), cmap="inferno", alpha=0.65)
        axes[row, col].set_title(f"'{words[t]}'", fontsize=9)
for ax in axes.flat:
    ax.axis("off")
fig.suptitle("cross-attention: where each colour and shape word of the caption looks (test scenes)")
fig.tight_layout()
plt.show()

# %% [markdown]
# Each colour word and each shape word lights up the patches of its own object. When two objects share a
# colour (first row), colour is no longer enough and the word must also recognise the shape, which it knows
# from its neighbour in the caption (through the convolution): here the words of the blue circle find it,
# while those of the blue triangle split their weight between the two blue objects. Shapes are harder to tell
# apart than colours from patches of 4 × 4 pixels.
# This is the mechanism that a captioning decoder uses to look at the right part of the image before it
# writes each word, and that text-to-image models use in the other direction (notebook 07).
#
# ## 10 · Play with attention
#
# Choose a query: a **frame** of the spoken '7' (self-attention over its frames, as in section 5), a **pixel**
# of the noisy photo (its attention filter, as in section 7), or a **word** of a test caption (cross-attention,
# as in section 9; words such as "a" or "of" had no target in training, so where they look means nothing).
# The **temperature** $\tau$ divides the scores before the softmax,
# $a = \mathrm{softmax}(e / \tau)$: below 1 the weights sharpen towards a lookup, above 1 they flatten towards
# an average. All scores are computed here, once; the widget only redraws.

# %%
frame_scores = 20 * x_one[0, :n_one] @ x_one[0, :n_one].T / math.sqrt(M)  # (n, n): the scores of section 5's picture
pixel_choices = {"edge": edge_pixel, "flat": flat_pixel, "glasses": (52, 48), "star": (44, 12), "collar": (98, 52)}
pixel_scores = {name: pixel_weights[:, r * W_img + c].log() for name, (r, c) in pixel_choices.items()}  # (k·k,)
scene_n = drawn[0]  # the first test scene of the picture above
scene_words = scenes_test.captions[scene_n].split()
word_scores = {t: word_maps[scene_n, t].log() for t, w in enumerate(scene_words)}  # (64,) each: log a = e + const
queries = {**{f"frame {i} of the '7'": ("frame", i) for i in (3, 8, 12, 18)},
           **{f"pixel: {name} {rc}": ("pixel", name) for name, rc in pixel_choices.items()},
           **{f"word {t}: '{w}'": ("word", t) for t, w in enumerate(scene_words)}}


def draw_query(query=("word", 2), temperature=1.0):
    """The attention weights of one query (a frame, a pixel or a word) at a temperature."""
    kind, which = query
    fig, axes = plt.subplots(1, 2, figsize=(8, 2.8), gridspec_kw={"width_ratios": [1.6, 1]})
    if kind == "frame":
        weights = (frame_scores[which] / temperature).softmax(0)  # (n,)
        axes[0].imshow(spectrograms[examples[one], :, :n_one], origin="lower", aspect="auto", cmap="magma")
        axes[0].axvline(which, color="cyan", lw=1.5)
        axes[0].set(xlabel="frame", ylabel="mel band", title=f"query: frame {which}")
        axes[1].bar(range(n_one), weights, color="tab:blue")
        axes[1].set(xlabel="key frame", ylabel="weight", title="its attention over the frames")
    elif kind == "pixel":
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
    if kind != "frame":
        for ax in axes:
            ax.axis("off")
    fig.suptitle(f"τ = {temperature:.2f}: largest weight {float(weights.max()):.2f}", fontsize=9)
    fig.tight_layout()
    return fig


widgets.show(draw_query())

# %%
redraw_seconds = []
for value in list(queries.values())[::3]:
    start = time.perf_counter()
    plt.close(draw_query(value, 0.5))
    redraw_seconds.append(time.perf_counter() - start)
print(f"slowest redraw: {max(redraw_seconds):.2f} s")
widgets.explore(draw_query, query=queries, temperature=(0.1, 3.0, 0.1, 1.0))

# %% [markdown]
# ## Take-aways
#
# - A lookup table returns the value of the key that *equals* the query; attention returns the average of
#   *all* values, weighted by how well each key matches: $a = \mathrm{softmax}(e)$, output $= \sum_i a_i v_i$.
#   The temperature slides it between a hard lookup and a plain mean.
# - The lecture's five steps ($h_t$; $u_t = \tanh(W h_t)$; $e_t = q^\top u_t$; softmax; $\sum_t a_t h_t$) pool a
#   recurrent encoder's outputs; trained only to name spoken digits, the weights learned to listen to the word
#   and ignore silence, and the model recognised unseen voices.
# - Score functions differ in how they compare (dot, scaled dot, general, additive); the transformer's scaled
#   dot product divides by $\sqrt{d_k}$ so that the softmax does not saturate as the dimension grows.
# - Self-attention takes queries, keys and values from one sequence; masks (padding, causal) give forbidden
#   pairs a score of $-\infty$, hence a weight of exactly 0.
# - A convolution sees a window and an RNN fades with distance; self-attention links every pair in one step,
#   at a cost of $T^2$ scores. A convolution's kernel is fixed; an attention filter is computed from the data,
#   which is why it could denoise a photo without blurring its edges.
# - Multi-head attention splits the features into heads that attend separately and are merged again; our
#   version matches `torch.nn.MultiheadAttention` to $10^{-6}$.
# - Cross-attention lets one modality query another: caption words found their objects among image patches.
#
# ## Further reading
#
# - D. Bahdanau, K. Cho and Y. Bengio, "Neural Machine Translation by Jointly Learning to Align and Translate",
#   ICLR 2015 (additive attention over an RNN encoder).
# - M.-T. Luong, H. Pham and C. D. Manning, "Effective Approaches to Attention-based Neural Machine Translation",
#   EMNLP 2015 (the dot and general scores).
# - Z. Yang et al., "Hierarchical Attention Networks for Document Classification", NAACL 2016 (attention pooling
#   with a learned query, as in our five steps).
# - A. Vaswani et al., "Attention Is All You Need", NeurIPS 2017, and A. Rush, "The Annotated Transformer"
#   (scaled dot-product and multi-head attention).
# - K. Xu et al., "Show, Attend and Tell: Neural Image Caption Generation with Visual Attention", ICML 2015
#   (words attending to image regions).
# - A. Buades, B. Coll and J.-M. Morel, "A non-local algorithm for image denoising", CVPR 2005; X. Wang et al.,
#   "Non-local Neural Networks", CVPR 2018 (the attention filter on images).
# - J.-B. Cordonnier, A. Loukas and M. Jaggi, "On the Relationship between Self-Attention and Convolutional
#   Layers", ICLR 2020.
