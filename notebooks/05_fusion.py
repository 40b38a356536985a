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
# - train joint fusion by the seminar's rule, each $f_i$ updated only by the loss from $x_i$, and compare it
#   with end-to-end training;
# - measure how each fusion copes with noise in either modality and with a missing modality;
# - build an **AVDCNN**-style enhancer and its loss, and measure in dB what its visual input is worth.
#
# **Where this sits in the lecture.** The seminar "MultiModal learning" asks *"how is the data from each
# modality combined?"* and answers with early, late and joint fusion; its first paper, AVDCNN (Hou et al.),
# removes noise from speech with the help of images of the speaker's lips. Every model here is trained with
# **3 seeds**; numbers read *mean ± standard deviation* over them.

# %%
from functools import lru_cache
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import Markdown
from torch import nn

import mmcourse
from mmcourse import fusion, viz, widgets
from mmcourse.data import AVDigitsConfig, log_mel_spectrogram, make_av_digits, speech_source
from mmcourse.exercises import close, student_or_reference
from mmcourse.method_schematics import fusion_types
from mmcourse.noise import measure_snr_db
from mmcourse.training import TrainConfig, accuracy, predict, train

generator = mmcourse.set_seed(0)
device = mmcourse.get_device()  # the models here are small: this notebook computes on the CPU
torch.set_num_threads(1)
SEEDS = (0, 1, 2)


def over_seeds(values):
    """Mean and standard deviation of one number measured once per seed."""
    t = torch.tensor([float(v) for v in values])
    return t.mean().item(), t.std().item()


def pm(values, digits=2):
    """'mean ± std' over the seeds, as text."""
    mean, spread = over_seeds(values)
    return f"{mean:.{digits}f} ± {spread:.{digits}f}"


# %% [markdown]
# ## 1 · Two noisy views of one digit
#
# Each example of `mmcourse.data.make_av_digits` is a handwritten digit image and a spoken digit with the
# same label. Each modality breaks on its own: white noise on the speech at a chosen signal-to-noise ratio
# (SNR), a hidden square and pixel noise on the image, or a missing modality. When one is drowned the other
# may be clear: that is why fusing should help.
#
# **Heavy noise** breaks **both**: speech at **−7.5 dB** (noise more than five times as strong as the word)
# and images at severity $q = 0.25$ (a quarter hidden, pixel noise of standard deviation $1.2\,q = 0.3$).

# %%
HEAVY_SNR_DB, HEAVY_IMAGE = -7.5, 0.25
SPEECH = speech_source("bundled")  # synthetic voices; "fsdd" runs this notebook on real recordings of 6 people
# real speech is tested on new recordings of the six people (the dataset's own split, takes 0-4): unseen
# real voices are notebook 03c's subject. Its 2,700 training recordings are drawn a sixth at a time, so
# that both sources give 300 test pairs and 450 training utterances per noise condition
HELD_OUT, TEST_PAIRS_PER_UTTERANCE, TRAIN_SHARE = (("speakers", 2, 1.0) if SPEECH == "bundled" else
                                                   ("takes", 1, 1 / 6))


def image_noise(q):
    """Image severity q: a fraction q hidden, then pixel noise of std 1.2·q."""
    return {"occlusion": q, "pixel_noise_std": round(1.2 * q, 3)}


def test_pairs(snr_db=None, q=0.0, **missing):
    """300 test pairs (held-out voices and writers) with speech at snr_db and image severity q."""
    return make_av_digits("test", AVDigitsConfig(seed=1, source=SPEECH, held_out=HELD_OUT, snr_db=snr_db,
                                                 pairs_per_utterance=TEST_PAIRS_PER_UTTERANCE, **image_noise(q),
                                                 **missing))


clean_test, heavy_test = test_pairs(), test_pairs(HEAVY_SNR_DB, HEAVY_IMAGE)

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
# **The inputs.** The seminar's $x_i$ are vectors: $x_1$ is the image's 64 pixels, $x_2$ the log-mel
# spectrogram of notebook 01 (32 bands × 20 frames of 50 ms, flattened to 640 numbers and standardised). A
# missing modality enters as zeros.
#
# **Training data.** Every model trains on 8 voices under 15 noise conditions (speech clean, at
# 10, 0, −5 and −10 dB, times images at $q = 0$, $0.25$ and $0.5$), with 10 % of the pairs missing their
# speech and 10 % their image. A ninth voice is kept apart for **validation** (it chooses late fusion's
# weights). Test voices and writers never train. (On real speech, takes 5-9 of every person validate.)

# %%
VALIDATION_VOICE = "en-us-nyc"
TRAIN_SNRS, TRAIN_IMAGE_LEVELS = [None, 10.0, 0.0, -5.0, -10.0], [0.0, 0.25, 0.5]


def log_mel_frames(waveforms):
    """The speech as 20 frames × 32 mel bands, flattened: (N, L) → (N, 640)."""
    return F.avg_pool1d(log_mel_spectrogram(waveforms), 5).flatten(1)  # (N, 32, 101) → (N, 32·20)


train_parts = []  # per condition: what the models need, without the waveforms (they are large)
for k, (snr, q) in enumerate((s, q) for s in TRAIN_SNRS for q in TRAIN_IMAGE_LEVELS):
    d = make_av_digits("train", AVDigitsConfig(seed=10 + k, source=SPEECH, held_out=HELD_OUT, snr_db=snr,
                                               utterance_share=TRAIN_SHARE, **image_noise(q), p_missing_audio=0.1,
                                               p_missing_image=0.1))
    kept_apart = (torch.tensor([s == VALIDATION_VOICE for s in d.speakers]) if SPEECH == "bundled"
                  else d.takes < 10)  # (N,) the validation pairs
    train_parts.append({"frames": log_mel_frames(d.waveforms), "images": d.images, "labels": d.labels,
                        "has_audio": d.has_audio, "has_image": d.has_image, "validation": kept_apart})
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
is_validation = torch.cat([p["validation"] for p in train_parts])
x1, x2, y = x1_all[~is_validation], x2_all[~is_validation], y_all[~is_validation]
seen, heard = seen_all[~is_validation], heard_all[~is_validation]  # which training pairs have an image, speech
mmcourse.check_shape(x2, (len(y), 640), "x_2 (speech)")
print(f"{len(y)} training pairs, {int(is_validation.sum())} validation pairs, {len(heavy_test)} test pairs")

# %% [markdown]
# ## 2 · Three ways to fuse, in the seminar's notation
#
# With $n$ modalities $x_1, \dots, x_n$, $\oplus$ for concatenation and $f$, $f_i$, $g$ neural networks:
#
# | fusion | the model | the modalities meet in |
# |---|---|---|
# | early | $\hat y = f(x_1 \oplus x_2 \oplus \dots \oplus x_n)$ | the inputs |
# | late | $\hat y_i = f_i(x_i),\ i = 1, \dots, n;\ \ \hat y_{\text{final}} = \sum_{i=1}^n w_i \hat y_i$ | the predictions |
# | joint | $z_{\text{joint}} = f_1(x_1) \oplus \dots \oplus f_n(x_n);\ \ \hat y = g(z_{\text{joint}})$ | learned features |
#
# The diagram draws the three for $n = 2$. See where the two paths meet (before any network, after each
# prediction, or between the encoders $f_i$ and a head $g$), and joint fusion's red labels: each $f_i$
# learns only from the loss of its own modality.

# %%
fig = fusion_types()
plt.show()

# %% [markdown]
# Here $x_1$ is the image, $x_2$ the speech, $\hat y$ ten class scores, and every network is small:
# `fusion.UnimodalClassifier` is $f_i$ (an encoder of 64 ReLU units, then a linear head), `fusion.EarlyFusion`
# is $f$ (128 hidden units on the 704 joined inputs), `fusion.JointFusion` holds encoders $f_i$ and a head $g$.
#
# ### 2.1 Baselines: one modality each
#
# The unimodal classifiers $f_1(x_1)$ and $f_2(x_2)$ are the baselines every fusion must beat; each trains on
# the pairs in which its modality is present. Every classifier here, baseline or fusion, gets
# the same budget: 5 epochs, the last at a tenth of the learning rate to settle the weights.

# %%
def fit(model, batch_loss, tensors, seed, epochs=5):
    """Train model with batch_loss(*batch) on tensors (Adam, mini-batches of 128), the last epoch at lr / 10."""
    for n, lr in ((epochs - 1, 3e-3), (1, 3e-4)):
        train(model, batch_loss, tensors, TrainConfig(epochs=n, batch_size=128, lr=lr, progress=False, seed=seed))
    return model


def fit_classifier(model, inputs, labels, seed):
    """Train model(*inputs) → class scores with the cross-entropy."""
    return fit(model, lambda *batch: F.cross_entropy(model(*batch[:-1]), batch[-1]), (*inputs, labels), seed)


def seeded(seed, make):
    """make() with its initial weights drawn from this seed."""
    torch.manual_seed(seed)
    return make()


f_1s = [fit_classifier(seeded(s, lambda: fusion.UnimodalClassifier(64)), (x1[seen],), y[seen], s) for s in SEEDS]
f_2s = [fit_classifier(seeded(s, lambda: fusion.UnimodalClassifier(640)), (x2[heard],), y[heard], s) for s in SEEDS]
x1_heavy, x2_heavy = features(heavy_test)


def heavy_accuracy(models, *inputs):
    """Each seed's model's accuracy on the heavy-noise test pairs, as 'mean ± std'."""
    return pm([accuracy(predict(m, *inputs), heavy_test.labels) for m in models])


print(f"under heavy noise: image only {heavy_accuracy(f_1s, x1_heavy)}, "
      f"speech only {heavy_accuracy(f_2s, x2_heavy)}")

# %% [markdown]
# ### 2.2 Early fusion: $\hat y = f(x_1 \oplus x_2)$
#
# Early fusion joins the inputs and lets one network read them. The first layer of $f$ multiplies
# $x_1 \oplus x_2$ by a matrix $W = [W_1 \; W_2]$, and a matrix times a concatenation is the sum of the
# blocks times the parts: $W (x_1 \oplus x_2) = W_1 x_1 + W_2 x_2$. Each modality adds to every hidden
# unit from the first layer on, and the network can learn any interaction between pixels and sounds.
# **Check** on an `EarlyFusion`:

# %%
# NBVAL_CHECK_OUTPUT
first = fusion.EarlyFusion([64, 640]).f[0]  # the Linear layer on x_1 ⊕ x_2
W_1, W_2 = first.weight[:, :64], first.weight[:, 64:]  # (128, 64), (128, 640)
joined = first(fusion.concat_features([x1[:5], x2[:5]]))  # (5, 128)
by_blocks = x1[:5] @ W_1.T + x2[:5] @ W_2.T + first.bias  # (5, 128)
gap = (joined - by_blocks).abs().max().item()
assert gap < 1e-5
print("W (x_1 ⊕ x_2) equals W_1 x_1 + W_2 x_2 to within 1e-5 on every entry")

# %%
earlies = [fit_classifier(seeded(s, lambda: fusion.EarlyFusion([64, 640])), (x1, x2), y, s) for s in SEEDS]
print(f"early fusion under heavy noise: {heavy_accuracy(earlies, x1_heavy, x2_heavy)}")

# %% [markdown]
# ### 2.3 Late fusion: $\hat y_{\text{final}} = \sum_i w_i \hat y_i$
#
# Late fusion mixes the **predictions** of one model per modality: the class probabilities $\hat y_i$ of
# model $i$, with weights $w_i \ge 0$ that sum to 1. It cannot learn which pixel goes with which sound; in
# exchange, a missing modality can simply be left out of the sum.

# %% [raw]
# # BEGIN QUESTION
# name: q05_late_fusion
# points: 2

# %% [markdown]
# **Exercise 5.1 — late fusion that survives a missing modality.** Write `late_fusion(scores, weights,
# present)`: late fusion's prediction for one batch, a probability for each class of each example.
# `scores` is a list of $n$ tensors $(B, \text{classes})$, the raw outputs of each modality's model (its last
# linear layer); `weights` a tensor $(n,)$ of the $w_i$, $\ge 0$ with sum 1; `present` a boolean
# $(B, n)$, False where example $b$ lacks modality $i$. This is late fusion's promise: a missing modality
# has no say in that example's prediction, the others keep their weights relative to one another, and
# every prediction is still a probability distribution. Any $n$ must work: section 3's missing-modality
# test runs on it.

# %% [raw]
# # BEGIN SOLUTION

# %%
def late_fusion(scores, weights, present):
    """n score tensors (B, classes), weights (n,) and present (B, n) → (B, classes) fused class probabilities."""
    # BEGIN SOLUTION
    y_hat = torch.stack([s.softmax(dim=-1) for s in scores], dim=1)  # (B, n, classes): ŷ_i
    w = weights * present  # (B, n): a missing modality gets no weight
    w = w / w.sum(dim=1, keepdim=True)  # the others share all of it, in their proportions
    return (w[:, :, None] * y_hat).sum(dim=1)  # (B, classes): Σ_i w_i ŷ_i
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
    w, both = torch.tensor([0.7, 0.3]), torch.ones(3, 2, dtype=torch.bool)
    what = "late_fusion([s_1, s_2], w=[0.7, 0.3], present=all True)"
    got = finished(late_fusion([s_1, s_2], w, both), what)
    same_shape(got, (3, 4), what)
    p_1, p_2 = s_1.softmax(1), s_2.softmax(1)
    not_the_mistake(got, 0.7 * s_1 + 0.3 * s_2, what,
                    "you added the scores f_i(x_i): late fusion adds the models' predictions, probabilities "
                    "(ŷ_i = softmax(f_i(x_i)))")
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
def test_late_fusion_leaves_out_a_missing_modality(late_fusion):
    import torch
    from mmcourse.exercises import close, finished, not_the_mistake, same_shape

    g = torch.Generator().manual_seed(2)
    scores = [torch.randn(4, 5, generator=g) * 2 for _ in range(3)]  # n=3 modalities, B=4, 5 classes
    w = torch.tensor([0.5, 0.3, 0.2])
    present = torch.tensor([[True, True, True], [True, False, True], [False, True, True], [True, False, False]])
    what = "late_fusion(scores, w=[0.5, 0.3, 0.2], present) with a modality missing in examples 1, 2 and 3"
    got = finished(late_fusion(scores, w, present), what)
    same_shape(got, (4, 5), what)
    p = torch.stack([s.softmax(1) for s in scores], dim=1)  # (B, n, classes)

    def mixed(weights):  # (B, n) weights → (B, classes)
        return (weights[:, :, None] * p).sum(1)

    kept = w * present  # (B, n)
    zeroed = torch.stack([torch.where(present[:, i, None], s, 0.0).softmax(1) for i, s in enumerate(scores)], 1)
    not_the_mistake(got, mixed(w.expand(4, 3)), what,
                    "a missing modality still has its say: example b must not use scores[i][b] where "
                    "present[b, i] is False (a model's output for an absent input is a guess, not evidence)")
    not_the_mistake(got, (w[None, :, None] * zeroed).sum(1), what,
                    "you replaced a missing modality's scores by zeros: its softmax is then uniform, a guess that "
                    "still takes the weight w_i; leave the modality out instead")
    not_the_mistake(got, mixed(kept), what,
                    "where a modality is missing your probabilities sum to less than 1: the modalities that "
                    "remain must share all the weight")
    not_the_mistake(got, mixed(present / present.sum(1, keepdim=True)), what,
                    "the modalities that remain share the weight equally: they must keep their w_i relative to "
                    "one another (0.5 and 0.2 stay 5 : 2)")
    not_the_mistake(got, mixed(kept / present.sum(1, keepdim=True)), what,
                    "you divided the remaining weights by how many modalities remain: they must sum to 1, so "
                    "divide by the sum of their weights")
    close(got.sum(1), torch.ones(4), "the sums over the classes of " + what,
          hint="every example's prediction must be a probability distribution")
    close(got, mixed(kept / kept.sum(1, keepdim=True)), what)


test_late_fusion_leaves_out_a_missing_modality(late_fusion)


# %%
# HIDDEN
def test_late_fusion_on_three_modalities(late_fusion):
    import torch
    from mmcourse.exercises import close
    from mmcourse.fusion import late_fusion as reference

    g = torch.Generator().manual_seed(7)
    scores = [torch.randn(6, 5, generator=g) * 3 for _ in range(3)]
    w = torch.tensor([0.5, 0.2, 0.3])
    present = torch.tensor([[1, 1, 1], [0, 1, 1], [1, 0, 1], [1, 1, 0], [0, 0, 1], [1, 1, 1]], dtype=torch.bool)
    for mask, which in ((torch.ones(6, 3, dtype=torch.bool), "every modality present"), (present, "some missing")):
        what = f"late_fusion of three modalities, B=6, 5 classes, {which}"
        got = late_fusion(scores, w, mask)
        close(got, reference(scores, w, mask), what)
        close(got.sum(1), torch.ones(6), "the sums over the classes of " + what,
              hint="every example's prediction must be a probability distribution")


test_late_fusion_on_three_modalities(late_fusion)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
_g = torch.Generator().manual_seed(3)
late_probe = ([torch.randn(4, 10, generator=_g), torch.randn(4, 10, generator=_g)], torch.tensor([0.4, 0.6]),
              torch.tensor([[True, True], [True, False], [False, True], [True, True]]))
late_fusion_used = student_or_reference(late_fusion, fusion.late_fusion, late_probe, "late_fusion")

# %% [markdown]
# **Choosing the weights.** With two modalities $w_2 = 1 - w_1$: we try 21 values of $w_1$ and keep, for
# each seed, the one with the best accuracy on the **validation voice** (never on the test set).

# %%
w_grid = torch.linspace(0, 1, 21)
validation_labels = y_all[is_validation]
lates, validation_curves = [], []
for f_1, f_2 in zip(f_1s, f_2s):
    scores = [predict(f_1, x1_all[is_validation]), predict(f_2, x2_all[is_validation])]
    both = torch.ones(len(validation_labels), 2, dtype=torch.bool)
    curve = torch.tensor([accuracy(late_fusion_used(scores, torch.stack([w, 1 - w]), both), validation_labels)
                          for w in w_grid])
    w_image = float(w_grid[curve.argmax()])
    validation_curves.append(curve)
    lates.append(fusion.LateFusion([f_1, f_2], [w_image, 1 - w_image]))
chosen = [float(late.weights[0]) for late in lates]
print(f"chosen w_1 (image) per seed: {', '.join(f'{w:.2f}' for w in chosen)}; "
      f"late fusion under heavy noise: {heavy_accuracy(lates, x1_heavy, x2_heavy)}")
# the test curve, looked at once to show what this choice costs (choosing w_1 on it would be cheating)
for seed, (f_1, f_2, late) in enumerate(zip(f_1s, f_2s, lates)):
    scores = [predict(f_1, x1_heavy), predict(f_2, x2_heavy)]
    both = torch.ones(len(heavy_test), 2, dtype=torch.bool)
    test_curve = torch.tensor([accuracy(late_fusion_used(scores, torch.stack([w, 1 - w]), both), heavy_test.labels)
                               for w in w_grid])
    chosen_accuracy = accuracy(predict(late, x1_heavy, x2_heavy), heavy_test.labels)
    best = int(test_curve.argmax())
    print(f"seed {seed}: validation chose w_1 = {float(late.weights[0]):.2f} ({chosen_accuracy:.2f} on the test "
          f"pairs); the test's own best is w_1 = {float(w_grid[best]):.2f} ({float(test_curve[best]):.2f})")

fig, ax = plt.subplots(figsize=(5, 2.6))
for seed, curve in zip(SEEDS, validation_curves):
    ax.plot(w_grid, curve, "o-", ms=3, label=f"seed {seed}")
ax.set(xlabel="w_1, the weight of the image (w_2 = 1 − w_1)", ylabel="validation accuracy",
       title="late fusion: choosing the ensemble weights")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The ends of each curve are the unimodal models ($w_1 = 0$: speech only, $w_1 = 1$: image only); a broad
# range of mixes beats both. The validation voice chose weights close to the test's own best (the seed lines
# above: within 0.15 of it, and at most 2 points below it), so one held-out voice was enough here. Averaging
# leans away from a drowned modality with near-uniform probabilities; one fixed weight cannot distrust a
# modality that is confidently wrong on one example.
#
# What 5.1 built, in symbols: for each example
# $\hat y_{\text{final}} = \sum_{i \text{ present}} w_i \hat y_i \,/ \sum_{i \text{ present}} w_i$, with
# $\hat y_i = \operatorname{softmax}(f_i(x_i))$.
#
# ### 2.4 Joint fusion: $z_{\text{joint}} = f_1(x_1) \oplus f_2(x_2)$, $\hat y = g(z_{\text{joint}})$
#
# Joint fusion sits in between: each modality has its own encoder $f_i$, the encoders' **features** are
# joined into $z_{\text{joint}}$, and a head $g$ learns how they interact. The seminar adds the rule that
# defines its version: *"$f_i$ is updated only by the loss from $x_i$"*. The loss from $x_i$ alone needs a
# prediction from $x_i$ alone, so each encoder gets a small head $h_i$ of its own (a linear layer to the ten
# classes), and $g$ is trained by the loss of $\hat y$.
#
# Elsewhere, *joint fusion* often means the opposite: the loss of $\hat y$ flows back into every $f_i$,
# **end to end** (Huang et al., 2020). We build both and compare them.

# %% [raw]
# # BEGIN QUESTION
# name: q05_joint_fusion_loss
# points: 2

# %% [markdown]
# **Exercise 5.2 — joint fusion by the seminar's rule.** Write `joint_fusion_loss(encoders, heads, g, xs, y)`:
# one scalar loss for a batch such that a single backward pass and optimiser step train each encoder $f_i$
# **only** by the cross-entropy of its own modality's prediction $h_i(f_i(x_i))$, and train $g$ by the
# cross-entropy of $\hat y = g(z_{\text{joint}})$, a loss that must **not** reach any $f_i$.
# `encoders` and `heads` are lists of $n$ modules, `g` a module that takes $z_{\text{joint}}$, `xs` a list
# of $n$ tensors $(B, D_i)$, `y` the labels $(B,)$. Why one loss: one training run then trains the
# encoders, their heads and $g$ together, each by the loss the seminar assigns it.

# %% [raw]
# # BEGIN SOLUTION

# %%
def joint_fusion_loss(encoders, heads, g, xs, y):
    """One scalar loss: each f_i learns from its own modality's loss, g from the loss of ŷ = g(z_joint)."""
    # BEGIN SOLUTION
    features = [f(x) for f, x in zip(encoders, xs)]  # n × (B, H_i): f_i(x_i)
    own = sum(F.cross_entropy(h(z), y) for h, z in zip(heads, features))  # Σ_i loss from x_i alone
    z_joint = torch.cat([z.detach() for z in features], dim=1)  # (B, Σ H_i): no gradient flows back to f_i
    return own + F.cross_entropy(g(z_joint), y)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_joint_fusion_loss_on_two_modalities(joint_fusion_loss):
    import torch
    import torch.nn.functional as F
    from mmcourse.exercises import ExerciseError, close, finished, not_the_mistake

    torch.manual_seed(0)
    encoders = [torch.nn.Linear(3, 4), torch.nn.Linear(5, 4)]  # f_1, f_2
    heads = [torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)]  # h_1, h_2
    g = torch.nn.Linear(8, 3)
    gen = torch.Generator().manual_seed(1)
    xs = [torch.randn(6, 3, generator=gen), torch.randn(6, 5, generator=gen)]  # B=6
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    what = "joint_fusion_loss(encoders, heads, g, xs, y) with two modalities, B=6"
    got = finished(joint_fusion_loss(encoders, heads, g, xs, y), what)
    if not isinstance(got, torch.Tensor) or got.ndim != 0:
        raise ExerciseError(f"{what} must be a scalar torch tensor (0-dim), got {type(got).__name__} "
                            f"{tuple(getattr(got, 'shape', ()))}")
    if not got.requires_grad:
        raise ExerciseError(f"{what} carries no gradient: nothing would be trained by it")
    features = [f(x) for f, x in zip(encoders, xs)]
    own_1, own_2 = (F.cross_entropy(h(z), y) for h, z in zip(heads, features))
    fused = F.cross_entropy(g(torch.cat(features, dim=1)), y)
    not_the_mistake(got, fused, what,
                    "you returned only the loss of ŷ = g(z_joint): the encoders must also learn, each from the "
                    "loss of its own modality's prediction h_i(f_i(x_i))")
    not_the_mistake(got, own_1 + own_2, what, "you left out the loss of ŷ = g(z_joint): g would never learn")
    not_the_mistake(got, (own_1 + own_2 + fused) / 3, what, "you averaged the three losses: add them")
    close(got, own_1 + own_2 + fused, what)
    params = [encoders[0].weight, g.weight]
    grad_f_1, grad_g = torch.autograd.grad(got, params, allow_unused=True)
    if grad_f_1 is None or grad_f_1.abs().max() == 0:
        raise ExerciseError("f_1 gets no gradient from your loss: it must still learn from its own modality's "
                            "loss; only the loss of ŷ must not reach it")
    if grad_g is None or grad_g.abs().max() == 0:
        raise ExerciseError("g gets no gradient from your loss: the loss of ŷ must train g; cut only its way "
                            "into the encoders")
    what = "the gradient of your loss on f_1's weights"
    everything = torch.autograd.grad(own_1 + own_2 + fused, encoders[0].weight, retain_graph=True)[0]
    not_the_mistake(grad_f_1, everything, what,
                    "the loss of ŷ = g(z_joint) reaches the encoders, as in end-to-end training; by the "
                    "seminar's rule f_i is updated only by the loss from x_i, so z_joint must carry no "
                    "gradient back into the f_i")
    close(grad_f_1, torch.autograd.grad(own_1, encoders[0].weight, retain_graph=True)[0], what)
    close(grad_g, torch.autograd.grad(fused, g.weight)[0], "the gradient of your loss on g's weights")


test_joint_fusion_loss_on_two_modalities(joint_fusion_loss)

# %%
# HIDDEN
def test_joint_fusion_loss_on_three_modalities(joint_fusion_loss):
    import torch
    from mmcourse.exercises import close
    from mmcourse.fusion import joint_fusion_loss as reference

    torch.manual_seed(5)
    encoders = [torch.nn.Linear(d, 3) for d in (2, 4, 6)]
    heads = [torch.nn.Linear(3, 5) for _ in range(3)]
    g = torch.nn.Sequential(torch.nn.Linear(9, 7), torch.nn.ReLU(), torch.nn.Linear(7, 5))
    gen = torch.Generator().manual_seed(6)
    xs = [torch.randn(8, d, generator=gen) for d in (2, 4, 6)]
    y = torch.randint(0, 5, (8,), generator=gen)
    what = "joint_fusion_loss with three modalities, B=8, 5 classes"
    got, want = joint_fusion_loss(encoders, heads, g, xs, y), reference(encoders, heads, g, xs, y)
    close(got, want, what)
    params = [p for m in (*encoders, g) for p in m.parameters()]
    for k, (a, b) in enumerate(zip(torch.autograd.grad(got, params), torch.autograd.grad(want, params))):
        close(a, b, f"the gradient on parameter {k} of the encoders and g, " + what)


test_joint_fusion_loss_on_three_modalities(joint_fusion_loss)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
def same_encoder_gradient(got, expected):
    """The two losses agree in value and in their gradient on the first encoder's weights."""
    close(got, expected, "joint_fusion_loss")
    encoder = joint_probe[0][0].weight
    close(torch.autograd.grad(got, encoder, retain_graph=True)[0], torch.autograd.grad(expected, encoder)[0],
          "the gradient of joint_fusion_loss on f_1")


joint_probe = seeded(7, lambda: ([nn.Linear(3, 4), nn.Linear(5, 4)], [nn.Linear(4, 3), nn.Linear(4, 3)],
                                 nn.Linear(8, 3), [torch.randn(6, 3), torch.randn(6, 5)], torch.arange(6) % 3))
joint_fusion_loss_used = student_or_reference(joint_fusion_loss, fusion.joint_fusion_loss, joint_probe,
                                              "joint_fusion_loss", check=same_encoder_gradient)

# %% [markdown]
# **Training both.** The seminar's joint fusion is trained with this loss; the end-to-end one with the loss
# of $\hat y$ alone, flowing into everything. Same architecture, same data, same 5 epochs, 3 seeds each.

# %%
def new_joint():
    """Fresh encoders f_1, f_2 (64 features each) and a head g on z_joint (128 numbers)."""
    return fusion.JointFusion([fusion.UnimodalClassifier(64).encoder, fusion.UnimodalClassifier(640).encoder],
                              joint_size=128)


joints, joints_e2e = [], []
for s in SEEDS:
    joint, heads = seeded(s, lambda: (new_joint(), nn.ModuleList([nn.Linear(64, 10), nn.Linear(64, 10)])))
    fit(nn.ModuleList([joint, heads]),
        lambda a, b, labels: joint_fusion_loss_used(joint.encoders, heads, joint.g, [a, b], labels), (x1, x2, y), s)
    joints.append(joint)
    joints_e2e.append(fit_classifier(seeded(s, new_joint), (x1, x2), y, s))
print(f"under heavy noise: joint (each f_i by its own loss) {heavy_accuracy(joints, x1_heavy, x2_heavy)}, "
      f"joint (end to end) {heavy_accuracy(joints_e2e, x1_heavy, x2_heavy)}")
difference = [accuracy(predict(a, x1_heavy, x2_heavy), heavy_test.labels)
              - accuracy(predict(b, x1_heavy, x2_heavy), heavy_test.labels) for a, b in zip(joints, joints_e2e)]
print("own loss minus end to end, seed by seed:", ", ".join(f"{d:+.2f}" for d in difference))

# %% [markdown]
# **What did each encoder learn?** Freeze an encoder $f_i$ and train a linear classifier on its features of
# its modality alone (a *linear probe*, the same for both trainings): a better probe means features that
# carry more of what the modality offers.

# %%
@torch.no_grad()
def encode(encoder, x):
    return encoder(x)


def probe_accuracy(encoder, x_train, labels, seed, tests):
    """Accuracy of a linear probe on the frozen encoder's features, on each (x, labels) of tests."""
    probe = seeded(seed, lambda: nn.Linear(64, 10))
    fit(probe, lambda z, t: F.cross_entropy(probe(z), t), (encode(encoder, x_train), labels), seed, epochs=3)
    return [accuracy(predict(probe, encode(encoder, x)), t) for x, t in tests]


x1_clean, x2_clean = features(clean_test)
probes = {}
for training, models in (("own loss", joints), ("end to end", joints_e2e)):
    for i, (name, x_train, mask, tests) in enumerate(
            (("image", x1, seen, [(x1_clean, clean_test.labels), (x1_heavy, heavy_test.labels)]),
             ("speech", x2, heard, [(x2_clean, clean_test.labels), (x2_heavy, heavy_test.labels)]))):
        runs = [probe_accuracy(m.encoders[i], x_train[mask], y[mask], s, tests) for s, m in zip(SEEDS, models)]
        probes[f"{name}, {training}"] = {"clean": [r[0] for r in runs], "heavy noise": [r[1] for r in runs]}
for name, row in probes.items():
    print(f"  f_i of the {name:18s} clean {pm(row['clean'])}, heavy noise {pm(row['heavy noise'])}")
print(f"the speech-only baseline of 2.1 under heavy noise: {heavy_accuracy(f_2s, x2_heavy)}")
gaps = [own - e2e for name in ("image", "speech") for condition in ("clean", "heavy noise")
        for own, e2e in zip(probes[f"{name}, own loss"][condition], probes[f"{name}, end to end"][condition])]
print(f"own loss minus end to end, over the {len(gaps)} probes (2 encoders × clean/heavy × 3 seeds): "
      f"higher in {sum(g > 0.005 for g in gaps)}, within half a point in {sum(abs(g) <= 0.005 for g in gaps)}, "
      f"lower in {sum(g < -0.005 for g in gaps)}; from {min(gaps):+.2f} to {max(gaps):+.2f}")

fig, ax = plt.subplots(figsize=(6.5, 2.6))
x = np.arange(len(probes))
for offset, condition in ((-0.2, "clean"), (0.2, "heavy noise")):
    stats = [over_seeds(row[condition]) for row in probes.values()]
    ax.bar(x + offset, [m for m, _ in stats], 0.4, yerr=[s for _, s in stats], capsize=3, label=condition)
ax.set_xticks(x, [k.replace(", ", "\n") for k in probes], fontsize=8)
ax.set(ylabel="linear-probe test accuracy", ylim=(0, 1), title="one encoder alone, two ways to train it")
ax.legend(fontsize=8, loc="lower right")
plt.show()

# %% [markdown]
# Under heavy noise the seminar's joint fusion beats the same network trained end to end on every seed, by
# 1 to 3 points (printed above), and the probes mostly favour the encoders trained by their own loss (10 of
# the 12, the counts above): a small effect. Our guess, not tested here: end to end, a branch only has to fix
# what the other gets wrong; by its own loss, it must classify every example alone (Wang, Tran and Feiszli,
# 2020, saw more in video). The probes also check 2.1's baseline: speech only does as well as a probe on the
# best speech encoder (0.74 under heavy noise, printed above), so it is not undertrained.
#
# **Check: the rule is in the loss.** With the loss of 5.2, the gradient on an encoder is the gradient of
# its own modality's loss alone: the fused loss adds nothing to it.

# %%
# NBVAL_CHECK_OUTPUT
encoders, heads, g, xs, labels = joint_probe
own_only = F.cross_entropy(heads[0](encoders[0](xs[0])), labels)
by_rule = torch.autograd.grad(joint_fusion_loss_used(*joint_probe), encoders[0].weight)[0]
alone = torch.autograd.grad(own_only, encoders[0].weight)[0]
assert torch.allclose(by_rule, alone, atol=1e-6)
print("the gradient on f_1 equals the gradient of f_1's own loss alone, to within 1e-6 on every entry")

# %% [markdown]
# ## 3 · Robustness: noise in each modality, and a missing modality
#
# Every method meets the same test pairs: under heavy noise, as the noise in one modality grows while the
# other stays at its heavy level, and with one modality missing.

# %%
METHODS = {  # name → one model per seed → class probabilities (B, 10) from x_1, x_2, present (B, 2)
    "image only": [lambda a, b, present, m=m: m(a).softmax(-1) for m in f_1s],
    "speech only": [lambda a, b, present, m=m: m(b).softmax(-1) for m in f_2s],
    "early": [lambda a, b, present, m=m: m(a, b).softmax(-1) for m in earlies],
    "late": [lambda a, b, present, m=m: late_fusion_used([m.models[0](a), m.models[1](b)], m.weights, present)
             for m in lates],  # your late_fusion of 5.1
    "joint": [lambda a, b, present, m=m: m(a, b).softmax(-1) for m in joints],
    "joint (end to end)": [lambda a, b, present, m=m: m(a, b).softmax(-1) for m in joints_e2e],
}


@torch.no_grad()
def accuracies(data):
    """Test accuracy of every method and seed on one set of pairs: name → [one per seed]."""
    a, b = features(data)
    present = torch.stack([data.has_image, data.has_audio], dim=1)  # (N, 2)
    return {name: [accuracy(run(a, b, present), data.labels) for run in runs] for name, runs in METHODS.items()}


def record_over_seeds(name, values):
    """Record the mean over the seeds under name, and the standard deviation under name_spread."""
    mean, spread = over_seeds(values)
    mmcourse.record(name + "_spread", spread)
    return mmcourse.record(name, mean)


heavy = accuracies(heavy_test)
acc_image_only = record_over_seeds("acc_image_only", heavy["image only"])
acc_audio_only = record_over_seeds("acc_audio_only", heavy["speech only"])
acc_early = record_over_seeds("acc_early", heavy["early"])
acc_late = record_over_seeds("acc_late", heavy["late"])
acc_joint = record_over_seeds("acc_joint", heavy["joint"])
acc_joint_end_to_end = record_over_seeds("acc_joint_end_to_end", heavy["joint (end to end)"])
best_single = [max(i, s) for i, s in zip(heavy["image only"], heavy["speech only"])]
gain_per_seed = [max(e, l, j) - b for e, l, j, b in zip(heavy["early"], heavy["late"], heavy["joint"], best_single)]
fusion_gain_under_noise = record_over_seeds("fusion_gain_under_noise", gain_per_seed)
assert max(acc_image_only, acc_audio_only) < 0.8, "heavy noise: neither modality alone is good"
assert fusion_gain_under_noise >= 0.10
for name, values in heavy.items():
    print(f"  {name:20s} {pm(values)}")
print(f"the best fusion minus the best single modality: {pm(gain_per_seed)}")

# %%
SNR_SWEEP = [None, 10.0, 0.0, -7.5, -15.0]
IMAGE_SWEEP = [0.0, 0.25, 0.5, 0.75]


def sweep_point(snr_db, q):
    """accuracies() at one noise setting; heavy noise is measured already."""
    return heavy if (snr_db, q) == (HEAVY_SNR_DB, HEAVY_IMAGE) else accuracies(test_pairs(snr_db, q))


speech_sweep = [sweep_point(snr, HEAVY_IMAGE) for snr in SNR_SWEEP]
image_sweep = [sweep_point(HEAVY_SNR_DB, q) for q in IMAGE_SWEEP]
missing = {"no image": accuracies(test_pairs(HEAVY_SNR_DB, HEAVY_IMAGE, p_missing_image=1.0)),
           "no speech": accuracies(test_pairs(HEAVY_SNR_DB, HEAVY_IMAGE, p_missing_audio=1.0))}
extremes = {"images at q = 0.75": image_sweep[-1], "speech at −15 dB": speech_sweep[-1]}
for setting, row in {**extremes, **missing}.items():
    print(f"{setting}: " + ", ".join(f"{k} {pm(v)}" for k, v in row.items()))

STYLE = {"image only": ("C0", "--"), "speech only": ("C1", "--"), "early": ("C2", "-"), "late": ("C3", "-"),
         "joint": ("C4", "-"), "joint (end to end)": ("C5", ":")}
fig, axes = plt.subplots(1, 3, figsize=(10, 3.6), gridspec_kw={"width_ratios": [1.2, 1.2, 1]})
snr_x = np.arange(len(SNR_SWEEP))
for name, (colour, line) in STYLE.items():
    axes[0].plot(snr_x, [np.mean(r[name]) for r in speech_sweep], line, color=colour, marker="o", ms=3, label=name)
    axes[1].plot(IMAGE_SWEEP, [np.mean(r[name]) for r in image_sweep], line, color=colour, marker="o", ms=3)
axes[0].set_xticks(snr_x, ["clean" if s is None else f"{s:g}" for s in SNR_SWEEP])
axes[0].set(xlabel="speech SNR (dB); images at q = 0.25", ylabel="test accuracy (mean of 3 seeds)", ylim=(0, 1),
            title="noisier speech →")
axes[0].axvline(SNR_SWEEP.index(HEAVY_SNR_DB), color="grey", lw=0.6)
axes[1].set(xlabel="image severity q; speech at −7.5 dB", ylim=(0, 1), title="more hidden and noisier images →")
axes[1].axvline(HEAVY_IMAGE, color="grey", lw=0.6)
width = 0.8 / len(STYLE)
for k, (name, (colour, _)) in enumerate(STYLE.items()):
    stats = [over_seeds(missing[m][name]) for m in missing]
    axes[2].bar(np.arange(2) + (k - 2.5) * width, [m for m, _ in stats], width, yerr=[s for _, s in stats],
                color=colour, capsize=2)
axes[2].set_xticks(range(2), ["no image\n(speech at −7.5 dB)", "no speech\n(images at q = 0.25)"], fontsize=8)
axes[2].set(ylim=(0, 1), title="one modality missing")
fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=6, fontsize=8)
fig.tight_layout(rect=(0, 0.08, 1, 1))
plt.show()

# %% [markdown]
# **Reading the figure** (means over 3 seeds; the grey lines mark heavy noise):
#
# - **Each modality alone** falls off a cliff once its own noise is heavy.
# - **Fusion helps most when both modalities are partly broken**: at the grey lines every fusion beats both
#   single modalities (printed above), because the two fail on different examples.
# - **A modality destroyed** beyond anything in training drags down the fusions that rely on it (printed
#   above the figure): with images at $q = 0.75$, early and joint fusion fall below speech alone, while late
#   fusion, whose fixed weights favour the speech, stays level with it; with speech at −15 dB, late fusion
#   is the one that falls below the image alone.
# - **A missing modality**: late fusion leaves it out (your 5.1) and equals the other modality alone; the
#   others, given zeros in its place, do no better (printed above the figure).

# %% [markdown]
# ## 4 · AVDCNN: audio-visual speech enhancement
#
# Speech *enhancement* must give back the clean speech itself. AVDCNN (Hou et al.) feeds a noisy speech
# spectrogram and an image of the speaker's mouth to one network, and asks for the clean speech **and** the
# image back. When the noise is itself speech, sound alone can only partly tell which voice to keep; lips
# say when the target speaks.
#
# **Math, in the seminar's notation.** With $X_A$ the noisy speech, $X_V$ the visual input, $Y$ the clean
# speech, $f_A, f_V$ the encoders and $g_{\text{common}}, g_A, g_V$ the decoders:
#
# $$Z_{\text{joint}} = f_A(X_A) \oplus f_V(X_V), \qquad \hat Y = g_A \circ g_{\text{common}}(Z_{\text{joint}}),
#   \qquad \hat X_V = g_V \circ g_{\text{common}}(Z_{\text{joint}}).$$
#
# **Our version, and what its visual input really is.** The noise is a **competing talker**: another
# held-out voice saying another digit, as loud as the target (0 dB), plus faint white noise (20 dB). We
# have no lip videos. Our first visual input is the **digit image** of the pair: not a mouth but a label
# cue, telling the model *which word* the target says. Lips mostly show **timing**, so a second visual
# stream carries timing only: a **mouth opening** per frame from the loudness of the clean target
# (`fusion.mouth_opening`: frame energy in dB, the top 40 dB mapped to 0…1, smoothed over 5 frames of
# 16 ms). It says *when* the target talks, never *what*.
#
# The speech is an STFT magnitude spectrogram ($F = 129$ bins × $T = 41$ frames for 0.64 s).
# `fusion.AVEnhancer` follows the seminar's diagram with small convolutions over time; $g_A$ outputs a gain
# between 0 and 1 per bin and frame that multiplies the noisy spectrogram. The **audio-only enhancer** is the
# same network with the visual input replaced by zeros: the same size, no vision.

# %%
ENHANCE_LENGTH = 5120  # samples: 0.64 s at 8 kHz
ENHANCE_TRAIN_SNRS = (-5.0, 0.0, 5.0)  # each training utterance mixed once at each of these SNRs
ENHANCE_EPOCHS, ENHANCE_BATCH = 4, 64


def enhancement_pairs(split, snr_db, seed, pairs=1):
    """Digit images with speech mixed with a competing talker at snr_db (+ white noise at 20 dB)."""
    share = TRAIN_SHARE if split == "train" else 1.0
    return make_av_digits(split, AVDigitsConfig(seed=seed, source=SPEECH, held_out=HELD_OUT, snr_db=20.0,
                                                audio_length=ENHANCE_LENGTH, interferer_snr_db=snr_db,
                                                utterance_share=share, pairs_per_utterance=pairs))


enhance_train = [enhancement_pairs("train", snr, seed) for seed, snr in enumerate(ENHANCE_TRAIN_SNRS)]
X_A_train = fusion.magnitude_and_phase(torch.cat([d.waveforms for d in enhance_train]))[0]  # (N, F, T) noisy
Y_train = fusion.magnitude_and_phase(torch.cat([d.clean_waveforms for d in enhance_train]))[0]  # (N, F, T) clean
VISUAL_TRAIN = {"digit image": torch.cat([d.clean_images for d in enhance_train]).flatten(1),  # (N, 64)
                "mouth opening": fusion.mouth_opening(Y_train)}  # (N, T)
scale = X_A_train.std()
mmcourse.check_shape(X_A_train, (len(Y_train), 129, 41), "X_A")
other_digit = sum(int((d.labels[d.interferers] != d.labels).sum()) for d in enhance_train)
print(f"{len(Y_train)} training mixtures; the interferer says another digit in {other_digit} of them")

def spectrogram_panel(ax, magnitude, title, top_db):
    """One magnitude spectrogram (F, T) in dB, from top_db − 60 to top_db."""
    image = ax.imshow(20 * np.log10(magnitude.numpy() + 1e-6), origin="lower", aspect="auto", cmap="magma",
                      vmin=top_db - 60, vmax=top_db, extent=(0, ENHANCE_LENGTH / 8000, 0, 4000))
    ax.set_title(title, fontsize=8)
    ax.set_xlabel("time (s)", fontsize=8)
    return image


fig, axes = plt.subplots(1, 3, figsize=(10, 2.4), gridspec_kw={"width_ratios": [1.4, 1.4, 0.5]})
example = enhance_train[0]
frames_s = np.arange(41) * fusion.HOP / 8000
for ax, magnitude, title in ((axes[0], X_A_train[0], "noisy mixture X_A"), (axes[1], Y_train[0], "clean target Y")):
    painted = spectrogram_panel(ax, magnitude, title, 20 * np.log10(Y_train[0].max().item()))
    ax.plot(frames_s, VISUAL_TRAIN["mouth opening"][0] * 3800, color="white", lw=1.5)
fig.colorbar(painted, ax=axes[1], label="level (dB)")
axes[0].set_ylabel("frequency (Hz)")
axes[2].imshow(example.clean_images[0, 0], cmap="gray_r")
axes[2].set_title("digit image", fontsize=9)
axes[2].axis("off")
fig.suptitle("white: the mouth opening, from the clean target (timing only)", fontsize=9)
fig.tight_layout()
plt.show()

# %% [raw]
# # BEGIN QUESTION
# name: q05_avdcnn_loss
# points: 2

# %% [markdown]
# **Exercise 5.3 — one loss for two outputs.** The enhancer answers twice: $\hat Y$, the speech it takes for
# clean, and $\hat X_V$, its visual input rebuilt from the same joint features. Write
# `avdcnn_loss(Y_hat, Y, X_V_hat, X_V, mu)`, the number the enhancers below are trained to make small on a
# batch of $K$ examples. As in AVDCNN, an output's error on one example is its squared Euclidean distance
# to its target (over everything that example holds); `mu` $\ge 0$ weighs the visual error against the
# speech error; a batch's loss is that of a typical example, whatever $K$. Why rebuild $X_V$: the joint
# features must then keep what the visual input says, so the network cannot learn to ignore it. With
# `mu = 0` only the speech counts: that trains the audio-only enhancer. `Y_hat`, `Y` are $(K, F, T)$;
# `X_V_hat`, `X_V` $(K, P)$, or $(K, T)$ for a mouth opening.

# %% [raw]
# # BEGIN SOLUTION

# %%
def avdcnn_loss(Y_hat, Y, X_V_hat, X_V, mu):
    """The AVDCNN loss of one batch of K examples, a scalar tensor."""
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
                    "you averaged over every number (like F.mse_loss): an example's squared distance sums over "
                    "all the numbers of that example; only the K examples are averaged")
    not_the_mistake(got, ((Y_hat - Y).abs().sum(dim=(1, 2)) + 0.5 * (X_V_hat - X_V).abs().sum(dim=1)).mean(), what,
                    "you summed absolute differences (an L1 distance): AVDCNN's distance is squared, so a large "
                    "error costs more than several small ones")
    not_the_mistake(got, speech.mean(), what,
                    "your loss ignores the visual output: with mu > 0 the error of X̂_V must count, mu times")
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
    opening, opening_hat = torch.rand(5, 9, generator=g), torch.rand(5, 9, generator=g)  # a mouth opening (K, T)
    close(avdcnn_loss(Y_hat, Y, opening_hat, opening, 2.0), reference(Y_hat, Y, opening_hat, opening, 2.0),
          "avdcnn_loss with a mouth opening X_V (K=5, T=9), mu=2", rtol=1e-5)


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
# In the seminar's notation the loss of 5.3 is
# $\mathcal{L} = \min_\theta \frac{1}{K} \sum_{i=1}^{K} \big( \lVert \hat Y_i - Y_i \rVert_2^2
# + \mu \lVert \hat X_{V,i} - X_{V,i} \rVert_2^2 \big)$.
# **Check against a reference:** its speech term is `F.mse_loss(Y_hat, Y, reduction="sum") / K`, its visual
# term `mu * F.mse_loss(X_V_hat, X_V, reduction="sum") / K`.

# %%
# NBVAL_CHECK_OUTPUT
K = 3
reference_loss = (F.mse_loss(loss_probe[0], loss_probe[1], reduction="sum")
                  + 2.0 * F.mse_loss(loss_probe[2], loss_probe[3], reduction="sum")) / K
assert abs(avdcnn_loss_used(*loss_probe).item() - reference_loss.item()) < 1e-5
print(f"AVDCNN loss {avdcnn_loss_used(*loss_probe).item():.4f} = summed squared errors / K "
      f"{reference_loss.item():.4f}")

# %% [markdown]
# **Training.** Three enhancers, each with 3 seeds: one sees the digit image, one the mouth opening (both
# with $\mu = 1$), and the audio-only one sees nothing, so its loss is the speech term alone. They train on
# the central 24 frames of each mixture and are tested on all 41.
#
# **Measuring in dB.** An enhancer's **gain** is the SNR of its output minus that of its noisy input, each
# $10 \log_{10} \big(\sum_t s_t^2 / \sum_t (\hat s_t - s_t)^2\big)$ against the clean speech $s$ (notebook
# 01), averaged over test mixtures of held-out voices. The output waveform is the enhanced magnitude with
# the noisy phase, standard practice in magnitude-domain enhancement.

# %%
CROP = slice(8, 32)  # train on the 24 central frames (0.38 s): faster, and the convolutions take any length
ENHANCER_TRAINING = dict(epochs=ENHANCE_EPOCHS, batch_size=ENHANCE_BATCH, lr=4e-3, progress=False)
ENHANCERS = {"digit image": {"use_image": True}, "mouth opening": {"per_frame": True},
             "audio only": {"use_image": False}}


def train_enhancer(kind, seed, mu=1.0):
    """An AVDCNN-style enhancer with this visual input, trained with the AVDCNN loss."""
    model = seeded(seed, lambda: fusion.AVEnhancer(channels=16, **ENHANCERS[kind]))
    mu = 0.0 if kind == "audio only" else mu

    def batch_loss(X_A, X_V, Y):
        Y_hat, X_V_hat = model(X_A, X_V)
        return avdcnn_loss_used(Y_hat, Y, X_V_hat, X_V, mu)

    visual = VISUAL_TRAIN["digit image"] if kind != "mouth opening" else VISUAL_TRAIN["mouth opening"][:, CROP]
    train(model, batch_loss, (X_A_train[:, :, CROP] / scale, visual, Y_train[:, :, CROP] / scale),
          TrainConfig(seed=seed, **ENHANCER_TRAINING))
    return model


enhancers = {kind: [train_enhancer(kind, s) for s in SEEDS] for kind in ENHANCERS}


@torch.no_grad()
def enhance(model, data, visual=None):
    """Enhanced waveforms (N, L) and reconstructed visual inputs for one set of test mixtures."""
    magnitude, phase = fusion.magnitude_and_phase(data.waveforms)  # (N, F, T) each
    if visual is None:
        clean = fusion.magnitude_and_phase(data.clean_waveforms)[0]
        visual = fusion.mouth_opening(clean) if model.per_frame else data.clean_images.flatten(1)
    Y_hat, X_V_hat = model(magnitude / scale, visual)
    return fusion.waveform_from(Y_hat * scale, phase, ENHANCE_LENGTH), X_V_hat


def gains_db(model, data, visual=None):
    """SNR gain (dB) of model on each mixture (N,): SNR(enhanced) − SNR(noisy), both against the clean speech."""
    enhanced, _ = enhance(model, data, visual)
    return measure_snr_db(data.clean_waveforms, enhanced) - measure_snr_db(data.clean_waveforms, data.waveforms)


def gain_db(model, data, visual=None):
    """The mean SNR gain (dB) over the mixtures of data."""
    return gains_db(model, data, visual).mean().item()


TEST_MIX_SNRS = [-5.0, 0.0, 5.0]  # the widget of section 5 plays all three; the gains are measured at 0 dB
enhance_test = {snr: enhancement_pairs("test", snr, seed=100, pairs=TEST_PAIRS_PER_UTTERANCE) for snr in TEST_MIX_SNRS}
test_mix = enhance_test[0.0]
gains = {kind: [gain_db(m, test_mix) for m in models] for kind, models in enhancers.items()}
enhancement_gain_db_av = record_over_seeds("enhancement_gain_db_av", gains["digit image"])
enhancement_gain_db_timing = record_over_seeds("enhancement_gain_db_timing", gains["mouth opening"])
enhancement_gain_db_audio_only = record_over_seeds("enhancement_gain_db_audio_only", gains["audio only"])
enhancement_gain_db_av_minus_audio = record_over_seeds(
    "enhancement_gain_db_av_minus_audio", [a - b for a, b in zip(gains["digit image"], gains["audio only"])])
enhancement_gain_db_timing_minus_audio = record_over_seeds(
    "enhancement_gain_db_timing_minus_audio", [a - b for a, b in zip(gains["mouth opening"], gains["audio only"])])
assert enhancement_gain_db_av_minus_audio > 0
for kind, values in gains.items():
    print(f"gain at 0 dB, {kind:13s}: {pm(values)} dB")

# %% [markdown]
# **Does the digit enhancer really use the image?** Show it the image of a *wrong* digit: if the image only
# decorated the input, nothing would change.

# %%
wrong_digit = (test_mix.labels + 3) % 10  # (N,) another digit for every mixture
wrong_image = torch.stack([test_mix.clean_images[int(torch.nonzero(test_mix.labels == d)[0])] for d in wrong_digit])
wrong_gains = [gain_db(m, test_mix, wrong_image.flatten(1)) for m in enhancers["digit image"]]
print(f"digit-image enhancer shown the wrong digit: {pm(wrong_gains)} dB (the right digit: "
      f"{pm(gains['digit image'])} dB; audio only: {pm(gains['audio only'])} dB)")

# %% [markdown]
# Every enhancer gains some dB by sound alone (the voices differ in pitch and timing). Seeing the digit adds
# a little, and a wrong digit takes the gain below audio only: the image steers the enhancement by naming
# the word to keep. The mouth opening knows nothing of the word and adds **more**: frame by frame it says
# when the target speaks, so the network can remove the competing talker where the target is quiet. That
# timing is what real lips carry; ours comes from the clean target itself, so it is perfectly timed.
#
# ### 4.1 Look and listen
#
# Spectrograms of a typical test mixture (its digit-image gain closest to the average) and four players. To
# be heard, the enhanced magnitudes become waveforms by Griffin-Lim (see *Going further*), which sounds
# slightly "phasey".

# %%
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
enhancer_av, enhancer_audio = enhancers["digit image"][0], enhancers["audio only"][0]  # seed 0


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
                             "digit-image enhanced", "clean target")):
        painted = spectrogram_panel(ax, m[0], title, top_db)
    fig.colorbar(painted, ax=axes[3], label="level (dB)")
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
             "digit-image enhanced (Griffin-Lim)": fusion.griffin_lim(av_magnitude * scale, ENHANCE_LENGTH)[0],
             "clean target": data.clean_waveforms[pair]}
    players = [item for name, w in waves.items() for item in (Markdown(f"**{name}**"), viz.audio_player(w, 8000))]
    return (fig, *players)


typical = int((gains_db(enhancer_av, test_mix) - gains["digit image"][0]).abs().argmin())  # a typical mixture
widgets.show(draw_enhancement(typical, 0))

# %% [markdown]
# In the noisy spectrogram two words overlap. The two enhanced spectrograms look alike: the digit is worth
# only a fraction of a dB on average (printed above); compare the two players. The enhancer that sees the
# digit also rebuilds a blurred digit from its joint features ($\hat X_V$, asked for by the $\mu$ term).
#
# ## 5 · Play
#
# **Fusion under noise.** Pick a test pair, make its speech noisier and hide more of its image (`snr_db` =
# 30 means clean speech). Each bar is the probability a method (seed 0) gives to the digit it predicts,
# green when right, red when wrong.

# %%
@lru_cache(maxsize=16)
def test_inputs(snr_db, image_severity):
    """x_1, x_2, waveforms and images of the 300 test pairs at one noise setting."""
    data = test_pairs(None if snr_db >= 30 else snr_db, image_severity)
    return (*features(data), data.waveforms, data.images)


@torch.no_grad()
def draw_fusion(pair=0, snr_db=HEAVY_SNR_DB, image_severity=HEAVY_IMAGE):
    """Every method's prediction and confidence for one test pair at the chosen noise."""
    x_1, x_2, waves, images = test_inputs(float(snr_db), float(image_severity))
    label = int(clean_test.labels[pair])
    both = torch.ones(1, 2, dtype=torch.bool)  # both modalities present
    probs = {name: runs[0](x_1[pair:pair + 1], x_2[pair:pair + 1], both) for name, runs in METHODS.items()}
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
    present = torch.ones(len(heavy_test), 2, dtype=torch.bool)
    is_right = {name: runs[0](x1_heavy, x2_heavy, present).argmax(1) == heavy_test.labels
                for name, runs in METHODS.items()}
rescued = torch.nonzero(~is_right["image only"] & ~is_right["speech only"] & is_right["joint"]).flatten()
showcase = int(rescued[0])
print(f"under heavy noise, {len(rescued)} of {len(heavy_test)} pairs are missed by both single modalities "
      f"and classified right by joint fusion (seed 0); the widget starts at the first, pair {showcase}")
widgets.show(draw_fusion(showcase))

# %%
widgets.explore(draw_fusion, pair=(0, len(clean_test) - 1, 1, showcase), snr_db=(-20.0, 30.0, 2.5, HEAVY_SNR_DB),
                image_severity=(0.0, 0.75, 0.125, HEAVY_IMAGE))

# %% [markdown]
# Try: find a pair on which the fusions disagree; set `snr_db` to 30 and hide most of the image; push the
# speech to −20 dB with a clean image.
#
# **Listen to the enhancers.** Choose a test mixture, its input SNR, and the right or a wrong digit.

# %%
widgets.explore(draw_enhancement, pair=(0, len(test_mix) - 1, 1, typical), snr_db=(-5, 5, 5, 0),
                image=["the right digit", "a wrong digit"])

# %% [markdown]
# ## Take-aways
#
# - **Early fusion**, $\hat y = f(x_1 \oplus \dots \oplus x_n)$, joins the inputs: its first layer is a sum
#   of one linear map per modality.
# - **Late fusion**, $\hat y_{\text{final}} = \sum_i w_i \hat y_i$, mixes the predictions of unimodal models
#   with weights chosen on held-out data; it learns no interaction, but can leave a missing modality out.
# - **Joint fusion**, $z_{\text{joint}} = f_1(x_1) \oplus \dots \oplus f_n(x_n)$, $\hat y = g(z_{\text{joint}})$,
#   joins learned features. The seminar's rule, each $f_i$ updated only by the loss from $x_i$, is one
#   `detach` in the loss. Trained this way, it beat the same network trained end to end under heavy noise
#   on every seed, by 1 to 3 points.
# - Under **heavy noise in both modalities**, every fusion beats the best single modality, trained with the
#   same budget: the modalities fail on different examples.
# - **AVDCNN** is joint fusion with two decoders and the loss
#   $\frac1K \sum_i \lVert \hat Y_i - Y_i \rVert^2 + \mu \lVert \hat X_{V,i} - X_{V,i} \rVert^2$. Our digit
#   image is a label cue, not lips: it tells the enhancer which word to keep, and gains more dB than
#   audio only. A timing-only mouth opening, the cue lips really carry, gained even more.

# %% [markdown]
# ## Going further
#
# ### Back to waveforms: the STFT round trip and Griffin-Lim
#
# To listen and to measure we need waveforms again. With its magnitude *and* phase, the STFT is
# invertible: `fusion.waveform_from` returns the waveform exactly (checked below). The enhancers predict
# magnitudes only; for measuring we borrowed the noisy phase, and for listening we used **Griffin-Lim**,
# which finds a waveform whose STFT magnitude matches a given $|S|$: start from zero phase, then repeat
# *inverse STFT → STFT → keep the new phase, put the wanted magnitude back*. The fast variant (Perraudin et
# al.) adds momentum to the phase update. **Check against a reference:** `fusion.griffin_lim` against
# `torchaudio.functional.griffinlim` with the same settings.

# %%
# NBVAL_CHECK_OUTPUT
import torchaudio  # noqa: E402  (only this section needs it)

mixtures = test_mix.waveforms[:4]
magnitude, phase = fusion.magnitude_and_phase(mixtures)
round_trip = (fusion.waveform_from(magnitude, phase, ENHANCE_LENGTH) - mixtures).abs().max().item()
assert round_trip < 1e-5
print("STFT → inverse STFT gives the waveform back to within 1e-5")
probe_magnitude = fusion.magnitude_and_phase(test_mix.clean_waveforms[:3])[0]
ours = fusion.griffin_lim(probe_magnitude, ENHANCE_LENGTH, n_iter=16)
theirs = torchaudio.functional.griffinlim(probe_magnitude, torch.hann_window(fusion.N_FFT), fusion.N_FFT, fusion.HOP,
                                          fusion.N_FFT, 1.0, 16, 0.99, ENHANCE_LENGTH, False)
gap = (ours - theirs).abs().max().item()
assert gap < 1e-5
print("our Griffin-Lim agrees with torchaudio's to within 1e-5")

# %% [markdown]
# ### Things to try
#
# - Train the digit enhancer with $\mu = 0$ and with $\mu = 1000$ (`train_enhancer("digit image", 0, mu=...)`)
#   and compare its gain and $\lVert \hat X_V - X_V \rVert^2$: a large $\mu$ makes the shared layers spend
#   their capacity on pixels.
# - Make the noise white only (in `enhancement_pairs`, `AVDigitsConfig(..., interferer_snr_db=None, snr_db=0.0)`)
#   and retrain:
#   does vision still pay off when the noise does not sound like speech?
# - `fusion.LateFusion(..., log=True)` adds log-probabilities, $\sum_i w_i \log \hat y_i$, a weighted product
#   of experts: compare it with the sum under heavy noise.
#
# ### Further reading
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
