"""The instructor's workflow end to end: student versions, then batch grading of every kind of
submission a class produces, checked in the gradebook, with the submission files left untouched.

Uses the student versions and autograder archives that `make student` wrote to dist/ (make test
runs it first).
"""
import csv
import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import nbtools
from demo_submissions import NOTEBOOK, make_submissions

GRADE = nbtools.ROOT / "scripts" / "grade.py"
QUESTIONS = ("q00_accuracy", "q00_class_means")
POINTS = 2.0  # each


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("submissions")
    make_submissions(folder)
    before = _digest(folder)
    mtimes = {p: p.stat().st_mtime_ns for p in folder.rglob("*")}
    out = tmp_path_factory.mktemp("grades") / "gradebook.csv"
    run = subprocess.run([sys.executable, str(GRADE), str(folder), "--timeout", "150", "--jobs", "2",
                          "--out", str(out)], capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stdout + run.stderr
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    return {"rows": rows, "folder": folder, "before": before, "mtimes": mtimes, "log": run.stdout + run.stderr}


def _rows(graded, student):
    rows = [r for r in graded["rows"] if r["student"] == student]
    assert sorted(r["question"] for r in rows) == sorted(QUESTIONS), \
        f"expected one gradebook row per question for {student}, got {rows}\n{graded['log']}"
    return rows


def test_gradebook_has_the_promised_columns_and_one_row_per_student_and_question(graded):
    assert list(graded["rows"][0].keys()) == ["student", "notebook", "question", "score", "max_score", "status"]
    assert sorted(r["student"] for r in graded["rows"]) == sorted(["ada", "ben", "cleo", "dan", "eve", "fay"] * 2)
    assert {(r["notebook"], r["question"], r["max_score"]) for r in graded["rows"]} == {(NOTEBOOK, q, "2") for q in QUESTIONS}


def test_the_instructors_solution_gets_full_marks(graded):
    for row in _rows(graded, "ada"):
        assert (float(row["score"]), row["status"]) == (POINTS, "passed"), graded["log"]


def test_the_untouched_student_version_gets_zero_without_crashing(graded):
    for row in _rows(graded, "ben"):
        assert (float(row["score"]), row["status"]) == (0.0, "failed"), graded["log"]


def test_an_endless_loop_is_stopped_by_the_time_out_and_the_batch_goes_on(graded):
    for row in _rows(graded, "cleo"):
        assert (float(row["score"]), row["status"]) == (0.0, "timeout"), graded["log"]


def test_a_submission_that_raises_on_import_is_graded_zero(graded):
    for row in _rows(graded, "dan"):
        assert float(row["score"]) == 0.0 and row["status"] in {"failed", "error"}, graded["log"]


def test_a_file_that_is_not_a_notebook_is_reported_as_such(graded):
    for row in _rows(graded, "eve"):
        assert (float(row["score"]), row["status"]) == (0.0, "invalid-notebook"), graded["log"]


def test_edited_tests_and_a_replaced_grader_check_gain_nothing(graded):
    # her class_means is left unfinished and her check cells are deleted: the fallback after the exercise must
    # not hand her the reference under the exercise's own name
    for row in _rows(graded, "fay"):
        assert float(row["score"]) == 0.0, graded["log"]


def test_no_submission_file_is_changed_moved_or_deleted(graded):
    folder = graded["folder"]
    assert _digest(folder) == graded["before"]
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*")} == graded["mtimes"]


def test_every_student_version_hides_solutions_and_hidden_tests():
    for src in nbtools.sources():
        student = (nbtools.ROOT / "dist" / "student" / f"{src.stem}.ipynb").read_text()
        assert "BEGIN SOLUTION" not in student and "# HIDDEN" not in student, src.stem
        assert 'otter.Notebook(' in student, src.stem
        # an optional NNb_* notebook may have no exercise (tests/test_notebooks.py); every other one has checks
        has_questions = "# BEGIN QUESTION" in src.read_text()
        assert ("grader.check(" in student) == has_questions, src.stem
        assert has_questions or re.match(r"\d\db_", src.stem), f"{src.stem} has no exercise"
        assert (nbtools.ROOT / "dist" / "autograder" / f"{src.stem}-autograder.zip").exists(), src.stem
