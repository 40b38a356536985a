"""Drive the course in JupyterLab, in Chromium, the way students and instructors use it.

Used by ``tests/test_browser_instructor.py`` and ``tests/test_browser_student.py``:

* ``JupyterLab`` starts a JupyterLab server on a free loopback port, without a token, on a
  temporary copy of the notebooks, with the settings in ``user-settings/`` (notebook windowing
  off so that every cell stays in the page; no news, no update checks, no extension manager),
  and stops it with every kernel it started.
* ``launch_chromium`` starts Debian's Chromium (``/usr/bin/chromium``) headless through Playwright;
  no browser is ever downloaded.
* ``check_notebook`` opens a notebook, clears its outputs, runs all cells from the Run menu, waits
  until the kernel is idle, and checks that no cell shows an error, that every widget rendered,
  and that changing each control of each widget changes what the widget's output area shows.
  It saves a screenshot of the whole notebook and a JSON summary under ``test-artifacts/browser/``.

Synchronisation is by condition (prompts, the kernel's state from the server's REST API, the
content of an output area), never by sleeping for a fixed time.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import psutil
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from .expected import EXPECTED_CONTROLS

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking"]
MISSING_CHROMIUM = (f"Chromium not found at {CHROMIUM}: install it with 'apt-get install chromium' "
                    "(Debian/Ubuntu) to run the browser tests")
SETTINGS = Path(__file__).resolve().parent / "user-settings"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
VERSIONS = {"instructor": ROOT / "notebooks", "student": ROOT / "dist" / "student"}

# Time limits in seconds: generous, since these tests share two CPU cores with nbval's kernels.
SERVER_START = 120  # until /api/status answers
OPEN = 180  # until the notebook shows all its cells and its kernel is idle
RUN_ALL = 420  # until every cell has run (a notebook takes 10-60 s on an idle machine)
REDRAW = 60  # until a widget's output changes after one of its controls changed
SCREENSHOT_MAX_HEIGHT = 60_000  # pixels (Chromium captures at least 30,000); taller notebooks are cut

VIEWPORT = {"width": 1400, "height": 900}


def notebooks(version: str) -> list[Path]:
    """The notebooks of one version ("instructor" or "student"), found by name (NN_name.ipynb, NNb_name.ipynb)."""
    return sorted(VERSIONS[version].glob("[0-9][0-9]*_*.ipynb"))


def chromium_available() -> bool:
    return CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)


def launch_chromium(playwright):
    """Debian's Chromium, headless, without sandbox (it may run as root) or background traffic."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterLab:
    """A JupyterLab server on a temporary copy of some notebooks; use it as a context manager.

    ``notebooks`` are copied to ``workdir/root`` at their path relative to the repository
    (``notebooks/00_welcome.ipynb``, ``dist/student/00_welcome.ipynb``), so that the tests never
    change the course. The server gets its own Jupyter, JupyterLab and IPython folders under
    ``workdir``, so that a personal configuration cannot change what the tests see.
    """

    def __init__(self, workdir: Path, notebooks: list[Path]):
        self.workdir = Path(workdir)
        self.root = self.workdir / "root"
        self.notebooks = [Path(nb) for nb in notebooks]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log_path = self.workdir / "jupyterlab.log"
        # Talk to the server directly, even where an HTTP proxy is configured.
        self._http = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def __enter__(self) -> JupyterLab:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def path_of(self, notebook: Path) -> str:
        """The path of a notebook inside the server (as in its URLs and sessions)."""
        return Path(notebook).resolve().relative_to(ROOT).as_posix()

    def start(self) -> None:
        for nb in self.notebooks:
            copy = self.root / self.path_of(nb)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(nb, copy)
        self.root.mkdir(parents=True, exist_ok=True)
        settings = self.workdir / "lab-user-settings"
        shutil.copytree(SETTINGS, settings)
        env = dict(os.environ)
        # The tests set MPLBACKEND=Agg for nbval; in JupyterLab, figures show inline as for students.
        env.pop("MPLBACKEND", None)
        env.update(
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(self.workdir / "lab-workspaces"),
            JUPYTER_CONFIG_DIR=str(self.workdir / "jupyter-config"),
            JUPYTER_DATA_DIR=str(self.workdir / "jupyter-data"),
            JUPYTER_RUNTIME_DIR=str(self.workdir / "jupyter-runtime"),
            IPYTHONDIR=str(self.workdir / "ipython"),
        )
        command = [
            sys.executable, "-m", "jupyter", "lab", "--no-browser",
            f"--port={self.port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
            "--ServerApp.token=", "--ServerApp.password=", f"--ServerApp.root_dir={self.root}",
            # a loopback server without a token: the tests' own REST calls need no XSRF cookie
            "--ServerApp.disable_check_xsrf=True",
            # nothing may reach the internet: no news feed, no update check, no PyPI
            "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
        ]
        if hasattr(os, "getuid") and os.getuid() == 0:
            command.append("--allow-root")
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(command, cwd=self.root, env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + SERVER_START
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with status {self.process.returncode}:\n{self.log_tail()}")
            try:
                self.api("GET", "/api/status")
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(f"JupyterLab did not answer within {SERVER_START} s:\n{self.log_tail()}")
                time.sleep(0.2)

    def stop(self) -> None:
        """Shut down every kernel, then the server, then anything it left behind."""
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                for kernel in self.api("GET", "/api/kernels"):
                    self.api("DELETE", f"/api/kernels/{kernel['id']}")
            except OSError:
                pass
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
        _, alive = psutil.wait_procs(children, timeout=10)
        for child in alive:
            child.kill()
        self._log.close()
        self.process = None

    def write_notebook(self, path: str, notebook: nbformat.NotebookNode) -> str:
        """Add a notebook to the server's folder (for the tests of these tests); returns ``path``."""
        (self.root / path).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, self.root / path)
        return path

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def api(self, method: str, path: str):
        request = urllib.request.Request(self.url + path, method=method)
        with self._http.open(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def setting(self, plugin: str) -> dict:
        """A JupyterLab plugin's settings as the page gets them (defaults, then the tests' settings)."""
        return self.api("GET", f"/lab/api/settings/{plugin}")["settings"]

    def session(self, path: str) -> dict | None:
        """The server's session (with its kernel) of the notebook at ``path``, if there is one."""
        return next((s for s in self.api("GET", "/api/sessions") if s["path"] == path), None)

    def wait_until_idle(self, path: str, timeout: float) -> None:
        """Until the notebook's kernel has reported "idle" twice in a row, a moment apart."""
        deadline, idle_seen, state = time.monotonic() + timeout, 0, "no kernel"
        while time.monotonic() < deadline:
            session = self.session(path)
            state = session["kernel"]["execution_state"] if session and session.get("kernel") else "no kernel"
            idle_seen = idle_seen + 1 if state == "idle" else 0
            if idle_seen >= 2:
                return
            time.sleep(0.25)
        raise TimeoutError(f"the kernel of {path} was still {state!r} after {timeout:.0f} s")

    def shut_down(self, path: str) -> None:
        """End the notebook's session and its kernel."""
        session = self.session(path)
        if session:
            self.api("DELETE", f"/api/sessions/{session['id']}")


# ---------------------------------------------------------------------------------------------
# What the page shows. The notebook's cells are in the same order in the page as in the file.

NOTEBOOK = ".jp-NotebookPanel .jp-Notebook"

_PROMPTS = """() => [...document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell')].map(
    cell => cell.classList.contains('jp-CodeCell')
        ? (cell.querySelector('.jp-InputArea-prompt')?.textContent ?? '').trim() : null)"""

# An error shown in an output (a cell's, or a widget's Output area): IPython's traceback text.
_TRACEBACK = r"""/Traceback \(most recent call last\)|^\s*Cell In\[\d+\], line \d+|^[A-Za-z_][\w.]*(Error|Exception|Interrupt)(: |$)/m"""

_ERRORS = """() => {
  const traceback = %s;
  const cells = [...document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell')];
  const found = [];
  cells.forEach((cell, index) => {
    for (const out of cell.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]')) {
      const text = out.innerText;
      if (traceback.test(text)) {
        found.push({cell: index, in_widget: out.closest('.widget-output') !== null, text: text});
      }
    }
  });
  return found;
}""" % _TRACEBACK

# Every widget shown by a cell (not the ones inside a widget's Output area), tagged with
# data-mmtest-widget="k", and each of its controls tagged with data-mmtest-control="k.j".
_WIDGETS = r"""() => {
  const kinds = [
    ['slider', '.widget-slider'], ['dropdown', '.widget-dropdown'], ['select', '.widget-select'],
    ['checkbox', '.widget-checkbox'], ['togglebuttons', '.widget-toggle-buttons'],
    ['radio', '.widget-radio'], ['togglebutton', '.widget-toggle-button'],
  ];
  const asText = /^\s*[A-Z]\w*\((children|value|description|options|layout|min|max)=/;
  const cells = [...document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell')];
  const widgets = [];
  cells.forEach((cell, index) => {
    for (const out of cell.querySelectorAll('.jp-OutputArea-output')) {
      if (out.parentElement.closest('.widget-output')) continue;  // inside a widget's own output
      const mime = out.getAttribute('data-mime-type');
      const text = out.innerText.trim();
      if (mime === 'text/plain' && asText.test(text)) {
        widgets.push({cell: index, state: 'shown as text', text: text.slice(0, 200), controls: []});
        continue;
      }
      if (mime !== null) continue;  // an ordinary output (text, image, HTML, ...)
      const k = widgets.length;
      out.setAttribute('data-mmtest-widget', String(k));
      let state = 'rendered';
      if (out.classList.contains('lm-mod-hidden')) state = 'closed';  // e.g. a finished progress bar
      else if (text.startsWith('Loading widget')) state = 'loading';
      else if (text.startsWith('Error displaying widget')) state = 'error';
      else if (!out.querySelector('.jupyter-widgets')) state = 'empty';
      const controls = [];
      const known = new Set();
      for (const [kind, selector] of kinds) {
        for (const el of out.querySelectorAll(selector)) {
          if (el.closest('.widget-output') || known.has(el)) continue;
          if (kind === 'togglebutton' && el.closest('.widget-toggle-buttons')) continue;
          known.add(el);
          const id = `${k}.${controls.length}`;
          el.setAttribute('data-mmtest-control', id);
          const label = (el.querySelector('.widget-label')?.innerText
                         || el.querySelector('.widget-label-basic span')?.innerText
                         || el.innerText.split('\n')[0] || '').trim();
          controls.push({id: id, kind: kind, label: label});
        }
      }
      // anything else a person could change, that this test does not know how to change
      const others = [...out.querySelectorAll('input, select, textarea, button, [contenteditable="true"]')]
        .filter(el => !el.closest('.widget-output') && ![...known].some(c => c.contains(el)));
      widgets.push({
        cell: index, widget: k, state: state, controls: controls,
        outputs: out.querySelectorAll('.widget-output').length,
        unknown: others.map(el => el.outerHTML.slice(0, 120)),
      });
    }
  });
  return widgets;
}"""

# What a widget's Output areas show, as a short fingerprint ('' while they show nothing): the type,
# text and pictures/sounds (their src) of each output, not its markup (whose styles JupyterLab
# changes while it redraws).
_SIGNATURE = """(k) => {
  const widget = document.querySelector(`[data-mmtest-widget="${k}"]`);
  if (!widget) return '';
  const outputs = [...widget.querySelectorAll('.widget-output .jp-OutputArea-output')];
  if (!outputs.length) return '';
  const content = outputs.map(o => [
    o.getAttribute('data-mime-type') ?? 'widget', o.innerText,
    ...[...o.querySelectorAll('[src]')].map(e => e.getAttribute('src'))].join('\\n')).join('\\n--\\n');
  let h = 0;
  for (let i = 0; i < content.length; i++) h = (Math.imul(h, 31) + content.charCodeAt(i)) | 0;
  return `${outputs.length} outputs, ${content.length} characters, hash ${h}`;
}"""

_CHANGED = "([k, before]) => { const now = (%s)(k); return now !== '' && now !== before; }" % _SIGNATURE

# The value a control shows, to confirm that the browser really changed it.
_VALUE = """(id) => {
  const el = document.querySelector(`[data-mmtest-control="${id}"]`);
  if (!el) return null;
  const readout = el.querySelector('.widget-readout');
  if (readout) return readout.innerText.trim();
  const handle = el.querySelector('.noUi-handle');
  if (handle) return [...el.querySelectorAll('.noUi-handle')].map(h => h.getAttribute('aria-valuenow')).join(',');
  const select = el.querySelector('select');
  if (select) return [...select.selectedOptions].map(o => o.value).join(',');
  const box = el.querySelector('input[type=checkbox]');
  if (box) return String(box.checked);
  const radio = el.querySelector('input[type=radio]:checked');
  if (radio) return radio.value;
  const active = el.querySelector('.mod-active');
  if (active) return active.innerText;
  return String(el.classList.contains('mod-active'));
}"""


@dataclass
class Report:
    """What ``check_notebook`` saw, and how long each step took (seconds)."""

    notebook: str
    seconds: dict[str, float] = field(default_factory=dict)
    widgets: list[dict] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    screenshot: str = ""
    widget_boxes: list[list[int]] = field(default_factory=list)
    audio_players: int = 0


def _first_line(source: str) -> str:
    lines = [line for line in source.splitlines() if line.strip()]
    return lines[0][:100] if lines else "(empty)"


class NotebookCheck:
    """One notebook open in one browser page: ``run()`` does every check and returns a Report."""

    def __init__(self, browser, lab: JupyterLab, path: str, screenshot: Path,
                 expected_controls: set[str] = frozenset(), redraw_timeout: float = REDRAW):
        self.browser, self.lab = browser, lab
        self.redraw_timeout = redraw_timeout
        self.path = path
        self.cells = nbformat.read(lab.root / self.path, as_version=4).cells
        self.screenshot = Path(screenshot)
        self.expected_controls = set(expected_controls)
        self.report = Report(notebook=self.path)
        self.outside: list[str] = []  # requests the page tried to send outside the server
        self.console: list[str] = []
        self.errors_seen: set[tuple[int, str]] = set()

    # -- helpers ------------------------------------------------------------------------------
    def where(self, cell: int) -> str:
        return f"cell {cell + 1} ({_first_line(self.cells[cell].source)!r})"

    def problem(self, text: str) -> None:
        self.report.problems.append(text)

    def timed(self, step: str, start: float) -> None:
        self.report.seconds[step] = round(time.monotonic() - start, 1)

    def menu(self, menu: str, command: str) -> None:
        """Click a menu of the menu bar, then one of its items (by its JupyterLab command)."""
        self.page.locator("#jp-MainMenu .lm-MenuBar-item", has_text=re.compile(f"^{menu}$")).click()
        self.page.locator(f".lm-Menu .lm-Menu-item[data-command='{command}']").click()

    def prompts(self) -> list[str | None]:
        return self.page.evaluate(_PROMPTS)

    # -- the steps ----------------------------------------------------------------------------
    def run(self) -> Report:
        start = time.monotonic()
        context = self.browser.new_context(viewport=VIEWPORT)
        server = self.lab.url + "/"
        context.route(lambda url: not url.startswith((server, "data:", "blob:")), self._refuse)
        self.page = context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.console.append(m.text[:300]))
        self.page.on("pageerror", lambda e: self.console.append(f"page error: {e}"[:300]))
        step = "opening the notebook"
        try:
            self.open()
            step = "running all cells"
            self.run_all()
            self.check_errors()
            step = "waiting for the widgets"
            widgets = self.check_widgets()
            step = "changing the widgets' controls"
            self.change_controls(widgets)
            self.check_errors(after_changes=True)
            step = "loading the audio players"
            self.check_audio()
        except (PlaywrightTimeout, TimeoutError) as error:
            self.problem(f"gave up {step}: {str(error).splitlines()[0]}")
        finally:
            try:
                self.take_screenshot()
            finally:
                context.close()
                self.lab.shut_down(self.path)
                if self.outside:
                    self.problem("the page tried to reach outside the JupyterLab server: "
                                 + ", ".join(self.outside[:5]))
                self.timed("total", start)
                self.save_summary()
        return self.report

    def _refuse(self, route) -> None:
        self.outside.append(route.request.url)
        route.abort()

    def open(self) -> None:
        start = time.monotonic()
        self.page.goto(f"{self.lab.url}/lab/tree/{self.path}?reset", timeout=OPEN * 1000)
        # every cell is in the page (windowing is off) and the kernel has started
        self.page.wait_for_function(
            "(n) => document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell').length === n "
            "&& /\\| Idle/.test(document.querySelector('#jp-main-statusbar')?.innerText ?? '')",
            arg=len(self.cells), timeout=OPEN * 1000, polling=250)
        self.lab.wait_until_idle(self.path, OPEN)
        self.timed("open", start)

    def run_all(self) -> None:
        # Clear the committed outputs first, so that every output checked comes from this run.
        self.menu("Edit", "editmenu:clear-all")
        self.page.wait_for_function(
            f"() => ({_PROMPTS})().every(p => p === null || p === '[ ]:') "
            "&& !document.querySelector('.jp-NotebookPanel .jp-Notebook .jp-OutputArea-output')",
            timeout=30_000, polling=100)
        start = time.monotonic()
        self.menu("Run", "runmenu:run-all")
        # Run All marks every code cell [*] at once; the run is over when none is left (after an
        # error, JupyterLab gives the cells that had not run their empty prompt back).
        self.page.wait_for_function(f"() => ({_PROMPTS})().some(p => p !== null && p !== '[ ]:')",
                                    timeout=30_000, polling=100)
        self.page.wait_for_function(f"() => !({_PROMPTS})().some(p => p !== null && p.includes('*'))",
                                    timeout=RUN_ALL * 1000, polling=500)
        self.lab.wait_until_idle(self.path, RUN_ALL)
        self.timed("run_all", start)
        not_run = [i for i, p in enumerate(self.prompts()) if p is not None and not p[1:-2].isdigit()]
        if not_run:
            self.problem("cells that did not run (Run All stops at the first error): "
                         + ", ".join(self.where(i) for i in not_run[:5]))

    def check_errors(self, after_changes: bool = False) -> None:
        for error in self.page.evaluate(_ERRORS):
            place = "in a widget's output" if error["in_widget"] else "as its output"
            when = " after its controls were changed" if after_changes else ""
            key = (error["cell"], error["text"])
            if key not in self.errors_seen:
                self.errors_seen.add(key)
                self.problem(f"{self.where(error['cell'])} shows an error {place}{when}:\n{error['text'][-1500:]}")

    def check_audio(self) -> None:
        """Every audio player (a cell's or a widget's) loads its sound: the browser can play it."""
        audio = ".jp-NotebookPanel .jp-Notebook audio"
        self.page.wait_for_function(
            f"() => [...document.querySelectorAll('{audio}')].every(a => a.readyState >= 1 || a.error)",
            timeout=REDRAW * 1000, polling=250)
        players = self.page.evaluate(
            f"() => [...document.querySelectorAll('{audio}')].map(a => ({{"
            "cell: [...document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell')]"
            ".findIndex(c => c.contains(a)), error: a.error ? `${a.error.code} ${a.error.message}` : null}))")
        self.report.audio_players = len(players)
        for player in players:
            if player["error"]:
                self.problem(f"an audio player of {self.where(player['cell'])} cannot play its sound "
                             f"(media error {player['error']})")

    def check_widgets(self) -> list[dict]:
        # Widgets render when their models reach the page; wait until none is still loading.
        self.page.wait_for_function(
            "() => ![...document.querySelectorAll('.jp-NotebookPanel .jp-OutputArea-output')]"
            ".some(o => !o.getAttribute('data-mime-type') && /^\\s*Loading widget/.test(o.innerText))",
            timeout=REDRAW * 1000, polling=250)
        widgets = self.page.evaluate(_WIDGETS)
        self.report.widgets = widgets
        for w in widgets:
            if w["state"] not in ("rendered", "closed"):
                detail = f": {w['text']}" if w.get("text") else ""
                self.problem(f"the widget of {self.where(w['cell'])} did not render ({w['state']}){detail}")
            if w.get("unknown"):
                self.problem(f"the widget of {self.where(w['cell'])} has controls these tests cannot change "
                             f"yet (teach tests/browser/labdriver.py): {w['unknown']}")
        shown = {c["label"] for w in widgets for c in w["controls"]}
        missing = self.expected_controls - shown
        if missing:
            self.problem(f"controls listed in tests/browser/expected.py are not in the page: {sorted(missing)} "
                         f"(the page shows {sorted(shown) or 'no controls'})")
        return widgets

    def change_controls(self, widgets: list[dict]) -> None:
        start = time.monotonic()
        for w in widgets:
            if w["state"] != "rendered" or not w["controls"]:
                continue
            if not w["outputs"]:
                self.problem(f"the widget of {self.where(w['cell'])} has controls but no Output area to redraw")
                continue
            for control in w["controls"]:
                self.change(w, control)
        self.timed("controls", start)

    def change(self, widget: dict, control: dict) -> None:
        k, cid, name = widget["widget"], control["id"], f"{control['kind']} {control['label']!r}"
        where = self.where(widget["cell"])
        before = self.page.evaluate(_SIGNATURE, k)
        value = self.page.evaluate(_VALUE, cid)
        if not before:
            self.problem(f"the widget of {where} shows nothing in its Output area before {name} is changed")
            return
        self.lab.wait_until_idle(self.path, REDRAW)
        element = self.page.locator(f'[data-mmtest-control="{cid}"]')
        element.scroll_into_view_if_needed()
        getattr(self, f"_change_{control['kind']}")(element)
        try:
            self.page.wait_for_function(f"([id, v]) => ({_VALUE})(id) !== v", arg=[cid, value],
                                        timeout=10_000, polling=100)
        except PlaywrightTimeout:
            self.problem(f"the test could not change {name} of the widget of {where} (it still shows {value})")
            return
        new_value = self.page.evaluate(_VALUE, cid)
        started = time.monotonic()
        try:
            self.page.wait_for_function(_CHANGED, arg=[k, before], timeout=self.redraw_timeout * 1000,
                                        polling=100)
        except PlaywrightTimeout:
            self.problem(f"changing {name} from {value} to {new_value} did not change the output of the "
                         f"widget of {where} within {self.redraw_timeout:.0f} s")
            return
        self.lab.wait_until_idle(self.path, REDRAW)
        self.report.changes.append(f"{where}: {name} {value} -> {new_value}: output redrawn after "
                                   f"{time.monotonic() - started:.1f} s")

    # How a person changes each kind of control.
    def _change_slider(self, element) -> None:
        """Drag the (first) handle across the track, to the far side of where it is."""
        handle = element.locator(".noUi-handle").first
        track = element.locator(".noUi-target").first.bounding_box()
        box = handle.bounding_box()
        low, high = (float(handle.get_attribute(a)) for a in ("aria-valuemin", "aria-valuemax"))
        now = float(handle.get_attribute("aria-valuenow"))
        fraction = 0.85 if high == low or (now - low) / (high - low) < 0.5 else 0.15
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        self.page.mouse.move(x, y)
        self.page.mouse.down()
        if track["height"] > track["width"]:  # a vertical slider
            self.page.mouse.move(x, track["y"] + (1 - fraction) * track["height"], steps=8)
        else:
            self.page.mouse.move(track["x"] + fraction * track["width"], y, steps=8)
        self.page.mouse.up()

    def _change_dropdown(self, element) -> None:
        select = element.locator("select").first
        current = select.input_value()
        values = [o.get_attribute("value") for o in select.locator("option").all()]
        select.select_option(next(v for v in values if v != current))

    _change_select = _change_dropdown

    def _change_checkbox(self, element) -> None:
        element.locator("input[type=checkbox]").first.click()

    def _change_togglebuttons(self, element) -> None:
        element.locator("button:not(.mod-active)").first.click()

    def _change_radio(self, element) -> None:
        element.locator("input[type=radio]:not(:checked)").first.click()

    def _change_togglebutton(self, element) -> None:
        element.click()

    def take_screenshot(self) -> None:
        """The whole notebook: the page is made as tall as the notebook, then captured."""
        start = time.monotonic()
        self.screenshot.parent.mkdir(parents=True, exist_ok=True)
        hidden = self.page.evaluate(
            "() => { const o = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer');"
            " if (!o) return 0; o.scrollTop = 0; return o.scrollHeight - o.clientHeight; }")
        height = min(VIEWPORT["height"] + max(hidden, 0), SCREENSHOT_MAX_HEIGHT)
        self.page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
        self.page.evaluate("() => { const o = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer');"
                           " if (o) o.scrollTop = 0; }")
        self.page.screenshot(path=str(self.screenshot), timeout=120_000)
        # where each widget is in the screenshot (x, y, width, height), to find it in a tall picture
        self.report.widget_boxes = self.page.evaluate(
            "() => [...document.querySelectorAll('[data-mmtest-widget]')].map(w => {"
            " const r = w.getBoundingClientRect(); return [r.x, r.y, r.width, r.height].map(Math.round); })")
        shot = self.screenshot.resolve()
        self.report.screenshot = str(shot.relative_to(ROOT) if shot.is_relative_to(ROOT) else shot)
        self.timed("screenshot", start)

    def save_summary(self) -> None:
        self.screenshot.parent.mkdir(parents=True, exist_ok=True)
        summary = dict(vars(self.report), console_errors=self.console[:20])
        self.screenshot.with_suffix(".json").write_text(json.dumps(summary, indent=1) + "\n")


def check_notebook(browser, lab: JupyterLab, path: str, screenshot: Path,
                   expected_controls: set[str] = frozenset(), redraw_timeout: float = REDRAW) -> Report:
    """Run every check on the notebook at ``path`` in the server; ``problems`` lists what failed."""
    return NotebookCheck(browser, lab, path, screenshot, expected_controls, redraw_timeout).run()


def lab_session(version: str, workdir: Path):
    """For a module-scoped fixture: yields (JupyterLab server, Chromium) for one version's notebooks,
    and stops both afterwards. Skips (saying how to install it) when Chromium is missing."""
    if not chromium_available():
        pytest.skip(MISSING_CHROMIUM)
    with JupyterLab(workdir, notebooks(version)) as lab, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield lab, browser
        finally:
            browser.close()


def check(lab: JupyterLab, browser, version: str, notebook: Path | None) -> None:
    """The test of one notebook: fails with every problem found, naming the cells."""
    if notebook is None:
        raise AssertionError(f"no {version} notebooks in {VERSIONS[version].relative_to(ROOT)}: "
                             "run `make student` first (`make test` does)")
    screenshot = ARTIFACTS / f"{version}-{notebook.stem}.png"
    report = check_notebook(browser, lab, lab.path_of(notebook), screenshot,
                            EXPECTED_CONTROLS.get(notebook.stem, set()))
    print(f"{version} {notebook.stem}: {report.seconds}; {len(report.changes)} control changes; "
          f"screenshot {report.screenshot}")
    assert not report.problems, (f"{version} notebook {notebook.stem} in JupyterLab (screenshot: "
                                 f"{report.screenshot}):\n- " + "\n- ".join(report.problems))
