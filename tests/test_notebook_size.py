"""Each notebook's core is one lecture long (COURSE.md, "Notebook standards"): scripts/notebook_size.py.

The size script itself runs here over every notebook source, so `make test` prints its table and fails
when a core grows past about 2,500 words of prose or 60 cells.
"""
import subprocess
import sys

import pytest

import notebook_size as size

SOURCES = sorted(size.NOTEBOOKS.glob("[0-9][0-9]*_*.py"))


def test_every_notebook_core_is_lecture_sized_and_the_script_lists_each_one():
    run = subprocess.run([sys.executable, str(size.ROOT / "scripts" / "notebook_size.py")],
                         capture_output=True, text=True)
    print(run.stdout)
    assert run.returncode == 0, run.stdout + run.stderr
    for src in SOURCES:
        assert src.stem in run.stdout, f"the size table has no row for {src.stem}"


def test_every_notebook_still_pending_is_really_too_long():
    # once a pending notebook fits, take it off PENDING so that it is held to the limits from then on
    fitting = [name for name in sorted(size.PENDING) if size.measure(size.NOTEBOOKS / f"{name}.py").fits]
    assert not fitting, f"{fitting} fit now: remove them from PENDING"


def test_prose_words_leave_out_math_tags_and_link_targets():
    cell = "## 2 · The steps\nAttention $e_t = q^\\top u_t$ is a <b>weighted</b> [average](https://x.org/a-b)."
    assert size.prose_words(cell) == 8  # 2, The, steps, Attention, is, a, weighted, average
