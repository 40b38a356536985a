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
# # 05 · Fusion: early, late and joint, under noise, and audio-visual speech enhancement
#
# **Learning goals.** After this notebook you can
#
# - write the seminar's three fusions in its notation, **early** $\hat y = f(x_1 \oplus \dots \oplus x_n)$,
#   **late** $\hat y_{\text{final}} = \sum_i w_i \hat y_i$ with $\hat y_i = f_i(x_i)$, and **joint**
#   $z_{\text{joint}} = f_1(x_1) \oplus \dots \oplus f_n(x_n)$, $\hat y = g(z_{\text{joint}})$, and build each one;
# - choose the ensemble weights $w_i$ of late fusion on held-out data, and read them;
# - explain what changes when each $f_i$ is trained only by its own modality's loss instead of end to end;
# - measure how every method copes as speech gets noisier, as images get hidden, and when a modality is
#   missing, and say which fusion wins where;
# - build an **AVDCNN**-style enhancer that takes noisy speech and an image and returns enhanced speech and
#   the image, train it with
#   $\frac1K\sum_i \lVert \hat Y_i - Y_i \rVert^2 + \mu \lVert \hat X_{V,i} - X_{V,i} \rVert^2$, listen to it,
#   and measure its gain in dB against an audio-only enhancer of the same size.
#
# **Where this sits in the lecture.** The seminar "MultiModal learning" starts from the goal of notebook 02:
# model the modalities *jointly*, through a common latent space. Its first question is then *"how is the
# data from each modality combined?"*, with three answers: early, late and joint fusion. Its first paper,
# AVDCNN (Hou et al.), is a joint-fusion network that removes noise from speech with the help of images of
# the speaker's lips; the seminar closes with the remark that joint fusion is good at both extracting
# features from each modality and learning how they interact, and that noise reduction is one of its uses.
# We build all three fusions on the audio-visual digits of notebooks 01 and 02, break each modality on
# purpose, and then build the enhancer.

# %% [markdown]
# ## Setup

# %%
import copy
import time
from functools import lru_cache
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
import torchaudio
from IPython.display import Markdown

import mmcourse
from mmcourse import fusion, viz, widgets
from mmcourse.data import AVDigitsConfig, log_mel_spectrogram, make_av_digits
from mmcourse.exercises import student_or_reference
from mmcourse.noise import measure_snr_db
from mmcourse.training import TrainConfig, accuracy, predict, train

generator = mmcourse.set_seed(0)
device = mmcourse.get_device()
torch.set_num_threads(1)  # small models: one thread is almost as fast, and never stalls beside other work
print("torch sees:", device, "(the models here are small: this notebook computes on the CPU)")
notebook_start = time.perf_counter()

# %% [markdown]
# ## 1 · Two noisy views of one digit
#
# **Intuition.** Each example of `mmcourse.data.make_av_digits` is a handwritten digit image and a spoken
# digit with the same label; the test split has writers and voices never seen in training. Both carry the
# label, and each can be broken on its own: white noise on the speech at a chosen signal-to-noise ratio
# (SNR), a hidden square and pixel noise on the image, or a modality missing altogether. When the speech
# is drowned in noise the image may still be clear, and the other way round: that is why fusing them
# should help, and this notebook measures by how much.
#
# **Heavy noise.** We call *heavy noise* the condition in which **both** modalities are broken so badly
# that neither alone is good: speech at **−7.5 dB** (the noise is more than five times as strong as the
# word) and images with **a quarter hidden and pixel noise of standard deviation 0.3**. The image severity
# is one number $q$: a fraction $q$ of the image hidden and pixel noise $1.2\,q$, so heavy noise is
# $q = 0.25$. We picked −7.5 dB so that, at $q = 0.25$, the speech alone is about as poor as the image
# alone (both below two thirds right; the curves of section 3 show the whole range).

# %%
HEAVY_SNR_DB, HEAVY_IMAGE = -7.5, 0.25


def image_noise(q):
    """Image severity q: a fraction q hidden, then pixel noise of std 1.2·q."""
    return {"occlusion": q, "pixel_noise_std": round(1.2 * q, 3)}


def test_pairs(snr_db=None, q=0.0, **missing):
    """300 test pairs (held-out voices and writers) with speech at snr_db and image severity q."""
    return make_av_digits("test", AVDigitsConfig(seed=1, pairs_per_utterance=2, snr_db=snr_db, **image_noise(q),
                                                 **missing))


clean_test, heavy_test = test_pairs(), test_pairs(HEAVY_SNR_DB, HEAVY_IMAGE)
print(f"{len(clean_test)} test pairs; voices {sorted(set(clean_test.speakers))}")

fig, axes = plt.subplots(2, 6, figsize=(10, 3.4))
for col, i in enumerate([0, 41, 97]):
    for row, (name, data) in enumerate((("clean", clean_test), ("heavy noise", heavy_test))):
        axes[row, 2 * col].imshow(data.images[i, 0], cmap="gray_r", vmin=0, vmax=1)
        axes[row, 2 * col + 1].imshow(viz.log_spectrogram(data.waveforms[i]), origin="lower", aspect="auto",
                                      cmap="magma")
        axes[row, 2 * col].set_title(f"{name}: {int(data.labels[i])}", fontsize=8)
        axes[row, 2 * col + 1].set_title("its speech", fontsize=8)
for ax in axes.flat:
    ax.set_xticks([]), ax.set_yticks([])
fig.suptitle("three test pairs, clean (top) and under heavy noise (bottom)", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# **The inputs.** The seminar's $x_i$ are vectors, so each modality becomes one: $x_1$ is the image's
# 64 pixels, and $x_2$ is the log-mel spectrogram of notebook 01 (32 mel bands), averaged over 50 ms frames
# into 20 frames and flattened to 640 numbers, then standardised with the training set's mean and standard
# deviation. A missing modality enters as a vector of zeros (for the speech: the training average).
#
# **Training data.** Models that never heard noise fail on it (notebook 01), so every model below trains on
# the 8 training voices under 15 noise conditions: speech clean, at 10, 0, −5 and −10 dB, times images
# clean, at $q = 0.25$ and at $q = 0.5$; in each condition 10 % of the pairs miss their speech and 10 % miss
# their image. The ninth training voice is kept apart as a **validation** voice: it only chooses the weights
# of late fusion. Heavy noise ($-7.5$ dB, $q = 0.25$) lies between the training conditions; the test voices
# and writers are never used for training, nor for choosing weights.

# %%
VALIDATION_VOICE = "en-us-nyc"
TRAIN_SNRS, TRAIN_IMAGE_LEVELS = [None, 10.0, 0.0, -5.0, -10.0], [0.0, 0.25, 0.5]


def log_mel_frames(waveforms):
    """The speech as 20 frames × 32 mel bands, flattened: (N, L) → (N, 640)."""
    return F.avg_pool1d(log_mel_spectrogram(waveforms), 5).flatten(1)  # (N, 32, 101) → (N, 32·20)


train_parts = []  # per condition: what the models need, without the waveforms (they are large)
for k, (snr, q) in enumerate((s, q) for s in TRAIN_SNRS for q in TRAIN_IMAGE_LEVELS):
    d = make_av_digits("train", AVDigitsConfig(seed=10 + k, snr_db=snr, **image_noise(q), p_missing_audio=0.1,
                                               p_missing_image=0.1))
    train_parts.append({"frames": log_mel_frames(d.waveforms), "images": d.images, "labels": d.labels,
                        "has_audio": d.has_audio, "has_image": d.has_image, "speakers": d.speakers})
train_pairs = {key: torch.cat([p[key] for p in train_parts]) for key in ("frames", "images", "labels", "has_audio",
                                                                         "has_image")}
heard_all = train_pairs["has_audio"]  # (N,) the pairs that have speech
speech_mean, speech_std = train_pairs["frames"][heard_all].mean(), train_pairs["frames"][heard_all].std()


def features(data, frames=None):
    """x_1 (N, 64) pixels and x_2 (N, 640) standardised log-mel frames; a missing modality is zeros."""
    frames = log_mel_frames(data.waveforms) if frames is None else frames
    x_speech = torch.where(data.has_audio[:, None], (frames - speech_mean) / speech_std, 0.0)  # (N, 640)
    x_image = torch.where(data.has_image[:, None], data.images.flatten(1), 0.0)  # (N, 64)
    return x_image, x_speech


x1_all, x2_all = features(SimpleNamespace(**train_pairs), train_pairs["frames"])
y_all, seen_all = train_pairs["labels"], train_pairs["has_image"]
is_validation = torch.tensor([s == VALIDATION_VOICE for p in train_parts for s in p["speakers"]])
x1, x2, y = x1_all[~is_validation], x2_all[~is_validation], y_all[~is_validation]
seen, heard = seen_all[~is_validation], heard_all[~is_validation]  # which training pairs have an image, speech
mmcourse.check_shape(x2, (len(y), 640), "x_2 (speech)")
print(f"{len(y)} training pairs, {int(is_validation.sum())} validation pairs (voice {VALIDATION_VOICE})")

# %% [markdown]
# ## 2 · Three ways to fuse, in the seminar's notation
#
# With $n$ modalities $x_1, \dots, x_n$, $\oplus$ for concatenation and $f$, $f_i$, $g$ neural networks, the
# seminar writes:
#
# | fusion | the model | the modalities meet in |
# |---|---|---|
# | early | $\hat y = f(x_1 \oplus x_2 \oplus \dots \oplus x_n)$ | the inputs |
# | late | $\hat y_i = f_i(x_i),\ i = 1, \dots, n;\ \ \hat y_{\text{final}} = \sum_{i=1}^n w_i \hat y_i$ | the predictions |
# | joint | $z_{\text{joint}} = f_1(x_1) \oplus \dots \oplus f_n(x_n);\ \ \hat y = g(z_{\text{joint}})$ | learned features |
#
# Here $n = 2$: $x_1$ the image, $x_2$ the speech, and $\hat y$ ten class scores. Every network is small:
# `fusion.UnimodalClassifier` is $f_i$ (an encoder, a linear layer and a ReLU with 64 units, then a linear
# head); `fusion.EarlyFusion` is $f$ (one hidden layer of 128 units on the 704 joined inputs);
# `fusion.JointFusion` holds the encoders $f_i$ and a head $g$ (a hidden layer of 64 units).
#
# ### 2.1 Baselines: one modality each
#
# The two unimodal classifiers $f_1(x_1)$ and $f_2(x_2)$ are the baselines every fusion must beat. Each is
# trained only on the pairs in which its modality is present, by its own loss.

# %%
CLASSIFIER_TRAINING = TrainConfig(epochs=5, batch_size=128, lr=3e-3, progress=False)


def fit(model, inputs, labels, config=CLASSIFIER_TRAINING):
    """Train model(*inputs) → class scores with the cross-entropy; return the seconds it took."""
    torch.manual_seed(0)
    start = time.perf_counter()
    train(model, lambda *batch: F.cross_entropy(model(*batch[:-1]), batch[-1]), (*inputs, labels), config)
    return time.perf_counter() - start


f_1, f_2 = fusion.UnimodalClassifier(64), fusion.UnimodalClassifier(640)
seconds = fit(f_1, (x1[seen],), y[seen]) + fit(f_2, (x2[heard],), y[heard])
x1_heavy, x2_heavy = features(heavy_test)
print(f"two unimodal classifiers trained in {seconds:.1f} s; under heavy noise: "
      f"image only {accuracy(predict(f_1, x1_heavy), heavy_test.labels):.2f}, "
      f"speech only {accuracy(predict(f_2, x2_heavy), heavy_test.labels):.2f}")

# %% [markdown]
# ### 2.2 Early fusion: $\hat y = f(x_1 \oplus x_2)$
#
# Early fusion joins the inputs and lets one network read them. The first layer of $f$ multiplies
# $x_1 \oplus x_2$ by a matrix $W = [W_1 \; W_2]$, and a matrix times a concatenation is the sum of the
# blocks times the parts:
#
# $$W (x_1 \oplus x_2) = W_1 x_1 + W_2 x_2 .$$
#
# So early fusion lets each modality add its own contribution to every hidden unit *from the first layer
# on*: from there on the network can learn any interaction between pixels and sounds. **Check:** the
# first layer of `EarlyFusion` on the joined inputs equals the sum of its two blocks applied to each part.

# %%
# NBVAL_CHECK_OUTPUT
early = fusion.EarlyFusion([64, 640])
first = early.f[0]  # the Linear layer on x_1 ⊕ x_2
W_1, W_2 = first.weight[:, :64], first.weight[:, 64:]  # (128, 64), (128, 640)
joined = first(fusion.concat_features([x1[:5], x2[:5]]))  # (5, 128)
by_blocks = x1[:5] @ W_1.T + x2[:5] @ W_2.T + first.bias  # (5, 128)
gap = (joined - by_blocks).abs().max().item()
assert gap < 1e-5
print(f"W (x_1 ⊕ x_2) vs W_1 x_1 + W_2 x_2: largest difference below 1e-5: {gap < 1e-5}")

# %%
seconds = fit(early, (x1, x2), y)
print(f"early fusion trained in {seconds:.1f} s; under heavy noise: "
      f"{accuracy(predict(early, x1_heavy, x2_heavy), heavy_test.labels):.2f}")

# %% [markdown]
# ### 2.3 Late fusion: $\hat y_{\text{final}} = \sum_i w_i \hat y_i$
#
# Late fusion keeps one model per modality, each trained on its own, and mixes their **predictions**:
# with $\hat y_i = \operatorname{softmax}(f_i(x_i))$ the class probabilities of model $i$ and ensemble
# weights $w_i \ge 0$ with $\sum_i w_i = 1$,
#
# $$\hat y_{\text{final}} = \sum_{i=1}^{n} w_i\, \hat y_i ,$$
#
# again a probability for each class. Late fusion cannot learn interactions between the modalities (which
# pixel goes with which sound); in exchange, a modality that is missing can simply be left out of the sum.

# %% [raw]
# # BEGIN QUESTION
# name: q05_late_fusion
# points: 2

# %% [markdown]
# **Exercise 5.1 — late fusion with weights.** Write `late_fusion(scores, weights)`. `scores` is a list of
# $n$ tensors, one per modality, each $(B, \text{classes})$: the scores $f_i(x_i)$ of model $i$ (before any
# softmax). `weights` is a tensor $(n,)$ of ensemble weights $w_i$. Return $\sum_i w_i \hat y_i$ with
# $\hat y_i = \operatorname{softmax}(f_i(x_i))$ over the classes: a tensor $(B, \text{classes})$.

# %% [raw]
# # BEGIN SOLUTION

# %%
def late_fusion(scores, weights):
    """Σ_i w_i softmax(scores_i): n tensors (B, classes) and weights (n,) → (B, classes)."""
    # BEGIN SOLUTION
    y_hat = torch.stack([s.softmax(dim=-1) for s in scores])  # (n, B, classes): ŷ_i
    return (weights[:, None, None] * y_hat).sum(dim=0)  # (B, classes): Σ_i w_i ŷ_i
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_late_fusion_on_two_modalities(late_fusion):
    import torch
    from mmcourse.exercises import close, finished, not_the_mistake, same_shape

    s_1 = torch.tensor([[2.0, 0.0, 0.0, 1.0], [0.0, 1.0, 3.0, 0.0], [1.0, 1.0, 1.0, 4.0]])  # (B=3, classes=4)
    s_2 = torch.tensor([[0.0, 3.0, 0.0, 0.0], [2.0, 0.0, 0.0, 1.0], [0.0, 0.0, 5.0, 0.0]])
    w = torch.tensor([0.7, 0.3])
    what = "late_fusion([s_1, s_2], w=[0.7, 0.3])"
    got = finished(late_fusion([s_1, s_2], w), what)
    same_shape(got, (3, 4), what)
    p_1, p_2 = s_1.softmax(1), s_2.softmax(1)
    not_the_mistake(got, 0.7 * s_1 + 0.3 * s_2, what,
                    "you added the scores f_i(x_i): late fusion adds probabilities, so apply a softmax to each "
                    "modality's scores first (ŷ_i = softmax(f_i(x_i)))")
    not_the_mistake(got, 0.7 * s_1.softmax(0) + 0.3 * s_2.softmax(0), what,
                    "your softmax runs over the batch (dim 0): each example's probabilities must sum to 1 over "
                    "the classes, the last dimension")
    not_the_mistake(got, (p_1 + p_2) / 2, what,
                    "you ignored the weights (a plain average): multiply ŷ_i by w_i")
    not_the_mistake(got, 0.3 * p_1 + 0.7 * p_2, what,
                    "the weights are swapped: weights[i] belongs to scores[i]")
    not_the_mistake(got, 0.7 * p_1.log() + 0.3 * p_2.log(), what,
                    "you added log-probabilities (a product of experts): the seminar's late fusion adds the "
                    "probabilities ŷ_i themselves")
    close(got, 0.7 * p_1 + 0.3 * p_2, what)


test_late_fusion_on_two_modalities(late_fusion)

# %%
# HIDDEN
def test_late_fusion_on_three_modalities(late_fusion):
    import torch
    from mmcourse.exercises import close
    from mmcourse.fusion import late_fusion as reference

    g = torch.Generator().manual_seed(7)
    scores = [torch.randn(6, 5, generator=g) * 3 for _ in range(3)]
    w = torch.tensor([0.5, 0.2, 0.3])
    what = "late_fusion of three modalities, B=6, 5 classes"
    got = late_fusion(scores, w)
    close(got, reference(scores, w), what)
    close(got.sum(1), torch.ones(6), "the rows of " + what,
          hint="with weights that sum to 1 every row is a probability distribution")


test_late_fusion_on_three_modalities(late_fusion)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
_g = torch.Generator().manual_seed(3)
late_probe = ([torch.randn(4, 10, generator=_g), torch.randn(4, 10, generator=_g)], torch.tensor([0.4, 0.6]))
late_fusion_used = student_or_reference(late_fusion, fusion.late_fusion, late_probe, "late_fusion")

# %% [markdown]
# **Choosing the weights.** The weights are not trained by gradient descent here: with two modalities,
# $w_2 = 1 - w_1$, and we try 21 values of $w_1$ and keep the one with the best accuracy on the
# **validation voice** (never on the test set). The curve shows what each choice costs.

# %%
validation_scores = [predict(f_1, x1_all[is_validation]), predict(f_2, x2_all[is_validation])]
validation_labels = y_all[is_validation]
w_grid = torch.linspace(0, 1, 21)
validation_accuracy = torch.tensor([accuracy(late_fusion_used(validation_scores, torch.stack([w, 1 - w])),
                                             validation_labels) for w in w_grid])
w_image = float(w_grid[validation_accuracy.argmax()])
weights = torch.tensor([w_image, 1 - w_image])
print(f"chosen weights: w_1 (image) = {weights[0]:.2f}, w_2 (speech) = {weights[1]:.2f}; "
      f"validation accuracy {validation_accuracy.max():.3f}")

fig, ax = plt.subplots(figsize=(5, 2.6))
ax.plot(w_grid, validation_accuracy, "o-", ms=3)
ax.axvline(w_image, color="tab:red", lw=0.8)
ax.set(xlabel="w_1, the weight of the image (w_2 = 1 − w_1)", ylabel="validation accuracy",
       title="late fusion: choosing the ensemble weights")
plt.show()

# %% [markdown]
# The ends of the curve are the unimodal models ($w_1 = 0$: speech only, $w_1 = 1$: image only). A broad
# range of mixes in between beats both, and many weights are nearly as good as the best. The best weight
# depends on how noisy each modality is, on average, in the data it was chosen on: more noise in the
# speech would move it towards the image. One fixed weight is late fusion's weakness: it cannot trust the
# image more for the one example whose speech is drowned.
#
# `fusion.LateFusion` wraps the two trained models and the chosen weights; when a modality is missing it
# drops that term and renormalises the other weights. With `log=True` it adds **log**-probabilities
# instead, $\sum_i w_i \log \hat y_i$: a weighted *product* of the models' probabilities. If the two
# modalities were independent given the digit, Bayes' rule would give exactly such a product (with equal
# weights and up to the class prior), which is why this variant often fuses better.

# %%
late = fusion.LateFusion([f_1, f_2], weights)
late_product = fusion.LateFusion([f_1, f_2], weights, log=True)
for name, model in (("late (Σ w_i ŷ_i)", late), ("late (Σ w_i log ŷ_i)", late_product)):
    print(f"{name}: under heavy noise {accuracy(predict(model, x1_heavy, x2_heavy), heavy_test.labels):.2f}")

# %% [markdown]
# ### 2.4 Joint fusion: $z_{\text{joint}} = f_1(x_1) \oplus f_2(x_2)$, $\hat y = g(z_{\text{joint}})$
#
# Joint fusion sits in between: each modality has its own encoder $f_i$, the encoders' **features** are
# joined into $z_{\text{joint}}$, and a head $g$ learns how they interact. The seminar adds: *"$f_i$ is
# updated only by the loss from $x_i$"*. We take that literally: the encoders of the unimodal models of
# 2.1, trained each by its own modality's loss, are frozen, and only $g$ is trained on
# $z_{\text{joint}}$ (64 + 64 = 128 numbers).
#
# > **A note on the seminar's remark.** Elsewhere, *joint fusion* often means the opposite training: the
# > loss of $\hat y$ flows back into every $f_i$, **end to end** (Huang et al., 2020, call the version with
# > separately trained feature extractors a kind of early fusion). Both are "features joined, then a head";
# > they differ in how the $f_i$ learn. We build both: `JointFusion(..., train_encoders=False)` is the
# > seminar's, and the end-to-end one starts from fresh encoders and trains everything for 10 epochs (as
# > many passes as the two steps of the seminar's version together).

# %%
joint = fusion.JointFusion([copy.deepcopy(f_1.encoder), copy.deepcopy(f_2.encoder)], joint_size=128,
                           train_encoders=False)
seconds = fit(joint, (x1, x2), y)
z = mmcourse.check_shape(joint.z_joint(x1[:5], x2[:5]), (5, 128), "z_joint")
joint_e2e = fusion.JointFusion([fusion.UnimodalClassifier(64).encoder, fusion.UnimodalClassifier(640).encoder],
                               joint_size=128)
seconds += fit(joint_e2e, (x1, x2), y, TrainConfig(epochs=10, batch_size=128, lr=3e-3, progress=False))
trainable = sum(p.numel() for p in joint.parameters() if p.requires_grad)
print(f"both joint models trained in {seconds:.1f} s ({trainable} trainable parameters in the seminar's, "
      f"{sum(p.numel() for p in joint_e2e.parameters())} in the end-to-end one)")
for name, model in (("joint (f_i by their own loss)", joint), ("joint (end to end)", joint_e2e)):
    print(f"{name}: under heavy noise {accuracy(predict(model, x1_heavy, x2_heavy), heavy_test.labels):.2f}")

# %% [markdown]
# ### 2.5 Each $f_i$ by its own loss, or end to end?
#
# Why would freezing encoders help? Train a late-fusion model end to end, $\hat y = \sum_i w_i \log
# \operatorname{softmax}(f_i(x_i))$ with one loss on $\hat y$, and then look at each $f_i$ **alone**. In
# end-to-end training a branch only has to fix what the other branch gets wrong: once the pair is
# classified, its loss is small and neither branch learns more. A branch trained on its own loss must
# classify every example by itself, so it learns everything its modality has to offer. (Wang, Tran and
# Feiszli, 2020, saw a related effect in video classification: networks trained end to end on several
# modalities are often worse than their best single modality, because the modalities learn and overfit at
# different speeds.)

# %%
late_e2e = fusion.LateFusion([fusion.UnimodalClassifier(64), fusion.UnimodalClassifier(640)], [0.5, 0.5], log=True)
seconds = fit(late_e2e, (x1, x2), y)
branch = {}
for name, data in (("clean", clean_test), ("heavy noise", heavy_test)):
    a, b = features(data)
    branch[name] = {"image, own loss": accuracy(predict(f_1, a), data.labels),
                    "image, end to end": accuracy(predict(late_e2e.models[0], a), data.labels),
                    "speech, own loss": accuracy(predict(f_2, b), data.labels),
                    "speech, end to end": accuracy(predict(late_e2e.models[1], b), data.labels)}
print(f"trained in {seconds:.1f} s; each branch alone:")
for name, row in branch.items():
    print(f"  {name:12s}", ", ".join(f"{k} {v:.2f}" for k, v in row.items()))

fig, ax = plt.subplots(figsize=(6.5, 2.6))
labels_shown = list(branch["clean"])
x = np.arange(len(labels_shown))
for offset, name in ((-0.2, "clean"), (0.2, "heavy noise")):
    ax.bar(x + offset, [branch[name][k] for k in labels_shown], 0.4, label=name)
ax.set_xticks(x, [k.replace(", ", "\n") for k in labels_shown], fontsize=8)
ax.set(ylabel="test accuracy of the branch alone", ylim=(0, 1), title="one branch, two ways to train it")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The image branch comes out about the same either way, but the speech branch trained inside the
# end-to-end model is clearly weaker on its own than the same network trained by its own loss, clean and
# under heavy noise: end to end, the image did part of its job, so it learned less. That is what the
# seminar's joint fusion keeps: encoders that each know their modality fully, so that $g$ gets the best
# features each modality can give, and only has to learn how to combine them.
#
# ## 3 · Robustness: noise in each modality, and a missing modality
#
# Now every method meets the same test pairs, first under heavy noise (the recorded numbers), then as the
# noise in one modality grows while the other stays at its heavy level, and finally with one modality
# missing. Late fusion knows which modality is missing (the `present` mask) and leaves it out; the other
# fusions get zeros in its place, as in training.

# %%
METHODS = {  # name → class probabilities (B, 10) from x_1, x_2 and which modalities are present (B, 2)
    "image only": lambda a, b, present: f_1(a).softmax(-1),
    "speech only": lambda a, b, present: f_2(b).softmax(-1),
    "early": lambda a, b, present: early(a, b).softmax(-1),
    "late": lambda a, b, present: late(a, b, present=present),
    "joint": lambda a, b, present: joint(a, b).softmax(-1),
    "joint (end to end)": lambda a, b, present: joint_e2e(a, b).softmax(-1),
}


@torch.no_grad()
def accuracies(data):
    """Test accuracy of every method on one set of pairs."""
    a, b = features(data)
    present = torch.stack([data.has_image, data.has_audio], dim=1)  # (N, 2)
    return {name: accuracy(method(a, b, present), data.labels) for name, method in METHODS.items()}


heavy = accuracies(heavy_test)
acc_image_only = mmcourse.record("acc_image_only", heavy["image only"])
acc_audio_only = mmcourse.record("acc_audio_only", heavy["speech only"])
acc_early = mmcourse.record("acc_early", heavy["early"])
acc_late = mmcourse.record("acc_late", heavy["late"])
acc_joint = mmcourse.record("acc_joint", heavy["joint"])
fusion_gain_under_noise = mmcourse.record("fusion_gain_under_noise", max(acc_early, acc_late, acc_joint)
                                          - max(acc_image_only, acc_audio_only))
assert max(acc_image_only, acc_audio_only) < 0.8, "heavy noise: neither modality alone is good"
assert fusion_gain_under_noise >= 0.10

# %%
SNR_SWEEP = [None, 20.0, 10.0, 5.0, 0.0, -5.0, -7.5, -10.0, -15.0]
IMAGE_SWEEP = [0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75]
start = time.perf_counter()
speech_sweep = [accuracies(test_pairs(snr, HEAVY_IMAGE)) for snr in SNR_SWEEP]
image_sweep = [accuracies(test_pairs(HEAVY_SNR_DB, q)) for q in IMAGE_SWEEP]
missing = {"no image": accuracies(test_pairs(HEAVY_SNR_DB, HEAVY_IMAGE, p_missing_image=1.0)),
           "no speech": accuracies(test_pairs(HEAVY_SNR_DB, HEAVY_IMAGE, p_missing_audio=1.0))}
print(f"{len(SNR_SWEEP) + len(IMAGE_SWEEP) + 2} test conditions evaluated in {time.perf_counter() - start:.1f} s")
print("missing modality:", {m: {k: round(v, 2) for k, v in r.items()} for m, r in missing.items()})

# %%
STYLE = {"image only": ("C0", "--"), "speech only": ("C1", "--"), "early": ("C2", "-"), "late": ("C3", "-"),
         "joint": ("C4", "-"), "joint (end to end)": ("C5", ":")}
fig, axes = plt.subplots(1, 3, figsize=(10, 3.6), gridspec_kw={"width_ratios": [1.2, 1.2, 1]})
snr_x = np.arange(len(SNR_SWEEP))
for name, (colour, line) in STYLE.items():
    axes[0].plot(snr_x, [r[name] for r in speech_sweep], line, color=colour, marker="o", ms=3, label=name)
    axes[1].plot(IMAGE_SWEEP, [r[name] for r in image_sweep], line, color=colour, marker="o", ms=3)
axes[0].set_xticks(snr_x, ["clean" if s is None else f"{s:g}" for s in SNR_SWEEP])
axes[0].set(xlabel="speech SNR (dB); images at q = 0.25", ylabel="test accuracy", ylim=(0, 1),
            title="noisier speech →")
axes[0].axvline(SNR_SWEEP.index(HEAVY_SNR_DB), color="grey", lw=0.6)
axes[1].set(xlabel="image severity q; speech at −7.5 dB", ylim=(0, 1), title="more hidden and noisier images →")
axes[1].axvline(HEAVY_IMAGE, color="grey", lw=0.6)
width = 0.8 / len(STYLE)
for k, (name, (colour, _)) in enumerate(STYLE.items()):
    axes[2].bar(np.arange(2) + (k - 2.5) * width, [missing[m][name] for m in missing], width, color=colour)
axes[2].set_xticks(range(2), ["no image\n(speech at −7.5 dB)", "no speech\n(images at q = 0.25)"], fontsize=8)
axes[2].set(ylim=(0, 1), title="one modality missing")
fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=6, fontsize=8)
fig.tight_layout(rect=(0, 0.08, 1, 1))
plt.show()

# %% [markdown]
# **Reading the figure** (the grey lines mark heavy noise, where the numbers above were recorded):
#
# - **Each modality alone** falls off a cliff once its own noise is heavy; under heavy noise neither gets
#   much more than 60 % right.
# - **Fusion helps most when both modalities are partly broken**: around the grey lines every fusion beats
#   both single modalities, because the two modalities fail on different examples. When one modality is
#   clean, fusion is about as good as that modality alone; there is little left to add.
# - **When one modality is destroyed**, the fusions part ways. **Early fusion** suffers most: it must learn
#   from 704 raw numbers at once which ones to trust, and at −15 dB (noisier than anything in training) or
#   with the image missing it falls *below* the remaining modality alone. **Late fusion** with its fixed
#   weights keeps trusting the broken speech at −15 dB; but a *missing* modality it simply leaves out, so
#   then it is exactly as good as the other one.
# - **The seminar's joint fusion** is the best or close to it everywhere: its encoders, each trained on its
#   own modality, give $g$ good features, and $g$ learns from them how far to trust each modality for each
#   example (a learned, per-example weighting, where late fusion has one fixed $w_i$). With the image
#   missing it even beats speech alone, probably because its head $g$ has a hidden layer where $f_2$'s head
#   is linear.
#   The same architecture trained **end to end** is worse, as 2.5 predicted.

# %% [markdown]
# ## 4 · AVDCNN: audio-visual speech enhancement
#
# **Intuition.** Classification only needs the label. Speech *enhancement* must give back the clean speech
# itself. AVDCNN (Hou et al.) feeds a noisy speech spectrogram and an image of the speaker's mouth to one
# network, and asks it for the clean speech **and** the image back. The image helps because it shows what
# is being said: when the noise is itself speech-like, the sound alone cannot tell which of the voices to
# keep.
#
# **Math, in the seminar's notation.** With $X_A$ the noisy speech, $X_V$ the image, $Y$ the clean speech,
# $f_A, f_V$ the encoders and $g_{\text{common}}, g_A, g_V$ the decoders:
#
# $$Z_{\text{joint}} = f_A(X_A) \oplus f_V(X_V), \qquad \hat Y = g_A \circ g_{\text{common}}(Z_{\text{joint}}),
#   \qquad \hat X_V = g_V \circ g_{\text{common}}(Z_{\text{joint}}),$$
#
# $$\mathcal{L} = \min_\theta \frac{1}{K} \sum_{i=1}^{K} \Big( \lVert \hat Y_i - Y_i \rVert_2^2
#   + \mu \lVert \hat X_{V,i} - X_{V,i} \rVert_2^2 \Big),$$
#
# over the $K$ examples of a batch, with $\mu \ge 0$ the weight of the image reconstruction.
#
# **Our version.** The speaker's mouth becomes the digit image of our pairs (it shows *what* is said, as
# lips do). The noise is a **competing talker**: another held-out voice saying another digit, as loud as
# the target (0 dB), plus a little white noise (20 dB). The speech is an STFT magnitude spectrogram
# (windows of 256 samples every 128: $F = 129$ frequency bins × $T = 41$ frames for 0.64 s), scaled by one
# number from the training set.
#
# `fusion.AVEnhancer` follows the seminar's diagram: $f_A$ is a convolution over time with the 129 bins as
# channels, $f_V$ a linear layer on the 64 pixels whose output is repeated at every frame, $g_{\text{common}}$
# two convolutions over $Z_{\text{joint}}$; $g_A$ outputs a gain between 0 and 1 per bin and frame that
# multiplies the noisy spectrogram (the usual way to make a small enhancer learn fast), and $g_V$ maps the
# time average of $g_{\text{common}}$'s features back to 64 pixels. The **audio-only enhancer** is the
# same network with the image replaced by zeros: the same size, the same training, no vision.

# %%
ENHANCE_LENGTH = 5120  # samples: 0.64 s at 8 kHz


def enhancement_pairs(split, snr_db, seed, pairs=1):
    """Digit images with speech mixed with a competing talker at snr_db (+ white noise at 20 dB)."""
    return make_av_digits(split, AVDigitsConfig(seed=seed, audio_length=ENHANCE_LENGTH, interferer_snr_db=snr_db,
                                                snr_db=20.0, pairs_per_utterance=pairs))


enhance_train = [enhancement_pairs("train", snr, seed) for seed, snr in enumerate((-5.0, 0.0, 5.0))]
noisy_train = torch.cat([d.waveforms for d in enhance_train])  # (N, L)
X_A_train = fusion.magnitude_and_phase(noisy_train)[0]  # (N, F, T) noisy magnitudes
Y_train = fusion.magnitude_and_phase(torch.cat([d.clean_waveforms for d in enhance_train]))[0]  # (N, F, T)
X_V_train = torch.cat([d.clean_images for d in enhance_train]).flatten(1)  # (N, 64)
scale = X_A_train.std()
mmcourse.check_shape(X_A_train, (len(noisy_train), 129, 41), "X_A")
print(f"{len(noisy_train)} training mixtures; interferers say other digits: "
      f"{bool((enhance_train[0].labels[enhance_train[0].interferers] != enhance_train[0].labels).all())}")

# %% [markdown]
# **Check: back to waveforms.** To listen and to measure, we need waveforms again. The STFT is invertible:
# with its magnitude *and* phase, `fusion.waveform_from` returns the waveform exactly. The enhancer only
# predicts magnitudes; for measuring we borrow the phase of the noisy input (standard practice in
# magnitude-domain enhancement).

# %%
# NBVAL_CHECK_OUTPUT
magnitude, phase = fusion.magnitude_and_phase(noisy_train[:4])
round_trip = (fusion.waveform_from(magnitude, phase, ENHANCE_LENGTH) - noisy_train[:4]).abs().max().item()
assert round_trip < 1e-5
print(f"STFT → inverse STFT gives the waveform back: largest difference below 1e-5: {round_trip < 1e-5}")

# %% [raw]
# # BEGIN QUESTION
# name: q05_avdcnn_loss
# points: 2

# %% [markdown]
# **Exercise 5.2 — the AVDCNN loss.** Write `avdcnn_loss(Y_hat, Y, X_V_hat, X_V, mu)`. `Y_hat` and `Y` are
# $(K, F, T)$ (enhanced and clean spectrograms), `X_V_hat` and `X_V` are $(K, P)$ (reconstructed and true
# images), `mu` a number. Return the scalar tensor
# $\frac{1}{K} \sum_{i=1}^{K} \big( \lVert \hat Y_i - Y_i \rVert_2^2
#   + \mu \lVert \hat X_{V,i} - X_{V,i} \rVert_2^2 \big)$, where each squared norm sums over **all** the
# numbers of example $i$. It must stay a torch tensor (it is the loss the enhancer below is trained with).

# %% [raw]
# # BEGIN SOLUTION

# %%
def avdcnn_loss(Y_hat, Y, X_V_hat, X_V, mu):
    """1/K Σ_i (‖Ŷ_i − Y_i‖² + μ‖X̂_V,i − X_V,i‖²)."""
    # BEGIN SOLUTION
    speech = (Y_hat - Y).pow(2).flatten(1).sum(dim=1)  # (K,) ‖Ŷ_i − Y_i‖²
    image = (X_V_hat - X_V).pow(2).flatten(1).sum(dim=1)  # (K,) ‖X̂_V,i − X_V,i‖²
    return (speech + mu * image).mean()
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_avdcnn_loss_on_a_small_batch(avdcnn_loss):
    import torch
    from mmcourse.exercises import ExerciseError, close, finished, not_the_mistake

    g = torch.Generator().manual_seed(0)
    Y, Y_hat = torch.rand(2, 3, 4, generator=g), torch.rand(2, 3, 4, generator=g)  # (K=2, F=3, T=4)
    X_V, X_V_hat = torch.rand(2, 5, generator=g), torch.rand(2, 5, generator=g)  # (K=2, P=5)
    Y_hat.requires_grad_(True)
    what = "avdcnn_loss(Y_hat, Y, X_V_hat, X_V, mu=0.5)"
    got = finished(avdcnn_loss(Y_hat, Y, X_V_hat, X_V, 0.5), what)
    if not isinstance(got, torch.Tensor) or got.ndim != 0:
        raise ExerciseError(f"{what} must be a scalar torch tensor (0-dim), got {type(got).__name__} "
                            f"{tuple(getattr(got, 'shape', ()))}: return a tensor, not .item() or a list")
    if not got.requires_grad:
        raise ExerciseError(f"{what} carries no gradient: compute it with torch operations on the inputs "
                            "(no .item(), .detach() or numpy) so the enhancer can learn from it")
    speech = ((Y_hat - Y) ** 2).sum(dim=(1, 2))  # (K,)
    image = ((X_V_hat - X_V) ** 2).sum(dim=1)  # (K,)
    not_the_mistake(got, ((Y_hat - Y) ** 2).mean() + 0.5 * ((X_V_hat - X_V) ** 2).mean(), what,
                    "you averaged over every number (like F.mse_loss): each squared norm sums over all the "
                    "numbers of one example; only the K examples are averaged")
    not_the_mistake(got, (speech + 0.5 * image).sum(), what,
                    "you summed over the K examples: the seminar's loss averages them (1/K Σ_i)")
    not_the_mistake(got, (speech.sqrt() + 0.5 * image.sqrt()).mean(), what,
                    "your norms are not squared: ‖Ŷ_i − Y_i‖² is the sum of the squared differences, without "
                    "a square root")
    not_the_mistake(got, (0.5 * speech + image).mean(), what,
                    "μ weighs the wrong term: it multiplies the image reconstruction ‖X̂_V,i − X_V,i‖²")
    not_the_mistake(got, (speech + image).mean(), what,
                    "you left out μ: the image term is μ‖X̂_V,i − X_V,i‖²")
    close(got, (speech + 0.5 * image).mean(), what)


test_avdcnn_loss_on_a_small_batch(avdcnn_loss)

# %%
# HIDDEN
def test_avdcnn_loss_against_the_reference(avdcnn_loss):
    import torch
    from mmcourse.exercises import close
    from mmcourse.fusion import avdcnn_loss as reference

    g = torch.Generator().manual_seed(4)
    Y, Y_hat = torch.randn(5, 7, 9, generator=g), torch.randn(5, 7, 9, generator=g)
    X_V, X_V_hat = torch.randn(5, 64, generator=g), torch.randn(5, 64, generator=g)
    for mu in (0.0, 3.0):
        close(avdcnn_loss(Y_hat, Y, X_V_hat, X_V, mu), reference(Y_hat, Y, X_V_hat, X_V, mu),
              f"avdcnn_loss with K=5, F=7, T=9, P=64, mu={mu}", rtol=1e-5)


test_avdcnn_loss_against_the_reference(avdcnn_loss)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
_g = torch.Generator().manual_seed(5)
loss_probe = (torch.rand(3, 4, 5, generator=_g), torch.rand(3, 4, 5, generator=_g), torch.rand(3, 6, generator=_g),
              torch.rand(3, 6, generator=_g), 2.0)
avdcnn_loss_used = student_or_reference(avdcnn_loss, fusion.avdcnn_loss, loss_probe, "avdcnn_loss")

# %% [markdown]
# **Check against a reference:** the speech term is `F.mse_loss(Y_hat, Y, reduction="sum") / K` and the
# image term `mu * F.mse_loss(X_V_hat, X_V, reduction="sum") / K`.

# %%
# NBVAL_CHECK_OUTPUT
K = 3
reference_loss = (F.mse_loss(loss_probe[0], loss_probe[1], reduction="sum")
                  + 2.0 * F.mse_loss(loss_probe[2], loss_probe[3], reduction="sum")) / K
assert abs(avdcnn_loss_used(*loss_probe).item() - reference_loss.item()) < 1e-5
print(f"AVDCNN loss {avdcnn_loss(*loss_probe).item():.4f} = summed squared errors / K {reference_loss.item():.4f}")

# %% [markdown]
# **Training.** Both enhancers train for 12 epochs on 1,350 training mixtures (the 9 training voices, each
# utterance mixed at −5, 0 and +5 dB). The audio-visual one uses $\mu = 1$; the audio-only one cannot see
# the image, so its loss is the speech term alone.

# %%
ENHANCER_TRAINING = TrainConfig(epochs=12, batch_size=32, lr=3e-3, progress=False)


def train_enhancer(mu, use_image=True):
    """An AVDCNN-style enhancer trained with the AVDCNN loss at this μ."""
    torch.manual_seed(0)
    model = fusion.AVEnhancer(use_image=use_image)

    def batch_loss(X_A, X_V, Y):
        Y_hat, X_V_hat = model(X_A, X_V)
        return avdcnn_loss_used(Y_hat, Y, X_V_hat, X_V, mu)

    train(model, batch_loss, (X_A_train / scale, X_V_train, Y_train / scale), ENHANCER_TRAINING)
    return model


start = time.perf_counter()
enhancer_av, enhancer_audio = train_enhancer(1.0), train_enhancer(0.0, use_image=False)
sizes = [sum(p.numel() for p in model.parameters()) for model in (enhancer_av, enhancer_audio)]
print(f"two enhancers trained in {time.perf_counter() - start:.1f} s; parameters: audio-visual {sizes[0]}, "
      f"audio-only {sizes[1]}")

# %% [markdown]
# **Measuring in dB.** The SNR of a signal $\hat s$ against the clean speech $s$ is
# $10 \log_{10} \big(\sum_t s_t^2 / \sum_t (\hat s_t - s_t)^2\big)$ (`mmcourse.noise.measure_snr_db`,
# notebook 01). The **gain** of an enhancer is the SNR of its output minus the SNR of its noisy input,
# averaged over the test mixtures; the output waveform is the enhanced magnitude with the noisy phase.
# Every test mixture uses the three held-out voices, for the target and for the competing talker.

# %%
@torch.no_grad()
def enhance(model, data, image=None):
    """Enhanced waveforms (N, L) and reconstructed images (N, 64) for one set of test mixtures."""
    magnitude, phase = fusion.magnitude_and_phase(data.waveforms)  # (N, F, T) each
    X_V = data.clean_images.flatten(1) if image is None else image  # (N, 64)
    Y_hat, X_V_hat = model(magnitude / scale, X_V)
    return fusion.waveform_from(Y_hat * scale, phase, ENHANCE_LENGTH), X_V_hat


def gains_db(model, data, image=None):
    """SNR gain (dB) of model on each mixture (N,): SNR(enhanced) − SNR(noisy), both against the clean speech."""
    enhanced, _ = enhance(model, data, image)
    return measure_snr_db(data.clean_waveforms, enhanced) - measure_snr_db(data.clean_waveforms, data.waveforms)


def gain_db(model, data, image=None):
    """The mean SNR gain (dB) over the mixtures of data."""
    return gains_db(model, data, image).mean().item()


TEST_MIX_SNRS = [-5.0, 0.0, 5.0]
enhance_test = {snr: enhancement_pairs("test", snr, seed=100, pairs=2) for snr in TEST_MIX_SNRS}
test_mix = enhance_test[0.0]
enhancement_gain_db_av = mmcourse.record("enhancement_gain_db_av", gain_db(enhancer_av, test_mix))
enhancement_gain_db_audio_only = mmcourse.record("enhancement_gain_db_audio_only", gain_db(enhancer_audio, test_mix))
enhancement_gain_db_av_minus_audio = mmcourse.record("enhancement_gain_db_av_minus_audio",
                                                     enhancement_gain_db_av - enhancement_gain_db_audio_only)
assert enhancement_gain_db_av_minus_audio > 0

# %% [markdown]
# Both enhancers gain a few dB: part of a competing talker can be removed by sound alone (the voices differ
# in pitch and timing). The audio-visual enhancer gains more: it knows which digit is the target.
# **Does it really use the image?** Give it the image of a *wrong* digit: if the image only decorated the
# input, nothing would change.

# %%
wrong_digit = (test_mix.labels + 3) % 10  # (N,) another digit for every mixture
wrong_image = torch.stack([test_mix.clean_images[int(torch.nonzero(test_mix.labels == d)[0])] for d in wrong_digit])
wrong_gain = gain_db(enhancer_av, test_mix, wrong_image.flatten(1))
print(f"gain at 0 dB: audio-visual {enhancement_gain_db_av:.2f} dB, audio-only {enhancement_gain_db_audio_only:.2f} "
      f"dB, audio-visual shown the wrong digit {wrong_gain:.2f} dB")
gains_by_snr = {name: [gain_db(model, enhance_test[snr]) for snr in TEST_MIX_SNRS]
                for name, model in (("audio-visual", enhancer_av), ("audio-only", enhancer_audio))}
print("gain (dB) at input SNR", TEST_MIX_SNRS, {k: [round(g, 2) for g in v] for k, v in gains_by_snr.items()})

# %% [markdown]
# With the wrong digit the audio-visual enhancer does worse than the audio-only one: it keeps what sounds
# like the digit it was shown, which is now the competing talker. The image is not decoration; it steers
# the enhancement.
#
# ### 4.1 Look and listen
#
# Spectrograms of one test mixture (the one whose audio-visual gain is closest to the average), then four
# players. The enhanced waveforms for listening are recovered from the enhanced magnitudes **alone**, with
# Griffin-Lim (below); they sound slightly "phasey", as every magnitude-only reconstruction does, but
# nothing of the noisy input is reused.
#
# **Griffin-Lim.** Find a waveform whose STFT magnitude matches a given $|S|$: start from zero phase, then
# repeat *inverse STFT → STFT → keep the new phase, put the wanted magnitude back*. Without momentum, each
# step can only bring the spectrogram closer to one that a waveform really has. The fast variant (Perraudin et al.) adds
# momentum to the phase update. **Check against a reference:** `fusion.griffin_lim` against
# `torchaudio.functional.griffinlim` with the same settings.

# %%
# NBVAL_CHECK_OUTPUT
probe_magnitude = fusion.magnitude_and_phase(test_mix.clean_waveforms[:3])[0]
ours = fusion.griffin_lim(probe_magnitude, ENHANCE_LENGTH, n_iter=16)
theirs = torchaudio.functional.griffinlim(probe_magnitude, torch.hann_window(fusion.N_FFT), fusion.N_FFT, fusion.HOP,
                                          fusion.N_FFT, 1.0, 16, 0.99, ENHANCE_LENGTH, False)
gap = (ours - theirs).abs().max().item()
assert gap < 1e-5
print(f"our Griffin-Lim vs torchaudio's: largest difference below 1e-5: {gap < 1e-5}")


# %%
def spectrogram_panel(ax, magnitude, title, top_db):
    """One magnitude spectrogram (F, T) in dB, from top_db − 60 to top_db."""
    ax.imshow(20 * np.log10(magnitude.numpy() + 1e-6), origin="lower", aspect="auto", cmap="magma", vmin=top_db - 60,
              vmax=top_db, extent=(0, ENHANCE_LENGTH / 8000, 0, 4000))
    ax.set_title(title, fontsize=8)
    ax.set_xlabel("time (s)", fontsize=8)


WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


@torch.no_grad()
def draw_enhancement(pair=0, snr_db=0.0, image="the right digit"):
    """One test mixture: spectrograms (noisy, audio-only, audio-visual, clean), the image, and players."""
    data = enhance_test[snr_db]
    target, other = int(data.labels[pair]), int(data.labels[data.interferers[pair]])
    X_V = data.clean_images[pair].flatten()[None]  # (1, 64)
    if image != "the right digit":
        X_V = data.clean_images[int(torch.nonzero(data.labels == (target + 3) % 10)[0])].flatten()[None]
    noisy_magnitude = fusion.magnitude_and_phase(data.waveforms[pair:pair + 1])[0]  # (1, F, T)
    av_magnitude, X_V_hat = enhancer_av(noisy_magnitude / scale, X_V)
    audio_magnitude = enhancer_audio(noisy_magnitude / scale, X_V)[0]
    clean_magnitude = fusion.magnitude_and_phase(data.clean_waveforms[pair:pair + 1])[0]
    top_db = 20 * np.log10(float(clean_magnitude.max()))
    fig, axes = plt.subplots(1, 6, figsize=(10, 2.6), gridspec_kw={"width_ratios": [1, 1, 1, 1, 0.45, 0.45]})
    for ax, m, title in zip(axes, (noisy_magnitude, audio_magnitude * scale, av_magnitude * scale, clean_magnitude),
                            (f"noisy: \"{WORDS[target]}\" + \"{WORDS[other]}\"", "audio-only enhanced",
                             "audio-visual enhanced", "clean target")):
        spectrogram_panel(ax, m[0], title, top_db)
    axes[4].imshow(X_V.view(8, 8), cmap="gray_r")
    axes[4].set_title("X_V shown", fontsize=8)
    axes[5].imshow(X_V_hat.view(8, 8).clamp(0, 1), cmap="gray_r")
    axes[5].set_title("X̂_V", fontsize=8)
    for ax in axes[4:]:
        ax.axis("off")
    axes[0].set_ylabel("frequency (Hz)", fontsize=8)
    fig.tight_layout()
    waves = {"noisy mixture": data.waveforms[pair],
             "audio-only enhanced (Griffin-Lim)": fusion.griffin_lim(audio_magnitude * scale, ENHANCE_LENGTH)[0],
             "audio-visual enhanced (Griffin-Lim)": fusion.griffin_lim(av_magnitude * scale, ENHANCE_LENGTH)[0],
             "clean target": data.clean_waveforms[pair]}
    players = [item for name, w in waves.items() for item in (Markdown(f"**{name}**"), viz.audio_player(w, 8000))]
    return (fig, *players)


typical = int((gains_db(enhancer_av, test_mix) - enhancement_gain_db_av).abs().argmin())  # a typical mixture
widgets.show(draw_enhancement(typical, 0))

# %% [markdown]
# In the noisy spectrogram two words overlap. The audio-only enhancer leaves more of the competing word;
# the audio-visual one removes more of it (look where only the other talker speaks), and rebuilds the
# image from its joint features ($\hat X_V$).
#
# ### 4.2 The effect of μ
#
# $\mu$ sets how much the shared layers $g_{\text{common}}$ must also serve the image reconstruction. With
# $\mu = 0$ the image is still an input but nothing asks for it back; a large $\mu$ makes the shared
# features spend their capacity on pixels. We train two more audio-visual enhancers, with $\mu = 0$ and $\mu = 1000$.

# %%
start = time.perf_counter()
MUS = [0.0, 1.0, 1000.0]
mu_models = {0.0: train_enhancer(0.0), 1.0: enhancer_av, 1000.0: train_enhancer(1000.0)}
mu_gain = {mu: gain_db(m, test_mix) for mu, m in mu_models.items()}
mu_image_error = {mu: (enhance(m, test_mix)[1] - test_mix.clean_images.flatten(1)).pow(2).sum(1).mean().item()
                  for mu, m in mu_models.items()}
print(f"two more enhancers trained in {time.perf_counter() - start:.1f} s")
for mu in MUS:
    print(f"  μ = {mu:5g}: speech gain {mu_gain[mu]:.2f} dB, image error ‖X̂_V − X_V‖² {mu_image_error[mu]:.2f}")

fig, axes = plt.subplots(1, 2, figsize=(9, 2.8))
axes[0].plot(TEST_MIX_SNRS, gains_by_snr["audio-visual"], "o-", label="audio-visual (μ = 1)")
axes[0].plot(TEST_MIX_SNRS, gains_by_snr["audio-only"], "s--", label="audio-only, same size")
axes[0].set(xlabel="input SNR (competing talker, dB)", ylabel="SNR gain (dB)", title="gain on held-out voices")
axes[0].legend(fontsize=8)
positions = np.arange(len(MUS))
axes[1].bar(positions, [mu_gain[mu] for mu in MUS], color="C2")
axes[1].axhline(enhancement_gain_db_audio_only, color="C1", ls="--", lw=1, label="audio-only")
axes[1].set_xticks(positions, [f"μ = {mu:g}" for mu in MUS])
axes[1].set(ylabel="SNR gain at 0 dB (dB)", title="the effect of μ", ylim=(0, max(mu_gain.values()) * 1.25))
for p, mu in zip(positions, MUS):
    axes[1].text(p, mu_gain[mu] + 0.1, f"image err {mu_image_error[mu]:.1f}", ha="center", fontsize=7)
axes[1].legend(fontsize=8, loc="lower right")
fig.tight_layout()
plt.show()

# %% [markdown]
# The audio-visual enhancer gains more than the audio-only one at every input SNR, most where the two
# voices are about equally loud. With $\mu = 0$ nothing asks for the image back, and $\hat X_V$ is
# useless (its error is that of an untrained layer); with $\mu = 1$ it becomes a recognisable digit and
# the speech gain is as good or better. With $\mu = 1000$ the image term dominates the loss: the shared
# layers trade speech for pixels and the speech gain drops. AVDCNN asks for the image back so that the
# shared layers keep the visual information (a second task for the same features); here the speech target
# alone already needs the digit, so a moderate $\mu$ costs nothing and a large one costs speech.
#
# **Try it:** make the noise white only (in `enhancement_pairs`, `interferer_snr_db=None` and `snr_db=0.0`)
# and retrain both enhancers. In our trials the image then added almost nothing: white noise is easy to
# tell from speech by sound alone, and vision pays off when the noise sounds like the speech.
#
# ## 5 · Play
#
# **Fusion under noise.** Pick a test pair, make its speech noisier and hide more of its image (the same
# test pairs and noise as in section 3; `snr_db` = 30 means clean speech). The draw function re-runs every
# trained model on that pair: each bar is the probability a method gives to the digit it predicts, green
# when right, red when wrong.

# %%
@lru_cache(maxsize=16)
def test_inputs(snr_db, image_severity):
    """x_1, x_2, waveforms and images of the 300 test pairs at one noise setting (about 0.2 s the first time)."""
    data = test_pairs(None if snr_db >= 30 else snr_db, image_severity)
    return (*features(data), data.waveforms, data.images)


@torch.no_grad()
def draw_fusion(pair=0, snr_db=HEAVY_SNR_DB, image_severity=HEAVY_IMAGE):
    """Every method's prediction and confidence for one test pair at the chosen noise."""
    x_1, x_2, waves, images = test_inputs(float(snr_db), float(image_severity))
    label = int(clean_test.labels[pair])
    both = torch.ones(1, 2, dtype=torch.bool)  # both modalities present
    probs = {name: method(x_1[pair:pair + 1], x_2[pair:pair + 1], both) for name, method in METHODS.items()}
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(10, 2.8), gridspec_kw={"width_ratios": [0.6, 1.3, 1.6]})
    left.imshow(images[pair, 0], cmap="gray_r", vmin=0, vmax=1)
    left.set_title(f"image (severity {image_severity:g})", fontsize=8)
    left.axis("off")
    middle.imshow(viz.log_spectrogram(waves[pair]), origin="lower", aspect="auto", cmap="magma")
    middle.set_title(f"speech \"{WORDS[label]}\" at {'clean' if snr_db >= 30 else f'{snr_db:g} dB'}", fontsize=8)
    middle.set_xticks([]), middle.set_yticks([])
    names = list(probs)[::-1]
    guesses = [int(probs[n].argmax()) for n in names]
    right.barh(names, [float(probs[n].max()) for n in names],
               color=["tab:green" if g == label else "tab:red" for g in guesses])
    for k, g in enumerate(guesses):
        right.text(0.02, k, f"says {g}", va="center", fontsize=8, color="white")
    right.set(xlim=(0, 1), xlabel="confidence in its prediction", title=f"truth: {label}")
    right.title.set_fontsize(9)
    right.tick_params(labelsize=8)
    fig.tight_layout()
    return fig


with torch.no_grad():  # a pair under heavy noise that both single modalities get wrong and joint fusion right
    heavy_probs = {name: method(x1_heavy, x2_heavy, torch.ones(len(heavy_test), 2, dtype=torch.bool))
                   for name, method in METHODS.items()}
is_right = {name: p.argmax(1) == heavy_test.labels for name, p in heavy_probs.items()}
rescued = torch.nonzero(~is_right["image only"] & ~is_right["speech only"] & is_right["joint"]).flatten()
print(f"under heavy noise, {len(rescued)} of {len(heavy_test)} pairs are missed by both single modalities "
      f"and classified right by joint fusion; the widget starts at the first, pair {int(rescued[0])}")
showcase = int(rescued[0])
widgets.show(draw_fusion(showcase))

# %%
widgets.explore(draw_fusion, pair=(0, len(clean_test) - 1, 1, showcase), snr_db=(-20.0, 30.0, 2.5, HEAVY_SNR_DB),
                image_severity=(0.0, 0.75, 0.125, HEAVY_IMAGE))

# %% [markdown]
# Things to try: find a pair on which the fusions disagree; set `snr_db` to 30 (clean speech) and hide most
# of the image; push the speech to −20 dB with a clean image and watch early and late fusion trust the
# broken speech. (The late-fusion bar always uses both modalities here: only a *missing* modality is left
# out.)
#
# **Listen to the enhancers.** Choose a test mixture, its input SNR, and whether the enhancer sees the right
# digit or a wrong one. The enhanced speech is recovered by Griffin-Lim for each choice (a fraction of a
# second).

# %%
widgets.explore(draw_enhancement, pair=(0, len(test_mix) - 1, 1, typical), snr_db=(-5, 5, 5, 0),
                image=["the right digit", "a wrong digit"])

# %% [markdown]
# ## Take-aways
#
# - **Early fusion**, $\hat y = f(x_1 \oplus \dots \oplus x_n)$, joins the inputs: its first layer is a sum
#   of one linear map per modality, and any interaction can be learned, but it has to learn from raw,
#   differently noisy inputs which ones to trust.
# - **Late fusion**, $\hat y_{\text{final}} = \sum_i w_i \hat y_i$, mixes the predictions of unimodal models
#   with weights chosen on held-out data; it learns no interaction, but it is robust and leaves a missing
#   modality out. Adding log-probabilities instead is a product of experts.
# - **Joint fusion**, $z_{\text{joint}} = f_1(x_1) \oplus \dots \oplus f_n(x_n)$, $\hat y = g(z_{\text{joint}})$,
#   joins learned features. Trained the seminar's way (each $f_i$ by its own loss, then $g$), it was the most
#   robust here; trained end to end, the branches learn less and it is worse.
# - Under **heavy noise in both modalities**, every fusion beats the best single modality by a wide margin:
#   the modalities fail on different examples.
# - **AVDCNN** is joint fusion with two decoders and the loss
#   $\frac1K \sum_i \lVert \hat Y_i - Y_i \rVert^2 + \mu \lVert \hat X_{V,i} - X_{V,i} \rVert^2$. When the
#   noise is speech-like, the image tells the enhancer which voice to keep: it gains more dB than an
#   audio-only enhancer of the same size, and a wrong image makes it keep the wrong voice.
#
# ## Further reading
#
# - J.-C. Hou, S.-S. Wang, Y.-H. Lai, Y. Tsao, H.-W. Chang and H.-M. Wang, "Audio-Visual Speech Enhancement
#   Using Multimodal Deep Convolutional Neural Networks", IEEE Transactions on Emerging Topics in
#   Computational Intelligence, 2018 (AVDCNN).
# - S.-C. Huang, A. Pareek, S. Seyyedi, I. Banerjee and M. P. Lungren, "Fusion of medical imaging and
#   electronic health records using deep learning: a systematic review and implementation guidelines",
#   npj Digital Medicine, 2020 (early, joint and late fusion, defined side by side).
# - W. Wang, D. Tran and M. Feiszli, "What Makes Training Multi-Modal Classification Networks Hard?",
#   CVPR 2020 (why end-to-end multimodal training can lose to a single modality).
# - T. Baltrušaitis, C. Ahuja and L.-P. Morency, "Multimodal Machine Learning: A Survey and Taxonomy",
#   IEEE TPAMI 2019 (model-agnostic and model-based fusion).
# - D. Griffin and J. Lim, "Signal Estimation from Modified Short-Time Fourier Transform", IEEE TASSP 1984;
#   N. Perraudin, P. Balazs and P. L. Søndergaard, "A Fast Griffin-Lim Algorithm", WASPAA 2013.
# - J. Arevalo et al., "Gated Multimodal Units for Information Fusion", ICLR workshop 2017, and
#   V. Vielzeuf et al., "CentralNet: a Multilayer Approach for Multimodal Fusion", ECCV workshops 2018
#   (learned fusion, and the AV-MNIST pairs our audio-visual digits imitate).

# %%
print(f"notebook ran in {time.perf_counter() - notebook_start:.0f} s; peak memory "
      f"{mmcourse.results.peak_rss_mb():.0f} MB")
