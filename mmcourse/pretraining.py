"""Pretraining objectives of multimodal foundation models, on one small transformer over patches and words.

A foundation model is pretrained on a task that needs no labels, only image–text pairs, and then reused.
The lecture lists five such tasks; each is a loss on the output of one ``PatchTextEncoder``:

- **MLM** (masked language modelling): hide some words of the caption behind ``<mask>`` and predict
  them from the rest of the caption *and the image* (``mask_tokens``, ``PretrainingModel.mlm_loss``);
- **MIM** (masked image modelling): hide some patches behind a learned ``[MASK]`` vector and
  reconstruct their pixels (``hide_patches``, ``masked_patch_loss``, ``PretrainingModel.mim_loss``);
- **MMM** (masked multimodal modelling): both at once, in one pass (``PretrainingModel.mmm_loss``);
- **GC** (global contrastive): the image alone and the text alone each give a ``[CLS]`` vector, and
  ``mmcourse.contrastive.clip_loss`` pulls the pairs together (``PretrainingModel.gc_loss``);
- **ITM** (image–text matching): a yes/no head on ``[CLS]`` of the pair says whether the caption
  belongs to the image; negatives are other captions and *hard* ones that differ in one word
  (``hard_negatives``, ``PretrainingModel.itm_loss``).

Defined in notebook 08 (foundation models). Sources: lecture 11 (MIM, MLM, MMM, GC and ITM losses);
Devlin et al. 2019 (BERT: MLM); He et al. 2022 (MAE: reconstruct hidden patches, loss on hidden ones only);
Singh et al. 2022 (FLAVA: MLM, MIM, MMM, GC and ITM in one model); Kim et al. 2021 (ViLT: MLM and ITM on one
stream of patches and words); Li et al. 2021 (ALBEF: ITM with hard negatives).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mmcourse.contrastive import clip_loss
from mmcourse.data.scenes import COLOURS, SHAPES, SceneConfig, scene_vocabulary
from mmcourse.data.vocab import Vocabulary
from mmcourse.multimodal import PatchTextEncoder
from mmcourse.transformer import TransformerConfig

__all__ = ["MASK", "IGNORE", "pretraining_vocabulary", "mask_tokens", "hide_patches", "masked_patch_loss",
           "hard_negatives", "PretrainingModel"]

MASK = "<mask>"  # the word that replaces a hidden word
IGNORE = -100  # target of a word that is not hidden: F.cross_entropy skips it (its ignore_index)


def pretraining_vocabulary(config: SceneConfig | None = None) -> Vocabulary:
    """The scene world's words (``scene_vocabulary``, same ids) plus ``<mask>`` at the end. Notebook 08."""
    return Vocabulary(scene_vocabulary(config).itos + [MASK])


def _ids(words, name: str = "words") -> torch.Tensor:
    if not isinstance(words, torch.Tensor) or words.ndim != 2 or words.is_floating_point():
        raise ValueError(f"{name} must be int ids of shape (B, L), got {getattr(words, 'shape', type(words).__name__)}")
    return words


def _uniform(u, shape: tuple, name: str = "u") -> torch.Tensor:
    if not isinstance(u, torch.Tensor) or tuple(u.shape) != tuple(shape) or not u.is_floating_point():
        raise ValueError(f"{name} must be a float tensor of shape {tuple(shape)} (uniform draws in [0, 1)), "
                         f"got {getattr(u, 'shape', type(u).__name__)}")
    return u


def mask_tokens(words: torch.Tensor, u: torch.Tensor, rate: float, mask_id: int,
                pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """MLM's input and targets. A real word is hidden where its uniform draw ``u < rate``; padding never.

    Returns ``inputs`` (B, L), the words with each hidden one replaced by ``mask_id``, and ``targets``
    (B, L), the hidden words where hidden and ``IGNORE`` elsewhere, so that the loss counts only the
    hidden words. ``words`` is not changed. Notebook 08.
    """
    _ids(words)
    _uniform(u, words.shape)
    if not 0.0 <= float(rate) <= 1.0:
        raise ValueError(f"rate must be in [0, 1] (the fraction of words to hide), got {rate!r}")
    hidden = (u < rate) & (words != pad_id)  # (B, L)
    inputs = words.masked_fill(hidden, mask_id)  # (B, L): a new tensor, words stays as it was
    targets = words.masked_fill(~hidden, IGNORE)  # (B, L)
    return inputs, targets


def hide_patches(u: torch.Tensor, num_hidden: int) -> torch.Tensor:
    """MIM's choice: in each row of ``u`` (B, N), the ``num_hidden`` patches with the smallest draws.

    Returns a boolean (B, N), True at the hidden patches; every image loses exactly ``num_hidden``. Notebook 08.
    """
    if not isinstance(u, torch.Tensor) or u.ndim != 2 or not u.is_floating_point():
        raise ValueError(f"u must be a float tensor of shape (B, N), got {getattr(u, 'shape', type(u).__name__)}")
    if isinstance(num_hidden, bool) or not isinstance(num_hidden, int) or not 0 <= num_hidden <= u.shape[1]:
        raise ValueError(f"num_hidden must be an int in [0, N = {u.shape[1]}], got {num_hidden!r}")
    chosen = u.argsort(dim=1)[:, :num_hidden]  # (B, num_hidden)
    return torch.zeros(u.shape, dtype=torch.bool, device=u.device).scatter(1, chosen, True)  # (B, N)


def masked_patch_loss(predicted: torch.Tensor, patches: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """MIM's loss: the mean squared error of the reconstructed pixels, over the *hidden* patches only.

    ``predicted``, ``patches``: (B, N, P) pixels per patch; ``hidden``: (B, N) bool.
    ``L = 1/|H| Σ_{(b,n) ∈ H} 1/P ‖x̂_bn − x_bn‖²``. Notebook 08.
    """
    if not isinstance(predicted, torch.Tensor) or not isinstance(patches, torch.Tensor) \
            or predicted.shape != patches.shape or patches.ndim != 3:
        raise ValueError(f"predicted and patches must be tensors of one shape (B, N, P), got "
                         f"{getattr(predicted, 'shape', None)} and {getattr(patches, 'shape', None)}")
    if not isinstance(hidden, torch.Tensor) or hidden.dtype != torch.bool or hidden.shape != patches.shape[:2]:
        raise ValueError(f"hidden must be a boolean tensor of shape {tuple(patches.shape[:2])}, "
                         f"got {getattr(hidden, 'shape', type(hidden).__name__)}")
    if not hidden.any():
        raise ValueError("hidden marks no patch: the loss is a mean over hidden patches, so hide at least one")
    per_patch = (predicted - patches).pow(2).mean(dim=-1)  # (B, N): 1/P ‖x̂ − x‖²
    return per_patch[hidden].mean()


def hard_negatives(caption: str) -> list[str]:
    """Every caption that differs from ``caption`` in one word: one colour for another, one shape for
    another, or one relation for the other ("left of" ↔ "above"), in the order of the words.

    Each is false of the image: a scene's objects have distinct colour–shape pairs and its caption is
    canonical (``mmcourse.data.scenes``). Relations become only words that captions use, so that a
    negative cannot be spotted without the image. Notebook 08.
    """
    if not isinstance(caption, str) or not caption.split():
        raise ValueError(f"caption must be a non-empty string, got {caption!r}")
    words = caption.split()
    negatives = []
    for i, word in enumerate(words):
        if word in COLOURS:
            options = [c for c in COLOURS if c != word]
        elif word in SHAPES:
            options = [s for s in SHAPES if s != word]
        elif word == "above":
            options = ["left of"]
        elif word == "left" and words[i + 1:i + 2] == ["of"]:
            negatives.append(" ".join(words[:i] + ["above"] + words[i + 2:]))
            continue
        else:
            continue
        negatives += [" ".join(words[:i] + [new] + words[i + 1:]) for new in options]
    return negatives


class PretrainingModel(nn.Module):
    """A ``PatchTextEncoder`` (with a ``[MASK]`` patch) and one small head per objective. Notebook 08.

    Heads: ``mlm_head`` (word states → word logits), ``mim_head`` (patch states → pixels), ``itm_head``
    ([CLS] of the pair → match logit), ``image_proj`` and ``text_proj`` ([CLS] of each modality alone → GC
    embeddings). Every ``*_loss(patches (B, N, P), words (B, L), ...)`` returns a scalar; random choices
    come from ``generator`` (default: torch's global one).
    """

    def __init__(self, patch_dim: int, vocab_size: int, grid: int, max_words: int, config: TransformerConfig,
                 mask_id: int, pad_id: int = 0):
        super().__init__()
        if isinstance(mask_id, bool) or not isinstance(mask_id, int) or not 0 <= mask_id < vocab_size:
            raise ValueError(f"mask_id must be a word id in [0, {vocab_size}), got {mask_id!r}")
        C = config.embed_dim
        self.mask_id, self.pad_id, self.N = mask_id, pad_id, grid * grid
        self.encoder = PatchTextEncoder(patch_dim, vocab_size, grid, max_words, config, pad_id=pad_id, mask_token=True)
        self.mlm_head = nn.Linear(C, vocab_size)
        self.mim_head = nn.Linear(C, patch_dim)
        self.itm_head = nn.Linear(C, 1)
        self.image_proj, self.text_proj = nn.Linear(C, C), nn.Linear(C, C)

    # -- the pieces each objective is made of ------------------------------------------------------------
    def masked_inputs(self, patches, words, word_rate: float, num_hidden: int, generator=None):
        """Draw the hiding: ``(word inputs, word targets, hidden patches)``; a rate or count of 0 hides nothing."""
        B, L = words.shape
        u_words = torch.rand(B, L, generator=generator)  # (B, L)
        inputs, targets = mask_tokens(words, u_words, word_rate, self.mask_id, self.pad_id)
        hidden = hide_patches(torch.rand(B, self.N, generator=generator), num_hidden) if num_hidden else None
        return inputs, targets, hidden

    def reconstruct(self, patches, words, hidden=None):
        """Word logits (B, L, V) and patch pixels (B, N, P) predicted from the (partly hidden) pair."""
        h = self.encoder(patches, words, hidden)  # (B, 1 + N + L, C)
        return self.mlm_head(h[:, 1 + self.N:]), self.mim_head(h[:, 1:1 + self.N])

    def embed_image(self, patches) -> torch.Tensor:
        """GC embedding of the image alone: ``image_proj`` of its [CLS], (B, C)."""
        return self.image_proj(self.encoder(patches, None)[:, 0])

    def embed_text(self, words) -> torch.Tensor:
        """GC embedding of the text alone: ``text_proj`` of its [CLS], (B, C)."""
        return self.text_proj(self.encoder(None, words)[:, 0])

    def itm_logit(self, patches, words) -> torch.Tensor:
        """ITM score (B,): the logit of "this caption belongs to this image", read off the pair's [CLS]."""
        return self.itm_head(self.encoder(patches, words)[:, 0]).squeeze(-1)

    @torch.no_grad()
    def image_features(self, patches) -> torch.Tensor:
        """Frozen features of the image alone, for a linear probe: [CLS] ⊕ mean of the patch states, (B, 2C)."""
        h = self.encoder(patches, None)  # (B, 1 + N, C)
        return torch.cat([h[:, 0], h[:, 1:].mean(dim=1)], dim=-1)

    # -- the five objectives ---------------------------------------------------------------------------
    def mlm_loss(self, patches, words, rate: float = 0.4, generator=None) -> torch.Tensor:
        """MLM: cross-entropy of the hidden words, predicted from the image and the rest of the caption."""
        inputs, targets, _ = self.masked_inputs(patches, words, rate, 0, generator)
        word_logits, _ = self.reconstruct(patches, inputs)
        # −1/|M| Σ_{masked} log p(w_t | image, visible words)
        return F.cross_entropy(word_logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE)

    def mim_loss(self, patches, words, num_hidden: int = 3, generator=None) -> torch.Tensor:
        """MIM: squared error of the hidden patches' pixels, predicted from the visible ones and the caption."""
        _, _, hidden = self.masked_inputs(patches, words, 0.0, num_hidden, generator)
        _, pixels = self.reconstruct(patches, words, hidden)
        return masked_patch_loss(pixels, patches, hidden)

    def mmm_loss(self, patches, words, rate: float = 0.4, num_hidden: int = 3, mim_weight: float = 10.0,
                 generator=None) -> torch.Tensor:
        """MMM: words and patches hidden together, one pass; ``L_MLM + mim_weight · L_MIM``."""
        inputs, targets, hidden = self.masked_inputs(patches, words, rate, num_hidden, generator)
        word_logits, pixels = self.reconstruct(patches, inputs, hidden)
        mlm = F.cross_entropy(word_logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE)
        return mlm + mim_weight * masked_patch_loss(pixels, patches, hidden)

    def gc_loss(self, patches, words, temperature: float = 0.1) -> torch.Tensor:
        """GC: the symmetric InfoNCE (``clip_loss``) between the image's and the text's [CLS] embeddings."""
        return clip_loss(self.embed_image(patches), self.embed_text(words), temperature)

    def itm_loss(self, patches, words, negatives) -> torch.Tensor:
        """ITM: binary cross-entropy of "matches?" on the B true pairs and B pairs with ``negatives`` (B, L).

        A negative that happens to equal the true caption (two scenes with one caption) counts as a match.
        """
        _ids(negatives, "negatives")
        if negatives.shape != words.shape:
            raise ValueError(f"negatives must have the shape of words {tuple(words.shape)}, "
                             f"got {tuple(negatives.shape)}")
        labels = torch.cat([torch.ones(len(words)), (negatives == words).all(dim=1).float()])  # (2B,)
        logits = self.itm_logit(torch.cat([patches, patches]), torch.cat([words, negatives]))  # (2B,)
        return F.binary_cross_entropy_with_logits(logits, labels.to(logits.device))
