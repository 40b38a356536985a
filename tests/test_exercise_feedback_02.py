"""Notebook 02's exercise diagnoses are proven: the wrong answer that triggers each one gets its message.

The test functions are taken from the notebook source exactly as otter takes them, and called with
wrong implementations, as a student's notebook would call them.
"""
import numpy as np
import pytest
import torch

from exercise_feedback import exercise_tests, feedback
from mmcourse import pipelines as P

# The encoder, greedy decoding and the VQA fusion head: each wrong answer below is a mistake a
# student makes, and the visible test must name it.

Q02 = {q: exercise_tests("02_pipelines", q) for q in ("q02_encoder", "q02_greedy_decode", "q02_vqa_fusion")}


def _encode(mistake=None):
    """encode with one of its known mistakes switched on."""
    def encode(cell, x, mask):
        h = x.new_zeros(x.shape[0], cell.hidden_size)
        states = []
        for t in range(x.shape[1]):
            h_next = cell(x[:, t], h)
            if mistake == "no mask":
                h = h_next
            elif mistake == "zero at pad":
                h = h_next * mask[:, t, None]
            else:
                h = torch.where(mask[:, t, None], h_next, h)
            states.append(h)
        if mistake == "every state":
            return torch.stack(states, 1)
        if mistake == "first state":
            return states[0]
        return h
    return encode


def _greedy(feed_back=True, stop_at_eos=True, keep_state=True, with_bos=False):
    """greedy_decode with one of its known mistakes switched on."""
    def greedy_decode(step, h, bos_id, eos_id, pad_id, max_len):
        B = h.shape[0]
        h0 = h
        tokens = torch.full((B,), bos_id, dtype=torch.long)
        out = torch.full((B, max_len), pad_id, dtype=torch.long)
        done = torch.zeros(B, dtype=torch.bool)
        for t in range(max_len):
            scores, new_h = step(tokens if feed_back or t == 0 else torch.full((B,), bos_id), h0 if not keep_state else h)
            h = new_h
            predicted = scores.argmax(-1)
            out[:, t] = predicted if not stop_at_eos else torch.where(done, torch.full_like(predicted, pad_id), predicted)
            done = done | (predicted == eos_id)
            tokens = predicted
        if with_bos:
            out = torch.cat([torch.full((B, 1), bos_id), out[:, :-1]], dim=1)
        return out
    return greedy_decode


def _fusion_no_relu(v, q, W, b, U, c):
    return (torch.cat([v, q], 1) @ W.T + b) @ U.T + c


def _fusion_q_first(v, q, W, b, U, c):
    return torch.relu(torch.cat([q, v], 1) @ W.T + b) @ U.T + c


def _fusion_dim0(v, q, W, b, U, c):
    return torch.relu(torch.cat([v, q], 0) @ W.T + b) @ U.T + c


def _fusion_image_only(v, q, W, b, U, c):
    return torch.relu(v @ W[:, :v.shape[1]].T + b) @ U.T + c


def _fusion_question_only(v, q, W, b, U, c):
    return torch.relu(q @ W[:, v.shape[1]:].T + b) @ U.T + c


CORRECT_02 = {"q02_encoder": {"encode": P.encode_sequence},
              "q02_greedy_decode": {"greedy_decode": P.greedy_decode},
              "q02_vqa_fusion": {"fusion_head": P.fusion_logits}}
MISTAKES_02 = [
    ("q02_encoder", {"encode": _encode("every state")}, "returned the state of every step"),
    ("q02_encoder", {"encode": _encode("no mask")}, "your state changed at <pad> steps"),
    ("q02_encoder", {"encode": _encode("first state")}, "state after the first token"),
    ("q02_encoder", {"encode": _encode("zero at pad")}, "your state became zero at <pad> steps"),
    ("q02_greedy_decode", {"greedy_decode": _greedy(stop_at_eos=False)}, "kept decoding after <eos>"),
    ("q02_greedy_decode", {"greedy_decode": _greedy(feed_back=False)}, "fed <bos> at every step"),
    ("q02_greedy_decode", {"greedy_decode": _greedy(keep_state=False)}, "passed the start state to every step"),
    ("q02_greedy_decode", {"greedy_decode": _greedy(with_bos=True)}, "starts with <bos>"),
    ("q02_vqa_fusion", {"fusion_head": _fusion_no_relu}, "forgot the ReLU"),
    ("q02_vqa_fusion", {"fusion_head": _fusion_q_first}, "concatenated [q ; v]"),
    ("q02_vqa_fusion", {"fusion_head": _fusion_dim0}, "concatenated along dim 0"),
    ("q02_vqa_fusion", {"fusion_head": _fusion_image_only}, "ignores q"),
    ("q02_vqa_fusion", {"fusion_head": _fusion_question_only}, "ignores v"),
]


@pytest.mark.parametrize("question", list(CORRECT_02))
def test_q02_exercises_pass_a_correct_answer(question):
    assert all(feedback(t, **CORRECT_02[question]) == "" for t in Q02[question].values())


@pytest.mark.parametrize("question, answer, diagnosis", MISTAKES_02, ids=[m[2] for m in MISTAKES_02])
def test_q02_exercises_name_each_known_mistake(question, answer, diagnosis):
    visible = next(iter(Q02[question].values()))
    message = feedback(visible, **answer)
    assert diagnosis in message, f"the visible test of {question} should say {diagnosis!r}, it says {message!r}"


@pytest.mark.parametrize("question", list(CORRECT_02))
def test_q02_exercises_say_an_unfinished_answer_is_unfinished(question):
    (name,) = CORRECT_02[question]
    visible = next(iter(Q02[question].values()))
    assert "Replace the `...`" in feedback(visible, **{name: lambda *args: None})


def test_q02_hidden_tests_catch_an_encoder_that_reads_padding():
    hidden = Q02["q02_encoder"]["test_encode_matches_the_reference_encoder"]
    assert feedback(hidden, encode=_encode("no mask")) != ""


def test_q02_hidden_tests_catch_a_decoder_that_never_stops():
    hidden = Q02["q02_greedy_decode"]["test_greedy_decode_on_a_random_recurrent_decoder"]
    assert feedback(hidden, greedy_decode=_greedy(stop_at_eos=False)) != ""
