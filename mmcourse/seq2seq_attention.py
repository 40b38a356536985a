"""Encoder–decoder attention: a decoder that looks back at every encoder state, and padding done right.

Notebook 02 trains an encoder–decoder whose decoder sees the input only through one state vector
(the bottleneck). Notebook 03 adds the lecture's encoder–decoder attention: at every output step the
decoder state ``s_t`` is the query, the encoder states ``h_1 … h_T`` are the keys and the values, and
the output reads ``[s_t ; c_t]`` with the context ``c_t = Σ_j a_tj h_j``. This module keeps the
reference that notebook 03's cells are checked against, and that its tests use:

- ``run_packed``: a (bi)directional ``nn.GRU`` over a padded batch that never reads the padding
  (``pack_padded_sequence``), so each real step's state does not depend on how much padding follows;
- ``EncoderDecoder``: GRU encoder → GRU decoder, with or without attention (``attend``), and
  ``greedy`` decoding through ``mmcourse.pipelines.greedy_decode``, trained on notebook 02's task
  ``mmcourse.pipelines.letter_reversals``.

Letters: B batch, S source length, T target length, E embedding size, H state size, V vocabulary.
Defined in notebook 03 (attention, "encoder–decoder attention"). Sources: Bahdanau, Cho and Bengio
(2015); Luong, Pham and Manning (2015), global attention with the dot score; Sutskever et al. (2014).
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from mmcourse.attention import scaled_dot_product_attention
from mmcourse.pipelines import greedy_decode

__all__ = ["run_packed", "EncoderDecoder"]

def run_packed(rnn: nn.GRU, x: torch.Tensor, mask: torch.Tensor, h0: torch.Tensor | None = None):
    """Run a batch-first ``nn.GRU`` over the real steps only (``mask`` ``(B, S)`` True at real steps,
    each row's real steps first).

    Returns ``(outputs (B, S, D·H), last)``: the outputs are 0 at the padding, ``last`` is the state
    after each row's last real step, as ``nn.GRU`` returns it (``(layers·D, B, H)``). A backward
    direction starts at each row's last real step, so no state depends on the padding.
    Defined in notebook 03.
    """
    if x.ndim != 3 or mask.shape != x.shape[:2] or mask.dtype != torch.bool:
        raise ValueError(f"x must be (B, S, features) and mask a boolean (B, S); got {tuple(x.shape)} and "
                         f"{tuple(mask.shape)} {mask.dtype}")
    lengths = mask.sum(dim=1)  # (B,)
    if (lengths == 0).any():
        raise ValueError("every sequence needs at least one real step: a row of mask is all False")
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    outputs, last = rnn(packed, h0)
    outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=x.shape[1])  # (B, S, D·H)
    return outputs, last


class EncoderDecoder(nn.Module):
    """Tokens → GRU encoder → GRU decoder → tokens, with (``attend=True``) or without encoder–decoder attention.

    Without attention the decoder starts from the encoder's last state and reads nothing else of the
    input: ``p(y_t) = softmax(U s_t + b)``. With it, the decoder state ``s_t`` queries the encoder
    states: ``c_t = Σ_j a_tj h_j`` with ``a_t = softmax_j(s_t · h_j / √H)`` over the real source
    steps, and ``p(y_t) = softmax(U [s_t ; c_t] + b)``. The attention adds no parameter but the
    ``H × V`` of the wider output layer. Defined in notebook 03.
    """

    def __init__(self, vocab_size: int, attend: bool, embed_size: int = 32, hidden_size: int = 128,
                 pad_id: int = 0):
        super().__init__()
        self.attend, self.pad_id = attend, pad_id
        self.embed_source = nn.Embedding(vocab_size, embed_size, padding_idx=pad_id)
        self.embed_target = nn.Embedding(vocab_size, embed_size, padding_idx=pad_id)
        self.encoder = nn.GRU(embed_size, hidden_size, batch_first=True)
        self.decoder = nn.GRU(embed_size, hidden_size, batch_first=True)
        self.out = nn.Linear(2 * hidden_size if attend else hidden_size, vocab_size)

    def encode(self, source: torch.Tensor):
        """Encoder states ``(B, S, H)`` (0 at padding), the last real state ``(1, B, H)``, the mask ``(B, S)``."""
        mask = source != self.pad_id  # (B, S)
        states, last = run_packed(self.encoder, self.embed_source(source), mask)
        return states, last, mask

    def decode(self, target_inputs: torch.Tensor, s0: torch.Tensor, states: torch.Tensor, mask: torch.Tensor):
        """Scores ``(B, T, V)``, the last decoder state ``(1, B, H)`` and the weights ``(B, T, S)`` (or None)."""
        s, last = self.decoder(self.embed_target(target_inputs), s0)  # (B, T, H): the queries
        weights = None
        if self.attend:
            # c_t = Σ_j a_tj h_j with a_t = softmax_j(s_t · h_j / √H) over the real source steps
            context, weights = scaled_dot_product_attention(s, states, states, mask[:, None, :],
                                                            scale=1 / math.sqrt(s.shape[-1]))  # (B, T, H)
            s = torch.cat([s, context], dim=-1)  # (B, T, 2H): [s_t ; c_t]
        return self.out(s), last, weights

    def forward(self, source: torch.Tensor, target_inputs: torch.Tensor) -> torch.Tensor:
        states, last, mask = self.encode(source)
        return self.decode(target_inputs, last, states, mask)[0]  # (B, T, V)

    @torch.no_grad()
    def greedy(self, source: torch.Tensor, bos_id: int, eos_id: int, max_len: int) -> torch.Tensor:
        """Greedy decoding, one token at a time: ``(B, max_len)`` token ids."""
        states, last, mask = self.encode(source)

        def step(tokens, h):  # tokens (B,), h (B, H) -> scores (B, V), new h (B, H)
            scores, new, _ = self.decode(tokens[:, None], h[None].contiguous(), states, mask)
            return scores[:, 0], new[0]

        return greedy_decode(step, last[0], bos_id, eos_id, self.pad_id, max_len)
