"""Assertion helpers for the auto-graded exercises, and the fallback for unfinished ones.

Every exercise test in the notebooks calls these helpers instead of a bare ``assert``, so that a
student who runs ``grader.check("q01_entropy")`` reads *what* is wrong in their own terms: which
quantity, which shape, what was expected and what came, and, for a known mistake, what it is.

- ``close(actual, expected, what)``: values agree to a tolerance (reports shapes, largest difference);
- ``same_shape(actual, expected_shape, what)``: the shape is right;
- ``not_the_mistake(actual, mistake, what, message)``: the answer is not a known wrong answer;
- ``finished(value, name)``: the student replaced the ``...`` placeholder;
- ``student_or_reference(student_fn, reference_fn, probe)``: in a student notebook, the rest of the
  lecture runs on the student's function if it works, else on the reference, and says which.

Defined in notebook 00 (welcome, "How exercises work"); used by every notebook's tests.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

__all__ = ["ExerciseError", "close", "same_shape", "not_the_mistake", "finished", "student_or_reference"]


class ExerciseError(AssertionError):
    """An exercise check that failed, with a message meant for the student."""


def _to_numpy(value, what: str) -> np.ndarray:
    if value is Ellipsis or value is None:
        raise ExerciseError(f"{what}: got {value!r}. Replace the `...` with your answer and run the cell again.")
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().double().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ExerciseError(f"{what}: expected a number or an array of numbers, got {type(value).__name__}") from None


def finished(value, name: str):
    """Fail with a friendly message if ``value`` is still the ``...`` placeholder (or ``None``)."""
    if value is Ellipsis or value is None:
        raise ExerciseError(
            f"`{name}` is still {value!r}: the exercise is not done yet. Replace the `...` and run the cell again."
        )
    return value


def same_shape(actual, expected_shape: Sequence[int], what: str):
    """Fail unless ``actual`` has ``expected_shape``; the message names both shapes."""
    finished(actual, what)
    shape = tuple(getattr(actual, "shape", np.shape(actual)))
    if shape != tuple(expected_shape):
        raise ExerciseError(f"{what} has shape {shape}, expected {tuple(expected_shape)}")
    return actual


def _at(where: tuple) -> str:
    """' at index (i, j)' for an entry of an array, '' for a single number."""
    return f" at index {where}" if where else ""


def close(actual, expected, what: str, atol: float = 1e-5, rtol: float = 1e-4, hint: str = "",
          equal_nan: bool = False):
    """Fail unless ``actual`` and ``expected`` agree to ``atol + rtol·|expected|`` element-wise.

    Non-finite values are compared exactly: an expected ±∞ is matched only by the same infinity, and an
    expected NaN only by a NaN, and only with ``equal_nan=True`` (without it an expected NaN fails, so a
    broken reference never accepts every answer). The message says which quantity, the shapes if they
    differ, the largest difference and where it is, and a ``hint`` if one is given.
    """
    got = _to_numpy(actual, what)
    want = _to_numpy(expected, what)
    if got.shape != want.shape:
        raise ExerciseError(f"{what} has shape {got.shape}, expected {want.shape}. {hint}".strip())
    got_nan, want_nan = np.isnan(got), np.isnan(want)
    if want_nan.any() and not equal_nan:
        raise ExerciseError(f"{what}: the expected value itself contains NaN, so no answer can be checked against "
                            f"it (the check's own inputs are broken; pass equal_nan=True if NaN is the right answer)")
    if (got_nan & ~want_nan).any():
        raise ExerciseError(f"{what} contains NaN; expected finite values. {hint}".strip())
    if (want_nan & ~got_nan).any():
        where = tuple(int(i) for i in np.argwhere(want_nan & ~got_nan)[0])
        raise ExerciseError(f"{what}: expected NaN{_at(where)}, got {got[where]:.6g}. {hint}".strip())
    want_inf = np.isinf(want)
    if (want_inf & (got != want)).any():
        where = tuple(int(i) for i in np.argwhere(want_inf & (got != want))[0])
        raise ExerciseError(f"{what}: expected {want[where]:.6g}{_at(where)}, got {got[where]:.6g}. {hint}".strip())
    finite = ~(want_nan | want_inf)  # the entries compared with the tolerance
    with np.errstate(invalid="ignore"):  # ∞ − ∞ where both are the same infinity: not compared
        diff = np.where(finite, np.abs(got - want), 0.0)
    bad = finite & (diff > atol + rtol * np.where(finite, np.abs(want), 0.0))
    if bad.any():
        if got.ndim == 0:
            message = f"{what} is {got.item():.6g}, expected {want.item():.6g}"
        else:
            where = np.unravel_index(int(np.argmax(np.where(bad, diff, -1))), got.shape)
            message = (
                f"{what}: {int(bad.sum())} of {got.size} values differ; the largest difference is "
                f"{diff[where]:.3g} at index {tuple(int(i) for i in where)} "
                f"(got {got[where]:.6g}, expected {want[where]:.6g})"
            )
        raise ExerciseError(f"{message}. {hint}".strip())
    return True


def not_the_mistake(actual, mistake, what: str, message: str, atol: float = 1e-6) -> bool:
    """Fail with ``message`` if ``actual`` equals the result of a known mistake (and differs from it
    otherwise). Use it before ``close`` so the student reads the diagnosis, not just the numbers."""
    got = _to_numpy(actual, what)
    wrong = _to_numpy(mistake, what)
    if got.shape == wrong.shape and np.allclose(got, wrong, atol=atol, rtol=0):
        raise ExerciseError(f"{what}: {message}")
    return True


def student_or_reference(student_fn: Callable, reference_fn: Callable, probe: tuple, name: str,
                         check: Callable | None = None, atol: float = 1e-5,
                         reference_name: str | None = None) -> Callable:
    """Return ``student_fn`` if it runs on ``probe`` and agrees with ``reference_fn``; else
    ``reference_fn``, after printing one line that says so.

    A student notebook calls this right after an exercise, so the cells that follow run whether or
    not the exercise is finished. ``check(got, expected)`` may replace the default comparison.
    """
    if not callable(reference_fn):
        raise ValueError(f"reference_fn must be callable, got {type(reference_fn).__name__}")
    if not isinstance(probe, tuple):
        raise ValueError(f"probe must be a tuple of arguments, got {type(probe).__name__}")
    problem = None
    if not callable(student_fn):
        problem = "is not a function yet"
    else:
        try:
            got = student_fn(*probe)
            expected = reference_fn(*probe)
            if got is None or got is Ellipsis:
                problem = "is not finished (it returns nothing)"
            elif check is not None:
                check(got, expected)
            else:
                close(got, expected, name, atol=atol)
        except NotImplementedError:
            problem = "is not finished"
        except Exception as err:  # any error in a student's function means: use the reference
            problem = f"does not give the expected result yet ({type(err).__name__}: {str(err)[:120]})"
    if problem is None:
        print(f"Using your `{name}`: it agrees with the reference.")
        return student_fn
    if reference_name is None:
        reference_name = f"{getattr(reference_fn, '__module__', 'mmcourse')}.{reference_fn.__name__}"
    print(f"Your `{name}` {problem}; the cells below use {reference_name} instead.")
    return reference_fn
