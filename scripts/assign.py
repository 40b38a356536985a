"""make student: student versions and autograder archives of every notebook, with otter assign.

For each ``notebooks/NN_name.py`` (the instructor's version, with solutions and hidden tests):

* ``dist/student/NN_name.ipynb``: solutions replaced by ``...``, hidden tests removed, visible tests
  behind ``grader.check("q..")``; this is what students open (``make lab``);
* ``dist/autograder/NN_name-autograder.zip``: the archive ``make grade`` grades against; it holds
  the hidden tests, so it is never handed to students.

    python scripts/assign.py [NAME ...]
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nbtools import ROOT, read_source, sources  # noqa: E402

DIST = ROOT / "dist"


def with_checked_outputs(student: nbformat.NotebookNode, instructor: Path) -> nbformat.NotebookNode:
    """Give each ``# NBVAL_CHECK_OUTPUT`` cell of the student version the instructor's outputs,
    so that nbval checks the student version's key numbers against the same reference."""
    if not instructor.exists():
        return student
    reference = {c.source: c for c in nbformat.read(instructor, 4).cells
                 if c.cell_type == "code" and c.source.startswith("# NBVAL_CHECK_OUTPUT")}
    for cell in student.cells:
        if cell.cell_type == "code" and cell.source.startswith("# NBVAL_CHECK_OUTPUT"):
            if cell.source not in reference:
                raise SystemExit(f"a checked cell of the student version is not in {instructor.name}: "
                                 f"run make notebooks first\n{cell.source[:200]}")
            cell.outputs = reference[cell.source].outputs
            cell.execution_count = reference[cell.source].execution_count
    return student


def assign(src: Path) -> tuple[Path, Path]:
    """Run ``otter assign`` on one notebook source; return the student notebook and the archive."""
    name = src.stem
    with tempfile.TemporaryDirectory() as tmp:
        master = Path(tmp) / f"{name}.ipynb"
        nbformat.write(read_source(src), master)
        out = Path(tmp) / "out"
        run = subprocess.run([sys.executable, "-m", "otter", "assign", "-v", str(master), str(out)],
                             capture_output=True, text=True, cwd=tmp)
        if run.returncode != 0:
            raise SystemExit(f"otter assign failed on {src.name}:\n{run.stdout}\n{run.stderr}")
        archives = list((out / "autograder").glob(f"{name}-autograder_*.zip"))
        if len(archives) != 1:
            raise SystemExit(f"otter assign wrote {len(archives)} autograder archives for {name}, expected 1")
        student = DIST / "student" / f"{name}.ipynb"
        archive = DIST / "autograder" / f"{name}-autograder.zip"
        for folder in (student.parent, archive.parent):
            folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(with_checked_outputs(nbformat.read(out / "student" / f"{name}.ipynb", 4),
                                           src.with_suffix(".ipynb")), student)
        shutil.copyfile(archives[0], archive)
    return student, archive


def main(names: list[str]) -> int:
    chosen = [s for s in sources() if not names or s.stem in names]
    if names and len(chosen) != len(names):
        raise SystemExit(f"unknown notebook names in {names}")
    for src in chosen:
        student, archive = assign(src)
        print(f"{src.stem}: {student.relative_to(ROOT)}, {archive.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
