"""One transformer over two modalities: the patches of an image and the words of a text, in one sequence.

A transformer takes a *set* of vectors, so an image and a sentence can share one: cut the image into
patches (``patchify``), embed each patch and each word as a vector of the same size, and put them side
by side behind a summary token ``[CLS]``. Each token is the sum of three vectors:

- its **content**: a linear map of the patch's pixels, or the embedding of the word;
- its **modality**: one learned vector for "image", one for "text", so attention can tell them apart;
- its **position**: the 2-D sinusoidal encoding of the patch's row and column, the 1-D encoding of the
  word's place in the sentence (``positions="sinusoidal"``), a trained table (``"learned"``), or
  nothing (``"none"``), which leaves a model that sees a bag of patches and a bag of words.

Defined in notebook 04 (positional encoding and transformers); used in notebook 08.
Sources: Dosovitskiy et al. (2021), "An image is worth 16x16 words" (patches as tokens, [CLS]);
Kim et al. (2021), "ViLT" (one stream of patches and words with modality embeddings).
"""
from __future__ import annotations

import torch
from torch import nn

from mmcourse.positional import sinusoidal_encoding, sinusoidal_encoding_2d
from mmcourse.transformer import TransformerConfig, TransformerEncoder

__all__ = ["patchify", "PatchTextEncoder", "POSITIONS"]

POSITIONS = ("sinusoidal", "learned", "none")


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """``(B, C, S, S) -> (B, (S/p)², C·p·p)``: cut each image into ``p × p`` patches, row by row.

    Defined in notebook 03; used in 04 and 08. Each patch becomes one token: its pixels, channel by
    channel. Patch ``n`` sits in row ``n // (S/p)`` and column ``n % (S/p)`` of the grid.
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise ValueError(f"images must be a tensor of shape (B, C, S, S), got {getattr(images, 'shape', type(images).__name__)}")
    B, C, S, S2 = images.shape
    if isinstance(patch_size, bool) or not isinstance(patch_size, int) or patch_size < 1:
        raise ValueError(f"patch_size must be an int >= 1, got {patch_size!r}")
    if S != S2 or S % patch_size:
        raise ValueError(f"images must be square with a side divisible by patch_size={patch_size}, got {S}×{S2}")
    n = S // patch_size
    patches = images.unfold(2, patch_size, patch_size).unfold(3, patch_size, patch_size)  # (B, C, n, n, p, p)
    return patches.permute(0, 2, 3, 1, 4, 5).reshape(B, n * n, C * patch_size * patch_size)


class PatchTextEncoder(nn.Module):
    """``[CLS] p_1 … p_N w_1 … w_L`` through a ``TransformerEncoder``. Defined in notebook 04; used in 08.

    ``patch_dim``: pixels per patch; ``grid``: patches per side (``N = grid²``); ``max_words``: the longest
    text; ``positions``: ``"sinusoidal"``, ``"learned"`` (trained tables, drawn at first with spread
    ``learned_std``) or ``"none"``. ``forward(patches (B, N, patch_dim), words (B, L) int64) -> (B, 1 + N + L, C)``;
    word id ``pad_id`` marks padding, which no token attends to.

    For pretraining (notebook 08): ``patches=None`` encodes the text alone (``(B, 1 + L, C)``),
    ``words=None`` the image alone (``(B, 1 + N, C)``); ``mask_token=True`` adds a learned ``[MASK]``
    vector ``patch_mask`` (C,), and ``forward(..., hidden=(B, N) bool)`` shows it instead of the pixels of
    every hidden patch (its modality and position are kept, so the model knows *where* a patch is missing).
    """

    def __init__(self, patch_dim: int, vocab_size: int, grid: int, max_words: int, config: TransformerConfig,
                 positions: str = "sinusoidal", pad_id: int = 0, mask_token: bool = False,
                 learned_std: float = 0.2):
        super().__init__()
        for name, value in (("patch_dim", patch_dim), ("vocab_size", vocab_size), ("grid", grid),
                            ("max_words", max_words)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if positions not in POSITIONS:
            raise ValueError(f"positions must be one of {POSITIONS}, got {positions!r}")
        if not isinstance(learned_std, (int, float)) or isinstance(learned_std, bool) or learned_std <= 0:
            raise ValueError(f"learned_std must be a number > 0, got {learned_std!r}")
        C, N = config.embed_dim, grid * grid
        self.config, self.grid, self.positions, self.pad_id = config, grid, positions, pad_id
        self.patch_embed = nn.Linear(patch_dim, C)  # content of a patch: its pixels, mapped to C numbers
        self.word_embed = nn.Embedding(vocab_size, C)  # content of a word
        self.modality = nn.Parameter(torch.randn(2, C) * 0.02)  # row 0: image, row 1: text
        self.cls = nn.Parameter(torch.randn(1, 1, C) * 0.02)  # the summary token
        if positions == "learned":
            # random vectors large enough to be seen beside the content vectors: a table started very near 0
            # (spread 0.02) takes many more epochs before attention can tell the positions apart
            self.patch_pos = nn.Parameter(torch.randn(N, C) * learned_std)
            self.word_pos = nn.Parameter(torch.randn(max_words, C) * learned_std)
        else:
            on = positions == "sinusoidal"
            # 2-D encoding of (row, column) for patches, 1-D for words; zeros for "none"
            self.register_buffer("patch_pos", sinusoidal_encoding_2d(grid, grid, C).reshape(N, C) * on)
            self.register_buffer("word_pos", sinusoidal_encoding(max_words, C) * on)
        self.encoder = TransformerEncoder(config)
        # created last and only on request, so that a model without it starts from the same random weights
        self.patch_mask = nn.Parameter(torch.randn(C) * 0.02) if mask_token else None  # the [MASK] patch

    def _check(self, patches, words, hidden=None) -> None:
        N = self.grid ** 2
        if patches is None and words is None:
            raise ValueError("patches and words are both None: give an image, a text or both")
        if patches is not None and (not isinstance(patches, torch.Tensor) or patches.ndim != 3
                                    or patches.shape[1] != N or patches.shape[2] != self.patch_embed.in_features):
            raise ValueError(f"patches must have shape (B, {N}, {self.patch_embed.in_features}), "
                             f"got {getattr(patches, 'shape', type(patches).__name__)}")
        B = patches.shape[0] if patches is not None else None
        if words is not None and (not isinstance(words, torch.Tensor) or words.ndim != 2
                                  or (B is not None and words.shape[0] != B)
                                  or words.is_floating_point() or words.shape[1] > self.word_pos.shape[0]):
            raise ValueError(f"words must be int ids of shape (B, L) with B = {B if B is not None else 'the batch'} "
                             f"and L <= max_words = {self.word_pos.shape[0]}, "
                             f"got {getattr(words, 'shape', type(words).__name__)}")
        if hidden is not None:
            if self.patch_mask is None:
                raise ValueError("hidden patches need a [MASK] vector: build the encoder with mask_token=True")
            if patches is None or not isinstance(hidden, torch.Tensor) or hidden.dtype != torch.bool \
                    or tuple(hidden.shape) != (B, N):
                raise ValueError(f"hidden must be a boolean tensor of shape (B, N) = ({B}, {N}) next to the patches, "
                                 f"got {getattr(hidden, 'shape', type(hidden).__name__)}")

    def forward(self, patches: torch.Tensor | None, words: torch.Tensor | None,
                hidden: torch.Tensor | None = None) -> torch.Tensor:
        self._check(patches, words, hidden)
        first = patches if patches is not None else words
        B, device = first.shape[0], first.device
        tokens = [self.cls.expand(B, -1, -1)]  # [CLS]: (B, 1, C)
        real = [torch.ones(B, 1, dtype=torch.bool, device=device)]
        if patches is not None:
            N = patches.shape[1]
            content = self.patch_embed(patches)  # (B, N, C)
            if hidden is not None:  # a hidden patch shows the [MASK] vector instead of its pixels
                content = torch.where(hidden.unsqueeze(-1), self.patch_mask, content)  # (B, N, C)
            # token = content + modality + position
            tokens.append(content + self.modality[0] + self.patch_pos)  # (B, N, C)
            real.append(torch.ones(B, N, dtype=torch.bool, device=device))
        if words is not None:
            L = words.shape[1]
            tokens.append(self.word_embed(words) + self.modality[1] + self.word_pos[:L])  # (B, L, C)
            real.append(words != self.pad_id)
        x = torch.cat(tokens, dim=1)  # (B, 1 + N + L, C), without N or L when a modality is left out
        # every token may attend to [CLS], to every patch and to every real (non-padding) word
        return self.encoder(x, key_padding_mask=torch.cat(real, dim=1))  # (B, 1 + N + L, C)
