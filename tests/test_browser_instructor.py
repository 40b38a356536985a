"""Every notebook in notebooks/ (the instructor versions, with solutions),
used in JupyterLab in a real browser.

nbval runs the cells but renders nothing and never moves a slider; here Chromium opens each
notebook in JupyterLab, runs all cells, checks that no cell shows an error and that every widget
rendered, and changes each control of each widget to see its output change. Screenshots go to
test-artifacts/browser/. How it works: tests/browser/labdriver.py. Skipped, with a message saying
how to install it, where Chromium is missing.
"""
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from browser import labdriver

VERSION = "instructor"
NOTEBOOKS = labdriver.notebooks(VERSION) or [None]


@pytest.fixture(scope="module")
def lab_and_browser(tmp_path_factory):
    yield from labdriver.lab_session(VERSION, tmp_path_factory.mktemp(f"browser-{VERSION}"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda nb: nb.stem if nb else "none")
def test_instructor_notebook_runs_without_errors_and_its_widgets_respond_in_jupyterlab(lab_and_browser, notebook):
    lab, browser = lab_and_browser
    labdriver.check(lab, browser, VERSION, notebook)


def test_the_browser_checks_report_errors_frozen_widgets_and_missing_controls(lab_and_browser, tmp_path):
    """The checks above must fail when a notebook is broken, not just pass: a notebook with a widget
    whose output never changes, a widget whose redraw raises, and a cell that raises."""
    lab, browser = lab_and_browser
    frozen = ("import matplotlib.pyplot as plt\nfrom mmcourse import widgets\n\n"
              "def draw_same(n=1):\n    fig, ax = plt.subplots(figsize=(2, 1))\n    ax.set_title('always the same')\n"
              "    return fig\n\nwidgets.explore(draw_same, n=(1, 5, 1))")
    fragile = ("def draw_fragile(k=1):\n    if k > 2:\n        raise ValueError(f'k={k} is too large')\n"
               "    fig, ax = plt.subplots(figsize=(2, 1))\n    ax.set_title(f'k={k}')\n    return fig\n\n"
               "widgets.explore(draw_fragile, k=(1, 5, 1))")
    notebook = new_notebook(cells=[new_code_cell(frozen), new_code_cell(fragile), new_code_cell("1 / 0"),
                                   new_code_cell("print('never runs')")],
                            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                     "language": "python"}})
    path = lab.write_notebook("selftest/broken.ipynb", notebook)
    report = labdriver.check_notebook(browser, lab, path, tmp_path / "broken.png", {"snr_db"},
                                      redraw_timeout=10)
    problems = "\n".join(report.problems)
    assert "cell 3 ('1 / 0') shows an error as its output" in problems and "ZeroDivisionError" in problems
    assert "cells that did not run" in problems and "cell 4" in problems
    assert "did not change the output of the widget of cell 1" in problems
    assert "cell 2 ('def draw_fragile(k=1):') shows an error in a widget's output after its controls" in problems
    assert "ValueError: k=" in problems
    assert "['snr_db']" in problems
    assert (tmp_path / "broken.png").exists()
