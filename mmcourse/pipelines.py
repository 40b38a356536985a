"""Multimodal pipelines: encoder → intermediate state → decoder, for one modality and for several.

The lecture's high-level view of a model: an **encoder** turns the input (tokens, pixels, a
spectrogram) into an **intermediate state** ``h``, and a **decoder** turns ``h`` into the output the
task needs (a sentence, a label). Notebook 02 builds each piece by hand and plugs them together:

- ``GRUCell``: one step of a gated recurrent unit, the same maths and parameter layout as
  ``torch.nn.GRUCell``; ``encode_sequence`` runs a step over a padded batch of sequences and returns
  the last state (``RecurrentEncoder`` / ``SequenceEncoder`` wrap it as modules);
- ``ImageEncoder``: a small CNN whose features are pooled to the scene grid, then a state vector;
- ``GRUDecoder`` and ``greedy_decode``: a recurrent language model started from a state, decoded
  one word at a time, each word fed back as the next input, until ``<eos>``;
- ``sequence_cross_entropy``: the per-token loss of a decoder, with ``<pad>`` ignored;
- ``Seq2Seq`` (tokens → tokens) and ``Captioner`` (image → tokens);
- ``fusion_logits`` / ``VQAModel`` (image + question → answer) and ``QuestionOnlyModel``, the
  baseline that shows what the image adds;
- ``AVClassifier`` (two encoders, one per modality) and ``SharedEncoderClassifier`` (one encoder
  over one sequence that holds both modalities) for audio-visual digits.

Shapes: B batch, T sequence length, E embedding size, H state size, V vocabulary size, A answers,
C channels.
Defined in notebook 02 (pipelines). Sources: Cho et al. 2014 (the GRU, RNN encoder–decoder);
Sutskever et al. 2014 (sequence to sequence); Vinyals et al. 2015 ("Show and Tell" captioning);
Antol et al. 2015 (VQA) and Goyal et al. 2017 (question-only baselines); lecture 11's pipeline slides.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from mmcourse.data import Vocabulary

__all__ = ["LETTERS", "letter_reversals", "GRUCell", "encode_sequence", "RecurrentEncoder", "SequenceEncoder",
           "ImageEncoder", "GRUDecoder", "greedy_decode", "sequence_cross_entropy", "Seq2Seq", "Captioner", "fusion_logits", "FusionHead",
           "encode_each_question_once", "VQAModel",
           "QuestionOnlyModel", "AVClassifier", "SharedEncoderClassifier"]

LETTERS = Vocabulary(list("abcdefgh"))  # the sequence task's alphabet, after <pad> <bos> <eos> <unk>


def letter_reversals(n: int, seed: int):
    """The sequence-to-sequence task: ``n`` random sequences of 3 to 6 letters and their reverses.

    Returns ``(source (n, 6), target (n, 8), lengths (n,))``: the source padded with ``<pad>``, the target
    ``<bos> reversed <eos>`` padded; the same ``seed`` gives the same sequences. Defined in notebook 02;
    notebook 03 trains its encoder-decoder attention on it.
    """
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(3, 7, (n,), generator=g)  # (n,)
    sequences = [[LETTERS.itos[int(i)] for i in torch.randint(4, 12, (int(L),), generator=g)] for L in lengths]
    source = LETTERS.encode_batch(sequences)  # (n, 6)
    target = LETTERS.encode_batch([s[::-1] for s in sequences], bos=True, eos=True)  # (n, 8)
    return source, target, lengths


class GRUCell(nn.Module):
    """One GRU step, written out; same parameters (and results) as ``torch.nn.GRUCell``.

    Defined in notebook 02. The rows of ``weight_ih`` / ``weight_hh`` are the reset gate r, the
    update gate z and the candidate n, in that order, as in torch.
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(3 * hidden_size, input_size))  # (3H, I)
        self.weight_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))  # (3H, H)
        self.bias_ih = nn.Parameter(torch.empty(3 * hidden_size))  # (3H,)
        self.bias_hh = nn.Parameter(torch.empty(3 * hidden_size))  # (3H,)
        bound = 1 / math.sqrt(hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.input_size or h.shape[-1] != self.hidden_size:
            raise ValueError(f"GRUCell expects x (B, {self.input_size}) and h (B, {self.hidden_size}), "
                             f"got {tuple(x.shape)} and {tuple(h.shape)}")
        return self.from_input_gates(x @ self.weight_ih.T + self.bias_ih, h)  # (B, H)

    def from_input_gates(self, gx: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """The same step, given the input's part of the gates ``gx = W_i· x + b_i·`` (B, 3H) computed
        beforehand (a decoder computes it for all steps, or for a fixed context, in one product)."""
        gh = h @ self.weight_hh.T + self.bias_hh  # (B, 3H)
        xr, xz, xn = gx.chunk(3, dim=-1)  # (B, H) each
        hr, hz, hn = gh.chunk(3, dim=-1)
        # r = σ(W_ir x + b_ir + W_hr h + b_hr): how much of the past enters the candidate
        r = torch.sigmoid(xr + hr)
        # z = σ(W_iz x + b_iz + W_hz h + b_hz): how much of the past is kept as it is
        z = torch.sigmoid(xz + hz)
        # n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)): the candidate state
        n = torch.tanh(xn + r * hn)
        # h' = (1 − z) ⊙ n + z ⊙ h
        return (1 - z) * n + z * h  # (B, H)


def encode_sequence(cell: Callable, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The encoder of a sequence-to-sequence model: run the step ``cell(x_t, h) -> h'`` over ``x``
    (B, T, I) from ``h_0 = 0`` and return the state after each row's last real step, ``(B, H)``.

    ``mask`` (B, T) is True at real steps and False at padding; a padded step keeps the state as it
    was, so padding after a sequence does not change its state. ``cell.hidden_size`` is H.
    The reference of notebook 02's Exercise 2.1.
    """
    B, T, _ = x.shape
    h = x.new_zeros(B, cell.hidden_size)  # (B, H): h_0 = 0
    for t in range(T):
        h_next = cell(x[:, t], h)  # (B, H)
        h = h_next if mask is None else torch.where(mask[:, t, None], h_next, h)
    return h


class RecurrentEncoder(nn.Module):
    """Run a ``GRUCell`` over vectors ``(B, T, I)``; padded steps (``mask`` False) keep the state.

    Returns the last state ``(B, H)``: the intermediate state of the whole sequence. Defined in notebook 02.
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.cell = GRUCell(input_size, hidden_size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return encode_sequence(self.cell, x, mask)  # (B, H)


class SequenceEncoder(nn.Module):
    """Tokens ``(B, T)`` → state ``(B, H)``: an embedding, then a ``RecurrentEncoder`` that skips
    ``<pad>``. Defined in notebook 02."""

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, pad_id: int = 0):
        super().__init__()
        self.pad_id = pad_id
        self.embed = nn.Embedding(vocab_size, embed_size, padding_idx=pad_id)
        self.rnn = RecurrentEncoder(embed_size, hidden_size)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.rnn(self.embed(tokens), tokens != self.pad_id)  # (B, H)


class ImageEncoder(nn.Module):
    """Images ``(B, C_in, S, S)`` → state ``(B, H)``.

    Two 3×3 convolutions see colour and outline (the first with stride 2, which halves the
    resolution and the cost); max-pooling to a ``grid × grid`` map keeps *where* each feature is
    (one cell per position of the scene world); a linear layer mixes the cells into the state.
    Defined in notebook 02.
    """

    def __init__(self, hidden_size: int = 128, channels: int = 32, grid: int = 3, in_channels: int = 3):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, channels // 2, 3, padding=1, stride=2), nn.ReLU(),  # (B, C/2, S/2, S/2)
            nn.Conv2d(channels // 2, channels, 3, padding=1), nn.ReLU(),  # (B, C, S/2, S/2)
            nn.AdaptiveMaxPool2d(grid),  # (B, C, grid, grid)
        )
        self.project = nn.Linear(channels * grid * grid, hidden_size)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The pooled feature map ``(B, channels, grid, grid)``."""
        return self.conv(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.project(self.features(images).flatten(1)))  # (B, H)


class GRUDecoder(nn.Module):
    """A recurrent language model started from a state: ``step`` reads one token and the state,
    returns scores for the next token and the new state.

    With ``context_size > 0`` a context vector (e.g. the image state) is appended to every input
    token's embedding, so the decoder can look at it again at every step, not only at the start.
    Defined in notebook 02.
    """

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, pad_id: int = 0, context_size: int = 0):
        super().__init__()
        self.context_size = context_size
        self.embed = nn.Embedding(vocab_size, embed_size, padding_idx=pad_id)
        self.cell = GRUCell(embed_size + context_size, hidden_size)
        self.out = nn.Linear(hidden_size, vocab_size)

    def _token_gates(self, tokens: torch.Tensor) -> torch.Tensor:
        """The token's part of the input gates, ``W_i·[:, :E] E y + b_i·``: (..., 3H)."""
        E = self.embed.embedding_dim
        return self.embed(tokens) @ self.cell.weight_ih[:, :E].T + self.cell.bias_ih

    def context_gates(self, context: torch.Tensor | None) -> torch.Tensor | float:
        """The context's part of the input gates, ``W_i·[:, E:] context`` (B, 3H): the same at every
        step, so it is computed once per sequence (0 without a context)."""
        if not self.context_size:
            return 0.0
        return context @ self.cell.weight_ih[:, self.embed.embedding_dim:].T

    def step(self, tokens: torch.Tensor, h: torch.Tensor, context: torch.Tensor | None = None,
             context_gates: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One step: the GRU reads ``[E y ; context]``; ``context_gates`` may hold ``context_gates(context)``."""
        if context_gates is None:
            context_gates = self.context_gates(context)
        h = self.cell.from_input_gates(self._token_gates(tokens) + context_gates, h)  # (B, H)
        return self.out(h), h  # (B, V), (B, H)

    def forward(self, inputs: torch.Tensor, h: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher forcing: the true previous tokens ``inputs`` (B, T) → scores ``(B, T, V)``.

        The same as calling ``step`` for t = 1 … T; the input gates of all steps and the output
        layer of all states are each computed in one product."""
        gates = self._token_gates(inputs)  # (B, T, 3H)
        if self.context_size:
            gates = gates + self.context_gates(context)[:, None]
        states = []
        for t in range(inputs.shape[1]):
            h = self.cell.from_input_gates(gates[:, t], h)  # (B, H)
            states.append(h)
        return self.out(torch.stack(states, dim=1))  # (B, T, V)


@torch.no_grad()
def greedy_decode(step: Callable, h: torch.Tensor, bos_id: int, eos_id: int, pad_id: int,
                  max_len: int) -> torch.Tensor:
    """Greedy decoding: start from ``<bos>`` and state ``h`` (B, H); at each step take the most
    likely token, ``ŷ_t = argmax_v p(v | ŷ_<t, h)``, and feed it back as the next input. A row is
    done at its ``<eos>``; everything after it is ``<pad>``.

    Returns ``(B, max_len)`` token ids (``<bos>`` not included). Defined in notebook 02.
    """
    B = h.shape[0]
    tokens = torch.full((B,), bos_id, dtype=torch.long, device=h.device)  # (B,)
    out = torch.full((B, max_len), pad_id, dtype=torch.long, device=h.device)  # (B, max_len)
    done = torch.zeros(B, dtype=torch.bool, device=h.device)  # (B,)
    for t in range(max_len):
        logits, h = step(tokens, h)  # (B, V), (B, H)
        tokens = logits.argmax(dim=-1)  # (B,) the most likely next token, fed back next step
        out[:, t] = torch.where(done, torch.full_like(tokens, pad_id), tokens)
        done = done | (tokens == eos_id)
        if bool(done.all()):
            break
    return out


def sequence_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, pad_id: int = 0) -> torch.Tensor:
    """Mean of ``−log p(y_t)`` over the non-``<pad>`` targets: logits ``(B, T, V)``, targets ``(B, T)``.

    The same number as ``F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=pad_id)``.
    Defined in notebook 02.
    """
    log_p = logits.log_softmax(dim=-1)  # (B, T, V)
    picked = log_p.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (B, T) log p(y_t)
    keep = (targets != pad_id).float()  # (B, T)
    return -(picked * keep).sum() / keep.sum().clamp(min=1)


class Seq2Seq(nn.Module):
    """Tokens → state → tokens (the lecture's single-modality encoder–decoder). Defined in notebook 02."""

    def __init__(self, vocab_size: int, embed_size: int = 32, hidden_size: int = 128, pad_id: int = 0):
        super().__init__()
        self.encoder = SequenceEncoder(vocab_size, embed_size, hidden_size, pad_id)
        self.decoder = GRUDecoder(vocab_size, embed_size, hidden_size, pad_id)

    def forward(self, source: torch.Tensor, target_inputs: torch.Tensor) -> torch.Tensor:
        return self.decoder(target_inputs, self.encoder(source))  # (B, T, V)


class Captioner(nn.Module):
    """Image → state → caption (vision → language).

    The encoder's grid of cell features ``f`` (B, C·g·g) is the intermediate state: it starts the
    decoder (``h_0 = tanh(W f)``) and is shown to it again at every step as context.
    Defined in notebook 02.
    """

    def __init__(self, vocab_size: int, embed_size: int = 32, hidden_size: int = 128, channels: int = 32,
                 grid: int = 3, pad_id: int = 0):
        super().__init__()
        self.encoder = ImageEncoder(hidden_size, channels, grid)
        # the convolutions in channels-last memory (the channels of a pixel side by side), the layout the
        # CPU's convolution kernels run fastest on: the same computation, the convolutions a quarter faster
        # here (a whole training step about a tenth)
        self.encoder.conv.to(memory_format=torch.channels_last)
        self.decoder = GRUDecoder(vocab_size, embed_size, hidden_size, pad_id, context_size=channels * grid * grid)

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The image's grid features ``f`` (B, C·g·g) and the decoder's start state ``h_0`` (B, H)."""
        images = images.contiguous(memory_format=torch.channels_last)  # (B, 3, S, S), stored channels last
        f = self.encoder.features(images).flatten(1)  # (B, C·g·g)
        return f, torch.tanh(self.encoder.project(f))  # (B, H)

    def forward(self, images: torch.Tensor, target_inputs: torch.Tensor) -> torch.Tensor:
        f, h = self.encode(images)
        return self.decoder(target_inputs, h, context=f)  # (B, T, V)

    def step_from(self, images: torch.Tensor) -> tuple[Callable, torch.Tensor]:
        """The decoder's ``step(tokens, h)`` for these images, and its start state ``h_0``."""
        f, h = self.encode(images)
        fixed = self.decoder.context_gates(f)  # (B, 3H): the image's part of the gates, once
        return (lambda tokens, state: self.decoder.step(tokens, state, context_gates=fixed)), h


def fusion_logits(v: torch.Tensor, q: torch.Tensor, W: torch.Tensor, b: torch.Tensor, U: torch.Tensor,
                  c: torch.Tensor) -> torch.Tensor:
    """The VQA fusion head: ``z = ReLU(W [v ; q] + b)``, answer scores ``U z + c``.

    ``v`` (B, Dv) image state, ``q`` (B, Dq) question state, ``W`` (H, Dv + Dq), ``U`` (A, H).
    Returns ``(B, A)``. Defined in notebook 02.
    """
    joint = torch.cat([v, q], dim=-1)  # (B, Dv + Dq): [v ; q], one vector per example
    z = torch.relu(joint @ W.T + b)  # (B, H)
    return z @ U.T + c  # (B, A)


class FusionHead(nn.Module):
    """Parameters of ``fusion_logits``; ``fuse`` may be replaced (e.g. by a student's function)."""

    def __init__(self, image_size: int, question_size: int, hidden_size: int, n_answers: int,
                 fuse: Callable = fusion_logits):
        super().__init__()
        self.joint = nn.Linear(image_size + question_size, hidden_size)
        self.classify = nn.Linear(hidden_size, n_answers)
        self.fuse = fuse

    def forward(self, v: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        return self.fuse(v, q, self.joint.weight, self.joint.bias, self.classify.weight, self.classify.bias)


def encode_each_question_once(encoder: nn.Module, questions: torch.Tensor) -> torch.Tensor:
    """``encoder(questions)`` (B, H), with each distinct row of ``questions`` (B, T) encoded only once.

    The same as ``encoder(questions)``, gradients included: a batch of VQA questions repeats a few
    hundred distinct questions, so this saves most of the recurrent encoder's work.
    """
    base = int(questions.max()) + 1 if questions.numel() else 1
    if questions.shape[1] * math.log2(max(base, 2)) < 62:  # each row as one int64 number: a fast unique
        powers = base ** torch.arange(questions.shape[1], dtype=torch.long)  # (T,)
        _, first, row_of = _first_of_each((questions * powers).sum(1))
        distinct = questions[first]  # (D, T)
    else:
        distinct, row_of = torch.unique(questions, dim=0, return_inverse=True)  # (D, T), (B,)
    return encoder(distinct)[row_of]  # (B, H)


def _first_of_each(keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The distinct values of ``keys`` (B,), the index of one row holding each, and each row's distinct index."""
    values, row_of = torch.unique(keys, return_inverse=True)  # (D,), (B,)
    first = torch.empty(len(values), dtype=torch.long).scatter_(0, row_of, torch.arange(len(keys)))
    return values, first, row_of


class VQAModel(nn.Module):
    """(image state, question) → answer scores: a question encoder and a fusion head on top of an
    image state ``v`` (B, Dv) from any image encoder. Defined in notebook 02."""

    def __init__(self, image_size: int, vocab_size: int, n_answers: int, hidden_size: int = 128,
                 embed_size: int = 32, pad_id: int = 0, fuse: Callable = fusion_logits):
        super().__init__()
        self.question_encoder = SequenceEncoder(vocab_size, embed_size, hidden_size, pad_id)
        self.head = FusionHead(image_size, hidden_size, hidden_size, n_answers, fuse)

    def forward(self, v: torch.Tensor, questions: torch.Tensor) -> torch.Tensor:
        return self.head(v, encode_each_question_once(self.question_encoder, questions))  # (B, A)


class QuestionOnlyModel(nn.Module):
    """The blind baseline: the same question encoder, and an MLP on its state alone (``v`` is
    ignored). Defined in notebook 02."""

    def __init__(self, vocab_size: int, n_answers: int, hidden_size: int = 128, embed_size: int = 32,
                 pad_id: int = 0):
        super().__init__()
        self.question_encoder = SequenceEncoder(vocab_size, embed_size, hidden_size, pad_id)
        self.head = nn.Sequential(nn.Linear(hidden_size, hidden_size), nn.ReLU(), nn.Linear(hidden_size, n_answers))

    def forward(self, v: torch.Tensor | None, questions: torch.Tensor) -> torch.Tensor:
        return self.head(encode_each_question_once(self.question_encoder, questions))  # (B, A)


class AVClassifier(nn.Module):
    """Audio-visual classification with one encoder per modality: image rows and audio frames each
    go through their own ``RecurrentEncoder``; the two states are concatenated and classified.

    ``images`` (B, R, I_img) (a digit's rows), ``audio`` (B, F, I_aud) (spectrogram frames).
    ``use`` = "both", "image" or "audio" zeroes the other state (a unimodal model). Defined in notebook 02.
    """

    def __init__(self, image_size: int, audio_size: int, n_classes: int = 10, hidden_size: int = 64,
                 use: str = "both"):
        super().__init__()
        if use not in ("both", "image", "audio"):
            raise ValueError(f"use must be 'both', 'image' or 'audio', got {use!r}")
        self.use = use
        self.image_encoder = RecurrentEncoder(image_size, hidden_size)
        self.audio_encoder = RecurrentEncoder(audio_size, hidden_size)
        self.classify = nn.Linear(2 * hidden_size, n_classes)

    def forward(self, images: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        # a unimodal model sees zeros for the other state (and does not spend time computing it)
        H = self.classify.in_features // 2
        h_image = self.image_encoder(images) if self.use != "audio" else images.new_zeros(len(images), H)  # (B, H)
        h_audio = self.audio_encoder(audio) if self.use != "image" else audio.new_zeros(len(audio), H)  # (B, H)
        return self.classify(torch.cat([h_image, h_audio], dim=-1))  # (B, classes)


class SharedEncoderClassifier(nn.Module):
    """One encoder for both modalities: image rows and audio frames are projected to one size,
    tagged with a learned modality vector, joined into one sequence and read by one
    ``RecurrentEncoder`` (the idea a transformer takes further, notebook 04). Defined in notebook 02."""

    def __init__(self, image_size: int, audio_size: int, n_classes: int = 10, hidden_size: int = 64,
                 embed_size: int = 32):
        super().__init__()
        self.image_in = nn.Linear(image_size, embed_size)
        self.audio_in = nn.Linear(audio_size, embed_size)
        self.modality = nn.Parameter(torch.zeros(2, embed_size))  # one tag vector per modality
        self.encoder = RecurrentEncoder(embed_size, hidden_size)
        self.classify = nn.Linear(hidden_size, n_classes)

    def forward(self, images: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        x_image = self.image_in(images) + self.modality[0]  # (B, R, E)
        x_audio = self.audio_in(audio) + self.modality[1]  # (B, F, E)
        joint = torch.cat([x_image, x_audio], dim=1)  # (B, R + F, E): one sequence, both modalities
        return self.classify(self.encoder(joint))  # (B, classes)
