"""Notebook 08's exercises: each known mistake gets its diagnosis, a correct answer passes every test.

The test functions are taken from the notebook source as otter takes them and called with wrong answers.
"""
import pytest
import torch

from exercise_feedback import exercise_tests, feedback
from mmcourse import pretraining
from mmcourse.data.scenes import COLOURS, SHAPES

Q = {q: exercise_tests("08_foundation_models", q)
     for q in ("q08_mask_tokens", "q08_masked_patch_loss", "q08_hard_negatives")}


# ---- q08_mask_tokens -----------------------------------------------------------------------------
def _masking(hidden_of, targets_of=None, swap=False):
    """A mask_tokens with one known flaw: which words it hides, what it returns as targets, or the order."""
    def mask_tokens(words, u, rate, mask_id, pad_id=0):
        hidden = hidden_of(words, u, rate, pad_id)
        inputs = words.masked_fill(hidden, mask_id)
        targets = targets_of(words, hidden, inputs) if targets_of else words.masked_fill(~hidden, -100)
        return (targets, inputs) if swap else (inputs, targets)
    return mask_tokens


def _right_hidden(words, u, rate, pad_id):
    return (u < rate) & (words != pad_id)


def _in_place(words, u, rate, mask_id, pad_id=0):
    hidden = (u < rate) & (words != pad_id)
    targets = words.masked_fill(~hidden, -100)
    return words.masked_fill_(hidden, mask_id), targets


def test_q08_mask_tokens_passes_a_correct_answer():
    assert all(feedback(t, mask_tokens=pretraining.mask_tokens) == "" for t in Q["q08_mask_tokens"].values())


@pytest.mark.parametrize("wrong, diagnosis", [
    (lambda words, u, rate, mask_id, pad_id=0: ..., "not done yet"),
    (_masking(lambda w, u, r, p: u < r), "you hid padding too"),
    (_masking(lambda w, u, r, p: (u >= r) & (w != p)), "which hides 1 − rate of them"),
    (_masking(_right_hidden, targets_of=lambda w, h, i: w.clone()), "targets must be IGNORE (−100)"),
    (_masking(_right_hidden, targets_of=lambda w, h, i: w.masked_fill(~h, 0)), "not 0: id 0 is <pad>"),
    (_masking(_right_hidden, targets_of=lambda w, h, i: i), "not the input with <mask> in it"),
    (_masking(_right_hidden, swap=True), "the order is `return inputs, targets`"),
    (_in_place, "changed `words` itself"),
    (lambda words, u, rate, mask_id, pad_id=0: words.masked_fill((u < rate) & (words != pad_id), mask_id),
     "must return two tensors"),
])
def test_q08_mask_tokens_names_each_known_mistake(wrong, diagnosis):
    assert diagnosis in feedback(Q["q08_mask_tokens"]["test_mask_tokens_on_two_captions"], mask_tokens=wrong)


def test_q08_mask_tokens_hidden_test_catches_a_hard_coded_pad_id():
    def pad_is_zero(words, u, rate, mask_id, pad_id=0):
        return pretraining.mask_tokens(words, u, rate, mask_id, 0)
    assert feedback(Q["q08_mask_tokens"]["test_mask_tokens_on_two_captions"], mask_tokens=pad_is_zero) == ""
    assert "pad_id 3" in feedback(Q["q08_mask_tokens"]["test_mask_tokens_on_other_batches"], mask_tokens=pad_is_zero)


# ---- q08_masked_patch_loss --------------------------------------------------------------------------
def test_q08_masked_patch_loss_passes_a_correct_answer():
    assert all(feedback(t, masked_patch_loss=pretraining.masked_patch_loss) == ""
               for t in Q["q08_masked_patch_loss"].values())


@pytest.mark.parametrize("wrong, diagnosis", [
    (lambda x_hat, x, hidden: None, "not done yet"),
    (lambda x_hat, x, hidden: (x_hat - x).pow(2).mean(), "the visible ones too"),
    (lambda x_hat, x, hidden: ((x_hat - x).pow(2) * hidden[..., None]).mean(), "still divided by all B·N·P"),
    (lambda x_hat, x, hidden: (x_hat - x).pow(2).mean(-1)[~hidden].mean(), "you scored the visible patches"),
    (lambda x_hat, x, hidden: (x_hat - x).pow(2).sum(-1)[hidden].mean(), "summed the squared errors"),
    (lambda x_hat, x, hidden: (x_hat - x).abs().mean(-1)[hidden].mean(), "absolute error"),
    (lambda x_hat, x, hidden: float((x_hat - x).pow(2).mean(-1)[hidden].mean()), "0-dimensional tensor"),
    (lambda x_hat, x, hidden: ((x_hat - x).pow(2).mean(-1) * hidden).sum(1).div(hidden.sum(1)).mean(),
     "averaged within each image, then over the images"),
    (lambda x_hat, x, hidden: ((x_hat - x).pow(2).mean(-1) * hidden).sum() / x.shape[0],
     "divided by the number of images B"),
])
def test_q08_masked_patch_loss_names_each_known_mistake(wrong, diagnosis):
    test = Q["q08_masked_patch_loss"]["test_masked_patch_loss_on_a_small_batch"]
    assert diagnosis in feedback(test, masked_patch_loss=wrong)


def test_q08_masked_patch_loss_hidden_test_catches_a_loss_that_leaks_into_visible_patches():
    def detached_mean(x_hat, x, hidden):  # the right value, but the gradient also reaches visible patches
        exact = (x_hat - x).pow(2).mean(-1)[hidden].mean()
        everything = (x_hat - x).pow(2).mean()
        return exact.detach() + everything - everything.detach()
    test = Q["q08_masked_patch_loss"]["test_masked_patch_loss_gives_visible_patches_no_gradient"]
    assert "visible patches get a gradient" in feedback(test, masked_patch_loss=detached_mean)


# ---- q08_hard_negatives ------------------------------------------------------------------------------
def _swap(words, i, options):
    return [" ".join(words[:i] + [o] + words[i + 1:]) for o in options]


def _negatives(colours=True, shapes=True, relation="above", first_only=False, keep_self=False, twice=False):
    """A hard_negatives with one known flaw."""
    def hard_negatives(caption):
        words, out = caption.split(), []
        for i, w in enumerate(words):
            if first_only and i > 2:
                break
            if colours and w in COLOURS:
                out += _swap(words, i, [c for c in COLOURS if keep_self or c != w])
            if shapes and w in SHAPES:
                out += _swap(words, i, [s for s in SHAPES if keep_self or s != w])
            if relation and w == "left":
                out.append(" ".join(words[:i] + relation.split() + words[i + 2:]))
        return out + out[:1] if twice else out
    return hard_negatives


def test_q08_hard_negatives_passes_a_correct_answer():
    assert all(feedback(t, hard_negatives=pretraining.hard_negatives) == "" for t in Q["q08_hard_negatives"].values())


@pytest.mark.parametrize("wrong, diagnosis", [
    (lambda caption: ..., "not done yet"),
    (lambda caption: "a blue circle left of a blue square", "a list of caption strings"),
    (_negatives(keep_self=True), "the caption itself is among your negatives"),
    (_negatives(twice=True), "appear more than once"),
    (_negatives(relation="right of"), "'right of' and 'below' never occur"),
    (_negatives(relation="above of"), "'left of' is two words"),
    (_negatives(relation=None), "the relation swap is missing"),
    (_negatives(shapes=False), "but not the shapes"),
    (_negatives(colours=False), "but not the colours"),
    (_negatives(first_only=True), "you changed only the first object"),
])
def test_q08_hard_negatives_names_each_known_mistake(wrong, diagnosis):
    test = Q["q08_hard_negatives"]["test_hard_negatives_of_a_two_object_caption"]
    assert diagnosis in feedback(test, hard_negatives=wrong)


def test_q08_hard_negatives_hidden_test_catches_a_missing_above_swap():
    only_left_of = _negatives()  # right for "left of" captions, never turns "above" into "left of"
    assert feedback(Q["q08_hard_negatives"]["test_hard_negatives_of_a_two_object_caption"],
                    hard_negatives=only_left_of) == ""
    message = feedback(Q["q08_hard_negatives"]["test_hard_negatives_of_other_captions"], hard_negatives=only_left_of)
    assert "missing e.g." in message and "left of" in message


def test_q08_hard_negatives_accepts_any_order():
    shuffled = lambda caption: sorted(pretraining.hard_negatives(caption), reverse=True)  # noqa: E731
    assert all(feedback(t, hard_negatives=shuffled) == "" for t in Q["q08_hard_negatives"].values())
