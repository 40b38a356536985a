"""Demo submissions of every kind a class produces, for trying and testing `make grade`.

    python scripts/demo_submissions.py FOLDER      # writes FOLDER/<student>/00_welcome.ipynb for six students
    make grade SUBMISSIONS=FOLDER          # then grade them

ada hands in the instructor's solution (full marks); ben the untouched student version (zero);
cleo's notebook loops forever (time-out); dan's raises on import; eve's file is not notebook JSON;
fay answers wrongly, deletes her check cell, replaces ``grader.check`` and rewrites the visible test
in her notebook's metadata to pass (the tests come from the autograder archive, so she gets zero).
Needs ``make student`` first (it starts from the student version in dist/student/).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nbtools import NOTEBOOKS, ROOT  # noqa: E402

NOTEBOOK = "00_welcome"


def _student_version() -> nbformat.NotebookNode:
    path = ROOT / "dist" / "student" / f"{NOTEBOOK}.ipynb"
    if not path.exists():
        raise SystemExit("dist/student is missing: run `make student` first")
    return nbformat.read(path, 4)


def _with_code_cell_after_setup(nb, source: str) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells.insert(first_code + 1, nbformat.v4.new_code_cell(source))
    return nb


def _answer_cell(nb) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "def accuracy_of" in c.source)


def make_submissions(folder: Path) -> None:
    """One student of each kind the grader must handle."""
    student = _student_version()

    def put(who: str, nb=None, raw: bytes | None = None):
        (folder / who).mkdir(parents=True)
        target = folder / who / f"{NOTEBOOK}.ipynb"
        target.write_bytes(raw if raw is not None else nbformat.writes(nb).encode())

    # the instructor's solution, as committed: full marks
    put("ada", raw=(NOTEBOOKS / f"{NOTEBOOK}.ipynb").read_bytes())
    # the untouched student version: zero, no crash
    put("ben", student)
    # loops forever before the exercise: stopped by the time-out, graded zero, batch goes on
    put("cleo", _with_code_cell_after_setup(student, "while True:\n    pass"))
    # raises on import
    put("dan", _with_code_cell_after_setup(student, "import a_module_that_does_not_exist"))
    # not notebook JSON at all
    put("eve", raw=b'{"cells": [ this is not json')
    # a wrong answer, with its check cell deleted, grader.check replaced and the visible test in the
    # notebook's metadata rewritten to pass: the archive's tests still give zero
    cheat = nbformat.from_dict(json.loads(json.dumps(student)))
    cheat.cells[_answer_cell(cheat)].source = (
        "def accuracy_of(logits, labels):\n    return (logits.argmax(1) == labels).sum().item()")
    cheat.cells = [c for c in cheat.cells if "grader.check(" not in c.source]
    cheat.cells.insert(1, nbformat.v4.new_code_cell("grader.check = lambda *args, **kwargs: print('all passed')"))
    tests = cheat.metadata.get("otter", {}).get("tests", {})
    for name in tests:
        tests[name] = tests[name].replace("close(got, 0.5", "close(0.5, 0.5")
    put("fay", cheat)



if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    target = Path(sys.argv[1])
    if target.exists() and any(target.iterdir()):
        raise SystemExit(f"{target} exists and is not empty: choose a new folder")
    target.mkdir(parents=True, exist_ok=True)
    make_submissions(target)
    print(f"wrote six demo submissions of {NOTEBOOK} to {target}")
