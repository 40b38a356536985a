"""Notebook 03c's exercise diagnoses are proven: the wrong answer that triggers each one gets its message.

The test functions are taken from the notebook source exactly as otter takes them, and called with
wrong implementations, as a student's notebook would call them.
"""
import pytest
import torch

from exercise_feedback import exercise_tests, feedback
from mmcourse import robustness

Q_NORM = exercise_tests("03c_real_voices", "q03_utterance_normalisation")
Q_MASK = exercise_tests("03c_real_voices", "q03_time_frequency_masks")


# ---- exercise 3c.1: per-utterance normalisation ---------------------------------------------------

def _mean_over_padding(x, mask):
    return (x - x.mean(1, keepdim=True)) * mask[..., None]


def _mean_over_bands(x, mask):
    return (x - x.mean(2, keepdim=True)) * mask[..., None]


def _one_mean_for_the_batch(x, mask):
    return (x - x[mask].mean(0)) * mask[..., None]


def _padding_not_zeroed(x, mask):
    real = mask[..., None].float()
    return x - (x * real).sum(1, keepdim=True) / real.sum(1, keepdim=True)


def _divided_by_spread(x, mask):
    real = mask[..., None].float()
    centred = (x - (x * real).sum(1, keepdim=True) / real.sum(1, keepdim=True)) * real
    std = (centred ** 2).sum(1, keepdim=True).div(real.sum(1, keepdim=True)).sqrt()
    return centred / std


def _in_place(x, mask):
    return x.copy_(robustness.normalise_per_utterance(x, mask))  # right values, written over x


NORM_MISTAKES = [
    (_mean_over_padding, "your mean includes the padded frames"),
    (_mean_over_bands, "you averaged over the mel bands of each frame"),
    (_one_mean_for_the_batch, "one mean for the whole batch"),
    (_padding_not_zeroed, "the padded frames must come out as exactly 0"),
    (_divided_by_spread, "you also divided by each band's spread"),
    (_in_place, "changed x itself"),
    (lambda x, mask: None, "the exercise is not done yet"),
]


def test_q03_utterance_normalisation_passes_the_reference():
    assert all(feedback(t, normalise_per_utterance=robustness.normalise_per_utterance) == "" for t in Q_NORM.values())


@pytest.mark.parametrize("answer, diagnosis", NORM_MISTAKES, ids=[m[1] for m in NORM_MISTAKES])
def test_q03_utterance_normalisation_names_each_known_mistake(answer, diagnosis):
    visible = Q_NORM["test_normalise_per_utterance_on_a_padded_batch"]
    message = feedback(visible, normalise_per_utterance=answer)
    assert diagnosis in message, f"the visible test should say {diagnosis!r}, it says {message!r}"


def test_q03_utterance_normalisation_hidden_test_catches_a_fixed_batch_size():
    def only_three_recordings(x, mask):  # right on the visible batch of 3, wrong on the hidden one of 4
        return robustness.normalise_per_utterance(x[:3], mask[:3])

    assert feedback(Q_NORM["test_normalise_per_utterance_on_a_padded_batch"],
                    normalise_per_utterance=only_three_recordings) == ""
    hidden = Q_NORM["test_normalise_per_utterance_removes_any_constant_per_band"]
    assert feedback(hidden, normalise_per_utterance=only_three_recordings) != ""


# ---- exercise 3c.2: time and frequency masks ------------------------------------------------------

def _blocks(T, M, b0, bw, f0, fw, inclusive=False):
    bands = torch.arange(M)[None, :]
    frames = torch.arange(T)[None, :]
    end_b, end_f = b0 + bw + int(inclusive), f0 + fw + int(inclusive)
    hidden_bands = (bands >= b0[:, None]) & (bands < end_b[:, None])  # (B, M)
    hidden_frames = (frames >= f0[:, None]) & (frames < end_f[:, None])  # (B, T)
    return hidden_bands[:, None, :] | hidden_frames[:, :, None]


def _masker(swap=False, inclusive=False, first_only=False, bands=True, frames=True, in_place=False):
    def mask_bands_and_frames(x, band_start, band_width, frame_start, frame_width):
        B, T, M = x.shape
        b0, bw, f0, fw = band_start, band_width, frame_start, frame_width
        if first_only:
            b0, bw, f0, fw = (v[:1].expand(B) for v in (b0, bw, f0, fw))
        if not bands:
            bw = torch.zeros_like(bw)
        if not frames:
            fw = torch.zeros_like(fw)
        if swap:
            hidden = (((torch.arange(T) >= b0[:, None]) & (torch.arange(T) < (b0 + bw)[:, None]))[:, :, None]
                      | ((torch.arange(M) >= f0[:, None]) & (torch.arange(M) < (f0 + fw)[:, None]))[:, None, :])
        else:
            hidden = _blocks(T, M, b0, bw, f0, fw, inclusive)
        return x.masked_fill_(hidden, 0.0) if in_place else x.masked_fill(hidden, 0.0)
    return mask_bands_and_frames


MASK_MISTAKES = [
    (_masker(swap=True), "you hid bands along the frames"),
    (_masker(inclusive=True), "each block is one too wide"),
    (_masker(first_only=True), "every recording got the first recording's blocks"),
    (_masker(frames=False), "only the bands are hidden"),
    (_masker(bands=False), "only the frames are hidden"),
    (_masker(in_place=True), "changed x itself"),
    (lambda x, *blocks: None, "the exercise is not done yet"),
]


def test_q03_time_frequency_masks_passes_the_reference():
    assert all(feedback(t, mask_bands_and_frames=robustness.mask_bands_and_frames) == "" for t in Q_MASK.values())


@pytest.mark.parametrize("answer, diagnosis", MASK_MISTAKES, ids=[m[1] for m in MASK_MISTAKES])
def test_q03_time_frequency_masks_names_each_known_mistake(answer, diagnosis):
    visible = Q_MASK["test_mask_bands_and_frames_on_a_small_batch"]
    message = feedback(visible, mask_bands_and_frames=answer)
    assert diagnosis in message, f"the visible test should say {diagnosis!r}, it says {message!r}"


def test_q03_time_frequency_masks_hidden_test_catches_a_block_that_never_reaches_the_edge():
    def stops_before_the_edge(x, band_start, band_width, frame_start, frame_width):
        B, T, M = x.shape
        # a block clipped one short of the last band and frame: invisible in the visible test's blocks
        end_b = torch.minimum(band_start + band_width, torch.tensor(M - 1))
        end_f = torch.minimum(frame_start + frame_width, torch.tensor(T - 1))
        return robustness.mask_bands_and_frames(x, band_start, end_b - band_start, frame_start, end_f - frame_start)

    assert feedback(Q_MASK["test_mask_bands_and_frames_on_a_small_batch"],
                    mask_bands_and_frames=stops_before_the_edge) == ""
    assert feedback(Q_MASK["test_mask_bands_and_frames_with_empty_and_edge_blocks"],
                    mask_bands_and_frames=stops_before_the_edge) != ""
