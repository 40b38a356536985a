"""A vocabulary: words ↔ integer ids, with the special tokens a sequence model needs.

A network reads and writes numbers, not words. ``Vocabulary`` gives each word an id and reserves
four special tokens that every text model of the course uses:

- ``<pad>`` (id 0) fills the end of short sequences so that a batch is one rectangle ``(N, T)``;
  losses and encoders ignore it;
- ``<bos>`` (begin of sequence) is the first input of a decoder, before it has said anything;
- ``<eos>`` (end of sequence) is the last word a decoder must say: generation stops there;
- ``<unk>`` stands for any word the vocabulary does not know.

Texts are split into words with ``mmcourse.data.text.tokenize`` (lower case, letters only), so
``"A red circle."`` and ``"a red circle"`` encode the same.

Defined in notebook 02 (pipelines); used in notebooks 03, 04, 06, 07 and 08.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import torch

from mmcourse.data.text import tokenize

__all__ = ["Vocabulary", "pad_batch", "SPECIALS"]

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)


def _words(text) -> list[str]:
    """A text as a list of words: a string is tokenized, a list of strings is taken as it is."""
    if isinstance(text, str):
        return tokenize(text)
    if isinstance(text, (list, tuple)) and all(isinstance(w, str) for w in text):
        return list(text)
    raise ValueError(f"a text must be a string or a list of word strings, got {type(text).__name__}")


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int = 0, length: int | None = None) -> torch.Tensor:
    """Stack lists of ids into one ``(N, T)`` int64 tensor, filling with ``pad_id`` on the right.

    ``T`` is ``length`` if given (longer sequences are cut), else the longest sequence.
    Defined in notebook 02.
    """
    if not isinstance(sequences, (list, tuple)):
        raise ValueError(f"sequences must be a list of lists of ids, got {type(sequences).__name__}")
    longest = max((len(s) for s in sequences), default=0)
    T = longest if length is None else int(length)
    if T < 0:
        raise ValueError(f"length must be >= 0, got {length!r}")
    out = torch.full((len(sequences), T), int(pad_id), dtype=torch.int64)  # (N, T)
    for i, seq in enumerate(sequences):
        ids = list(seq)[:T]
        out[i, :len(ids)] = torch.tensor(ids, dtype=torch.int64)
    return out


class Vocabulary:
    """Words ↔ ids. The special tokens come first: ``<pad>`` = 0, ``<bos>`` = 1, ``<eos>`` = 2,
    ``<unk>`` = 3, then ``words`` in the order given (duplicates dropped).

    ``specials=False`` gives a plain label set (e.g. the answers of a VQA model) with no special
    tokens; encoding an unknown word then raises an error. Defined in notebook 02.
    """

    def __init__(self, words: Iterable[str], specials: bool = True):
        words = list(words)
        if not all(isinstance(w, str) and w for w in words):
            raise ValueError("words must be non-empty strings")
        self.itos: list[str] = list(SPECIALS) if specials else []  # id -> word
        for w in words:
            if w not in self.itos:
                self.itos.append(w)
        self.stoi: dict[str, int] = {w: i for i, w in enumerate(self.itos)}  # word -> id
        self.has_specials = bool(specials)

    @classmethod
    def from_texts(cls, texts: Iterable, min_count: int = 1, specials: bool = True) -> Vocabulary:
        """Every word seen at least ``min_count`` times in ``texts``, most frequent first (ties
        alphabetically), so the same texts always give the same ids."""
        counts = Counter(w for text in texts for w in _words(text))
        ranked = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        return cls(ranked, specials=specials)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word: str) -> bool:
        return word in self.stoi

    def __repr__(self) -> str:
        shown = ", ".join(self.itos[:8]) + (", ..." if len(self) > 8 else "")
        return f"Vocabulary({len(self)} words: {shown})"

    def _special(self, token: str) -> int:
        if not self.has_specials:
            raise ValueError(f"this vocabulary was made with specials=False: it has no {token}")
        return self.stoi[token]

    @property
    def pad_id(self) -> int:
        return self._special(PAD)

    @property
    def bos_id(self) -> int:
        return self._special(BOS)

    @property
    def eos_id(self) -> int:
        return self._special(EOS)

    @property
    def unk_id(self) -> int:
        return self._special(UNK)

    def index(self, word: str) -> int:
        """The id of ``word``; ``<unk>``'s id for an unknown word (an error without specials)."""
        if word in self.stoi:
            return self.stoi[word]
        if not self.has_specials:
            raise ValueError(f"{word!r} is not in this vocabulary of {len(self)} labels: {self.itos}")
        return self.unk_id

    def encode(self, text, bos: bool = False, eos: bool = False) -> list[int]:
        """The ids of the words of ``text``, with ``<bos>`` in front and ``<eos>`` at the end if asked."""
        ids = [self.index(w) for w in _words(text)]
        return ([self.bos_id] if bos else []) + ids + ([self.eos_id] if eos else [])

    def decode(self, ids, stop_at_eos: bool = True) -> str:
        """The words of ``ids`` joined by spaces; special tokens are left out, and everything after the
        first ``<eos>`` too (unless ``stop_at_eos=False``)."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        words = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self):
                raise ValueError(f"id {i} is outside the vocabulary (0 ... {len(self) - 1})")
            if self.has_specials and i == self.eos_id and stop_at_eos:
                break
            if not (self.has_specials and self.itos[i] in SPECIALS):
                words.append(self.itos[i])
        return " ".join(words)

    def encode_batch(self, texts: Sequence, bos: bool = False, eos: bool = False,
                     length: int | None = None) -> torch.Tensor:
        """Encode each text and pad them to one ``(N, T)`` tensor with ``<pad>``."""
        return pad_batch([self.encode(t, bos=bos, eos=eos) for t in texts], self.pad_id, length)

    def decode_batch(self, ids: torch.Tensor) -> list[str]:
        """``decode`` each row of an ``(N, T)`` tensor of ids."""
        if not isinstance(ids, torch.Tensor) or ids.ndim != 2:
            raise ValueError(f"ids must be an (N, T) tensor, got {getattr(ids, 'shape', type(ids).__name__)}")
        return [self.decode(row) for row in ids]
