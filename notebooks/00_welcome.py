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
# # 00 · Welcome to *Multimodal Machine Learning from Scratch*
#
# This course rebuilds, piece by piece, everything in a university lecture on multimodal
# learning: what a modality is, how modalities flow through a model, attention, transformers,
# fusion, contrastive learning and CLIP, diffusion, and the objectives behind foundation models.
# Every idea is written by hand, compared with a trusted library, drawn, played with, and
# practised in an exercise that checks itself.
#
# **In this notebook you learn how to use the course:**
# 1. run a notebook in JupyterLab, and why "restart and run all" always works here;
# 2. look at images and *listen* to speech inside the notebook;
# 3. move a widget and watch a figure change;
# 4. do an exercise and get instant feedback with `grader.check`;
# 5. train a small model on the CPU (or a GPU, if you have one) in seconds;
# 6. open the course in Colab or Binder.
#
# **Where this sits in the lecture.** Nowhere yet: this is the user manual. Notebook 01 starts
# the lecture with its first question, *what is a modality?*

# %% [markdown]
# ## 1. Set-up: the first cell of every notebook
#
# Every notebook begins the same way: imports, a fixed random seed, and the device to compute
# on. The seed makes each run print the same numbers, so what you read in the committed
# notebook is what you get when you run it.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import mmcourse
from mmcourse import check_shape, data, viz, widgets
from mmcourse.exercises import student_or_reference
from mmcourse.training import TrainConfig, accuracy, predict, train

generator = mmcourse.set_seed(0)
device = mmcourse.get_device()
print("torch", torch.__version__, "| device:", device)

# %% [markdown]
# `mmcourse.get_device()` picks an NVIDIA GPU (`cuda`) if there is one, then Apple silicon
# (`mps`), then the CPU. Everything in the course is sized to run on two CPU cores in under a
# minute per notebook, so a GPU is never needed. To force a choice, set the environment
# variable `MMCOURSE_DEVICE=cpu` (or `cuda`, `mps`) before starting JupyterLab.
#
# ### How to run a notebook
# * **Shift + Enter** runs the current cell and moves to the next one.
# * **Kernel → Restart Kernel and Run All Cells** runs the whole notebook from a clean state.
#   Do this whenever you are lost: every notebook is built to pass it, in well under a minute.
# * Numbered headings follow the lecture. Cells that check a result end in an `assert`: if one
#   fails, something above it went wrong.

# %% [markdown]
# ## 2. Data you can see and hear
#
# The course uses only data that is already on your machine, so it works on a train or in an
# exam room without a network:
#
# | modality | data | where it comes from |
# |---|---|---|
# | images | 1,797 handwritten digits, 8×8 pixels | ships with scikit-learn |
# | photos and signals | a photo, an MRI slice, an EEG recording | ship with matplotlib |
# | speech | spoken digits "zero" … "nine" in many synthetic voices | bundled in `data/`, made with `espeak-ng` |
# | text | the documentation strings of Python's standard library | read from your Python installation |
#
# (Notebook 01 adds the real *Free Spoken Digit Dataset* as an opt-in download.)
#
# Here are the first digits. `viz.show_images` draws any stack of images in a grid.

# %%
images, labels = data.load_digits()
check_shape(images, (1797, 8, 8), "images")
viz.show_images(images[:16], titles=[f"label {int(y)}" for y in labels[:16]], ncols=8);

# %% [markdown]
# `check_shape` raises a clear error when a tensor does not have the shape you expect
# (`None` matches any size). The course calls it after every step that changes a shape; it is
# the cheapest debugging tool there is.

# %%
# NBVAL_CHECK_OUTPUT
try:
    check_shape(images, (1797, 64), "images")
except ValueError as err:
    print("check_shape says:", err)

# %% [markdown]
# Speech is a waveform: a sequence of air-pressure samples, here 8,000 per second. Below is one
# spoken digit drawn as a curve and as a spectrogram (time on the x-axis, frequency on the
# y-axis, loudness as colour). Press ▶ to listen.

# %%
# NBVAL_CHECK_OUTPUT
speech = data.load_spoken_digits()
first_seven = int((speech.labels == 7).nonzero()[0, 0])
wave = speech.waveforms[first_seven]
print(f"{len(speech)} utterances, sample rate {speech.sample_rate} Hz; "
      f"this one says {int(speech.labels[first_seven])} in the voice {speech.speakers[first_seven]!r} "
      f"and lasts {len(wave) / speech.sample_rate:.2f} s")

# %%
viz.show_waveform_and_spectrogram(wave, speech.sample_rate, title="a spoken 'seven'")
plt.show()
viz.audio_player(wave, speech.sample_rate)

# %% [markdown]
# ## 3. Widgets: play with a figure
#
# Every widget in the course wraps a plain *draw function*: given some settings, it returns a
# figure. We first call it with default settings, so that the figure also shows on the web and
# in a PDF; then `widgets.explore` adds sliders and menus that redraw it. Draw functions only
# draw (all training happens before), so the figure follows the slider at once.
#
# Here the draw function shows the average image of one digit, and how much the individual
# images vary around it.

# %%
mean_images = torch.stack([images[labels == d].mean(dim=0) for d in range(10)])  # (10, 8, 8)
std_images = torch.stack([images[labels == d].std(dim=0) for d in range(10)])  # (10, 8, 8)


def draw_digit_statistics(digit=3, show="mean"):
    """The mean or the standard deviation, pixel by pixel, of all images of one digit."""
    picture = mean_images[digit] if show == "mean" else std_images[digit]
    fig, ax = plt.subplots(figsize=(2.6, 2.6))
    ax.imshow(picture, cmap="gray_r", vmin=0, vmax=1 if show == "mean" else 0.5)
    ax.set_title(f"{show} of the {int((labels == digit).sum())} images of {digit}", fontsize=9)
    ax.axis("off")
    return fig


widgets.show(draw_digit_statistics())

# %%
widgets.explore(draw_digit_statistics, digit=(0, 9, 1, 3), show=["mean", "standard deviation"])

# %% [markdown]
# ## 4. Exercises that check themselves
#
# Each notebook has exercises. An exercise says what to write; you replace the `...` in the
# cell below it and run the cell, then run the check cell below it, `grader.check("q00_...")`.
# The check answers at once, in words: which quantity is wrong, its shape or value, what was
# expected, and, for a common mistake, what the mistake is. It is auto-graded with hidden tests
# too, so make your function work for any input, not only for the example.
#
# If you skip an exercise, the rest of the notebook still runs: the cell after each exercise
# uses the course's reference implementation instead of yours, and says so in one line.
# The solutions are in the instructor's version, in the course's `notebooks/` folder.

# %% [raw]
# # BEGIN QUESTION
# name: q00_accuracy
# points: 2

# %% [markdown]
# **Exercise 0.1 — accuracy.** A classifier outputs one score (a *logit*) per class for each
# example: a tensor `logits` of shape `(N, K)`. Its prediction is the class with the largest
# score, $\hat y_n = \arg\max_k \text{logits}_{n,k}$, and its accuracy is the fraction of
# examples it gets right:
#
# $$\text{accuracy} = \frac{1}{N} \sum_{n=1}^{N} [\hat y_n = y_n].$$
#
# Write `accuracy_of(logits, labels)` returning this fraction as a Python float. The course
# uses it to score every model.

# %% [raw]
# # BEGIN SOLUTION

# %%
def accuracy_of(logits, labels):
    """Fraction of rows of `logits` (N, K) whose largest entry is at `labels` (N,)."""
    # BEGIN SOLUTION
    predictions = logits.argmax(dim=1)  # (N,)
    return (predictions == labels).float().mean().item()
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_accuracy_on_four_examples(accuracy_of):
    import torch
    from mmcourse.exercises import close, finished, not_the_mistake

    logits = torch.tensor([[2.0, 1.0, 0.0, 0.0], [0.0, 3.0, 1.0, 0.0], [1.0, 0.0, 4.0, 0.0], [5.0, 0.0, 1.0, 0.0]])
    labels = torch.tensor([0, 1, 1, 3])  # rows 0 and 1 are right, rows 2 and 3 wrong
    got = finished(accuracy_of(logits, labels), "accuracy_of(logits, labels)")
    not_the_mistake(got, 2.0, "accuracy_of on 4 examples with 2 right",
                    "you returned the number of correct predictions; divide by the number of examples")
    not_the_mistake(got, 1 / 4, "accuracy_of on 4 examples with 2 right",
                    "you took the argmax over dim 0 (over examples); the classes are along dim 1")
    close(got, 0.5, "accuracy_of on 4 examples with 2 right")


test_accuracy_on_four_examples(accuracy_of)

# %%
# HIDDEN
def test_accuracy_on_random_logits(accuracy_of):
    import torch
    from mmcourse.exercises import close

    g = torch.Generator().manual_seed(1)
    logits = torch.randn(50, 7, generator=g)
    labels = torch.randint(0, 7, (50,), generator=g)
    expected = (logits.argmax(1) == labels).float().mean().item()
    got = accuracy_of(logits, labels)
    close(got, expected, "accuracy_of on 50 random examples with 7 classes")
    assert isinstance(got, float), f"accuracy_of must return a Python float (use .item()), got {type(got).__name__}"


test_accuracy_on_random_logits(accuracy_of)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# The cell after every exercise follows this pattern: it uses your function if it agrees with
# the course's reference implementation (here `mmcourse.training.accuracy`), else the reference,
# and says which in one line. So the rest of the notebook runs either way.

# %%
probe_logits = torch.randn(20, 10, generator=generator)  # (20, 10)
probe_labels = torch.randint(0, 10, (20,), generator=generator)  # (20,)
accuracy = student_or_reference(accuracy_of, accuracy, (probe_logits, probe_labels), "accuracy_of")

# %% [markdown]
# ## 5. Training a model in seconds
#
# Every notebook trains what it needs from scratch. `mmcourse.training.train` is the small
# loop they share: it shuffles mini-batches with a fixed seed, steps an Adam optimiser, shows a
# progress bar and returns the loss of each epoch. You give it the model, a function that
# computes the loss of one batch, and the training tensors.
#
# Two classifiers of the digits, to see the loop at work:
# * **nearest class mean** (no training): predict the class whose average image (as in the
#   widget above) is closest;
# * **a small neural network** trained with cross-entropy.

# %%
order = torch.randperm(len(images), generator=generator)
train_idx, test_idx = order[:1400], order[1400:]
x_train, y_train = images[train_idx].reshape(-1, 64), labels[train_idx]  # (1400, 64), (1400,)
x_test, y_test = images[test_idx].reshape(-1, 64), labels[test_idx]  # (397, 64), (397,)

# nearest class mean: distance from each test image to the average training image of each class
train_means = torch.stack([x_train[y_train == k].mean(dim=0) for k in range(10)])  # (10, 64)
distances = torch.cdist(x_test, train_means)  # (397, 10)
nearest_mean_accuracy = accuracy(-distances, y_test)

model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)).to(device)
start = time.perf_counter()
history = train(model, lambda x, y: F.cross_entropy(model(x), y), (x_train, y_train),
                TrainConfig(epochs=30, batch_size=64, lr=3e-3))
seconds = time.perf_counter() - start
mlp_accuracy = accuracy(predict(model, x_test), y_test)

print(f"nearest class mean: test accuracy {nearest_mean_accuracy:.3f}")
print(f"small network: test accuracy {mlp_accuracy:.3f} after {len(history)} epochs ({seconds:.1f} s on {device})")
assert nearest_mean_accuracy > 0.8 and mlp_accuracy > 0.93, "the digit classifiers should be well above chance (0.1)"

# %%
fig, ax = plt.subplots(figsize=(4, 2.5))
ax.plot(range(1, len(history) + 1), history, marker=".")
ax.set_xlabel("epoch")
ax.set_ylabel("training loss")
ax.set_title("cross-entropy falls as the network learns")
plt.show()

# %% [markdown]
# ### Recording results
# A notebook records its key numbers with `mmcourse.record(name, value)`. The command
# `make results` runs every notebook and collects them, with each notebook's run time and
# memory, into `results/RESULTS.md`: that is how the course checks that its models really work.

# %%
mmcourse.record("welcome_nearest_mean_accuracy", nearest_mean_accuracy)
mmcourse.record("welcome_mlp_accuracy", mlp_accuracy);

# %% [markdown]
# ## 6. Where to run the course
#
# * **Your laptop** (recommended): `make lab` in the course folder creates a virtual environment,
#   installs everything, and opens JupyterLab on the student versions of the notebooks.
#   `make test` runs every check. Both work offline once installed.
# * **conda**: `conda env create -f environment.yml`, `conda activate mmcourse`, `jupyter lab`.
# * **Binder**: the repository's `environment.yml` is all Binder needs; open it on
#   mybinder.org and choose JupyterLab.
# * **Colab**: upload or clone the course folder, run `!pip install -e .` in it, and open a
#   notebook from `notebooks/`. Colab's GPU is used automatically by `get_device()`; the
#   widgets need `from google.colab import output; output.enable_custom_widget_manager()`.
#
# ## Take-aways
# * Every notebook starts with a seed and a device, and passes *restart and run all*.
# * Figures come first as static pictures, then as widgets you can move.
# * Exercises check themselves with `grader.check`; skipped ones fall back to the reference.
# * Models train in seconds on the CPU with `mmcourse.training.train`.
#
# ## Further reading
# * The JupyterLab user guide (keyboard shortcuts, the file browser, kernels).
# * The ipywidgets documentation, for how widgets are built.
# * The otter-grader documentation, for how the exercises are authored and graded.
