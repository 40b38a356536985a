"""Tests for mmcourse.data.vocab: words ↔ ids with <pad>, <bos>, <eos>, <unk>, and padded batches."""
import pytest
import torch

from mmcourse.data.vocab import SPECIALS, Vocabulary, pad_batch


@pytest.fixture
def vocab():
    return Vocabulary(["a", "red", "circle", "left", "of", "blue", "square"])


def test_special_tokens_come_first_with_fixed_ids(vocab):
    assert vocab.itos[:4] == list(SPECIALS)
    assert (vocab.pad_id, vocab.bos_id, vocab.eos_id, vocab.unk_id) == (0, 1, 2, 3)
    assert len(vocab) == 4 + 7


def test_encode_then_decode_gives_the_text_back(vocab):
    ids = vocab.encode("a red circle left of a blue square", bos=True, eos=True)
    assert ids[0] == vocab.bos_id and ids[-1] == vocab.eos_id
    assert vocab.decode(ids) == "a red circle left of a blue square"


def test_text_is_tokenized_case_and_punctuation_free(vocab):
    assert vocab.encode("A red circle.") == vocab.encode(["a", "red", "circle"])


def test_unknown_words_map_to_unk(vocab):
    assert vocab.encode("a green circle") == [vocab.index("a"), vocab.unk_id, vocab.index("circle")]


def test_decode_stops_at_the_first_eos_and_drops_padding(vocab):
    ids = [vocab.index("red"), vocab.eos_id, vocab.index("blue"), vocab.pad_id]
    assert vocab.decode(ids) == "red"
    assert vocab.decode(ids, stop_at_eos=False) == "red blue"


def test_encode_batch_pads_every_row_to_the_longest(vocab):
    batch = vocab.encode_batch(["a red circle", "a square"], eos=True)
    assert batch.shape == (2, 4) and batch.dtype == torch.int64
    assert batch[1, 3] == vocab.pad_id and batch[1, 2] == vocab.eos_id
    assert vocab.decode_batch(batch) == ["a red circle", "a square"]


def test_pad_batch_cuts_to_a_given_length():
    assert pad_batch([[5, 6, 7], [8]], pad_id=0, length=2).tolist() == [[5, 6], [8, 0]]


def test_from_texts_is_deterministic_and_sorted_by_frequency():
    texts = ["b a a", "c a b"]
    v1, v2 = Vocabulary.from_texts(texts), Vocabulary.from_texts(list(reversed(texts)))
    assert v1.itos == v2.itos
    assert v1.itos[4:] == ["a", "b", "c"]
    assert Vocabulary.from_texts(texts, min_count=2).itos[4:] == ["a", "b"]


def test_a_label_set_has_no_specials_and_rejects_unknown_labels():
    labels = Vocabulary(["yes", "no"], specials=False)
    assert labels.itos == ["yes", "no"] and labels.index("no") == 1
    with pytest.raises(ValueError, match="not in this vocabulary"):
        labels.index("maybe")
    with pytest.raises(ValueError, match="specials=False"):
        labels.pad_id


def test_bad_inputs_get_clear_errors(vocab):
    with pytest.raises(ValueError, match="string or a list"):
        vocab.encode(42)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        vocab.decode([99])
