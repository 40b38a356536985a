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
# # 02 · Pipelines: encoder → intermediate state → decoder
#
# **Learning goals.** After this notebook you can
#
# - state what multimodal learning aims at (a model of *all* modalities together, through a shared
#   intermediate state) and draw the encoder → state → decoder pipeline of any task;
# - write a GRU step and a sequence-to-sequence model by hand, train it, and decode it greedily;
# - build an **image captioner** (vision → language) and measure it by exact match;
# - build a **visual question answering** model (vision + language → label), and prove with a
#   question-only baseline what the image adds;
# - classify **audio-visual** digits (vision + audio → label) with one encoder per modality, and
#   with one shared encoder for both.
#
# **Where this sits in the lecture.** After the modalities and their connections (notebook 01),
# lecture 11 asks where modalities enter a machine learning pipeline: *"we can encode inputs into
# an intermediate state and then decode the intermediate state into the outputs that are suitable
# for our task"*. It shows the idea for one modality (a sentence in, a sentence out), then for
# image captioning, text → image generation, visual question answering and video classification,
# and contrasts one encoder per modality with a single encoder for all. Each of these but text →
# image (notebook 07) is a trained model below, with a picture and a number.

# %% [markdown]
# ## Setup

# %%
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import mmcourse
from mmcourse import pipelines, schematics, viz, widgets
from mmcourse.data import (AVDigitsConfig, Scene, SceneConfig, Shape, answers, caption, log_mel_spectrogram,
                           make_av_digits, make_scenes, make_vqa, questions, scene_vocabulary, speech_source)
from mmcourse.exercises import student_or_reference
from mmcourse.training import TrainConfig, accuracy, predict, train

generator = mmcourse.set_seed(0)
device = mmcourse.get_device()
torch.set_num_threads(1)

# %% [markdown]
# ## 0 · The goal: one model of all modalities
#
# **Intuition.** An image of a red circle and the sentence "a red circle" are two views of one
# scene. Multimodal learning wants a model that knows how the views go *together*: which captions
# fit which images, which answer a question has about a picture, which sound goes with which
# digit. In probability, that is the **joint likelihood** of all modalities,
#
# $$p(x_A, x_B) = p(x_A)\, p(x_B \mid x_A),$$
#
# and the usual way to model it is through a **common latent space**: an encoder maps what we
# observe to an intermediate state $h = f_{\text{enc}}(x_A)$, and a decoder models the other
# modality (or a label) from that state, $p(x_B \mid x_A) \approx p_{\text{dec}}(x_B \mid h)$.
# Every pipeline in this notebook is one choice of $x_A$, $x_B$, encoder and decoder. The
# lecture draws them as boxes:

# %%
fig = schematics.encoder_state_decoder()
plt.show()

# %% [markdown]
# What to see: in every design the decoder gets the inputs *only* through the intermediate state
# (orange). With one modality (left) that state is one vector; with several, each modality has its
# own encoder and state (middle, sections 3 and 4) or one shared encoder makes one joint state
# (right, section 5).
#
# **The data.** To have images with true captions and questions with true answers, the course
# generates them: `mmcourse.data.make_scenes` draws a *scene* (one or more coloured shapes on a
# 3×3 board), renders it as a 32×32 RGB image and writes its caption from the description, so
# the text is true of the image by construction. Captions follow a fixed grammar: objects from
# left to right (then top to bottom), each tied to the next by "left of" or "above". Here we use
# scenes of one or two objects, six colours and four shapes.

# %%
# NBVAL_CHECK_OUTPUT
config = SceneConfig(max_objects=2)  # 6 colours × 4 shapes, 1 or 2 objects on a 3×3 board
train_scenes = make_scenes(12_000, seed=0, config=config)
test_scenes = make_scenes(1_000, seed=0, config=config, split="test")  # another random stream: new scenes
vocab = scene_vocabulary(config)
mmcourse.check_shape(train_scenes.images, (12_000, 3, 32, 32), "train images")
print(f"{len(train_scenes):,} training and {len(test_scenes):,} test scenes; vocabulary of {len(vocab)} words:")
print(" ".join(vocab.itos))
layouts = {tuple((o.colour, o.shape, o.row, o.col) for o in s.objects) for s in train_scenes.scenes}
new_layouts = np.mean([tuple((o.colour, o.shape, o.row, o.col) for o in s.objects) not in layouts
                       for s in test_scenes.scenes])
seen_captions = np.mean([c in set(train_scenes.captions) for c in test_scenes.captions])
print(f"test scenes whose layout never occurs in training: {new_layouts:.2f}; "
      f"test captions that do occur in training: {seen_captions:.2f}")
print(f"different captions among the training scenes: {len(set(train_scenes.captions)):,}")

# %%
fig = viz.show_images(train_scenes.images[:12], titles=[c.replace(" left of", "\nleft of").replace(" above", "\nabove")
                                                        for c in train_scenes.captions[:12]], ncols=6, size=1.7)
plt.show()

# %% [markdown]
# Two objects can be laid out in $\binom{9}{2} \cdot 24 \cdot 23 \approx 20{,}000$ ways, so about a
# third of the test scenes are layouts never seen in training (the 216 one-object layouts all
# repeat, with other pixel offsets). Their *captions* are not new: a caption says only which object
# is left of or above which, and there are only about 1,100 different ones, nearly all met in
# training with the objects elsewhere on the board. So the captioner below is tested on reading
# new images, not on writing sentences it has never seen; notebook 06 tests colour–shape
# combinations never seen in training. A **vocabulary** (`mmcourse.data.Vocabulary`) turns words into ids; its
# first four ids are special tokens: `<pad>` fills short sequences in a batch, `<bos>` starts a
# sentence the decoder writes, `<eos>` ends it, `<unk>` stands for unknown words.

# %%
# NBVAL_CHECK_OUTPUT
ids = vocab.encode(train_scenes.captions[1], bos=True, eos=True)
print(train_scenes.captions[1], "→", ids, "→", vocab.decode(ids))

# %% [markdown]
# ## 1 · Encoder → intermediate state → decoder, in one modality
#
# **Intuition.** The lecture's first example reads a whole sentence into one intermediate state
# and writes another sentence from it. We use a task whose answer we can check at a glance:
# **reverse a sequence of letters** (`b e a d` → `d a e b`). The decoder sees nothing of the
# input but the state, so the state must hold every letter, in order.
#
# **Math.** A recurrent encoder reads $x_1, \dots, x_T$ one step at a time,
# $h_t = \text{GRU}(x_t, h_{t-1})$ with $h_0 = 0$, and its last state $h = h_T$ is the
# intermediate state. The decoder is a language model started from $h$: with $s_0 = h$ and
# $y_0 = \texttt{<bos>}$,
#
# $$s_t = \text{GRU}(y_{t-1}, s_{t-1}), \qquad p(y_t \mid y_{<t}, h) = \operatorname{softmax}(U s_t + c).$$
#
# One GRU step (Cho et al., 2014) mixes the old state and a candidate with an update gate $z$,
# and lets a reset gate $r$ decide how much of the old state the candidate sees:
#
# $$r = \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}), \quad z = \sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz}),$$
# $$n = \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn})), \qquad h' = (1 - z) \odot n + z \odot h.$$
#
# With $z$ near 1 the state passes through a step unchanged, so a GRU can carry what it read
# across many steps. Here are the four lines as a module; its parameters are stored as torch stores them (the
# three $W_{i\cdot}$ stacked in `weight_ih`, in the order $r, z, n$), so we can copy weights from
# `torch.nn.GRUCell` and check that both compute the same step.

# %%
class GRUCell(nn.Module):
    """One GRU step h' = GRU(x, h): x (B, I), h (B, H) → h' (B, H)."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(3 * hidden_size, input_size))  # [W_ir; W_iz; W_in]
        self.weight_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))  # [W_hr; W_hz; W_hn]
        self.bias_ih = nn.Parameter(torch.empty(3 * hidden_size))  # [b_ir; b_iz; b_in]
        self.bias_hh = nn.Parameter(torch.empty(3 * hidden_size))  # [b_hr; b_hz; b_hn]
        for p in self.parameters():
            nn.init.uniform_(p, -hidden_size ** -0.5, hidden_size ** -0.5)

    def forward(self, x, h):
        x_r, x_z, x_n = (x @ self.weight_ih.T + self.bias_ih).chunk(3, dim=-1)  # W_i· x + b_i·, (B, H) each
        h_r, h_z, h_n = (h @ self.weight_hh.T + self.bias_hh).chunk(3, dim=-1)  # W_h· h + b_h·, (B, H) each
        r = torch.sigmoid(x_r + h_r)  # reset gate
        z = torch.sigmoid(x_z + h_z)  # update gate
        n = torch.tanh(x_n + r * h_n)  # candidate state
        return (1 - z) * n + z * h  # (B, H)


# %%
# NBVAL_CHECK_OUTPUT
ours = GRUCell(6, 8)
reference = torch.nn.GRUCell(6, 8)
ours.load_state_dict(reference.state_dict())  # copy torch's weights into ours
x_probe, h_probe = torch.randn(5, 6, generator=generator), torch.randn(5, 8, generator=generator)
h_next = mmcourse.check_shape(ours(x_probe, h_probe), (5, 8), "h'")
gap = (h_next - reference(x_probe, h_probe)).abs().max().item()
assert gap < 1e-5
print("our GRU step agrees with torch.nn.GRUCell, given the same weights, to within 1e-5")

# %% [markdown]
# Now the data: 4,000 random sequences of 3 to 6 letters from `a`–`h`, and their reverses as
# targets (`<bos>` in front for the decoder's input, `<eos>` at the end of what it must say).
# Sequences of a batch share one tensor, so the shorter ones are filled up with `<pad>`.

# %%
letters = pipelines.LETTERS  # a vocabulary of a–h after <pad> <bos> <eos> <unk>
rev_source, rev_target, _ = pipelines.letter_reversals(4000, seed=0)  # (4000, 6), (4000, 8)
rev_test_source, rev_test_target, rev_test_lengths = pipelines.letter_reversals(1000, seed=1)
mmcourse.check_shape(rev_target, (4000, 8), "targets")
print(letters.decode(rev_source[0]), "→", letters.decode(rev_target[0]))
print("a padded source:", rev_source[2].tolist())

# %% [raw]
# # BEGIN QUESTION
# name: q02_encoder
# points: 2

# %% [markdown]
# **Exercise 2.1 — the encoder.** Write `encode(cell, x, mask)`: it reads a batch of embedded
# sequences `x` `(B, T, E)` with the GRU step `cell` (from $h_0 = 0$; `cell.hidden_size` is $H$)
# and returns the intermediate state `h` `(B, H)`, the state after each sequence's last real
# token. `mask` `(B, T)` is `True` at real tokens and `False` at `<pad>`. The state is all the
# decoder will know of the input, so it must not depend on how much padding follows a sequence:
# a sequence gets the same `h` alone or in a batch with longer ones.

# %% [raw]
# # BEGIN SOLUTION

# %%
def encode(cell, x, mask):
    """The last state h (B, H) of the GRU step `cell` run over the real tokens of each sequence in x (B, T, E)."""
    # BEGIN SOLUTION
    h = x.new_zeros(x.shape[0], cell.hidden_size)  # (B, H): h_0 = 0
    for t in range(x.shape[1]):
        h = torch.where(mask[:, t, None], cell(x[:, t], h), h)  # (B, H): a padded step keeps h
    return h
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_encode_on_a_small_batch(encode):
    import torch
    from mmcourse.exercises import ExerciseError, close, finished, not_the_mistake, same_shape
    from mmcourse.pipelines import GRUCell

    torch.manual_seed(0)
    cell = GRUCell(3, 4)
    x = torch.randn(3, 5, 3, generator=torch.Generator().manual_seed(1))  # (B, T, E)
    lengths = torch.tensor([5, 3, 1])
    mask = torch.arange(5)[None, :] < lengths[:, None]  # (B, T)
    what = "encode(cell, x, mask) with x (3, 5, 3), lengths 5, 3, 1, hidden size 4"
    with torch.no_grad():
        got = finished(encode(cell, x, mask), what)
        states, h = [], torch.zeros(3, 4)
        for t in range(5):
            h = cell(x[:, t], h)
            states.append(h)
        states = torch.stack(states, 1)  # (B, T, H): every state, padding read as input
        right = states[torch.arange(3), lengths - 1]  # the state after each row's last real token
    if tuple(got.shape) == (3, 5, 4):
        raise ExerciseError(f"{what}: you returned the state of every step, (B, T, H): the intermediate state "
                            "is one vector per sequence, (B, H)")
    same_shape(got, (3, 4), what)
    not_the_mistake(got, states[:, -1], what, "your state changed at <pad> steps: padding must leave the state "
                    "as it was, so a sequence's state does not depend on how much padding follows it")
    not_the_mistake(got, states[:, 0], what, "you returned the state after the first token; h is the state "
                    "after the last real token")
    not_the_mistake(got, states[:, -1] * mask[:, -1:], what, "your state became zero at <pad> steps: keep "
                    "the previous state there instead of zeroing it")
    close(got, right, what)


test_encode_on_a_small_batch(encode)

# %%
# HIDDEN
def test_encode_matches_the_reference_encoder(encode):
    import torch
    from mmcourse.exercises import close
    from mmcourse.pipelines import GRUCell, encode_sequence

    torch.manual_seed(5)
    cell = GRUCell(6, 7)
    g = torch.Generator().manual_seed(6)
    x = torch.randn(8, 9, 6, generator=g)
    mask = torch.arange(9)[None, :] < torch.randint(1, 10, (8, 1), generator=g)
    with torch.no_grad():
        close(encode(cell, x, mask), encode_sequence(cell, x, mask), "encode on x (8, 9, 6), hidden size 7")
        padded = torch.cat([x, torch.randn(8, 4, 6, generator=g)], 1)
        close(encode(cell, padded, torch.cat([mask, torch.zeros(8, 4, dtype=torch.bool)], 1)),
              encode_sequence(cell, x, mask), "encode after four more <pad> steps")


test_encode_matches_the_reference_encoder(encode)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
_g = torch.Generator().manual_seed(2)
probe_mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]]) > 0
encode_used = student_or_reference(encode, pipelines.encode_sequence,
                                   (ours, torch.randn(3, 4, 6, generator=_g), probe_mask), "encode")

# %% [markdown]
# The whole model: one embedding for the letters, a GRU step for the encoder, another for the
# decoder, and the output layer $U s_t + c$. During training the decoder reads the *true* previous
# token $y_{t-1}$ (**teacher forcing**) and is scored on $y_t$ by the cross-entropy over the tokens
# that are not padding, $\mathcal{L} = -\frac{1}{\#\{t:\, y_t \neq \texttt{<pad>}\}} \sum_{t:\, y_t \neq \texttt{<pad>}} \log p(y_t \mid y_{<t}, h)$
# (`pipelines.sequence_cross_entropy`, which equals `F.cross_entropy` with `ignore_index`).
# Adam trains it for two passes over the data while its learning rate falls from $10^{-2}$ to 0 along
# half a cosine (`schedule="cosine"`): big steps early, small ones at the end.

# %%
class Seq2Seq(nn.Module):
    """Tokens → one state h → tokens."""

    def __init__(self, vocab_size, embed_size=32, hidden_size=128, pad_id=0):
        super().__init__()
        self.pad_id = pad_id
        self.embed = nn.Embedding(vocab_size, embed_size, padding_idx=pad_id)
        self.encoder = GRUCell(embed_size, hidden_size)
        self.decoder = GRUCell(embed_size, hidden_size)
        self.out = nn.Linear(hidden_size, vocab_size)  # U, c

    def encode(self, source):
        """Source tokens (B, T) → the intermediate state h (B, H)."""
        return encode_used(self.encoder, self.embed(source), source != self.pad_id)  # yours, if it passed

    def step(self, tokens, s):
        """One decoder step: y_{t-1} (B,) and s_{t-1} (B, H) → scores of y_t (B, V) and s_t."""
        s = self.decoder(self.embed(tokens), s)
        return self.out(s), s

    def forward(self, source, target_inputs):
        """Teacher forcing: scores (B, T, V) of each next token, given the true previous ones (B, T)."""
        s = self.encode(source)  # s_0 = h
        y = self.embed(target_inputs)  # (B, T, E): every input token at once
        states = []
        for t in range(target_inputs.shape[1]):
            s = self.decoder(y[:, t], s)  # s_t = GRU(y_{t-1}, s_{t-1})
            states.append(s)
        return self.out(torch.stack(states, dim=1))  # (B, T, V): U s_t + c for every t


probe_logits = torch.randn(3, 5, 11, generator=generator)  # (B, T, V)
probe_targets = torch.tensor([[4, 5, 6, 0, 0], [7, 8, 9, 10, 2], [5, 2, 0, 0, 0]])  # (B, T), 0 = <pad>
gap = pipelines.sequence_cross_entropy(probe_logits, probe_targets, letters.pad_id) - F.cross_entropy(
    probe_logits.flatten(0, 1), probe_targets.flatten(), ignore_index=letters.pad_id)
assert abs(gap.item()) < 1e-6
print(f"sequence cross-entropy vs F.cross_entropy with ignore_index: difference {abs(gap.item()):.1e}")

budget = TrainConfig(epochs=2, batch_size=128, lr=1e-2, schedule="cosine")
reversers = []  # the same model trained from three seeds: what we conclude must hold for each
for seed in range(3):
    torch.manual_seed(seed)
    model = Seq2Seq(len(letters), embed_size=32, hidden_size=128, pad_id=letters.pad_id)
    history = train(model, lambda s, y_in, y_out, m=model: pipelines.sequence_cross_entropy(m(s, y_in), y_out),
                    (rev_source, rev_target[:, :-1], rev_target[:, 1:]), replace(budget, seed=seed))
    reversers.append(model)
    print(f"seed {seed}, training loss per epoch:", " ".join(f"{v:.3f}" for v in history))
seq2seq = reversers[0]

# %% [markdown]
# ### Greedy decoding
#
# At test time there is no true previous token to read. **Greedy decoding** lets the decoder read
# its *own* last word: start from $y_0 = \texttt{<bos>}$ and the state $h$, and at each step take
# the most likely token
#
# $$\hat y_t = \arg\max_v \, p(v \mid \hat y_{<t}, h),$$
#
# feed $\hat y_t$ back in as the next input, and stop at `<eos>`.

# %% [raw]
# # BEGIN QUESTION
# name: q02_greedy_decode
# points: 2

# %% [markdown]
# **Exercise 2.2 — greedy decoding.** Write `greedy_decode(step, h, bos_id, eos_id, pad_id, max_len)`,
# the sentence the decoder writes on its own from the states `h` `(B, H)`. `step(tokens, h)` is one
# decoder step (like `Seq2Seq.step`): current tokens `(B,)` and state → scores of the next token
# `(B, V)` and the new state. Return int64 ids `(B, max_len)` without the `<bos>`. The rows of a
# batch finish at different steps; a row's positions after its `<eos>` hold `pad_id`, so that
# decoding a batch gives each row what decoding it alone would.

# %% [raw]
# # BEGIN SOLUTION

# %%
def greedy_decode(step, h, bos_id, eos_id, pad_id, max_len):
    """Decode greedily from state h (B, H): (B, max_len) token ids, <pad> after each row's <eos>."""
    # BEGIN SOLUTION
    with torch.no_grad():
        B = h.shape[0]
        tokens = torch.full((B,), bos_id, dtype=torch.long)  # (B,) the first input is <bos>
        out = torch.full((B, max_len), pad_id, dtype=torch.long)  # (B, max_len)
        done = torch.zeros(B, dtype=torch.bool)  # (B,) rows that said <eos>
        for t in range(max_len):
            scores, h = step(tokens, h)  # (B, V), (B, H)
            tokens = scores.argmax(dim=-1)  # (B,) fed back at the next step
            out[:, t] = torch.where(done, torch.full_like(tokens, pad_id), tokens)
            done = done | (tokens == eos_id)
            if done.all():
                break
        return out
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_greedy_decode_on_a_counting_decoder(greedy_decode):
    import torch
    import torch.nn.functional as F
    from mmcourse.exercises import close, finished, not_the_mistake, same_shape

    def step(tokens, h):
        """A fake decoder: after <bos> it says 4, then 5, 6, ... 9, 4, ...; <eos> (2) when its counter h runs out."""
        h = h - 1
        nxt = torch.where(tokens < 4, torch.full_like(tokens, 4), 4 + (tokens - 3) % 6)
        nxt = torch.where(h[:, 0] <= 0, torch.full_like(tokens, 2), nxt)
        return F.one_hot(nxt, 10).float() * 5, h

    h0 = torch.tensor([[1.0], [3.0], [9.0]])
    what = "greedy_decode(step, h0, bos_id=1, eos_id=2, pad_id=0, max_len=6)"
    got = finished(greedy_decode(step, h0, 1, 2, 0, 6), what)
    same_shape(got, (3, 6), what)
    not_the_mistake(got, [[2, 2, 2, 2, 2, 2], [4, 5, 2, 2, 2, 2], [4, 5, 6, 7, 8, 9]], what,
                    "you kept decoding after <eos>: once a row has said <eos>, its later positions must be <pad>")
    not_the_mistake(got, [[2, 0, 0, 0, 0, 0], [4, 4, 2, 0, 0, 0], [4, 4, 4, 4, 4, 4]], what,
                    "you fed <bos> at every step: feed back the token you just predicted")
    not_the_mistake(got, [[2, 0, 0, 0, 0, 0], [4, 5, 6, 7, 8, 9], [4, 5, 6, 7, 8, 9]], what,
                    "you passed the start state to every step: keep the new state that step returns")
    not_the_mistake(got, [[1, 2, 0, 0, 0, 0], [1, 4, 5, 2, 0, 0], [1, 4, 5, 6, 7, 8]], what,
                    "your output starts with <bos>: return only the predicted tokens")
    close(got, [[2, 0, 0, 0, 0, 0], [4, 5, 2, 0, 0, 0], [4, 5, 6, 7, 8, 9]], what)


test_greedy_decode_on_a_counting_decoder(greedy_decode)

# %%
# HIDDEN
def test_greedy_decode_on_a_random_recurrent_decoder(greedy_decode):
    import torch
    from mmcourse.exercises import close, same_shape
    from mmcourse.pipelines import GRUDecoder
    from mmcourse.pipelines import greedy_decode as reference

    torch.manual_seed(3)
    decoder = GRUDecoder(vocab_size=9, embed_size=5, hidden_size=7)
    with torch.no_grad():
        decoder.out.bias[2] += 1.5  # make <eos> likely, so rows end at different steps
    h0 = torch.randn(6, 7, generator=torch.Generator().manual_seed(4))
    got = greedy_decode(decoder.step, h0, 1, 2, 0, 8)
    same_shape(got, (6, 8), "greedy_decode on a random GRU decoder")
    close(got, reference(decoder.step, h0, 1, 2, 0, 8), "greedy_decode on a random GRU decoder")
    assert got.dtype == torch.long, f"return int64 token ids, got {got.dtype}"


test_greedy_decode_on_a_random_recurrent_decoder(greedy_decode)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
def _probe_step(tokens, h):
    """A tiny fixed decoder for the check below: 4 → 5 → ... , <eos> when h runs out."""
    h = h - 1
    nxt = torch.where(tokens < 4, torch.full_like(tokens, 4), 4 + (tokens - 3) % 6)
    return F.one_hot(torch.where(h[:, 0] <= 0, torch.full_like(tokens, 2), nxt), 10).float(), h


greedy_decode_used = student_or_reference(greedy_decode, pipelines.greedy_decode,
                                          (_probe_step, torch.tensor([[2.0], [5.0], [8.0]]), 1, 2, 0, 7),
                                          "greedy_decode")


# %% [markdown]
# Greedy decoding on the 1,000 test sequences, with each of the three models. A reversal is right
# only if every letter and the final `<eos>` are right (**exact match**).

# %%
with torch.no_grad():
    decoded = [greedy_decode_used(model.step, model.encode(rev_test_source), letters.bos_id, letters.eos_id,
                                  letters.pad_id, 8) for model in reversers]  # per seed: (1000, 8)
rev_predicted = mmcourse.check_shape(decoded[0], (1000, 8), "decoded reversals")


def exact_match(predicted, target):
    """(N,) bool: the decoded sequence equals the target, <eos> included."""
    return np.array([a == b for a, b in zip(letters.decode_batch(predicted), letters.decode_batch(target))])


right = np.stack([exact_match(predicted, rev_test_target) for predicted in decoded])  # (seeds, 1000)
seq2seq_exact = mmcourse.record("seq2seq_exact_match", right.mean())
mmcourse.record("seq2seq_exact_match_spread", right.mean(1).std())
for i in range(3):
    print(f"{letters.decode(rev_test_source[i]):12s} → {letters.decode(rev_predicted[i]):12s} "
          f"({'right' if right[0, i] else 'wrong'})")
print(f"exact match on all 1,000 test sequences, mean ± standard deviation over 3 seeds: "
      f"{seq2seq_exact:.3f} ± {right.mean(1).std():.3f}")
assert seq2seq_exact > 0.6

# %%
lengths = range(3, 7)
by_length = np.stack([right[:, (rev_test_lengths == L).numpy()].mean(1) for L in lengths], 1)  # (seeds, lengths)
mmcourse.record("seq2seq_exact_match_length_6", by_length[:, -1].mean())
mmcourse.record("seq2seq_exact_match_length_6_spread", by_length[:, -1].std())
assert (np.diff(by_length, axis=1) < 0).all(), "exact match should fall with length for every seed"
fig, ax = plt.subplots(figsize=(4, 2.5))
ax.bar(lengths, by_length.mean(0), yerr=by_length.std(0), capsize=3)
for L, mean, spread in zip(lengths, by_length.mean(0), by_length.std(0)):
    ax.text(L, mean + spread + 0.03, f"{mean:.2f}", ha="center", fontsize=8)
ax.set(xlabel="sequence length", ylabel="exact match", ylim=(0, 1.15), yticks=np.linspace(0, 1, 6),
       title="exact match per input length (3 seeds)")
plt.show()
print("lowest and highest exact match of the three seeds:",
      ", ".join(f"{L} letters {lo:.2f}–{hi:.2f}" for L, lo, hi in zip(lengths, by_length.min(0), by_length.max(0))))

# %% [markdown]
# For each of the three seeds, exact match falls as the input gets longer (the bars: the mean over
# the seeds, with the standard deviation as a black line; below the figure, the lowest and highest
# seed). That raises the question the lecture's next topic answers: is it the **bottleneck**, the whole input squeezed
# into one state vector of 128 numbers, that the decoder cannot look back past? Or is a longer
# sequence simply more letters to get wrong? This notebook cannot tell the two apart.
# Notebook 03 trains this model on the same task twice, without and with **attention**, which lets
# each decoder step look at every encoder state, with the same (larger) budget for both, and compares
# exact match per length.

# %% [markdown]
# ## 2 · Image captioning: vision → language
#
# **Intuition.** Replace the text encoder by an **image encoder** and keep the decoder: the image
# becomes the intermediate state, and the decoder writes a sentence about it. That is image
# captioning ("Show and Tell", Vinyals et al., 2015). (The lecture also runs the pipeline the
# other way, text → image: see "Going further" and notebook 07.)
#
# **Math.** A small CNN maps the image $x$ to a grid of features, one vector per cell of the
# board, flattened into $f \in \mathbb{R}^{C \cdot 3 \cdot 3}$ (positions stay in the order of the
# vector). The decoder starts from $s_0 = \tanh(W_0 f)$ and sees $f$ again at each step next to the
# previous word:
#
# $$s_t = \text{GRU}([E y_{t-1};\, f],\, s_{t-1}), \qquad p(y_t \mid y_{<t}, x) = \operatorname{softmax}(U s_t + c),$$
#
# trained with the same sequence cross-entropy, and decoded with the same greedy decoder.

# %%
captioner = pipelines.Captioner(len(vocab), embed_size=32, hidden_size=128, channels=32)
features, start_state = captioner.encode(train_scenes.images[:4])
mmcourse.check_shape(features, (4, 32 * 9), "grid features f")
mmcourse.check_shape(start_state, (4, 128), "start state s_0")

caption_ids = vocab.encode_batch(train_scenes.captions, bos=True, eos=True)  # (N, T + 1)
caption_history = train(captioner, lambda x, y_in, y_out: pipelines.sequence_cross_entropy(captioner(x, y_in), y_out),
                        (train_scenes.images, caption_ids[:, :-1], caption_ids[:, 1:]),
                        TrainConfig(epochs=2, batch_size=64, lr=1e-2))
print("training loss per epoch:", " ".join(f"{v:.3f}" for v in caption_history))

with torch.no_grad():
    step, h0 = captioner.step_from(test_scenes.images)
    caption_predicted = greedy_decode_used(step, h0, vocab.bos_id, vocab.eos_id, vocab.pad_id, 12)
predicted_captions = vocab.decode_batch(caption_predicted)
caption_right = np.array([p == c for p, c in zip(predicted_captions, test_scenes.captions)])
captioning_exact_match = mmcourse.record("captioning_exact_match", caption_right.mean())
new_layout = np.array([tuple((o.colour, o.shape, o.row, o.col) for o in s.objects) not in layouts
                       for s in test_scenes.scenes])
mmcourse.record("captioning_exact_match_new_layouts", caption_right[new_layout].mean())
assert captioning_exact_match >= 0.8, "the captioner should get at least 80% of new scenes exactly right"
wrong_words = [sum(a != b for a, b in zip(p.split(), c.split())) if len(p.split()) == len(c.split()) else None
               for p, c, ok in zip(predicted_captions, test_scenes.captions, caption_right) if not ok]
print(f"exact match on the {len(test_scenes):,} test scenes: {captioning_exact_match:.3f} "
      f"(on the layouts never seen in training: {caption_right[new_layout].mean():.3f})")
print(f"of the {len(wrong_words)} wrong captions, {wrong_words.count(1)} differ from the truth in one word")

# %%
def wrap(text):
    return text.replace(" left of", "\nleft of").replace(" above", "\nabove")


shown = list(range(8)) + [int(i) for i in np.flatnonzero(~caption_right)[:4]]
fig = viz.show_images(test_scenes.images[shown], ncols=6, size=2.0,
                      titles=[("✓ " if caption_right[i] else "✗ ") + wrap(predicted_captions[i]) for i in shown],
                      suptitle="greedy captions of new scenes (the last four: mistakes)")
plt.show()
for i in shown[8:]:
    print(f"✗ {predicted_captions[i]}\n  true: {test_scenes.captions[i]}")

# %% [markdown]
# The captioner (one training run: nothing below compares it with another model) writes most new
# scenes' captions word for word; many mistakes are one wrong word (the counts above), others swap
# shapes (printed under the figure).
# %% [markdown]
# ## 3 · Visual question answering: vision + language → label
#
# **Intuition.** Now two modalities go *in*: an image and a question about it, and the output is
# one answer from a closed set (here 15: colours, shapes, the numbers zero to two, and yes / no, unused
# here). Following the
# lecture, each modality gets its own encoder, and a **fusion head** combines the two states.
# We reuse the captioner's image encoder (frozen): its grid features $f$ already say what is where,
# so the image state is $v = f$. The question encoder is a GRU over the question's words, with
# final state $q$.
#
# **Math.** The fusion head maps the two states to one score per answer,
# $p(a \mid x, \text{question}) = \operatorname{softmax}(\text{scores}(v, q))_a$. It has to
# *combine* them: "what colour is the circle" has a different answer for every image, and every
# image has a different answer for every question.
#
# A VQA model must be compared with a **question-only baseline**: the same question encoder and
# an MLP, with no image. Whatever the baseline gets right comes from the question alone; the gap
# between the two is what the image adds.

# %% [raw]
# # BEGIN QUESTION
# name: q02_vqa_fusion
# points: 2

# %% [markdown]
# **Exercise 2.3 — the VQA fusion head.** Write `fusion_head(v, q, W, b, U, c)`: the scores `(B, A)`
# of the answers, given each example's image state `v` `(B, Dv)` and question state `q` `(B, Dq)`.
# Its parameters are those of a network with one hidden layer of ReLUs: `W` `(H, Dv + Dq)` and `b` `(H,)`
# make the hidden layer (the first `Dv` columns of `W` read the image state), `U` `(A, H)` and
# `c` `(A,)` the output layer. Why: the answer to "what colour is the circle" depends on the image
# and the question *together*, so the two states must interact. Scores that add an image term to a
# question term cannot do that for every image and every question: what would your head reduce to
# without a non-linearity?

# %% [raw]
# # BEGIN SOLUTION

# %%
def fusion_head(v, q, W, b, U, c):
    """Answer scores (B, A) from the image state v (B, Dv) and the question state q (B, Dq)."""
    # BEGIN SOLUTION
    joint = torch.cat([v, q], dim=1)  # (B, Dv + Dq)
    z = torch.relu(joint @ W.T + b)  # (B, H)
    return z @ U.T + c  # (B, A)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_fusion_head_on_small_states(fusion_head):
    import torch
    from mmcourse.exercises import ExerciseError, close, finished, not_the_mistake, same_shape

    g = torch.Generator().manual_seed(0)
    v, q = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    W, b = torch.randn(5, 6, generator=g), torch.randn(5, generator=g)
    U, c = torch.randn(2, 5, generator=g), torch.randn(2, generator=g)
    what = "fusion_head(v, q, W, b, U, c) with v, q (4, 3), W (5, 6), U (2, 5)"
    try:
        got = fusion_head(v, q, W, b, U, c)
    except RuntimeError as err:
        raise ExerciseError(f"{what} raised {type(err).__name__}: {str(err)[:100]}. If you concatenated along "
                            "dim 0 you stacked the examples; [v ; q] joins the features of each example: "
                            "torch.cat([v, q], dim=1)") from None
    finished(got, what)
    same_shape(got, (4, 2), what)
    right = torch.relu(torch.cat([v, q], 1) @ W.T + b) @ U.T + c
    not_the_mistake(fusion_head(v, q + 1, W, b, U, c), got, what,
                    "the scores do not change when the question changes: your head ignores q")
    not_the_mistake(fusion_head(v + 1, q, W, b, U, c), got, what,
                    "the scores do not change when the image changes: your head ignores v")
    not_the_mistake(got, (torch.cat([v, q], 1) @ W.T + b) @ U.T + c, what,
                    "you forgot the ReLU: z = ReLU(W [v ; q] + b); without it the two layers are one linear map")
    not_the_mistake(got, torch.relu(torch.cat([q, v], 1) @ W.T + b) @ U.T + c, what,
                    "you concatenated [q ; v]: the first Dv columns of W belong to the image state, so use [v ; q]")
    close(got, right, what)


test_fusion_head_on_small_states(fusion_head)

# %%
# HIDDEN
def test_fusion_head_with_other_sizes(fusion_head):
    import torch
    from mmcourse.exercises import close
    from mmcourse.pipelines import fusion_logits

    g = torch.Generator().manual_seed(5)
    v, q = torch.randn(7, 9, generator=g), torch.randn(7, 4, generator=g)
    W, b = torch.randn(6, 13, generator=g), torch.randn(6, generator=g)
    U, c = torch.randn(3, 6, generator=g), torch.randn(3, generator=g)
    close(fusion_head(v, q, W, b, U, c), fusion_logits(v, q, W, b, U, c),
          "fusion_head with v (7, 9), q (7, 4), W (6, 13), U (3, 6)")


test_fusion_head_with_other_sizes(fusion_head)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %%
_g = torch.Generator().manual_seed(2)
fusion_probe = (torch.randn(3, 5, generator=_g), torch.randn(3, 4, generator=_g), torch.randn(6, 9, generator=_g),
                torch.randn(6, generator=_g), torch.randn(2, 6, generator=_g), torch.randn(2, generator=_g))
fusion_head_used = student_or_reference(fusion_head, pipelines.fusion_logits, fusion_probe, "fusion_head")

# %% [markdown]
# The head is $\text{scores} = U\,\operatorname{ReLU}(W\,[v;\, q] + b) + c$, with $[v; q]$ the two
# states stacked into one vector.
#
# The questions: two per training scene, about colour ("what colour is the circle"), shape ("what
# shape is the red object"), counts ("how many squares are there") and spatial relations ("what
# shape is left of the blue cross").

# %%
# NBVAL_CHECK_OUTPUT
kinds = ("count", "colour", "shape", "relation")
answer_set = answers(config)
train_qa = make_vqa(train_scenes, per_scene=2, seed=0, kinds=kinds)
test_qa = make_vqa(test_scenes, per_scene=1, seed=0, kinds=kinds)
train_questions, test_questions = vocab.encode_batch(train_qa.questions), vocab.encode_batch(test_qa.questions)
train_answers = torch.tensor([answer_set.index(a) for a in train_qa.answers])  # (M,)
test_answers = torch.tensor([answer_set.index(a) for a in test_qa.answers])  # (M_test,)
print(f"{len(train_qa):,} training and {len(test_qa):,} test questions; {len(answer_set)} answers: {' '.join(answer_set.itos)}")
for i in range(3):
    print(f"  scene {int(train_qa.scene_index[i])}: {train_qa.questions[i]}? → {train_qa.answers[i]}")

# %%
with torch.no_grad():  # the image state v of each scene, 1,000 images at a time
    v_train = torch.cat([captioner.encode(chunk)[0] for chunk in train_scenes.images.split(1000)])  # (N, C·9)
    v_test = torch.cat([captioner.encode(chunk)[0] for chunk in test_scenes.images.split(1000)])
v_mean, v_std = v_train.mean(0), v_train.std(0) + 1e-5  # standardise each feature: faster training
v_train, v_test = (v_train - v_mean) / v_std, (v_test - v_mean) / v_std
mmcourse.check_shape(v_train, (len(train_scenes), 288), "image states v")

budget = TrainConfig(epochs=8, batch_size=2048, lr=3e-2)  # the same data, epochs and optimiser for both
vqa_scores, blind_scores = [], []  # per seed: (M_test, A) answer scores on the test questions
for seed in range(3):
    torch.manual_seed(seed)
    vqa = pipelines.VQAModel(image_size=288, vocab_size=len(vocab), n_answers=len(answer_set), hidden_size=64,
                             fuse=fusion_head_used)
    blind = pipelines.QuestionOnlyModel(len(vocab), len(answer_set), hidden_size=64)
    train(vqa, lambda i, q, a, m=vqa: F.cross_entropy(m(v_train[i], q), a),
          (train_qa.scene_index, train_questions, train_answers), replace(budget, seed=seed))
    train(blind, lambda q, a, m=blind: F.cross_entropy(m(None, q), a), (train_questions, train_answers),
          replace(budget, seed=seed))
    vqa_scores.append(predict(vqa, v_test[test_qa.scene_index], test_questions))
    blind_scores.append(predict(blind, v_test[test_qa.scene_index], test_questions))  # v is ignored
vqa_accuracies = np.array([accuracy(scores, test_answers) for scores in vqa_scores])  # (seeds,)
blind_accuracies = np.array([accuracy(scores, test_answers) for scores in blind_scores])
vqa_accuracy = mmcourse.record("vqa_accuracy", vqa_accuracies.mean())
mmcourse.record("vqa_accuracy_spread", vqa_accuracies.std())
vqa_question_only_accuracy = mmcourse.record("vqa_question_only_accuracy", blind_accuracies.mean())
mmcourse.record("vqa_question_only_accuracy_spread", blind_accuracies.std())
print(f"test accuracy, mean ± standard deviation over 3 seeds: image + question {vqa_accuracy:.3f} ± "
      f"{vqa_accuracies.std():.3f}, question only {vqa_question_only_accuracy:.3f} ± {blind_accuracies.std():.3f}")
assert vqa_accuracies.min() >= 0.9 and vqa_accuracies.min() > blind_accuracies.max() + 0.3

# %%
kind_of = np.array(test_qa.kinds)
fig, ax = plt.subplots(figsize=(5.5, 2.8))
x = np.arange(len(kinds))
kind_accuracy = {}
for offset, (name, scores) in zip((-0.2, 0.2), (("image + question", vqa_scores), ("question only", blind_scores))):
    right_kind = np.stack([(s.argmax(1) == test_answers).numpy() for s in scores])  # (seeds, M_test)
    per_kind = np.stack([right_kind[:, kind_of == k].mean(1) for k in kinds], 1)  # (seeds, kinds)
    kind_accuracy[name] = per_kind.mean(0)  # (kinds,)
    ax.bar(x + offset, per_kind.mean(0), 0.4, yerr=per_kind.std(0), capsize=3, label=name)
ax.set_xticks(x, kinds)
ax.set(ylabel="test accuracy", ylim=(0, 1.3), yticks=np.linspace(0, 1, 6),
       title="what the image adds, per kind of question (3 seeds)")
ax.legend(fontsize=8, loc="upper center", ncol=2)
plt.show()
print("mean test accuracy per kind, image + question vs question only: " + ", ".join(
    f"{k} {kind_accuracy['image + question'][i]:.2f} vs {kind_accuracy['question only'][i]:.2f}"
    for i, k in enumerate(kinds)))
blind_says = [answer_set.itos[int(i)] for i in blind_scores[0].argmax(1)]  # the first seed's model
for k in kinds:
    said = [a for a, kind in zip(blind_says, kind_of) if kind == k]
    top = max(sorted(set(said)), key=said.count)  # sorted: ties broken the same way on every run
    print(f"question only, {k} questions: answers '{top}' to {said.count(top) / len(said):.0%} of them")
by_question = {}  # the best any question-only model can do: the most frequent training answer of each question
for question, answer in zip(train_qa.questions, train_qa.answers):
    by_question.setdefault(question, []).append(answer)
best_guess = {question: max(sorted(set(said)), key=said.count) for question, said in by_question.items()}
bound = np.mean([best_guess.get(q) == a for q, a in zip(test_qa.questions, test_qa.answers)])
print(f"the most frequent training answer of each test question is right for {bound:.3f} of them")
mmcourse.record("vqa_question_only_best_guess", bound);

# %% [markdown]
# With the same budget, the question-only model learns the *kind* of answer and hardly more, for
# each of the three seeds (the spreads are small): it leans on one favourite answer per kind of
# question, 'zero' for 81 % of the count questions and one colour or shape for about half of each
# other kind (the lines under the figure, for the first seed). That is not for want of training:
# answering each test question with its most frequent answer in training is right about as often (the
# last line; the model is within 0.01 of it). Everything above that is what the image adds (the
# per-kind line): most of the accuracy for colour, shape and relation questions, and for
# counts, where guessing "zero" is often right, about a third of it.
#
# ## 4 · Classification from image and sound: vision + audio → label
#
# **Intuition.** Video classification in the lecture reads a video's frames and its sound together
# to predict a category. We have no videos. What stands in for one is an audio-visual digit
# (`mmcourse.data.make_av_digits`): **one still image** of a handwritten digit, paired with a
# recording of the same digit spoken; the test set has unseen writers and unseen voices. The image
# is read as a sequence of its 8 rows of 8 pixels (standing in for frames), the sound as 10 frames of
# a 32-band log-mel spectrogram (notebook 01), 100 ms each. One recurrent encoder per modality turns each
# sequence into a state; the label is read from the two states side by side:
#
# $$h_{\text{img}} = \text{GRU}_{\text{img}}(\text{rows}), \quad h_{\text{aud}} = \text{GRU}_{\text{aud}}(\text{frames}),
#   \quad p(y \mid x) = \operatorname{softmax}(W [h_{\text{img}};\, h_{\text{aud}}] + b).$$
#
# We add noise to both (speech at 5 dB SNR, a quarter of each image hidden), so neither modality is
# enough on its own. The voices are synthetic here, so that the test hears new voices of a kind the
# model has heard 9 of; with the real recordings (`speech_source` below, or notebook 03c) it would
# learn from only four people.

# %%
SPEECH = speech_source("bundled")  # synthetic voices; "fsdd": real ones (6 people, 2 of them held out for the test)
av_config = AVDigitsConfig(snr_db=5.0, occlusion=0.25, pairs_per_utterance=2 if SPEECH == "bundled" else 1,
                           source=SPEECH)
av_train, av_test = make_av_digits("train", av_config), make_av_digits("test", av_config)


def av_inputs(data):
    """Image rows (N, 8, 8) and standardised log-mel frames (N, 10, 32)."""
    mel = log_mel_spectrogram(data.waveforms)  # (N, 32, 101)
    frames = F.avg_pool1d(mel, 10).transpose(1, 2)  # (N, 10, 32): 100 ms per frame
    return data.images[:, 0], (frames - frames.mean()) / frames.std()


rows_train, frames_train = av_inputs(av_train)
rows_test, frames_test = av_inputs(av_test)
mmcourse.check_shape(frames_train, (len(av_train), 10, 32), "audio frames")
print(f"{len(av_train)} training pairs, {len(av_test)} test pairs (unseen voices and writers)")


def train_av(make_model):
    """Test accuracy of the model make_model() builds, trained from each of three seeds: (3,)."""
    result = []
    for seed in range(3):
        torch.manual_seed(seed)
        model = make_model()
        train(model, lambda r, a, y: F.cross_entropy(model(r, a), y), (rows_train, frames_train, av_train.labels),
              TrainConfig(epochs=6, batch_size=128, lr=3e-2, seed=seed))
        result.append(accuracy(predict(model, rows_test, frames_test), av_test.labels))
    return np.array(result)


av_accuracy = {use: train_av(lambda: pipelines.AVClassifier(8, 32, hidden_size=64, use=use))
               for use in ("image", "audio", "both")}  # per design: the accuracy of each seed
print("test accuracy, mean ± standard deviation over 3 seeds:",
      ", ".join(f"{k} {v.mean():.3f} ± {v.std():.3f}" for k, v in av_accuracy.items()))
for use, name in (("both", "av_classification_accuracy"), ("image", "av_image_only_accuracy"),
                  ("audio", "av_audio_only_accuracy")):
    mmcourse.record(name, av_accuracy[use].mean())
    mmcourse.record(f"{name}_spread", av_accuracy[use].std())
assert (av_accuracy["both"] > np.maximum(av_accuracy["image"], av_accuracy["audio"])).all()

# %% [markdown]
# ## 5 · Multiple encoders, or one shared encoder?
#
# The lecture contrasts two designs. Above, **each modality has its own encoder**, and the states
# meet only at the end. Instead, **one encoder can read all modalities**: project image rows and
# audio frames to the same size, tag each with a learned *modality vector*, put them in one
# sequence, and run one GRU over it (`pipelines.SharedEncoderClassifier`). This is how a
# transformer reads video and audio together; notebook 04 builds one, where every element of the
# joint sequence can look at every other.

# %%
av_accuracy["shared"] = train_av(lambda: pipelines.SharedEncoderClassifier(8, 32, hidden_size=64))
mmcourse.record("av_shared_encoder_accuracy", av_accuracy["shared"].mean())
mmcourse.record("av_shared_encoder_accuracy_spread", av_accuracy["shared"].std())

fig, ax = plt.subplots(figsize=(5, 2.6))
names = ["image", "audio", "both", "shared"]
labels_shown = ["image only", "audio only", "two encoders", "one shared\nencoder"]
means, spreads = [av_accuracy[k].mean() for k in names], [av_accuracy[k].std() for k in names]
ax.bar(labels_shown, means, yerr=spreads, capsize=3, color=["C0", "C1", "C2", "C3"])
ax.set(ylabel="test accuracy", ylim=(0, 1.15), yticks=np.linspace(0, 1, 6),
       title="noisy audio-visual digits (3 seeds)")
for i, (mean, spread) in enumerate(zip(means, spreads)):
    ax.text(i, mean + spread + 0.03, f"{mean:.2f}", ha="center", fontsize=8)
plt.show()
best_single = np.maximum(av_accuracy["image"], av_accuracy["audio"])  # per seed
for design, name in (("both", "two encoders"), ("shared", "one shared encoder")):
    gain = av_accuracy[design] - best_single
    print(f"{name} minus the best single modality, per seed: {' '.join(f'{g:+.3f}' for g in gain)}")

# %% [markdown]
# For every seed, two encoders beat the best single modality (the first line above); the shared
# encoder does not: it loses to the best single modality for two of the three seeds (the second line).
# Our guess, which this notebook does not test: it reads the image rows first and must carry what
# it saw through the 10 audio frames that follow, while attention (notebooks 03 and 04) lets every element of a sequence look at every other.

# %% [markdown]
# ## Take-aways
#
# - Multimodal learning models modalities **together**, $p(x_A, x_B)$, through an **intermediate
#   state**: an encoder maps the input to it, a decoder maps it to the output the task needs.
# - One modality (sequence to sequence): a GRU encoder reads the input into its last state, a GRU
#   decoder starts from that state; it is trained with teacher forcing and the cross-entropy over
#   non-padding tokens, and decoded **greedily** by feeding back its own argmax until `<eos>`.
#   Everything the decoder knows of the input passes through one vector; whether that limits long
#   inputs is measured in notebook 03.
# - **Captioning** (vision → language) swaps in an image encoder; on new scenes it writes
#   most captions word for word.
# - **VQA** (vision + language → label) has one encoder per modality and a **fusion head**
#   $U\,\operatorname{ReLU}(W[v; q] + b) + c$; a **question-only baseline**, trained with the same
#   budget, measures what the image adds (here, most of the accuracy).
# - **Image + sound classification** (vision + audio → label; the lecture's video classification
#   with a still image for the frames): two noisy modalities together beat each alone; one
#   **shared encoder** over a joint sequence is the alternative to one encoder per modality, and
#   the transformer's way (notebook 04).

# %% [markdown]
# ## Going further
#
# ### Play: caption a scene and ask it a question
#
# Pick a test scene, or draw your own with the menus, and choose a question. The draw function only
# runs the trained models on one image: the caption comes from the captioner
# with greedy decoding, the answer from the VQA model, and the truth from the scene description.

# %%
CELLS = {f"{r} {c}": (i, j) for i, r in enumerate(["top", "middle", "bottom"])
         for j, c in enumerate(["left", "centre", "right"])}
QUESTION_MENU = ["how many objects are there", "how many circles are there", "what colour is the circle",
                 "what colour is the square", "what shape is the red object", "what shape is the blue object",
                 "what shape is left of the red circle", "what shape is right of the blue square"]


@torch.no_grad()
def draw_scene_qa(scene, question):
    """The scene, the model's caption and answer, and the truth."""
    image = mmcourse.data.render(scene, config)  # (1, 3, 32, 32)
    step, h0 = captioner.step_from(image)
    said = vocab.decode(greedy_decode_used(step, h0, vocab.bos_id, vocab.eos_id, vocab.pad_id, 12)[0])
    v = (captioner.encode(image)[0] - v_mean) / v_std
    probs = vqa(v, vocab.encode_batch([question])).softmax(-1)[0]  # (A,)
    truth = {qa.question: qa.answer for qa in questions(scene, config)}.get(question, "(no unique answer)")
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.5, 2.6), gridspec_kw={"width_ratios": [1, 1.6]})
    left.imshow(image[0].permute(1, 2, 0))
    left.axis("off")
    left.set_title(f"model: {wrap(said)}\ntruth: {wrap(caption(scene))}", fontsize=8)
    top = probs.topk(4)
    right.barh([answer_set.itos[int(i)] for i in top.indices][::-1], top.values.flip(0).numpy())
    right.set(xlim=(0, 1), xlabel="p(answer)", title=f"{question}?  truth: {truth}")
    right.title.set_fontsize(8)
    fig.tight_layout()
    return fig


def draw_test_scene(index=0, question=QUESTION_MENU[0]):
    return draw_scene_qa(test_scenes.scenes[index], question)


def draw_own_scene(colour_1="red", shape_1="circle", cell_1="top left", colour_2="blue", shape_2="square",
                   cell_2="bottom right", question=QUESTION_MENU[6]):
    objects = [Shape(colour_1, shape_1, *CELLS[cell_1])]
    if cell_2 != cell_1 and (colour_2, shape_2) != (colour_1, shape_1):  # else only the first object is drawn
        objects.append(Shape(colour_2, shape_2, *CELLS[cell_2]))
    return draw_scene_qa(Scene(tuple(objects)), question)


widgets.show(draw_test_scene(3, QUESTION_MENU[2]))

# %%
widgets.explore(draw_test_scene, index=(0, 199, 1, 3), question=QUESTION_MENU)

# %%
colours, shapes = list(config.colours), list(config.shapes)
widgets.explore(draw_own_scene, colour_1=colours, shape_1=shapes, cell_1=list(CELLS), colour_2=colours[::-1],
                shape_2=shapes[::-1], cell_2=list(CELLS)[::-1], question=QUESTION_MENU[::-1])

# %% [markdown]
# Things to try: ask "what colour is the circle" of a scene with two circles (no unique answer:
# what does the model say?); put both objects in the same column and ask what is left of one.
#
# ### Text → image: the other direction
#
# The lecture runs the pipeline the other way round too: text in, image out (language → vision),
# as diffusion models such as Stable Diffusion do. The encoder is now a text encoder, and the
# decoder must produce pixels, which is much harder than producing one word at a time: notebook 07
# builds a diffusion model conditioned on a caption of this same scene world. The *data*
# generator already goes from a description to an image, by hand-written rules:

# %%
drawn = Scene((Shape("green", "triangle", 0, 0), Shape("purple", "cross", 2, 2)))
fig = viz.show_images(mmcourse.data.render(drawn, config), titles=[caption(drawn)], size=2.2)
plt.show()

# %% [markdown]
# ## Further reading
#
# - K. Cho et al., "Learning Phrase Representations using RNN Encoder–Decoder for Statistical
#   Machine Translation", EMNLP 2014 (the GRU and the encoder–decoder).
# - I. Sutskever, O. Vinyals and Q. V. Le, "Sequence to Sequence Learning with Neural Networks",
#   NeurIPS 2014.
# - O. Vinyals, A. Toshev, S. Bengio and D. Erhan, "Show and Tell: A Neural Image Caption
#   Generator", CVPR 2015.
# - S. Antol et al., "VQA: Visual Question Answering", ICCV 2015; Y. Goyal et al., "Making the V in
#   VQA Matter", CVPR 2017 (why question-only baselines are needed).
# - J. Johnson et al., "CLEVR: A Diagnostic Dataset for Compositional Language and Elementary
#   Visual Reasoning", CVPR 2017 (the idea behind this notebook's scene world).
# - T. Baltrušaitis, C. Ahuja and L.-P. Morency, "Multimodal Machine Learning: A Survey and
#   Taxonomy", IEEE TPAMI 2019.

