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
# and contrasts one encoder per modality with a single encoder for all. Each of these is a trained
# model below, with a picture and a number.

# %% [markdown]
# ## Setup

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

import mmcourse
from mmcourse import pipelines, viz, widgets
from mmcourse.data import (AVDigitsConfig, Scene, SceneConfig, Shape, Vocabulary, answers, caption, log_mel_spectrogram,
                           make_av_digits, make_scenes, make_vqa, questions, scene_vocabulary)
from mmcourse.exercises import student_or_reference
from mmcourse.training import TrainConfig, accuracy, predict, train

generator = mmcourse.set_seed(0)
device = mmcourse.get_device()
torch.set_num_threads(1)  # small models: one thread is almost as fast, and never stalls beside other work
print("torch sees:", device, "(the models here are small: this notebook computes on the CPU)")
notebook_start = time.perf_counter()

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
# Every pipeline in this notebook is one choice of $x_A$, $x_B$, encoder and decoder.
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
print(f"{len(train_scenes)} training and {len(test_scenes)} test scenes; vocabulary of {len(vocab)} words:")
print(" ".join(vocab.itos))
layouts = {tuple((o.colour, o.shape, o.row, o.col) for o in s.objects) for s in train_scenes.scenes}
new_layouts = np.mean([tuple((o.colour, o.shape, o.row, o.col) for o in s.objects) not in layouts
                       for s in test_scenes.scenes])
seen_captions = np.mean([c in set(train_scenes.captions) for c in test_scenes.captions])
print(f"test scenes whose layout never occurs in training: {new_layouts:.2f}; "
      f"test captions that do occur in training: {seen_captions:.2f}")

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
# **reverse a sequence of letters** (`b e a d` → `d a e b`). To reverse it, the decoder must
# get *every* letter, in order, from a single state vector: the state is a bottleneck.
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
# `mmcourse.pipelines.GRUCell` writes these four lines out. **Check against a reference:** with
# the same weights, it must give what `torch.nn.GRUCell` gives.

# %%
# NBVAL_CHECK_OUTPUT
ours = pipelines.GRUCell(6, 8)
reference = torch.nn.GRUCell(6, 8)
reference.load_state_dict(ours.state_dict())  # the same parameter names and layout
x_probe, h_probe = torch.randn(5, 6, generator=generator), torch.randn(5, 8, generator=generator)
h_next = mmcourse.check_shape(ours(x_probe, h_probe), (5, 8), "h'")
gap = (h_next - reference(x_probe, h_probe)).abs().max().item()
assert gap < 1e-6
print(f"our GRU step vs torch.nn.GRUCell: largest difference below 1e-6: {gap < 1e-6}")

# %% [markdown]
# **The loss.** The decoder is trained with *teacher forcing*: at step $t$ it reads the true
# previous token $y_{t-1}$ and is scored on $y_t$ by the cross-entropy, averaged over the tokens
# that are not padding:
#
# $$\mathcal{L} = -\frac{1}{\#\{t: y_t \neq \texttt{<pad>}\}} \sum_{t:\, y_t \neq \texttt{<pad>}} \log p(y_t \mid y_{<t}, h).$$
#
# `pipelines.sequence_cross_entropy` computes it with `log_softmax` and `gather`; the reference is
# `F.cross_entropy` with `ignore_index`.

# %%
# NBVAL_CHECK_OUTPUT
probe_logits = torch.randn(3, 5, 11, generator=generator)  # (B, T, V)
probe_targets = torch.randint(1, 11, (3, 5), generator=generator)  # (B, T)
probe_targets[0, 3:] = vocab.pad_id
ours_loss = pipelines.sequence_cross_entropy(probe_logits, probe_targets, vocab.pad_id)
torch_loss = F.cross_entropy(probe_logits.flatten(0, 1), probe_targets.flatten(), ignore_index=vocab.pad_id)
assert abs(ours_loss.item() - torch_loss.item()) < 1e-6
print(f"sequence cross-entropy {ours_loss.item():.4f} = F.cross_entropy {torch_loss.item():.4f}")

# %% [markdown]
# Now the data: 4,000 random sequences of 3 to 6 letters from `a`–`h`, and their reverses as
# targets (`<bos>` in front for the decoder's input, `<eos>` at the end of what it must say).

# %%
letters = Vocabulary(list("abcdefgh"))


def reversal_data(n, g):
    """n random letter sequences (ids, padded) and their reverses with <bos>/<eos>."""
    lengths = torch.randint(3, 7, (n,), generator=g)
    sequences = [[letters.itos[int(i)] for i in torch.randint(4, 12, (int(L),), generator=g)] for L in lengths]
    source = letters.encode_batch(sequences)  # (n, 6)
    target = letters.encode_batch([s[::-1] for s in sequences], bos=True, eos=True)  # (n, 8)
    return source, target, lengths


rev_source, rev_target, _ = reversal_data(4000, torch.Generator().manual_seed(0))
rev_test_source, rev_test_target, rev_test_lengths = reversal_data(1000, torch.Generator().manual_seed(1))
mmcourse.check_shape(rev_target, (4000, 8), "targets")
print(letters.decode(rev_source[0]), "→", letters.decode(rev_target[0]))

seq2seq = pipelines.Seq2Seq(len(letters), embed_size=32, hidden_size=128)
seq2seq_history = train(seq2seq, lambda s, y_in, y_out: pipelines.sequence_cross_entropy(seq2seq(s, y_in), y_out),
                        (rev_source, rev_target[:, :-1], rev_target[:, 1:]), TrainConfig(epochs=5, lr=1e-2))
print("training loss per epoch:", [round(v, 3) for v in seq2seq_history])

# %% [markdown]
# ### Greedy decoding
#
# At test time there is no true previous token to read. **Greedy decoding** lets the decoder read
# its *own* last word: start from $y_0 = \texttt{<bos>}$ and the state $h$, and at each step take
# the most likely token
#
# $$\hat y_t = \arg\max_v \, p(v \mid \hat y_{<t}, h),$$
#
# feed $\hat y_t$ back in as the next input, and stop at `<eos>`. In a batch, rows finish at
# different steps: after its `<eos>`, a row's remaining positions are `<pad>`.

# %% [raw]
# # BEGIN QUESTION
# name: q02_greedy_decode
# points: 2

# %% [markdown]
# **Exercise 2.1 — greedy decoding.** Write `greedy_decode(step, h, bos_id, eos_id, pad_id, max_len)`.
# `step(tokens, h)` is one decoder step: it takes the current input tokens `(B,)` (int64) and the
# state `h` `(B, H)`, and returns the scores of the next token `(B, V)` and the new state. Return
# an int64 tensor `(B, max_len)` whose position `t` holds the token predicted at step `t`
# (`<bos>` not included): the argmax of the scores, which is also the next input. Once a row has
# predicted `eos_id`, every later position of that row is `pad_id` (you may stop the loop when all
# rows are done). Do not track gradients you do not need: wrap the loop in `torch.no_grad()`.

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


greedy_decode = student_or_reference(greedy_decode, pipelines.greedy_decode,
                                     (_probe_step, torch.tensor([[2.0], [5.0], [8.0]]), 1, 2, 0, 7), "greedy_decode")

# %% [markdown]
# Greedy decoding on the 1,000 test sequences. A reversal is right only if every letter and the
# final `<eos>` are right (**exact match**).

# %%
with torch.no_grad():
    rev_predicted = greedy_decode(seq2seq.decoder.step, seq2seq.encoder(rev_test_source), letters.bos_id,
                                  letters.eos_id, letters.pad_id, 8)  # (1000, 8)
mmcourse.check_shape(rev_predicted, (1000, 8), "decoded reversals")
right = np.array([a == b for a, b in zip(letters.decode_batch(rev_predicted), letters.decode_batch(rev_test_target))])
seq2seq_exact = mmcourse.record("seq2seq_exact_match", right.mean())
for i in range(3):
    print(f"{letters.decode(rev_test_source[i]):12s} → {letters.decode(rev_predicted[i]):12s} "
          f"({'right' if right[i] else 'wrong'})")
assert seq2seq_exact > 0.6

# %%
fig, ax = plt.subplots(figsize=(4, 2.5))
by_length = [right[(rev_test_lengths == L).numpy()].mean() for L in range(3, 7)]
ax.bar(range(3, 7), by_length)
ax.set(xlabel="sequence length", ylabel="exact match", ylim=(0, 1), title="one state vector must hold it all")
plt.show()

# %% [markdown]
# Longer sequences fail more often: the whole input must squeeze through one state vector $h$
# of 128 numbers, and the decoder has no way to look back at the input. That bottleneck is what
# **attention** (notebook 03) removes.
#
# ## 2 · Image captioning: vision → language
#
# **Intuition.** Replace the text encoder by an **image encoder** and keep the decoder: the image
# becomes the intermediate state, and the decoder writes a sentence about it. That is image
# captioning ("Show and Tell", Vinyals et al., 2015).
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
start = time.perf_counter()
caption_history = train(captioner, lambda x, y_in, y_out: pipelines.sequence_cross_entropy(captioner(x, y_in), y_out),
                        (train_scenes.images, caption_ids[:, :-1], caption_ids[:, 1:]),
                        TrainConfig(epochs=2, batch_size=64, lr=1e-2))
print(f"trained in {time.perf_counter() - start:.1f} s; loss per epoch {[round(v, 3) for v in caption_history]}")

with torch.no_grad():
    step, h0 = captioner.step_from(test_scenes.images)
    caption_predicted = greedy_decode(step, h0, vocab.bos_id, vocab.eos_id, vocab.pad_id, 12)
predicted_captions = vocab.decode_batch(caption_predicted)
caption_right = np.array([p == c for p, c in zip(predicted_captions, test_scenes.captions)])
captioning_exact_match = mmcourse.record("captioning_exact_match", caption_right.mean())
new_layout = np.array([tuple((o.colour, o.shape, o.row, o.col) for o in s.objects) not in layouts
                       for s in test_scenes.scenes])
mmcourse.record("captioning_exact_match_new_layouts", caption_right[new_layout].mean())
assert captioning_exact_match >= 0.8, "the captioner should get at least 80% of new scenes exactly right"

# %%
def wrap(text):
    return text.replace(" left of", "\nleft of").replace(" above", "\nabove")


shown = list(range(8)) + [int(i) for i in np.flatnonzero(~caption_right)[:4]]
fig = viz.show_images(test_scenes.images[shown], ncols=6, size=2.0,
                      titles=[("✓ " if caption_right[i] else "✗ ") + wrap(predicted_captions[i]) for i in shown],
                      suptitle="greedy captions of new scenes (the last four: mistakes)")
plt.show()

# %% [markdown]
# The captioner writes the caption of most new scenes word for word. Its mistakes are usually one
# wrong attribute of one object. With up to three objects per scene, the same model trained for
# the same time gets clearly fewer captions exactly right: its one state vector must keep track
# of which objects it has described already; attention (notebook 03) lets the decoder look at one
# cell at a time instead.
#
# ## 3 · Text → image: a pointer
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
# ## 4 · Visual question answering: vision + language → label
#
# **Intuition.** Now two modalities go *in*: an image and a question about it, and the output is
# one answer from a closed set (here 15: colours, shapes, the numbers zero to two, yes / no). Following the
# lecture, each modality gets its own encoder, and a **fusion head** combines the two states.
# We reuse the captioner's image encoder (frozen): its grid features $f$ already say what is where,
# so the image state is $v = f$. The question encoder is a GRU over the question's words, with
# final state $q$.
#
# **Math.** The fusion head concatenates the two states and applies a small MLP:
#
# $$z = \operatorname{ReLU}(W\,[v;\, q] + b), \qquad \text{scores} = U z + c, \qquad
#   p(a \mid x, \text{question}) = \operatorname{softmax}(\text{scores})_a .$$
#
# A VQA model must be compared with a **question-only baseline**: the same question encoder and
# an MLP, with no image. Whatever the baseline gets right comes from the question alone (for
# "how many squares are there", "zero" is a good guess); the gap between the two is what the image
# adds.

# %% [raw]
# # BEGIN QUESTION
# name: q02_vqa_fusion
# points: 2

# %% [markdown]
# **Exercise 2.2 — the VQA fusion head.** Write `fusion_head(v, q, W, b, U, c)`: `v` is the image
# state `(B, Dv)`, `q` the question state `(B, Dq)`, `W` `(H, Dv + Dq)` and `b` `(H,)` the joint
# layer, `U` `(A, H)` and `c` `(A,)` the answer layer. Return the answer scores
# $U\,\operatorname{ReLU}(W [v; q] + b) + c$ of shape `(B, A)`, where $[v; q]$ puts each example's
# image state first and its question state after it.

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
fusion_head = student_or_reference(fusion_head, pipelines.fusion_logits, fusion_probe, "fusion_head")

# %% [markdown]
# The questions: two per training scene, about colour ("what colour is the circle"), shape ("what
# shape is the red object"), counts ("how many squares are there") and spatial relations ("what
# shape is left of the blue cross"). The fourth kind of question of the scene world, yes / no about a
# relation between two named objects, waits for notebook 04: it needs a model that compares
# positions, which a transformer with positional encodings does.

# %%
# NBVAL_CHECK_OUTPUT
kinds = ("count", "colour", "shape", "relation")
answer_set = answers(config)
train_qa = make_vqa(train_scenes, per_scene=2, seed=0, kinds=kinds)
test_qa = make_vqa(test_scenes, per_scene=1, seed=0, kinds=kinds)
train_questions, test_questions = vocab.encode_batch(train_qa.questions), vocab.encode_batch(test_qa.questions)
train_answers = torch.tensor([answer_set.index(a) for a in train_qa.answers])  # (M,)
test_answers = torch.tensor([answer_set.index(a) for a in test_qa.answers])  # (M_test,)
print(f"{len(train_qa)} training and {len(test_qa)} test questions; {len(answer_set)} answers: {' '.join(answer_set.itos)}")
for i in range(3):
    print(f"  scene {int(train_qa.scene_index[i])}: {train_qa.questions[i]}? → {train_qa.answers[i]}")

# %%
with torch.no_grad():  # the image state v of each scene, 1,000 images at a time
    v_train = torch.cat([captioner.encode(chunk)[0] for chunk in train_scenes.images.split(1000)])  # (N, C·9)
    v_test = torch.cat([captioner.encode(chunk)[0] for chunk in test_scenes.images.split(1000)])
mmcourse.check_shape(v_train, (len(train_scenes), 288), "image states v")

vqa = pipelines.VQAModel(image_size=288, vocab_size=len(vocab), n_answers=len(answer_set), hidden_size=128,
                         fuse=fusion_head)
blind = pipelines.QuestionOnlyModel(len(vocab), len(answer_set), hidden_size=128)
start = time.perf_counter()
train(vqa, lambda i, q, a: F.cross_entropy(vqa(v_train[i], q), a), (train_qa.scene_index, train_questions, train_answers),
      TrainConfig(epochs=4, batch_size=64, lr=3e-3))
train(blind, lambda q, a: F.cross_entropy(blind(None, q), a), (train_questions, train_answers),
      TrainConfig(epochs=1, batch_size=64, lr=3e-3))
print(f"both trained in {time.perf_counter() - start:.1f} s")

vqa_scores = predict(vqa, v_test[test_qa.scene_index], test_questions)  # (M_test, A)
blind_scores = predict(blind, v_test[test_qa.scene_index], test_questions)  # (M_test, A): v is ignored
vqa_accuracy = mmcourse.record("vqa_accuracy", accuracy(vqa_scores, test_answers))
vqa_question_only_accuracy = mmcourse.record("vqa_question_only_accuracy", accuracy(blind_scores, test_answers))
assert vqa_accuracy >= 0.9 and vqa_accuracy > vqa_question_only_accuracy + 0.3

# %%
kind_of = np.array(test_qa.kinds)
fig, ax = plt.subplots(figsize=(5.5, 2.8))
x = np.arange(len(kinds))
for offset, (name, scores) in zip((-0.2, 0.2), (("image + question", vqa_scores), ("question only", blind_scores))):
    right_kind = (scores.argmax(1) == test_answers).numpy()
    ax.bar(x + offset, [right_kind[kind_of == k].mean() for k in kinds], 0.4, label=name)
ax.set_xticks(x, kinds)
ax.set(ylabel="test accuracy", ylim=(0, 1.05), title="what the image adds, per kind of question")
ax.legend(fontsize=8, loc="lower right")
plt.show()

# %% [markdown]
# The blind baseline answers "zero" to counts of a shape and the most common colour or shape to
# the rest: the question alone tells the *kind* of answer, never which one. The image lifts every
# kind of question far above that.
#
# ## 5 · Video-style classification: vision + audio → label
#
# **Intuition.** Video classification in the lecture reads frames and sound together to predict a
# category. Our audio-visual digits (`mmcourse.data.make_av_digits`) pair a handwritten digit image
# with a spoken digit of the same label; the test set has unseen writers and unseen voices. Both
# modalities are *sequences*: the image as its 8 rows of 8 pixels, the sound as 20 frames of a
# 32-band log-mel spectrogram (notebook 01). One recurrent encoder per modality turns each sequence
# into a state; the label is read from the two states side by side:
#
# $$h_{\text{img}} = \text{GRU}_{\text{img}}(\text{rows}), \quad h_{\text{aud}} = \text{GRU}_{\text{aud}}(\text{frames}),
#   \quad p(y \mid x) = \operatorname{softmax}(W [h_{\text{img}};\, h_{\text{aud}}] + b).$$
#
# We add noise to both (speech at 5 dB SNR, a quarter of each image hidden), so neither modality is
# enough on its own.

# %%
av_config = AVDigitsConfig(snr_db=5.0, occlusion=0.25, pairs_per_utterance=2)
av_train, av_test = make_av_digits("train", av_config), make_av_digits("test", av_config)


def av_inputs(data):
    """Image rows (N, 8, 8) and standardised log-mel frames (N, 20, 32)."""
    mel = log_mel_spectrogram(data.waveforms)  # (N, 32, 101)
    frames = F.avg_pool1d(mel, 5).transpose(1, 2)  # (N, 20, 32): 50 ms per frame
    return data.images[:, 0], (frames - frames.mean()) / frames.std()


rows_train, frames_train = av_inputs(av_train)
rows_test, frames_test = av_inputs(av_test)
mmcourse.check_shape(frames_train, (len(av_train), 20, 32), "audio frames")
print(f"{len(av_train)} training pairs, {len(av_test)} test pairs (unseen voices and writers)")


def train_av(model):
    torch.manual_seed(0)
    train(model, lambda r, a, y: F.cross_entropy(model(r, a), y), (rows_train, frames_train, av_train.labels),
          TrainConfig(epochs=10, batch_size=32, lr=1e-2))
    return accuracy(predict(model, rows_test, frames_test), av_test.labels)


start = time.perf_counter()
av_accuracy = {use: train_av(pipelines.AVClassifier(8, 32, hidden_size=64, use=use)) for use in ("image", "audio", "both")}
print(f"three models trained in {time.perf_counter() - start:.1f} s:",
      {k: round(v, 3) for k, v in av_accuracy.items()})
av_classification_accuracy = mmcourse.record("av_classification_accuracy", av_accuracy["both"])
mmcourse.record("av_image_only_accuracy", av_accuracy["image"])
mmcourse.record("av_audio_only_accuracy", av_accuracy["audio"])
assert av_accuracy["both"] > max(av_accuracy["image"], av_accuracy["audio"])

# %% [markdown]
# ## 6 · Multiple encoders, or one shared encoder?
#
# The lecture contrasts two designs. Above, **each modality has its own encoder**, and the states
# meet only at the end. Instead, **one encoder can read all modalities**: project image rows and
# audio frames to the same size, tag each with a learned *modality vector*, put them in one
# sequence, and run one GRU over it (`pipelines.SharedEncoderClassifier`). This is how a
# transformer reads video and audio together; notebook 04 builds one, where every element of the
# joint sequence can look at every other.

# %%
av_accuracy["shared"] = train_av(pipelines.SharedEncoderClassifier(8, 32, hidden_size=64))
mmcourse.record("av_shared_encoder_accuracy", av_accuracy["shared"])

fig, ax = plt.subplots(figsize=(5, 2.6))
names = ["image", "audio", "both", "shared"]
labels_shown = ["image only", "audio only", "two encoders", "one shared\nencoder"]
ax.bar(labels_shown, [av_accuracy[k] for k in names], color=["C0", "C1", "C2", "C3"])
ax.set(ylabel="test accuracy", ylim=(0, 1), title="noisy audio-visual digits")
for i, k in enumerate(names):
    ax.text(i, av_accuracy[k] + 0.02, f"{av_accuracy[k]:.2f}", ha="center", fontsize=8)
plt.show()

# %% [markdown]
# Both multimodal models beat each single modality. The shared encoder must carry the image
# through 20 steps of audio before it decides, so a recurrent shared encoder forgets; attention
# (notebooks 03 and 04) removes that distance.
#
# ## 7 · Play: caption a scene and ask it a question
#
# Pick a test scene, or draw your own with the menus, and choose a question. The draw function only
# runs the trained models on one image (a few milliseconds): the caption comes from the captioner
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
    said = vocab.decode(greedy_decode(step, h0, vocab.bos_id, vocab.eos_id, vocab.pad_id, 12)[0])
    v = captioner.encode(image)[0]
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
# ## Take-aways
#
# - Multimodal learning models modalities **together**, $p(x_A, x_B)$, through an **intermediate
#   state**: an encoder maps the input to it, a decoder maps it to the output the task needs.
# - One modality (sequence to sequence): a GRU encoder's last state feeds a GRU decoder, trained
#   with teacher forcing and the cross-entropy over non-padding tokens, decoded **greedily** by
#   feeding back its own argmax until `<eos>`. One state vector is a bottleneck for long inputs.
# - **Captioning** (vision → language) swaps in an image encoder; on new scenes it writes
#   most captions word for word.
# - **VQA** (vision + language → label) has one encoder per modality and a **fusion head**
#   $U\,\operatorname{ReLU}(W[v; q] + b) + c$; a **question-only baseline** measures what the image
#   adds (here, most of the accuracy).
# - **Video-style classification** (vision + audio → label): two noisy modalities together beat
#   each alone; one **shared encoder** over a joint sequence is the alternative to one encoder per
#   modality, and the transformer's way (notebook 04).
#
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

# %%
print(f"notebook ran in {time.perf_counter() - notebook_start:.0f} s; peak memory "
      f"{mmcourse.results.peak_rss_mb():.0f} MB")
