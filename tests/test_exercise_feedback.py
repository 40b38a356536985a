"""Each exercise's diagnosis is proven: the wrong answer that triggers it gets that message.

The test functions are taken from the notebook sources exactly as otter takes them, and called with
wrong implementations, as a student's notebook would call them.
"""
import numpy as np
import pytest
import torch

from mmcourse import modalities as M
from exercise_feedback import exercise_tests, feedback


# ---- notebook 00 -----------------------------------------------------------------------------
Q00 = exercise_tests("00_welcome", "q00_accuracy")


def _right(logits, labels):
    return (logits.argmax(1) == labels).float().mean().item()


def test_q00_accuracy_passes_a_correct_answer():
    assert all(feedback(t, accuracy_of=_right) == "" for t in Q00.values())


@pytest.mark.parametrize("wrong, diagnosis", [
    (lambda logits, labels: None, "not done yet"),
    (lambda logits, labels: (logits.argmax(1) == labels).sum().item(), "number of correct predictions"),
    (lambda logits, labels: (logits.argmax(0) == labels).float().mean().item(), "argmax over dim 0"),
])
def test_q00_accuracy_names_each_known_mistake(wrong, diagnosis):
    assert diagnosis in feedback(Q00["test_accuracy_on_four_examples"], accuracy_of=wrong)


def test_q00_accuracy_asks_for_a_python_float():
    message = feedback(Q00["test_accuracy_on_random_logits"],
                       accuracy_of=lambda logits, labels: (logits.argmax(1) == labels).float().mean())
    assert "Python float" in message


# ---- notebook 01 -----------------------------------------------------------------------------
# The test functions of each question, taken from the notebook source as otter takes them, are run on
# a correct answer, on each known mistake (the student must read its diagnosis) and on `...`.
Q01 = {q: exercise_tests("01_modalities", q) for q in ("q01_entropy", "q01_add_noise", "q01_neighbour_correlation")}


def _entropy_natural_log(p):
    p = p / p.sum()
    p = p[p > 0]
    return -(p * torch.log(p)).sum()


def _entropy_nan_at_zero(p):
    p = p / p.sum()
    return -(p * torch.log2(p)).sum()


def _entropy_unnormalised(p):
    p = p[p > 0]
    return -(p * torch.log2(p)).sum()


def _noise_with_scale(scale):
    """add_noise(x, n, snr_db) = x + scale(P_x, P_n, snr_db) · n."""
    def add_noise(x, n, snr_db):
        return x + scale(x.pow(2).mean(), n.pow(2).mean(), snr_db) * n
    return add_noise


def _correlation_below(images):
    return float(np.corrcoef(images[:, :-1, :].flatten(), images[:, 1:, :].flatten())[0, 1])


def _cosine_right(images):
    a, b = images[:, :, :-1].flatten().double(), images[:, :, 1:].flatten().double()
    return float((a * b).sum() / torch.sqrt((a ** 2).sum() * (b ** 2).sum()))


CORRECT = {
    "q01_entropy": {"entropy_bits": M.entropy},
    "q01_add_noise": {"add_noise": _noise_with_scale(lambda px, pn, s: torch.sqrt(px / (pn * 10 ** (s / 10))))},
    "q01_neighbour_correlation": {"neighbour_correlation": M.neighbour_correlation},
}
MISTAKES = [
    ("q01_entropy", {"entropy_bits": _entropy_natural_log}, "natural log"),
    ("q01_entropy", {"entropy_bits": _entropy_nan_at_zero}, "0·log 0 = 0"),
    ("q01_entropy", {"entropy_bits": _entropy_unnormalised}, "did not normalise"),
    ("q01_add_noise", {"add_noise": _noise_with_scale(lambda px, pn, s: torch.sqrt(px / (pn * 10 ** (s / 20))))},
     "10^(SNR/20) inside the power ratio"),
    ("q01_add_noise", {"add_noise": _noise_with_scale(lambda px, pn, s: torch.sqrt(px / pn) / 10 ** (s / 10))},
     "divided the amplitude by 10^(SNR/10)"),
    ("q01_add_noise", {"add_noise": _noise_with_scale(lambda px, pn, s: px / (pn * 10 ** (s / 10)))},
     "take the square root"),
    ("q01_neighbour_correlation", {"neighbour_correlation": _cosine_right}, "subtract the means"),
    ("q01_neighbour_correlation", {"neighbour_correlation": _correlation_below}, "the one below it"),
]


@pytest.mark.parametrize("question", list(CORRECT))
def test_q01_exercises_pass_a_correct_answer(question):
    assert all(feedback(t, **CORRECT[question]) == "" for t in Q01[question].values())


@pytest.mark.parametrize("question, answer, diagnosis", MISTAKES, ids=[m[2] for m in MISTAKES])
def test_q01_exercises_name_each_known_mistake(question, answer, diagnosis):
    visible = next(iter(Q01[question].values()))  # the first test cell of each question is the visible one
    message = feedback(visible, **answer)
    assert diagnosis in message, f"the visible test of {question} should say {diagnosis!r}, it says {message!r}"


@pytest.mark.parametrize("question", list(CORRECT))
def test_q01_exercises_say_an_unfinished_answer_is_unfinished(question):
    (name,) = CORRECT[question]
    assert all("Replace the `...`" in feedback(t, **{name: lambda *args: None}) for t in Q01[question].values())


# ---- notebook 03 -----------------------------------------------------------------------------
# Each diagnosis of the attention exercises is triggered by the wrong answer it names.
from mmcourse import attention as A  # noqa: E402

Q03 = {q: exercise_tests("03_attention", q) for q in ("q03_attention_steps", "q03_masked_attention", "q03_heads")}


def _steps(score_softmax, average_u=False):
    """attention_steps(h, W, q, mask) built from a wrong step 4 (``score_softmax(e, mask)``) or step 5."""
    def attention_steps(h, W, q, mask=None):
        u = torch.tanh(h @ W.T)
        a = score_softmax(u @ q, mask)
        return (a.unsqueeze(-1) * (u if average_u else h)).sum(1), a
    return attention_steps


def _masked_softmax(e, mask, dim=1):
    return (e if mask is None else e.masked_fill(~mask, float("-inf"))).softmax(dim)


def _sdpa(scale, mask_fn=lambda scores, mask: scores.masked_fill(~mask, float("-inf")).softmax(-1)):
    """masked_attention(query, key, value, mask) with a given scale of the scores and a given masking."""
    def masked_attention(query, key, value, mask=None):
        scores = query @ key.transpose(-2, -1) * scale(query.shape[-1])
        weights = scores.softmax(-1) if mask is None else mask_fn(scores, mask)
        return weights @ value, weights
    return masked_attention


_RIGHT_SCALE = lambda d: d ** -0.5  # noqa: E731


def _split_no_transpose(x, num_heads):
    B, L, C = x.shape
    return x.reshape(B, num_heads, L, C // num_heads)


def _split_interleaved(x, num_heads):
    B, L, C = x.shape
    return x.reshape(B, L, C // num_heads, num_heads).permute(0, 3, 1, 2)


def _merge_no_transpose(x):
    B, H, L, D = x.shape
    return x.reshape(B, L, H * D)


def _merge_with_view(x):
    B, H, L, D = x.shape
    return x.transpose(1, 2).view(B, L, H * D)


CORRECT_03 = {
    "q03_attention_steps": {"attention_steps": A.attention_pooling},
    "q03_masked_attention": {"masked_attention": A.scaled_dot_product_attention},
    "q03_heads": {"split_heads": A.split_heads, "merge_heads": A.merge_heads},
}
MISTAKES_03 = [
    ("q03_attention_steps", {"attention_steps": _steps(_masked_softmax, average_u=True)}, "not the transformed u_t"),
    ("q03_attention_steps", {"attention_steps": _steps(lambda e, m: _masked_softmax(e, m, dim=0))},
     "softmax over the batch"),
    ("q03_attention_steps", {"attention_steps": _steps(lambda e, m: e.softmax(1) * m)}, "after the softmax"),
    ("q03_attention_steps", {"attention_steps": _steps(lambda e, m: e.softmax(1))}, "padded frames still get weight"),
    ("q03_attention_steps", {"attention_steps": _steps(lambda e, m: e.masked_fill(~m, 0.0))},  # no softmax
     "sum over t of the weights"),
    ("q03_masked_attention", {"masked_attention": _sdpa(lambda d: 1.0)},
     "your weights are what you get without dividing by √d_k"),
    ("q03_masked_attention", {"masked_attention": _sdpa(lambda d: 1 / d)}, "you divided the scores by d_k"),
    ("q03_masked_attention", {"masked_attention": _sdpa(
        _RIGHT_SCALE, lambda s, m: s.masked_fill(m, float("-inf")).softmax(-1))}, "the mask is inverted"),
    ("q03_masked_attention", {"masked_attention": _sdpa(_RIGHT_SCALE, lambda s, m: s.softmax(-1) * m)},
     "after the softmax"),
    ("q03_masked_attention", {"masked_attention": _sdpa(_RIGHT_SCALE, lambda s, m: s.softmax(-1))},
     "masked positions still get weight"),
    ("q03_heads", {"split_heads": _split_no_transpose, "merge_heads": A.merge_heads}, "without a transpose"),
    ("q03_heads", {"split_heads": _split_interleaved, "merge_heads": A.merge_heads}, "every H-th feature"),
    ("q03_heads", {"split_heads": A.split_heads, "merge_heads": _merge_no_transpose}, "without a transpose"),
    ("q03_heads", {"split_heads": A.split_heads, "merge_heads": _merge_with_view}, "use .reshape"),
]


@pytest.mark.parametrize("question", list(CORRECT_03))
def test_q03_exercises_pass_a_correct_answer(question):
    assert all(feedback(t, **CORRECT_03[question]) == "" for t in Q03[question].values())


@pytest.mark.parametrize("question, answer, diagnosis", MISTAKES_03, ids=[f"{m[0]}: {m[2]}" for m in MISTAKES_03])
def test_q03_exercises_name_each_known_mistake(question, answer, diagnosis):
    visible = next(iter(Q03[question].values()))  # the first test cell of each question is the visible one
    message = feedback(visible, **answer)
    assert diagnosis in message, f"the visible test of {question} should say {diagnosis!r}, it says {message!r}"


@pytest.mark.parametrize("question", list(CORRECT_03))
def test_q03_exercises_say_an_unfinished_answer_is_unfinished(question):
    unfinished = {name: (lambda *args: None) for name in CORRECT_03[question]}
    assert all("Replace the `...`" in feedback(t, **unfinished) for t in Q03[question].values())


# ---- notebook 02 -----------------------------------------------------------------------------
# Greedy decoding and the VQA fusion head: each wrong answer below is a mistake a student makes,
# and the visible test must name it.
from mmcourse import pipelines as P  # noqa: E402

Q02 = {q: exercise_tests("02_pipelines", q) for q in ("q02_greedy_decode", "q02_vqa_fusion")}


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


CORRECT_02 = {"q02_greedy_decode": {"greedy_decode": P.greedy_decode},
              "q02_vqa_fusion": {"fusion_head": P.fusion_logits}}
MISTAKES_02 = [
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


def test_q02_hidden_tests_catch_a_decoder_that_never_stops():
    hidden = Q02["q02_greedy_decode"]["test_greedy_decode_on_a_random_recurrent_decoder"]
    assert feedback(hidden, greedy_decode=_greedy(stop_at_eos=False)) != ""


# ---- notebook 04 -----------------------------------------------------------------------------
# The sinusoidal encoding: each classic slip in the lecture's formula gets its own message.
from mmcourse import positional  # noqa: E402

Q04 = exercise_tests("04_positional_encoding", "q04_sinusoidal")


def _encoding(exponent=lambda i, d: (i - i % 2) / d, swap=False, multiply=False, first_position=0, odd_fix=True):
    """positional_encoding(P, d) with one deliberate slip."""
    def positional_encoding(num_positions, dim):
        pos = torch.arange(first_position, first_position + num_positions, dtype=torch.float64)[:, None]
        i = torch.arange(dim, dtype=torch.float64)
        scale = 10000 ** exponent(i, dim)
        angle = pos * scale if multiply else pos / scale
        first, second = (torch.cos, torch.sin) if swap else (torch.sin, torch.cos)
        return torch.where(i % 2 == 0, first(angle), second(angle)).float()
    return positional_encoding


MISTAKES_04 = [
    (_encoding(swap=True), "sine and cosine are swapped"),
    (_encoding(exponent=lambda i, d: i / d), "for odd i the exponent is (i − 1)/d, not i/d"),
    (_encoding(exponent=lambda i, d: 2 * i / d), "the paper's way of writing it, where i counts (sin, cos) pairs"),
    (_encoding(exponent=lambda i, d: (i - i % 2) / 2 / d), "your exponent is the pair number j = i // 2 divided by d"),
    (_encoding(multiply=True), "must be divided by 10000^(i/d), not multiplied"),
    (_encoding(first_position=1), "positions start at 0"),
]


def test_q04_sinusoidal_passes_a_correct_answer():
    assert len(Q04) == 2
    assert all(feedback(t, positional_encoding=positional.sinusoidal_encoding) == "" for t in Q04.values())
    assert all(feedback(t, positional_encoding=_encoding()) == "" for t in Q04.values())


@pytest.mark.parametrize("answer, diagnosis", MISTAKES_04, ids=[m[1] for m in MISTAKES_04])
def test_q04_sinusoidal_names_each_known_mistake(answer, diagnosis):
    visible = next(iter(Q04.values()))
    message = feedback(visible, positional_encoding=answer)
    assert diagnosis in message, f"the visible test should say {diagnosis!r}, it says {message!r}"


def test_q04_sinusoidal_says_an_unfinished_answer_is_unfinished():
    assert all("Replace the `...`" in feedback(t, positional_encoding=lambda *a: None) for t in Q04.values())


def test_q04_hidden_test_catches_an_encoding_that_fails_for_odd_dimensions():
    def even_only(num_positions, dim):  # right for even dim, a wrong last column for odd dim
        pe = positional.sinusoidal_encoding(num_positions, dim + dim % 2)
        return pe[:, :dim] if dim % 2 == 0 else torch.cat([pe[:, :dim - 1], torch.zeros(num_positions, 1)], 1)
    visible, hidden = Q04.values()
    assert feedback(visible, positional_encoding=even_only) == ""
    assert "positional_encoding(7, 7)" in feedback(hidden, positional_encoding=even_only)
