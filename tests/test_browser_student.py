"""Every notebook in dist/student/ (the student versions that `make student` writes),
used in JupyterLab in a real browser.

nbval runs the cells but renders nothing and never moves a slider; here Chromium opens each
notebook in JupyterLab, runs all cells, checks that no cell shows an error and that every widget
rendered, and changes each control of each widget to see its output change. Screenshots go to
test-artifacts/browser/. How it works: tests/browser/labdriver.py. Skipped, with a message saying
how to install it, where Chromium is missing.
"""
import pytest

from browser import labdriver

VERSION = "student"
NOTEBOOKS = labdriver.notebooks(VERSION) or [None]


@pytest.fixture(scope="module")
def lab_and_browser(tmp_path_factory):
    yield from labdriver.lab_session(VERSION, tmp_path_factory.mktemp(f"browser-{VERSION}"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda nb: nb.stem if nb else "none")
def test_student_notebook_runs_without_errors_and_its_widgets_respond_in_jupyterlab(lab_and_browser, notebook):
    lab, browser = lab_and_browser
    labdriver.check(lab, browser, VERSION, notebook)


def test_jupyterlab_keeps_every_cell_in_the_page_and_fetches_nothing(lab_and_browser):
    lab, _ = lab_and_browser
    assert lab.setting("@jupyterlab/notebook-extension:tracker")["windowingMode"] == "none"
    notification = lab.setting("@jupyterlab/apputils-extension:notification")
    assert notification["fetchNews"] == "false" and notification["checkForUpdates"] is False
    assert lab.setting("@jupyterlab/extensionmanager-extension:plugin")["enabled"] is False
