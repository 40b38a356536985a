"""Tests for mmcourse.data.text: the standard library's docstrings as an offline corpus."""
import sys
from collections import Counter

import numpy as np
import pytest

from mmcourse.data.text import load_corpus, tokenize


@pytest.fixture(scope="module")
def tokens():
    return [w for doc in load_corpus() for w in tokenize(doc)]


def test_corpus_has_more_than_100000_word_tokens(tokens):
    assert len(tokens) > 100_000
    assert len(set(tokens)) > 3_000


def test_word_frequencies_roughly_follow_zipf(tokens):
    counts = np.array(sorted(Counter(tokens).values(), reverse=True), dtype=float)
    assert Counter(tokens).most_common(1)[0][0] == "the"
    assert counts[0] > counts[9] > counts[99] > counts[999]  # top counts fall steadily with rank
    ranks = np.arange(1, 1001)
    slope = np.polyfit(np.log(ranks), np.log(counts[:1000]), 1)[0]  # Zipf: log f ≈ c - s·log r, s ≈ 1
    assert -1.5 < slope < -0.7


def test_corpus_is_deterministic_and_can_be_cut():
    first, second = load_corpus(), load_corpus()
    assert first == second and all(isinstance(d, str) and d.strip() for d in first)
    assert load_corpus(max_documents=5) == first[:5]
    first.clear()
    assert load_corpus()  # callers get a copy


def test_modules_with_side_effects_are_not_imported():
    load_corpus()
    for name in ("antigravity", "this", "tkinter", "turtle", "idlelib"):
        assert name not in sys.modules


def test_tokenize_keeps_lowercase_letter_runs_only():
    assert tokenize("Don't panic, 42 Zebras!") == ["don", "t", "panic", "zebras"]
    assert tokenize("") == []


def test_bad_arguments_are_rejected_by_name():
    with pytest.raises(ValueError, match="max_documents"):
        load_corpus(max_documents=0)
    with pytest.raises(ValueError, match="text"):
        tokenize(b"bytes")
