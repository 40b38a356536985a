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
# # 01 · Modalities: measuring what makes each kind of data different
#
# **Learning goals.** After this notebook you can
#
# - say what a *modality* is and name the six characteristics in which modalities differ;
# - measure them on images, speech, text and EEG (all but explicit structure, §3.4, which none of
#   our data comes with);
# - measure how far spatial structure reaches, compute entropy in bits and add noise at a chosen
#   signal-to-noise ratio, by hand;
# - tell association (correlation, mutual information) from dependency (a direction in time, or
#   one modality made from the other, shown by an intervention).
#
# **Where this sits in the lecture.** Lecture 11, "Multimodal Data Processing", opens with the
# definition of a modality, a table of six characteristics and two kinds of connection between
# modalities. Here each row of that table becomes a number computed on data, and a picture.

# %%
import math
import random

import matplotlib.pyplot as plt
import numpy as np
import scipy.stats
import torch
import torchaudio
from IPython.display import display
from scipy.cluster.hierarchy import leaves_list, linkage
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import mutual_info_score

import mmcourse
from mmcourse import connections, modalities, noise, viz, widgets
from mmcourse.data import (AVDigitsConfig, fsdd_takes, load_corpus, load_digits, load_eeg, load_photo,
                           load_spoken_digits, log_mel_spectrogram, make_av_digits, pad_or_trim, speech_source,
                           tokenize, train_test_split_indices)
from mmcourse.exercises import student_or_reference

generator = mmcourse.set_seed(0)
device = mmcourse.get_device()  # everything in this notebook is small enough for the CPU

# %% [markdown]
# ## 0 · What is a modality?
#
# The lecture defines a **modality** as *the way a natural phenomenon is perceived or expressed*.
# Someone saying "seven" can reach us as sound, as a picture of the written digit, as a word in a
# sentence, or as electrical activity in the listener's brain. Data is **multimodal** when it holds
# more than one of these views.
#
# We load five kinds of data, all offline: handwritten digits (scanned, from scikit-learn), a photo
# and a real EEG recording (from matplotlib), the documentation of Python's standard library as
# text, and spoken digits. Most of the speech here is **synthetic**: the course generated it with
# the `espeak-ng` speech synthesiser in 12 voices (`data/README.md` says how): real sound, with
# pitch and formants, but not human voices. The course also ships **real** recordings, the Free
# Spoken Digit Dataset (six people, 3,000 recordings); we draw and play one of each below, and
# notebook 03c trains on the real ones.

# %%
digit_images, digit_labels = load_digits()  # (N, 8, 8) in [0, 1], (N,)
photo = load_photo()  # (H, W, 3) in [0, 1]
synthetic_speech = load_spoken_digits()  # 600 synthetic utterances of "zero" ... "nine", 8 kHz
real_speech = load_spoken_digits("fsdd")  # 3,000 recordings of six people, 8 kHz
SPEECH = speech_source("bundled")  # the speech measured below; "fsdd" runs this notebook on the real recordings
speech = synthetic_speech if SPEECH == "bundled" else real_speech.subset(fsdd_takes(real_speech) < 10)  # 600 each
eeg, eeg_rate, eeg_channels = load_eeg()  # (T, C) = (800, 4) at 80 Hz
documents = load_corpus()
tokens = [word for doc in documents for word in tokenize(doc)]
sample_rate = speech.sample_rate
N = len(digit_images)
X_digits = digit_images.reshape(N, 64)  # (N, D): one row of 64 pixels per image
words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

mmcourse.check_shape(digit_images, (None, 8, 8), "digit_images")
mmcourse.check_shape(eeg, (800, 4), "eeg")
print(f"{N} digit images, a {photo.shape[0]}×{photo.shape[1]} photo, {len(speech)} utterances, "
      f"{eeg.shape[0] / eeg_rate:.0f} s of EEG on {eeg.shape[1]} channels, {len(tokens):,} words of text")

# %%
fig, axes = plt.subplots(1, 4, figsize=(13, 2.6))
axes[0].imshow(digit_images[0], cmap="gray_r")
axes[0].set_title(f"image: a digit ({int(digit_labels[0])})")
axes[1].imshow(photo)
axes[1].set_title("image: a photo")
for ax in axes[:2]:
    ax.axis("off")
wave = speech.waveforms[7]
axes[2].plot(np.arange(len(wave)) / sample_rate, wave, lw=0.5)
axes[2].set(title=f"speech: \"{words[int(speech.labels[7])]}\" ({'synthetic' if SPEECH == 'bundled' else 'real'})",
            xlabel="time (s)")
seconds = np.arange(len(eeg)) / eeg_rate
for c in range(eeg.shape[1]):
    axes[3].plot(seconds, eeg[:, c] - 3 * c, lw=0.5, label=eeg_channels[c])
axes[3].set(title="EEG: 4 channels", xlabel="time (s)")
axes[3].set_yticks([-3 * c for c in range(eeg.shape[1])], eeg_channels, fontsize=8)
fig.tight_layout()
plt.show()
print("text:", " ".join(tokens[:30]), "...")

# %%
synthetic_seven, real_seven = (int((d.labels == 7).nonzero()[0, 0]) for d in (synthetic_speech, real_speech))
print(f"to listen: \"seven\" from the synthesiser ({len(synthetic_speech.waveforms[synthetic_seven]) / sample_rate:.2f} s), "
      f"then said by a person, {real_speech.speakers[real_seven]} ({len(real_speech.waveforms[real_seven]) / sample_rate:.2f} s)")
display(viz.audio_player(synthetic_speech.waveforms[synthetic_seven], sample_rate),
        viz.audio_player(real_speech.waveforms[real_seven], sample_rate))

# %% [markdown]
# ## 1 · Element representations: discrete or continuous, and how fine
#
# **Intuition.** Every modality is a collection of *elements*: pixels, audio samples, words,
# voltages. Some are **discrete** (a word comes from a finite vocabulary), some **continuous** (a
# voltage can take any value), and each is stored with a finite **granularity**: bits per element
# and elements per example.
#
# **Math.** If an element takes one of $|V|$ distinct values, a fixed-length code needs
# $b = \log_2 |V|$ bits per element, to compare with the bits its storage type spends. For
# continuous values $|V|$ is not finite (the bits depend on the precision one asks for), so we
# leave $b$ blank there.

# %%
def pcm(waveform):
    """Speech as the 16-bit integers it was stored as."""
    return (waveform * 32768).round().to(torch.int16)


speech_samples = torch.cat(speech.waveforms)  # (all samples,)
element_sources = {
    "digits (8×8 images)": (digit_images, 64),
    "photo (RGB)": (photo, photo.size),
    "speech (8 kHz)": (speech_samples, sum(len(w) for w in speech.waveforms) / len(speech)),
    "EEG (80 Hz, 4 ch.)": (eeg, eeg_rate * eeg.shape[1]),
    "text (words)": (tokens, len(tokens) / len(documents)),
}
summaries = {name: modalities.element_summary(values) for name, (values, _) in element_sources.items()}
print(f"{'modality':20s} {'dtype':11s} {'distinct':>9s} {'step':>9s} {'discrete':>8s} {'storage':>7s} {'log2|V|':>7s} "
      f"{'per example':>11s}")
for name, (values, per_example) in element_sources.items():
    s = summaries[name]
    step = "—" if math.isnan(s["step"]) else f"{s['step']:.2g}"
    needed = f"{s['needed_bits']:.2f}" if s["discrete"] else "—"
    print(f"{name:20s} {s['dtype']:11s} {s['distinct']:9,d} {step:>9s} {str(s['discrete']):>8s} "
          f"{s['storage_bits']:7.1f} {needed:>7s} {per_example:11,.0f}")
assert summaries["digits (8×8 images)"]["distinct"] == 17, "the digits should take exactly 17 values"
assert summaries["photo (RGB)"]["distinct"] <= 256, "an 8-bit photo has at most 256 levels"
assert summaries["digits (8×8 images)"]["discrete"] and summaries["speech (8 kHz)"]["discrete"], "both are quantised"
assert summaries["text (words)"]["discrete"] and not summaries["EEG (80 Hz, 4 ch.)"]["discrete"]

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 2.8))
names = list(summaries)
axes[0].barh(names, [s["storage_bits"] for s in summaries.values()], color="lightgray", label="storage")
axes[0].barh(names, [s["needed_bits"] if s["discrete"] else 0 for s in summaries.values()], color="tab:blue",
             label="log2 |V|")
axes[0].text(1, names.index("EEG (80 Hz, 4 ch.)"), "continuous: no finite |V|", va="center", fontsize=8)
axes[0].set(xlabel="bits per element", title="bits stored vs bits needed")
axes[0].legend(fontsize=8)
axes[1].barh(names, [per for _, per in element_sources.values()], color="tab:orange")
axes[1].set(xscale="log", xlabel="elements per example (log scale)", title="granularity")
axes[1].set_yticks([])
fig.tight_layout()
plt.show()

# %% [markdown]
# The digits are stored as 32-bit floats but take only **17** values (step 1/16: the scans counted
# 0 … 16 ink dots per block): discrete in disguise. The photo has at most
# 256 levels per channel; speech was saved as 16-bit integers, a very fine grid. The EEG values lie
# on no grid: continuous. One docstring is a few dozen words, one photo almost a million numbers:
# granularity differs by orders of magnitude.
#
# ## 2 · Element distributions: density and frequency
#
# **Intuition.** Some values are far more common than others: the lecture's examples are *pixel
# density* and *word frequency*.
#
# **Math.** A histogram estimates a density, $\hat p(v) = \frac{n_v}{N\,\Delta}$ for a bin of width
# $\Delta$ holding $n_v$ of $N$ values. For words, **Zipf's law** says that the frequency of the word
# of rank $r$ falls as a power of the rank,
#
# $$f(r) \approx C\, r^{s}, \qquad \log_{10} f(r) = \log_{10} C + s \log_{10} r, \qquad s \approx -1,$$
#
# a straight line on a log–log plot, which `modalities.zipf_fit` fits by least squares.

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 2.6))
axes[0].hist(digit_images.flatten().numpy(), bins=17, density=True, color="tab:blue")
axes[0].set(title="digit pixels", xlabel="ink", ylabel="density")
axes[1].hist(photo.mean(axis=2).flatten(), bins=64, density=True, color="tab:orange")
axes[1].set(title="photo pixels (grey)", xlabel="brightness")
axes[2].hist(speech_samples.numpy(), bins=101, density=True, color="tab:green", log=True)
axes[2].set(title="speech samples", xlabel="amplitude", ylabel="density (log)")
fig.tight_layout()
plt.show()
print(f"share of digit pixels that are blank: {(digit_images == 0).float().mean():.2f}")

# %% [markdown]
# About half of the digit pixels are blank paper, with a second bump at full ink; the photo spreads over all
# brightnesses; speech samples pile up near zero with long tails. Now the words: count each word, sort by
# count, and fit the Zipf line over the 1,000 most frequent ranks.

# %%
vocabulary, word_counts = modalities.value_counts(tokens)  # most frequent first
zipf_slope, zipf_intercept = modalities.zipf_fit(word_counts, max_rank=1000)
reference_slope, reference_intercept = np.polyfit(np.log10(np.arange(1, 1001)), np.log10(word_counts[:1000].numpy()), 1)
assert abs(zipf_slope - reference_slope) < 1e-9, "zipf_fit should agree with numpy.polyfit"
mmcourse.record("zipf_slope_text", zipf_slope)
assert -1.3 < zipf_slope < -0.7, f"word frequencies should follow Zipf's law with s ≈ -1, got {zipf_slope:.2f}"

ranks = np.arange(1, len(word_counts) + 1)
fig, ax = plt.subplots(figsize=(4.5, 3.2))
ax.loglog(ranks, word_counts, ".", ms=2, label="stdlib docstrings")
ax.loglog(ranks[:1000], 10 ** zipf_intercept * ranks[:1000] ** zipf_slope, "r-", label=f"fit: s = {zipf_slope:.2f}")
for r in (1, 2, 10, 100):
    ax.annotate(vocabulary[r - 1], (r, word_counts[r - 1]), fontsize=8)
ax.set(xlabel="rank r", ylabel="count f(r)", title="Zipf's law")
ax.legend(fontsize=8)
plt.show()
print("most frequent words:", ", ".join(vocabulary[:12]))

# %% [markdown]
# ## 3 · Structure: spatial, temporal, latent, explicit
#
# **Intuition.** Elements are not independent draws: a pixel looks like its neighbours (spatial),
# a sound sample like the samples just before it (temporal), and the 64 pixels of a digit vary
# together along a few directions (latent). To *measure* structure we compare the data with a copy
# whose elements are shuffled: the same values, with the structure destroyed.
#
# ### 3.1 Spatial structure: how far does it reach?
#
# Neighbouring pixels usually show the same stroke or surface, so their values correlate
# (Pearson's $\rho$: the covariance of two quantities over the product of their standard
# deviations; near 1 when they rise and fall together, near 0 when unrelated). How fast the correlation fades with distance tells the size of the structures
# in an image, in pixels. The control shuffles the 64 pixels of each digit: every image keeps its
# values, but neighbours become strangers.

# %% [raw]
# # BEGIN QUESTION
# name: q01_neighbour_correlation
# points: 2

# %% [markdown]
# **Exercise 1 — spatial structure at a distance.** Write `neighbour_correlation(images, distance)`:
# the Pearson correlation between each pixel and the pixel `distance` columns **to its right**,
# pooled over every such pair in every image. `images` is a float tensor of shape `(N, H, W)`;
# return a float. Below it measures how quickly pixels stop resembling each other in the digits, in
# shuffled digits and in the photo. (Write the correlation yourself; `np.corrcoef` is for checking.)

# %% [raw]
# # BEGIN SOLUTION

# %%
def neighbour_correlation(images, distance=1):
    # BEGIN SOLUTION
    a = images[:, :, :-distance].flatten().double()  # every pixel that has a partner to its right
    b = images[:, :, distance:].flatten().double()  # its partner, `distance` columns further
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / torch.sqrt((a ** 2).sum() * (b ** 2).sum()))
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_neighbour_correlation_on_smooth_images(neighbour_correlation):
    import numpy as np
    import torch
    from mmcourse.exercises import close, finished, not_the_mistake

    images = torch.rand(6, 5, 7, generator=torch.Generator().manual_seed(1)).cumsum(dim=-1)  # smooth along rows

    def pearson(a, b):
        return np.corrcoef(a.flatten(), b.flatten())[0, 1]

    got = finished(neighbour_correlation(images, 2), "neighbour_correlation(images, 2)")
    a, b = images[:, :, :-2].flatten().double(), images[:, :, 2:].flatten().double()
    not_the_mistake(got, (a * b).sum() / torch.sqrt((a ** 2).sum() * (b ** 2).sum()), "correlation at distance 2",
                    "you forgot to subtract the means: that is the cosine, not the correlation")
    not_the_mistake(got, pearson(images[:, :-2, :], images[:, 2:, :]), "correlation at distance 2",
                    "you compared each pixel with the one below it; the exercise asks for the one to its right")
    not_the_mistake(got, pearson(images[:, :, :-1], images[:, :, 1:]), "correlation at distance 2",
                    "you paired each pixel with its next neighbour whatever the distance; pair it with the pixel "
                    "`distance` columns to its right")
    not_the_mistake(got, pearson(images[:, :, :-3], images[:, :, 3:]), "correlation at distance 2",
                    "your pairs are one column too far apart (distance + 1)")
    close(got, pearson(images[:, :, :-2], images[:, :, 2:]), "correlation with the pixel 2 to the right", atol=1e-6)
    close(neighbour_correlation(images, 1), pearson(images[:, :, :-1], images[:, :, 1:]),
          "correlation with the pixel just to the right", atol=1e-6)


test_neighbour_correlation_on_smooth_images(neighbour_correlation)

# %%
# HIDDEN
def test_neighbour_correlation_on_other_images(neighbour_correlation):
    import numpy as np
    import torch
    from mmcourse.exercises import close

    images = torch.rand(4, 6, 8, generator=torch.Generator().manual_seed(2)).cumsum(dim=-2)
    right3 = np.corrcoef(images[:, :, :-3].flatten(), images[:, :, 3:].flatten())[0, 1]
    close(neighbour_correlation(images, 3), right3, "correlation with the pixel 3 to the right", atol=1e-6)
    board = ((torch.arange(6)[:, None] + torch.arange(6)[None, :]) % 2).float()[None]  # a checkerboard
    close(neighbour_correlation(board, 1), -1.0, "correlation on a checkerboard at distance 1", atol=1e-6,
          hint="neighbours on a checkerboard are always opposite, so ρ must be -1")
    close(neighbour_correlation(board, 2), 1.0, "correlation on a checkerboard at distance 2", atol=1e-6,
          hint="two columns apart, checkerboard pixels are always equal, so ρ must be 1")


test_neighbour_correlation_on_other_images(neighbour_correlation)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
neighbour_correlation_fn = student_or_reference(neighbour_correlation, modalities.neighbour_correlation,
                                                (digit_images[:50], 2), "neighbour_correlation")
permutations = torch.argsort(torch.rand(N, 64, generator=torch.Generator().manual_seed(0)), dim=1)  # (N, 64)
shuffled_images = torch.gather(X_digits, 1, permutations).reshape(N, 8, 8)  # (N, 8, 8)
photo_grey = torch.tensor(photo.mean(axis=2))[None]  # (1, H, W)
distances = range(1, 8)
rho = {name: [neighbour_correlation_fn(images, d) for d in distances]
       for name, images in [("photo", photo_grey), ("digits", digit_images), ("shuffled digits", shuffled_images)]}
rho_digits, rho_shuffled = rho["digits"][0], rho["shuffled digits"][0]
reference = np.corrcoef(digit_images[:, :, :-1].flatten(), digit_images[:, :, 1:].flatten())[0, 1]
assert abs(rho_digits - reference) < 1e-6, "neighbour correlation should agree with numpy.corrcoef"
mmcourse.record("neighbour_correlation_digits", rho_digits)
mmcourse.record("neighbour_correlation_digits_shuffled", rho_shuffled)
assert rho_digits > 0.3 and abs(rho_shuffled) < 0.1, "real digits should be far more correlated than shuffled ones"
print("ρ at distance 1, 2, 3 pixels:")
for name, values in rho.items():
    print(f"  {name:16s}" + "  ".join(f"{v:+.2f}" for v in values[:3]))

fig = plt.figure(figsize=(12, 2.8))
ax = fig.add_subplot(1, 3, 1)
for name, values in rho.items():
    ax.plot(list(distances), values, "o-", ms=3, label=name)
ax.axhline(0, color="gray", lw=0.5)
ax.set(xlabel="distance (pixels to the right)", ylabel="correlation ρ", title="spatial structure fades with distance")
ax.legend(fontsize=8)
for i, (images, title) in enumerate([(digit_images[:4], "digits"), (shuffled_images[:4], "the same pixels, shuffled")]):
    sub = fig.add_subplot(1, 3, 2 + i)
    sub.imshow(torch.cat([torch.nn.functional.pad(im, (0, 1), value=float("nan")) for im in images], dim=1),
               cmap="gray_r")  # a blank column between the images
    sub.set_title(title, fontsize=9)
    sub.axis("off")
fig.tight_layout()
plt.show()

# %% [markdown]
# Shuffling wipes out the correlation. The photo's pixels are still alike 7 pixels apart: a surface
# spans many pixels. In the 8×8 digits a stroke is a pixel or two wide, so the correlation is
# modest next door and turns *negative* two pixels away, where ink usually gives way to paper.
#
# ### 3.2 Temporal structure: autocorrelation
#
# **Math.** The autocorrelation at lag $k$ compares a signal with itself $k$ steps later:
#
# $$r(k) = \frac{\sum_t (x_t - \bar x)(x_{t+k} - \bar x)}{\sum_t (x_t - \bar x)^2}, \qquad r(0) = 1 .$$
#
# A signal that changes slowly keeps $r(k)$ high over many lags; white noise drops to 0 at once.

# %%
utterance = speech.waveforms[7].double()  # (T,)
r_speech = modalities.autocorrelation(utterance, max_lag=40)  # 40 samples = 5 ms
r_speech_shuffled = modalities.autocorrelation(utterance[torch.randperm(len(utterance), generator=generator)], 40)
r_eeg = modalities.autocorrelation(eeg[:, 0], max_lag=40)  # 40 samples = 0.5 s
centred = utterance.numpy() - utterance.numpy().mean()
reference = np.correlate(centred, centred, mode="full")[len(centred) - 1:][:41] / (centred ** 2).sum()
assert np.allclose(r_speech.numpy(), reference, atol=1e-9), "autocorrelation should agree with numpy.correlate"
print(f"speech: r(1 sample = 0.125 ms) = {r_speech[1]:.2f}; shuffled: {r_speech_shuffled[1]:.2f}; "
      f"EEG: r(1 sample = 12.5 ms) = {r_eeg[1]:.2f}")
mmcourse.record("autocorrelation_speech_lag1", r_speech[1])

fig, axes = plt.subplots(1, 2, figsize=(10, 2.6))
axes[0].plot(np.arange(41) / sample_rate * 1000, r_speech, label="speech")
axes[0].plot(np.arange(41) / sample_rate * 1000, r_speech_shuffled, label="shuffled samples")
axes[0].set(xlabel="lag (ms)", ylabel="r(k)", title="speech")
axes[1].plot(np.arange(41) / eeg_rate * 1000, r_eeg, color="tab:red", label=f"EEG {eeg_channels[0]}")
axes[1].set(xlabel="lag (ms)", title="EEG")
for ax in axes:
    ax.axhline(0, color="gray", lw=0.5)
    ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# Speech oscillates: $r(k)$ swings negative and back at the period of the voice's pitch and
# formants, which shuffling erases. The EEG changes slowly.
#
# ### 3.3 Latent structure: a few directions explain the pixels
#
# **Math.** Principal component analysis finds orthogonal directions of largest variance; with the
# singular values $\sigma_i$ of the centred data matrix $X$ ($N \times D$), component $i$ explains
# the share $\sigma_i^2 / \sum_j \sigma_j^2$. If few components explain most of it, the $D = 64$
# pixels live near a low-dimensional (latent) space. The control shuffles each pixel *across*
# images, keeping its distribution but breaking how pixels vary together.

# %%
columns_shuffled = torch.stack([X_digits[torch.randperm(N, generator=generator), d] for d in range(64)], dim=1)
explained = mmcourse.check_shape(modalities.pca_variance_explained(X_digits), (64,), "explained")
explained_shuffled = modalities.pca_variance_explained(columns_shuffled)
assert np.allclose(explained.numpy(), PCA().fit(X_digits.numpy()).explained_variance_ratio_, atol=1e-6)
k90 = int((explained.cumsum(0) < 0.9).sum()) + 1
k90_shuffled = int((explained_shuffled.cumsum(0) < 0.9).sum()) + 1
print(f"components for 90 % of the variance: digits {k90}, pixels shuffled across images {k90_shuffled} (of 64)")
mmcourse.record("pca_components_90_digits", k90)
mmcourse.record("pca_components_90_digits_shuffled", k90_shuffled)

fig, ax = plt.subplots(figsize=(4.5, 3))
ax.plot(np.arange(1, 65), explained.cumsum(0), label="digits")
ax.plot(np.arange(1, 65), explained_shuffled.cumsum(0), label="pixels shuffled across images")
ax.axhline(0.9, color="gray", ls="--", lw=0.8)
ax.set(xlabel="number of components", ylabel="variance explained", title="latent structure")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ### 3.4 Explicit structure
#
# The lecture's fourth kind, with *semantics* as its example, is structure **given** with the data
# rather than found in it: a scene graph saying which object is right of which, a parse tree, a
# knowledge graph. None of our five data sets comes with one, so this notebook does not measure it.

# %% [markdown]
# ## 4 · Information: entropy
#
# **Intuition.** How surprising is the next element? The lecture writes the information of
# modality A as $H(\triangle)$ and of B as $H(\bullet)$: the **Shannon entropy** of their elements.
# An outcome of probability $p(x)$ carries a *surprise* of $\log_2 \frac{1}{p(x)}$ bits: 1 bit for
# a fair coin's heads, 0 for a certainty, many for a rare word. The entropy $H(X)$ is the surprise
# to expect on average. It is also the fewest bits per element any code can spend on average: at
# most $\log_2 |V|$, reached when all values are equally likely.

# %% [raw]
# # BEGIN QUESTION
# name: q01_entropy
# points: 2

# %% [markdown]
# **Exercise 2 — entropy in bits.** Write `entropy_bits(p)`: the entropy $H(X)$, in **bits**, of a
# distribution given as a 1-D tensor `p`. `p` may hold probabilities or raw counts (non-negative,
# not all zero), and some outcomes may never occur. Return a float. Below it measures how many bits
# the elements of each modality carry, against the $\log_2|V|$ of section 1.

# %% [raw]
# # BEGIN SOLUTION

# %%
def entropy_bits(p):
    # BEGIN SOLUTION
    p = torch.as_tensor(p, dtype=torch.float64)
    p = p / p.sum()  # counts -> probabilities
    p = p[p > 0]  # outcomes that never occur add no surprise (p log p -> 0)
    return float(-(p * torch.log2(p)).sum())
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_entropy_of_known_distributions(entropy_bits):
    import torch
    from mmcourse.exercises import close, finished, not_the_mistake

    p = torch.tensor([0.5, 0.25, 0.125, 0.125])
    got = finished(entropy_bits(p), "entropy_bits(p)")
    not_the_mistake(got, -(p * torch.log(p)).sum(), "entropy of [1/2, 1/4, 1/8, 1/8]",
                    "you used the natural log: divide by ln 2 or use log2")
    close(entropy_bits(torch.tensor([0.5, 0.5])), 1.0, "entropy of a fair coin (bits)")
    close(got, 1.75, "entropy of [1/2, 1/4, 1/8, 1/8] (bits)")
    close(entropy_bits(torch.tensor([0.5, 0.0, 0.5])), 1.0, "entropy of [0.5, 0, 0.5] (bits)",
          hint="an outcome of probability 0 contributes 0·log 0 = 0; skip zeros or mask them, else you get nan")
    not_the_mistake(entropy_bits(torch.tensor([2.0, 2.0])), -4.0, "entropy of the counts [2, 2]",
                    "you did not normalise: divide the counts by their total so that p sums to 1")
    close(entropy_bits(torch.tensor([2.0, 2.0])), 1.0, "entropy of the counts [2, 2] (bits)")


test_entropy_of_known_distributions(entropy_bits)

# %%
# HIDDEN
def test_entropy_of_counts_against_scipy(entropy_bits):
    import scipy.stats
    import torch
    from mmcourse.exercises import close, not_the_mistake

    counts = torch.tensor([6.0, 2.0, 0.0, 8.0])
    nonzero = counts[counts > 0]
    not_the_mistake(entropy_bits(counts), -(nonzero * torch.log2(nonzero)).sum(), "entropy of the counts [6, 2, 0, 8]",
                    "you did not normalise: divide the counts by their total so that p sums to 1")
    close(entropy_bits(counts), scipy.stats.entropy(counts.numpy(), base=2), "entropy of the counts [6, 2, 0, 8]",
          hint="zeros among the counts contribute nothing")
    close(entropy_bits(torch.ones(16)), 4.0, "entropy of a uniform distribution over 16 outcomes (bits)")
    close(entropy_bits(torch.tensor([0.0, 3.0])), 0.0, "entropy of a certain outcome", atol=1e-9)


test_entropy_of_counts_against_scipy(entropy_bits)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# Written out, the average surprise is
#
# $$H(X) = \sum_x p(x) \log_2 \frac{1}{p(x)} = -\sum_{x} p(x) \log_2 p(x) \quad \text{bits}, \qquad \text{with } 0 \cdot \log_2 0 = 0 ,$$
#
# which `scipy.stats.entropy(counts, base=2)` also computes. Below, the entropy of the elements of
# each modality, from their counts: grey levels 0 … 255 for the photo, 16-bit values for speech.

# %%
entropy_fn = student_or_reference(entropy_bits, modalities.entropy, (torch.tensor([3.0, 1.0, 0.0, 4.0]),),
                                  "entropy_bits")
_check_counts = torch.tensor([5.0, 1.0, 0.0, 2.0, 8.0])
assert abs(float(entropy_fn(_check_counts)) - scipy.stats.entropy(_check_counts.numpy(), base=2)) < 1e-9
element_values = {
    "digit pixels": (digit_images * 16).round(),
    "photo pixels (grey)": torch.tensor((photo.mean(axis=2) * 255).round()),
    "speech samples": pcm(speech_samples),
    "words": tokens,
}
entropies = {}
for name, values in element_values.items():
    _, counts = modalities.value_counts(values)
    entropies[name] = (float(entropy_fn(counts)), math.log2(len(counts)))
    print(f"H({name}) = {entropies[name][0]:5.2f} bits   (at most log2 |V| = {entropies[name][1]:5.2f})")
for name, key in [("digit pixels", "digits_pixels"), ("photo pixels (grey)", "photo_pixels"),
                  ("speech samples", "speech_samples"), ("words", "words")]:
    mmcourse.record(f"entropy_bits_{key}", entropies[name][0])
assert all(h <= h_max + 1e-9 for h, h_max in entropies.values()), "entropy can never exceed log2 |V|"

# %% [markdown]
# Each entropy is below its maximum because the distributions of section 2 are far from uniform.
#
# ## 5 · Noise: additive noise, occlusion and missing data
#
# ### 5.1 Additive noise at a chosen SNR
#
# **Math.** The signal-to-noise ratio compares
# the average **power** $P = \frac{1}{L}\sum_t x_t^2$ of the signal $x$ with that of the noise,
# in decibels:
#
# $$\text{SNR}_{\text{dB}} = 10 \log_{10} \frac{P_x}{P_{\text{noise}}} .$$
#
# To corrupt a recording at a chosen SNR we scale white noise $n$ by a factor $a$ and add it,
# $y = x + a\,n$, so that "10 dB" means the same for every utterance, loud or soft.

# %% [raw]
# # BEGIN QUESTION
# name: q01_add_noise
# points: 2

# %% [markdown]
# **Exercise 3 — noise at a chosen SNR.** Write `add_noise(waveform, noise, snr_db)`: return
# $y = x + a\,n$, where `waveform` is $x$ (a 1-D float tensor), `noise` is $n$ (white noise of the
# same shape, at any loudness), and you choose $a$ so that the SNR of $y$ against $x$, as defined
# above, is `snr_db` decibels. Work out $a$ from the definition first: mind what is a power and what
# is an amplitude.

# %% [raw]
# # BEGIN SOLUTION

# %%
def add_noise(waveform, noise, snr_db):
    # BEGIN SOLUTION
    p_signal = waveform.pow(2).mean()
    p_noise = noise.pow(2).mean()
    a = torch.sqrt(p_signal / (p_noise * 10 ** (snr_db / 10)))
    return waveform + a * noise
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_add_noise_against_torchaudio(add_noise):
    import torch
    import torchaudio
    from mmcourse.exercises import close, not_the_mistake, same_shape

    g = torch.Generator().manual_seed(5)
    t = torch.arange(4000) / 8000
    x = torch.sin(2 * torch.pi * 220 * t) * torch.hann_window(4000) * 0.5  # a tone that swells and fades
    n = torch.randn(4000, generator=g)
    px, pn = x.pow(2).mean(), n.pow(2).mean()
    got = same_shape(add_noise(x, n, 10.0), (4000,), "add_noise(waveform, noise, 10.0)")
    not_the_mistake(got, x + torch.sqrt(px / (pn * 10 ** (10.0 / 20))) * n, "noisy waveform at 10 dB",
                    "you used 10^(SNR/20) inside the power ratio: powers need 10^(SNR/10)", atol=1e-5)
    not_the_mistake(got, x + torch.sqrt(px / pn) / 10 ** (10.0 / 10) * n, "noisy waveform at 10 dB",
                    "you divided the amplitude by 10^(SNR/10): on amplitudes the factor is 10^(SNR/20)", atol=1e-5)
    not_the_mistake(got, x + px / (pn * 10 ** (10.0 / 10)) * n, "noisy waveform at 10 dB",
                    "you scaled the noise by a ratio of powers: take the square root to get an amplitude factor",
                    atol=1e-5)
    expected = torchaudio.functional.add_noise(x[None], n[None], torch.tensor([10.0]))[0]
    close(got, expected, "noisy waveform at 10 dB (against torchaudio.functional.add_noise)", atol=1e-5)


test_add_noise_against_torchaudio(add_noise)

# %%
# HIDDEN
def test_add_noise_against_mmcourse_and_measured_snr(add_noise):
    import torch
    from mmcourse import noise
    from mmcourse.exercises import close, not_the_mistake

    g = torch.Generator().manual_seed(6)
    x = torch.randn(3000, generator=g).cumsum(0) * 0.01  # a slowly wandering signal
    n = torch.randn(3000, generator=g)
    px, pn = x.pow(2).mean(), n.pow(2).mean()
    not_the_mistake(add_noise(x, n, 5.0), x + torch.sqrt(px / (pn * 10 ** (5.0 / 20))) * n, "noisy waveform at 5 dB",
                    "you used 10^(SNR/20) inside the power ratio: powers need 10^(SNR/10)", atol=1e-5)
    close(add_noise(x, n, 5.0), noise.add_noise_at_snr(x, 5.0, noise=n), "noisy waveform at 5 dB", atol=1e-5)
    close(noise.measure_snr_db(x, add_noise(x, n, -3.0)), -3.0, "measured SNR for a request of -3 dB", atol=1e-3)


test_add_noise_against_mmcourse_and_measured_snr(add_noise)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# Since the scaled noise has power $a^2 P_n$, the definition solved for $a$ gives
# $a = \sqrt{P_x / (P_n \cdot 10^{\text{SNR}_{\text{dB}}/10})}$. The 10 belongs to powers; amplitudes,
# square roots of powers, use $20\log_{10}$: mixing the two is the classic mistake. The check below
# compares with `torchaudio.functional.add_noise` and measures the SNR afterwards.

# %%
def reference_add_noise(waveform, noise_, snr_db):
    """mmcourse.noise.add_noise_at_snr with the exercise's argument order."""
    return noise.add_noise_at_snr(waveform, snr_db, noise=noise_)


_probe_noise = torch.randn(speech.waveforms[0].shape, generator=torch.Generator().manual_seed(7))
add_noise_fn = student_or_reference(add_noise, reference_add_noise, (speech.waveforms[0], _probe_noise, 6.0),
                                    "add_noise", reference_name="mmcourse.noise.add_noise_at_snr")

# %%
# NBVAL_CHECK_OUTPUT
clean = speech.waveforms[7]
white = torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))
for snr_db in (20.0, 5.0, -5.0):
    noisy = add_noise_fn(clean, white, snr_db)
    reference = torchaudio.functional.add_noise(clean[None], white[None], torch.tensor([snr_db]))[0]
    assert torch.allclose(noisy, reference, atol=1e-5), "add_noise should agree with torchaudio"
    measured = noise.measure_snr_db(clean, noisy)
    assert abs(measured - snr_db) < 1e-3, f"asked for {snr_db} dB, measured {measured:.3f} dB"
    print(f"requested {snr_db:+5.1f} dB -> measured {measured:+5.1f} dB")

# %% [markdown]
# **How noise hurts recognition.** A quick classifier (logistic regression) learns the digit from
# clean speech (a log-mel spectrogram pooled to 20 bands × 8 time slices); a second one also hears
# each training utterance with noise at 0 … 30 dB. Both are tested at more and more noise.

# %%
def speech_features(waveforms, length=8000):
    """Log-mel spectrogram pooled to 8 time slices: (N, 20 · 8) features for a quick classifier."""
    mel = log_mel_spectrogram(pad_or_trim(waveforms, length), sample_rate, n_mels=20)  # (N, 20, frames)
    return torch.nn.functional.adaptive_avg_pool1d(mel, 8).flatten(1)  # (N, 160)


train_idx, test_idx = train_test_split_indices(len(speech), test_fraction=0.3, seed=0)
speech_train, speech_test = speech.subset(train_idx), speech.subset(test_idx)
train_features = mmcourse.check_shape(speech_features(speech_train.waveforms), (len(speech_train), 160), "features")
speech_classifier = modalities.fit_quick_classifier(train_features, speech_train.labels)

noise_gen = torch.Generator().manual_seed(1)
train_snrs = torch.randint(0, 7, (len(speech_train),), generator=noise_gen) * 5.0  # 0, 5, ..., 30 dB
augmented = [add_noise_fn(w, torch.randn(w.shape, generator=noise_gen), float(snr))
             for w, snr in zip(speech_train.waveforms, train_snrs)]
noise_trained_classifier = modalities.fit_quick_classifier(
    speech_features(speech_train.waveforms + augmented), torch.cat([speech_train.labels, speech_train.labels]))

snr_grid = [40, 30, 20, 10, 5, 0, -5, -10]
test_noises = [torch.randn(w.shape, generator=noise_gen) for w in speech_test.waveforms]
test_inputs = {"clean": speech_features(speech_test.waveforms)}
for snr_db in snr_grid:
    noisy = [add_noise_fn(w, n, float(snr_db)) for w, n in zip(speech_test.waveforms, test_noises)]
    test_inputs[snr_db] = speech_features(noisy)
speech_accuracy = {k: speech_classifier.score(x, speech_test.labels) for k, x in test_inputs.items()}
robust_accuracy = {k: noise_trained_classifier.score(x, speech_test.labels) for k, x in test_inputs.items()}
print("test accuracy at SNR (dB)  " + "".join(f"{str(k):>7s}" for k in test_inputs))
print("  trained on clean speech  " + "".join(f"{v:7.2f}" for v in speech_accuracy.values()))
print("  trained with noise       " + "".join(f"{v:7.2f}" for v in robust_accuracy.values()))
mmcourse.record("digit_accuracy_clean_speech", speech_accuracy["clean"])
mmcourse.record("digit_accuracy_noisy_speech_0db", speech_accuracy[0])
mmcourse.record("digit_accuracy_noisy_speech_0db_noise_trained", robust_accuracy[0])
assert speech_accuracy["clean"] > 0.9 and speech_accuracy[-10] < speech_accuracy["clean"] - 0.3
assert robust_accuracy[0] > speech_accuracy[0] + 0.2, "training with noise should help at 0 dB"

# %% [markdown]
# Trained on clean speech only, the classifier already loses a third of its accuracy at 20 dB (0.64)
# and is near chance at 10 dB (0.21): noise fills the quiet parts of the spectrogram with energy it
# has never seen (play the widget below at 20 dB: the word is still easy to hear). Training with noise
# keeps it at 0.87 or above down to 0 dB. Below, one test utterance at a
# chosen SNR, playable, with what the noise-trained classifier hears.

# %%
example = speech_test.waveforms[0]
example_noise = test_noises[0]


def draw_noisy_speech(snr_db=10):
    """The test utterance with white noise at snr_db: curve, spectrogram, a classifier's guess, a player."""
    noisy = add_noise_fn(example, example_noise, float(snr_db))
    guess = int(noise_trained_classifier.predict(speech_features([noisy]))[0])
    fig = plt.figure(figsize=(10, 3.6))
    left = fig.add_subplot(1, 2, 1)
    left.plot(snr_grid, [speech_accuracy[k] for k in snr_grid], "o-", label="trained on clean")
    left.plot(snr_grid, [robust_accuracy[k] for k in snr_grid], "s-", label="trained with noise")
    left.axvline(snr_db, color="tab:red", lw=0.8)
    left.set(xlabel="SNR (dB)", ylabel="test accuracy", title="digit accuracy vs noise", ylim=(0, 1.02))
    left.invert_xaxis()
    left.legend(fontsize=8)
    right = [fig.add_subplot(2, 2, 2), fig.add_subplot(2, 2, 4)]
    viz.show_waveform_and_spectrogram(noisy, sample_rate, axes=right,
                                      title=f"\"{words[int(speech_test.labels[0])]}\" at {snr_db} dB, "
                                            f"heard as \"{words[guess]}\"")
    return fig, viz.audio_player(noisy, sample_rate)


widgets.show(draw_noisy_speech(10))

# %%
widgets.explore(draw_noisy_speech, snr_db=(-20, 40, 5, 10))

# %% [markdown]
# ### 5.2 Occlusion and missing data
#
# `noise.occlude` hides a square covering a given fraction of each digit, as an object in front of
# the camera would; a classifier trained on clean digits is tested on occluded ones. At a fraction
# of 1 the image is gone: *missing data*, the lecture's third kind of imperfection.

# %%
image_train, image_test = train_test_split_indices(N, test_fraction=0.3, seed=0)
image_classifier = modalities.fit_quick_classifier(X_digits[image_train], digit_labels[image_train])
occlusion_grid = [0.0, 0.05, 0.1, 0.25, 0.4, 0.55, 0.75, 1.0]
occluded = {f: noise.occlude(digit_images[image_test], f, generator=torch.Generator().manual_seed(0))
            for f in occlusion_grid}
image_accuracy = {f: image_classifier.score(x.reshape(len(x), 64), digit_labels[image_test])
                  for f, x in occluded.items()}
print("occluded fraction " + "".join(f"{f:6.0%}" for f in occlusion_grid))
print("test accuracy     " + "".join(f"{a:6.2f}" for a in image_accuracy.values()))
mmcourse.record("digit_accuracy_clean_images", image_accuracy[0.0])
mmcourse.record("digit_accuracy_occluded_images_25", image_accuracy[0.25])
assert image_accuracy[0.0] > 0.9 and image_accuracy[0.25] < image_accuracy[0.0]


def draw_occlusion(fraction=0.25):
    """Eight occluded test digits with the classifier's guesses, and the accuracy at that fraction."""
    images = noise.occlude(digit_images[image_test[:8]], fraction, generator=torch.Generator().manual_seed(0))
    guesses = image_classifier.predict(images.reshape(8, 64))
    accuracy = image_classifier.score(
        noise.occlude(digit_images[image_test], fraction, generator=torch.Generator().manual_seed(0)).reshape(-1, 64),
        digit_labels[image_test])
    titles = [f"{int(t)} → {int(g)}" for t, g in zip(digit_labels[image_test[:8]], guesses)]
    fig = viz.show_images(images, titles=titles, ncols=8,
                          suptitle=f"{fraction:.0%} occluded: test accuracy {accuracy:.2f} (true → guess)")
    return fig


widgets.show(draw_occlusion(0.25))

# %%
widgets.explore(draw_occlusion, fraction=(0.0, 1.0, 0.05, 0.25))

# %% [markdown]
# ## 6 · Relevance: task and context
#
# **Intuition.** Whether a modality matters depends on the task and on the context. In the
# audio-visual digits (`make_av_digits`) each spoken digit is paired with a random handwritten
# image of the same digit: the image carries the digit, but nothing about the voice.
#
# **Math.** Train a quick classifier from an input for a task, and compare its held-out accuracy
# with chance (the most common class):
#
# $$\text{relevance} = \frac{\text{accuracy} - \text{chance}}{1 - \text{chance}} ,$$
#
# 0 when the input says nothing about the task, 1 when it decides it. For the context, the same
# speech is also measured in a "noisy room": white noise at −15 dB, in training and testing alike.

# %%
av = make_av_digits("train", AVDigitsConfig(seed=0, source=SPEECH))  # synthetic: 9 voices × 50 utterances
room_gen = torch.Generator().manual_seed(2)
noisy_room = [add_noise_fn(w, torch.randn(w.shape, generator=room_gen), -15.0) for w in av.waveforms]
av_inputs = {"speech, quiet room": speech_features(av.waveforms), "speech, noisy room": speech_features(noisy_room),
             "image": av.images.reshape(len(av), 64)}
av_tasks = {"digit": av.labels.numpy(), "speaker": np.array(av.speakers)}
relevance = torch.zeros(len(av_inputs), len(av_tasks))
for i, (input_name, features) in enumerate(av_inputs.items()):
    for j, (task_name, labels) in enumerate(av_tasks.items()):
        accuracy, chance = modalities.task_accuracy(features, labels, seed=0)
        relevance[i, j] = modalities.relevance_score(accuracy, chance)
        print(f"{input_name:18s} -> {task_name:7s}: accuracy {accuracy:.2f} (chance {chance:.2f}), "
              f"relevance {relevance[i, j]:+.2f}")
for name, (i, j) in {"relevance_speech_digit": (0, 0), "relevance_speech_speaker": (0, 1),
                     "relevance_image_digit": (2, 0), "relevance_image_speaker": (2, 1),
                     "relevance_speech_digit_noisy_room": (1, 0)}.items():
    mmcourse.record(name, relevance[i, j])
assert relevance[0, 1] > relevance[2, 1] + 0.1, "speech should tell more about the speaker than the image does"
assert relevance[2, 0] > 0.8 and abs(relevance[2, 1]) < 0.1
assert relevance[1, 0] < relevance[2, 0] - 0.1, "in the noisy room the image should win for the digit"

fig, ax = plt.subplots(figsize=(5, 2.8))
viz.heatmap(relevance, xlabels=list(av_tasks), ylabels=list(av_inputs), annotate=True, ax=ax,
            title="relevance of each input to each task")
plt.show()

# %% [markdown]
# **Task:** both inputs are relevant to the digit; only speech to the speaker (hard from one
# word, but above chance). **Context:** in the noisy room the
# same speech tells much less about the digit, nothing about the speaker, and the image becomes the
# more relevant input.
#
# ## 7 · Connections between modalities
#
# The lecture distinguishes **association** (modalities co-occur or correlate, with no direction)
# and **dependency** (one comes from, or before, the other: a direction).
#
# ### 7.1 Association: correlation and co-occurrence
#
# **Math.** For continuous signals, the Pearson correlation $\rho_{ij}$ between channels $i$ and $j$,
# across time. For discrete symbols, the **mutual information**
#
# $$I(A; B) = H(A) + H(B) - H(A, B) ,$$
#
# the bits that knowing one saves about the other: symmetric, 0 for independent variables. First
# the EEG channels:

# %%
eeg_corr = connections.correlation_matrix(eeg)  # (C, C)
assert np.allclose(eeg_corr.numpy(), np.corrcoef(eeg.T), atol=1e-9), "correlation_matrix should agree with numpy"
off_diagonal = eeg_corr[~torch.eye(4, dtype=torch.bool)]
mmcourse.record("association_eeg_max_abs_correlation", off_diagonal.abs().max())
fig = viz.heatmap(eeg_corr, xlabels=eeg_channels, ylabels=eeg_channels, annotate=True,
                  title="EEG: correlation between channels")
plt.show()
i, j = divmod(int((eeg_corr - torch.eye(4)).abs().argmax()), 4)  # the strongest pair of two different channels
print(f"strongest correlation between two channels: {eeg_corr[i, j]:+.2f} ({eeg_channels[i]} and {eeg_channels[j]})")

# %% [markdown]
# What to see: the four channels are far from copies of one signal. Even the strongest pair (printed)
# shares only about a tenth of its variance ($r^2 \approx 0.1$), and a correlation has no direction:
# section 7.2 asks which channel comes first.
#
# Across modalities, we cluster the images and the spoken digits of the pairs separately (k-means,
# 10 clusters, **no labels**) and count how often image cluster $i$ and speech cluster $s$ share a
# pair. Rows and columns are grouped by a hierarchical clustering of their counts; the control,
# with the pairs shuffled, is grouped by the same rule.

# %%
image_clusters = KMeans(10, n_init=4, random_state=0).fit_predict(av_inputs["image"].numpy())
speech_z = (av_inputs["speech, quiet room"] - av_inputs["speech, quiet room"].mean(0)) / av_inputs[
    "speech, quiet room"].std(0)
speech_clusters = KMeans(10, n_init=4, random_state=0).fit_predict(speech_z.numpy())
shuffled_speech_clusters = np.random.default_rng(0).permutation(speech_clusters)
mi_paired = connections.mutual_information(image_clusters, speech_clusters)
mi_shuffled = connections.mutual_information(image_clusters, shuffled_speech_clusters)
assert abs(mi_paired - mutual_info_score(image_clusters, speech_clusters) / math.log(2)) < 1e-9
print(f"I(image cluster; speech cluster) = {mi_paired:.2f} bits paired, {mi_shuffled:.2f} bits with pairs shuffled "
      f"(at most {math.log2(10):.2f})")
mmcourse.record("association_mutual_information_bits", mi_paired)
mmcourse.record("association_mutual_information_bits_shuffled", mi_shuffled)
# real voices (SPEECH = "fsdd") cluster by speaker as much as by digit: there the margin is smaller
assert mi_paired > mi_shuffled + (0.3 if SPEECH == "bundled" else 0.1), "paired image and speech should share information"


def grouped_co_occurrence(a, b):
    """Counts of the pairs (a_i, b_i) as a (10, 10) matrix, with the rows and the columns each put in
    the order of a hierarchical clustering of their profiles, so that similar ones sit side by side."""
    counts = np.zeros((10, 10))
    np.add.at(counts, (a, b), 1)
    rows = leaves_list(linkage(counts, "average", metric="cosine"))
    columns = leaves_list(linkage(counts.T, "average", metric="cosine"))
    return counts[rows][:, columns], rows, columns


fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
tables = {"paired": (speech_clusters, mi_paired), "pairs shuffled": (shuffled_speech_clusters, mi_shuffled)}
for ax, (name, (b, mi)) in zip(axes, tables.items()):
    counts, rows, columns = grouped_co_occurrence(image_clusters, b)
    shown = ax.imshow(counts, cmap="viridis", vmin=0, vmax=30 * len(av) / 450)
    ax.set_xticks(range(10), [f"s{k}" for k in columns], fontsize=8)
    ax.set_yticks(range(10), [f"i{k}" for k in rows], fontsize=8)
    ax.set(xlabel="speech cluster", ylabel="image cluster", title=f"{name}: I = {mi:.2f} bits")
fig.colorbar(shown, ax=axes, label=f"pairs (of {len(av)})")
plt.show()

# %% [markdown]
# With the real pairs, blocks appear: a group of image clusters goes with a group of speech
# clusters and almost never with the others (the blocks are not one digit each; our guess, not
# measured here, is that the speech clusters also split by voice). With the pairs shuffled, the same
# grouping finds no blocks.
#
# ### 7.2 Dependency in time: who leads?
#
# **Math.** The cross-correlation $r_{xy}(k) = \rho(x_t, y_{t+k})$ peaks at $k > 0$ when $y$ follows $x$
# by $k$ steps. A directed test asks whether the *past* of $x$ helps to predict $y$ beyond $y$'s own
# past (Granger causality). With $\sigma^2_{y\mid y}$ the error of a linear predictor of $y_t$ from
# $y_{t-1..t-p}$, and $\sigma^2_{y \mid y, x}$ the error when $x_{t-1..t-p}$ is added,
#
# $$F_{x \to y} = \ln \frac{\sigma^2_{y \mid y}}{\sigma^2_{y \mid y, x}} \ \ge 0 ,$$
#
# and in general $F_{x\to y} \ne F_{y \to x}$: a direction. As a control, a copy of $x$ shifted by
# 5 seconds should predict nothing.

# %%
x_eeg, y_eeg = eeg[:, 3], eeg[:, 0]  # PG9 and PG3
lags, r_xy = connections.cross_correlation(x_eeg, y_eeg, max_lag=20)
peak_lag = int(lags[r_xy.abs().argmax()])
f_forward = connections.granger_causality(x_eeg, y_eeg, order=5)
f_backward = connections.granger_causality(y_eeg, x_eeg, order=5)
f_control = connections.granger_causality(np.roll(x_eeg, 400), y_eeg, order=5)
print(f"cross-correlation peaks at lag {peak_lag} samples ({peak_lag / eeg_rate * 1000:+.1f} ms), "
      f"r = {r_xy.abs().max():.2f}; at lag 0, r = {r_xy[lags == 0].item():.2f}")
print(f"Granger: F(PG9 → PG3) = {f_forward:.3f}, F(PG3 → PG9) = {f_backward:.3f}, shifted control {f_control:.3f}")
mmcourse.record("dependency_eeg_granger_forward", f_forward)
mmcourse.record("dependency_eeg_granger_backward", f_backward)
mmcourse.record("dependency_eeg_peak_lag_ms", peak_lag / eeg_rate * 1000)
assert f_forward > 2 * f_backward and f_forward > 5 * f_control

fig, ax = plt.subplots(figsize=(5, 2.6))
ax.plot(lags / eeg_rate * 1000, r_xy, "o-", ms=3)
ax.axvline(0, color="gray", lw=0.5)
ax.set(xlabel="lag k (ms)", ylabel="ρ(PG9_t, PG3_t+k)", title="EEG cross-correlation")
plt.show()

# %% [markdown]
# The correlation peaks at $k = +1$: PG3 tends to follow PG9 by 12.5 ms, and PG9's past helps to
# predict PG3 more than the reverse. With 10 s of EEG this is a hint, not proof.
#
# ### 7.3 Dependency by construction: a caption made from an image
#
# In the lecture's example, the caption "a teacup on the right of a laptop" was written *from* the
# image. Here the image classifier of section 5.2 writes the captions: the word for the digit it
# sees. Observed pairs cannot tell which was made from which: their association is symmetric. An
# **intervention** can: force one variable to new values, run the process that made the data
# again, and see what else changes.

# %%
def write_captions(images):
    """The caption writer: the digit the image classifier sees in each image (N, 8, 8), as an index into `words`."""
    return image_classifier.predict(images.reshape(len(images), 64).numpy())


def make_pairs(set_images=None, set_captions=None):
    """How the pairs are made: take the images, then write each caption from its image.
    set_images or set_captions forces that variable to the given values (an intervention)."""
    images = digit_images if set_images is None else set_images  # (N, 8, 8)
    captions = write_captions(images) if set_captions is None else set_captions  # (N,)
    return images, captions


rng = np.random.default_rng(0)
images, captions = make_pairs()
another_image = rng.permutation(N)  # every example gets a random other image
same_digit_other_writer = np.arange(N)
for d in range(10):  # every example gets another image of the same digit
    members = np.flatnonzero(digit_labels.numpy() == d)
    same_digit_other_writer[members] = rng.permutation(members)
another_word = (captions + rng.integers(1, 10, N)) % 10  # every caption becomes a different word

changed = {
    "image → another image": (make_pairs(set_images=digit_images[another_image])[1] != captions).mean(),
    "image → same digit, other writer": (make_pairs(set_images=digit_images[same_digit_other_writer])[1]
                                         != captions).mean(),
}
images_after = make_pairs(set_captions=another_word)[0]
image_changed = (images_after != images).flatten(1).any(dim=1).float().mean().item()
for what, share in changed.items():
    print(f"do({what}):".ljust(38) + f"{share:6.1%} of the captions change")
print("do(caption → another word):".ljust(38) + f"{image_changed:6.1%} of the images change")
mmcourse.record("dependency_intervention_captions_changed", changed["image → another image"])
mmcourse.record("dependency_intervention_images_changed", image_changed)
assert changed["image → another image"] > 0.8 and image_changed == 0.0

# %% [markdown]
# Changing the image changes nine captions in ten (the rest land on the same digit by chance); an
# image of the same digit by another writer changes one only when the classifier errs. Changing
# every caption leaves every image as it was: a dependency with a direction, image → caption.
#
# **Why conditional entropies cannot show it.** Since $H(A \mid B) = H(A, B) - H(B)$, for *any*
# pair of variables
#
# $$H(A \mid B) - H(B \mid A) = H(A) - H(B) ,$$
#
# so unequal conditional entropies only say which variable has more entropy. Describe each image
# by its k-means cluster among 50, then among 5: same captions, same process, and the inequality flips.

# %%
print(f"{'image described by':22s} {'H(caption|image)':>17s} {'H(image|caption)':>17s} {'difference':>11s} "
      f"{'H(caption)-H(image)':>20s}")
for k in (50, 5):
    looks = KMeans(k, n_init=2, random_state=0).fit_predict(X_digits.numpy())  # (N,) cluster per image
    h_c_i = connections.conditional_entropy(captions, looks)
    h_i_c = connections.conditional_entropy(looks, captions)
    gap = modalities.entropy_of_samples(captions.tolist()) - modalities.entropy_of_samples(looks.tolist())
    assert abs((h_c_i - h_i_c) - gap) < 1e-9, "the identity H(A|B) - H(B|A) = H(A) - H(B) holds for any pair"
    print(f"{f'its cluster among {k}':22s} {h_c_i:17.2f} {h_i_c:17.2f} {h_c_i - h_i_c:+11.2f} {gap:+20.2f}")
    if k == 50:
        mmcourse.record("dependency_h_caption_given_image_bits", h_c_i)
        mmcourse.record("dependency_h_image_given_caption_bits", h_i_c)

# %% [markdown]
# ## Take-aways
#
# - **Elements** are discrete (words, 17 ink levels) or continuous (EEG), from 64 numbers per digit
#   to ~10⁶ per photo. **Distributions** are far from uniform: half the digit pixels are blank;
#   word counts follow Zipf's law, slope ≈ −1.
# - **Structure** is the difference from a shuffled copy: pixel correlation that fades with distance,
#   speech that correlates with itself over milliseconds, digits in a few principal directions.
#   Explicit structure is *given* with data (a graph, a parse).
# - **Information**: $H(X) = -\sum p \log_2 p$ bits, the average surprise, at most $\log_2|V|$.
# - **Noise** at an SNR ($a = \sqrt{P_x / (P_n 10^{\text{SNR}/10})}$) and occlusion lower accuracy;
#   training with noise buys robustness.
# - **Relevance** depends on the task (speech tells the voice, an image does not) and on the context
#   (in a noisy room the image tells the digit better).
# - **Association** is symmetric (correlation, co-occurrence, $I(A;B)$). **Dependency** has a
#   direction, in time (lead/lag, Granger) or by construction, shown by an intervention, not by
#   conditional entropies: $H(A \mid B) - H(B \mid A) = H(A) - H(B)$.
#
# ## Further reading
#
# - C. E. Shannon, "A Mathematical Theory of Communication", *Bell System Technical Journal*, 1948.
# - T. M. Cover and J. A. Thomas, *Elements of Information Theory*, 2nd ed., Wiley 2006, chapters 2 and 5.
# - P. P. Liang, A. Zadeh and L.-P. Morency, "Foundations and Trends in Multimodal Machine Learning:
#   Principles, Challenges, and Open Questions", *ACM Computing Surveys*, 2024 (the lecture's table).
# - C. W. J. Granger, "Investigating Causal Relations by Econometric Models and Cross-spectral
#   Methods", *Econometrica*, 1969.
# - J. Pearl, *Causality*, 2nd ed., Cambridge University Press 2009 (interventions, the do-operator).

# %% [markdown]
# ## Going further
#
# ### A · Text as a sequence: what word order is worth
#
# How predictable is the next word? Without context, the uncertainty is $H(W_t)$. Knowing the
# previous word leaves the conditional entropy $H(W_t \mid W_{t-1}) = H(W_{t-1}, W_t) - H(W_{t-1})$,
# estimated from bigram counts. Counting from a finite text makes both estimates a little too low
# (rare pairs look more predictable than they are), so we compare with the same words in shuffled
# order: only the difference is due to word order.

# %%
shuffled_tokens = tokens.copy()
random.Random(0).shuffle(shuffled_tokens)
h_unigram = modalities.entropy_of_samples(tokens)
h_bigram = connections.conditional_entropy(tokens[1:], tokens[:-1])
h_bigram_shuffled = connections.conditional_entropy(shuffled_tokens[1:], shuffled_tokens[:-1])
print(f"H(W_t) = {h_unigram:.2f} bits; H(W_t | W_t-1) = {h_bigram:.2f} bits in real order, "
      f"{h_bigram_shuffled:.2f} bits in shuffled order")
mmcourse.record("word_order_information_bits", h_bigram_shuffled - h_bigram)
assert h_bigram < h_bigram_shuffled < h_unigram, "the previous word should help more in real text than shuffled"

# %% [markdown]
# In real order the previous word removes about a bit more uncertainty than in shuffled order:
# the sequential structure of text (grammar, fixed phrases such as "return the"), in bits per word.
#
# ### B · Compression: redundancy including order
#
# A general-purpose compressor sees both the element distribution and the order: zlib (DEFLATE)
# replaces repeated byte strings with short references and frequent bytes with short codes. The
# **compression ratio** (bytes before / bytes after) estimates the redundancy of each modality in
# its natural storage format; shuffling the elements first shows how much of it comes from order.

# %%
stored_forms = {  # (in order, shuffled), each as the bytes a file would hold
    "images": ((digit_images * 16).round().to(torch.uint8), shuffled_images.mul(16).round().to(torch.uint8)),
    "speech": (pcm(speech_samples[:400_000]),
               pcm(speech_samples[:400_000][torch.randperm(400_000, generator=generator)])),
    "text": (" ".join(tokens), " ".join(shuffled_tokens)),  # the words, lower-cased, one space apart
    "eeg": (eeg, eeg[np.random.default_rng(0).permutation(len(eeg))]),
}
ratios = {name: (modalities.compression_ratio(a), modalities.compression_ratio(b))
          for name, (a, b) in stored_forms.items()}
for name, (ordered, shuffled) in ratios.items():
    print(f"{name:7s} compression ratio {ordered:5.2f} (elements shuffled: {shuffled:5.2f})")
    mmcourse.record(f"compression_ratio_{name}", ordered)
assert ratios["text"][0] > ratios["speech"][0] > 1.0, "text should be more redundant than raw speech"

fig, ax = plt.subplots(figsize=(5, 2.6))
x = np.arange(len(ratios))
ax.bar(x - 0.2, [r[0] for r in ratios.values()], 0.4, label="as stored")
ax.bar(x + 0.2, [r[1] for r in ratios.values()], 0.4, label="elements shuffled")
ax.set_xticks(x, list(ratios))
ax.set(ylabel="zlib compression ratio", title="redundancy per modality")
ax.axhline(1, color="gray", lw=0.5)
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Text compresses best, then the digit images (half blank paper); raw speech and the EEG barely
# compress. Our reading, not tested here: a byte-level compressor looks for repeated byte strings, and
# the smooth, oscillating structure that section 3.2 measured rarely repeats byte for byte; using it
# takes a model of the signal, such as a spectrogram or a predictor. Shuffling the elements costs text the
# most (3.79 → 2.82: word order is part of its redundancy), the images less (2.61 → 2.22), and raw speech
# and the EEG almost nothing (1.10 → 1.07, 1.04 → 1.04), which is the compressor's blindness again.
#
# ### C · Ambiguity
#
# Some inputs are uncertain without any added noise (a sloppy 1 looks like a 7). The classifier's
# predicted distribution $\hat p(y \mid x)$ over the ten digits tells how sure it is; its entropy is
# 0 bits when it is certain and $\log_2 10 \approx 3.32$ bits when it has no idea.

# %%
probs_clean = torch.tensor(image_classifier.predict_proba(X_digits[image_test].numpy()))  # (N_test, 10)
probs_occluded = torch.tensor(image_classifier.predict_proba(occluded[0.25].reshape(-1, 64).numpy()))
ambiguity_clean = torch.stack([torch.as_tensor(entropy_fn(p)) for p in probs_clean]).double()  # (N_test,)
ambiguity_occluded = torch.stack([torch.as_tensor(entropy_fn(p)) for p in probs_occluded]).double()
print(f"mean prediction entropy: clean {ambiguity_clean.mean():.2f} bits, "
      f"25 % occluded {ambiguity_occluded.mean():.2f} bits")
mmcourse.record("prediction_entropy_bits_clean_images", ambiguity_clean.mean())
mmcourse.record("prediction_entropy_bits_occluded_images", ambiguity_occluded.mean())
assert ambiguity_occluded.mean() > ambiguity_clean.mean(), "occlusion should make the classifier less sure"

most_ambiguous = torch.argsort(ambiguity_clean, descending=True)[:8]
top2 = torch.topk(probs_clean[most_ambiguous], 2, dim=1)
titles = [f"{int(top2.indices[i, 0])} {top2.values[i, 0]:.0%} / {int(top2.indices[i, 1])} {top2.values[i, 1]:.0%}"
          for i in range(8)]
fig = viz.show_images(digit_images[image_test[most_ambiguous]], titles=titles, ncols=8,
                      suptitle="the most ambiguous clean test digits (two best guesses)")
plt.show()


# %% [markdown]
# Hiding a quarter of the image triples the classifier's mean uncertainty (0.23 → 0.70 bits, printed
# above). The most ambiguous clean digits give their best guess only 35 to 53 % of the probability, with a
# second digit behind it (the titles): the uncertainty is in the drawing itself, not in any noise we added.
