"""The exercise helpers give specific messages, and the fallback picks the right function."""
import re

import pytest
import torch

from mmcourse.exercises import (ExerciseError, close, finished, not_the_mistake, same_shape,
                                student_or_reference)


def test_close_accepts_values_within_tolerance():
    assert close(torch.tensor([1.0, 2.0]), [1.0, 2.0 + 1e-7], "x")


def test_close_reports_the_scalar_got_and_expected():
    with pytest.raises(ExerciseError, match=r"entropy is 0.693147, expected 1"):
        close(0.6931472, 1.0, "entropy")


def test_close_reports_shape_mismatch_with_both_shapes():
    with pytest.raises(ExerciseError, match=r"weights has shape \(2, 3\), expected \(3, 2\)"):
        close(torch.zeros(2, 3), torch.zeros(3, 2), "weights")


def test_close_reports_how_many_values_differ_and_the_largest_difference():
    got = torch.tensor([[0.0, 1.0], [2.0, 3.5]])
    with pytest.raises(ExerciseError, match=r"1 of 4 values differ.*0.5 at index \(1, 1\).*got 3.5, expected 3"):
        close(got, torch.tensor([[0.0, 1.0], [2.0, 3.0]]), "output")


def test_close_flags_nan_and_appends_the_hint():
    with pytest.raises(ExerciseError, match="contains NaN.*0 log 0"):
        close(float("nan"), 1.0, "H(p)", hint="remember 0 log 0 = 0")


def test_unfinished_answers_get_a_message_about_the_placeholder():
    with pytest.raises(ExerciseError, match="Replace the `...`"):
        close(..., 1.0, "answer")
    with pytest.raises(ExerciseError, match="not done yet"):
        finished(None, "my_function(x)")


def test_same_shape_names_the_quantity():
    same_shape(torch.zeros(2, 3), (2, 3), "x")
    with pytest.raises(ExerciseError, match=r"attention weights has shape \(2,\), expected \(2, 2\)"):
        same_shape(torch.zeros(2), (2, 2), "attention weights")


def test_not_the_mistake_raises_its_diagnosis_only_for_the_mistaken_value():
    assert not_the_mistake(1.0, 0.5, "x", "you halved it")
    with pytest.raises(ExerciseError, match="you halved it"):
        not_the_mistake(0.5, 0.5, "x", "you halved it")
    assert not_the_mistake(torch.zeros(2), torch.zeros(3), "x", "different shapes never match")


def test_student_or_reference_keeps_a_correct_student_function(capsys):
    fn = student_or_reference(lambda x: x * 2, lambda x: x + x, (torch.ones(3),), "double")
    assert fn(torch.tensor(2.0)) == 4.0
    assert "Using your `double`" in capsys.readouterr().out


@pytest.mark.parametrize("student", [lambda x: None, lambda x: x * 3, lambda x: 1 / 0, "not a function"])
def test_student_or_reference_falls_back_and_says_so(student, capsys):
    def reference(x):
        return x * 2

    fn = student_or_reference(student, reference, (torch.ones(3),), "double")
    assert fn is reference
    assert "the cells below use" in capsys.readouterr().out


def test_student_or_reference_rejects_bad_arguments():
    with pytest.raises(ValueError, match="probe"):
        student_or_reference(abs, abs, [1.0], "abs")
    with pytest.raises(ValueError, match="reference_fn"):
        student_or_reference(abs, None, (1.0,), "abs")


def test_student_or_reference_can_name_the_function_an_adapter_wraps(capsys):
    student_or_reference(None, lambda x: x, (1.0,), "add_noise", reference_name="mmcourse.noise.add_noise_at_snr")
    assert "use mmcourse.noise.add_noise_at_snr instead" in capsys.readouterr().out


@pytest.mark.parametrize("actual, expected, message", [
    (5.0, float("inf"), "expected inf, got 5"),  # an infinite reference no longer accepts every answer
    (-float("inf"), float("inf"), "expected inf, got -inf"),
    ([5.0, 1.0], [float("nan"), 1.0], "the expected value itself contains NaN"),
    (float("nan"), float("nan"), "pass equal_nan=True"),
    (float("inf"), 5.0, "x is inf, expected 5"),
])
def test_close_compares_non_finite_values_exactly(actual, expected, message):
    with pytest.raises(ExerciseError, match=re.escape(message)):
        close(actual, expected, "x")


def test_close_accepts_equal_infinities_and_nan_only_where_asked():
    assert close([1.0, float("inf"), -float("inf")], [1.0, float("inf"), -float("inf")], "x")
    assert close([float("nan"), 2.0], [float("nan"), 2.0], "x", equal_nan=True)
    with pytest.raises(ExerciseError, match=re.escape("expected NaN at index (0,), got 3")):
        close([3.0, 2.0], [float("nan"), 2.0], "x", equal_nan=True)
