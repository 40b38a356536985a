"""Maintenance tools for the course notebooks: build, check pairing, and measure.

    python scripts/nbtools.py build [NAME ...]   # make notebooks: .py source -> executed .ipynb
    python scripts/nbtools.py results            # make results: results/results.json + RESULTS.md
    python scripts/nbtools.py check              # exit 1 if a .py/.ipynb pair is out of sync

The jupytext percent file ``notebooks/NN_name.py`` is the source; ``NN_name.ipynb`` is built
from it, executed with its outputs, and committed so the course reads well on the web.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

import headless_widgets

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
RESULTS = ROOT / "results"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
CELL_TIMEOUT = 300  # seconds per cell; the bar is 60 s per notebook, this only stops a hang


def sources() -> list[Path]:
    """Every notebook source, in syllabus order."""
    return sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]*_*.py"))


def read_source(path: Path) -> nbformat.NotebookNode:
    """The notebook a percent source describes, with the course's kernelspec."""
    nb = jupytext.read(path)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.setdefault("language_info", {"name": "python"})
    return nb


def cell_signature(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """What pairing must preserve: each cell's type and source (trailing blanks ignored)."""
    return [(c.cell_type, c.source.rstrip()) for c in nb.cells]


def out_of_sync() -> list[str]:
    """Names of notebooks whose .ipynb is missing or differs from its .py source."""
    stale = []
    for src in sources():
        ipynb = src.with_suffix(".ipynb")
        if not ipynb.exists() or cell_signature(read_source(src)) != cell_signature(nbformat.read(ipynb, 4)):
            stale.append(src.stem)
    return stale


def execute(nb: nbformat.NotebookNode, cwd: Path, env: dict | None = None) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel whose working directory is ``cwd``."""
    headless_widgets.install()  # no stalls after widget cells
    old = dict(os.environ)
    os.environ.update(env or {})
    try:
        NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                       resources={"metadata": {"path": str(cwd)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return nb


def build_one(name: str) -> str:
    """Execute ``notebooks/<name>.py`` and write ``notebooks/<name>.ipynb`` with outputs."""
    src = NOTEBOOKS / f"{name}.py"
    start = time.perf_counter()
    # no progress bars in committed outputs: a bar saved mid-run reads as a half-drawn "0%" on the web
    nb = execute(read_source(src), NOTEBOOKS, {"MMCOURSE_DEVICE": "cpu", "MMCOURSE_PROGRESS": "0"})
    jupytext.write(nb, src.with_suffix(".ipynb"), fmt="ipynb")
    return f"{name}: built in {time.perf_counter() - start:.1f} s"


def build(names: list[str], jobs: int = 2) -> None:
    names = names or [p.stem for p in sources()]
    unknown = [n for n in names if not (NOTEBOOKS / f"{n}.py").exists()]
    if unknown:
        raise SystemExit(f"no notebook source notebooks/<name>.py for {unknown}")
    with ProcessPoolExecutor(max_workers=max(1, min(jobs, len(names)))) as pool:
        for line in pool.map(build_one, names):
            print(line, flush=True)


_PEAK_CELL = "import mmcourse.results as _r; print('PEAK_RSS_MB', _r.peak_rss_mb())"


SPEECH_SOURCES = ("bundled", "fsdd")
_SPEECH_DEFAULT = re.compile(r"""speech_source\(\s*["'](\w+)["']\s*\)""")


def speech_default(src: Path) -> str | None:
    """The speech source a notebook runs on by default (its ``speech_source("...")`` call), or None."""
    found = set(_SPEECH_DEFAULT.findall(src.read_text()))
    if len(found) > 1:
        raise SystemExit(f"{src.name} calls speech_source with two defaults: {sorted(found)}")
    return found.pop() if found else None


def measure_one(src: Path, speech: str | None = None) -> dict:
    """Run one notebook headless (on the speech source ``speech``, if given); return its seconds, peak
    kernel memory and recorded metrics."""
    nb = read_source(src)
    nb.cells.append(nbformat.v4.new_code_cell(_PEAK_CELL))
    env = {"MMCOURSE_DEVICE": "cpu", **({"MMCOURSE_SPEECH": speech} if speech else {})}
    with tempfile.TemporaryDirectory() as tmp:
        metrics_file = Path(tmp) / "metrics.json"
        start = time.perf_counter()
        execute(nb, NOTEBOOKS, {"MMCOURSE_RESULTS_FILE": str(metrics_file), **env})
        seconds = time.perf_counter() - start
        metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("name") == "stdout")
    peak = float(text.split("PEAK_RSS_MB")[1].split()[0])
    row = {"name": src.stem, "seconds": round(seconds, 1), "peak_rss_mb": round(peak, 1),
           "metrics": {k: metrics[k] for k in sorted(metrics)}}
    return {**row, "speech": speech} if speech else row


def measure_notebook(src: Path) -> dict:
    """A notebook's row: run as a student runs it; a speech notebook also once on its other speech
    source, under ``"other_speech"`` (each run's ``"speech"`` key names its source)."""
    default = speech_default(src)
    row = measure_one(src, default)
    if default:
        other = next(source for source in SPEECH_SOURCES if source != default)
        row["other_speech"] = {k: v for k, v in measure_one(src, other).items() if k != "name"}
    return row


def results_markdown(data: dict) -> str:
    lines = ["# Results", "",
             "Written by `make results`: every notebook run headless, one at a time, on the CPU.",
             f"Whole course: {data['total_seconds']:.1f} s (each notebook on its default speech source).",
             "A notebook that uses speech runs a second time on its other source (synthetic `bundled` or real `fsdd`):",
             "that run is the row below it, and is not counted in the whole course's time.", "",
             "| notebook | seconds | peak memory (MB) | metrics |", "|---|---:|---:|---|"]
    for row in data["notebooks"]:
        for run, label in ((row, ""), (row.get("other_speech"), " (on its other speech)")):
            if run is None:
                continue
            metrics = "<br>".join(f"`{k}` = {v:.4g}" for k, v in run["metrics"].items()) or "-"
            speech = f" · speech: {run['speech']}" if "speech" in run else ""
            lines.append(f"| {row['name']}{label}{speech} | {run['seconds']:.1f} | {run['peak_rss_mb']:.0f} | {metrics} |")
    if "machine" in data:
        lines += ["", f"Machine: {data['machine']}."]
    return "\n".join(lines) + "\n"


def results(names: list[str] | None = None) -> None:
    """Measure every notebook, or only ``names`` (keeping the other rows of results.json as they are)."""
    import platform

    import psutil

    known = {src.stem for src in sources()}
    if names and not set(names) <= known:
        raise SystemExit(f"unknown notebook names: {sorted(set(names) - known)}")
    old_file = RESULTS / "results.json"
    old = {row["name"]: row for row in json.loads(old_file.read_text())["notebooks"]} if old_file.exists() else {}
    rows = []
    for src in sources():
        if names and src.stem not in names:
            if src.stem in old:
                rows.append(old[src.stem])
            continue
        row = measure_notebook(src)
        print(f"{row['name']}: {row['seconds']} s, {row['peak_rss_mb']} MB, {len(row['metrics'])} metrics"
              + (f"; on {row['other_speech']['speech']} speech {row['other_speech']['seconds']} s" if "other_speech"
                 in row else ""), flush=True)
        rows.append(row)
    # the whole course: the notebooks one after the other (each row's time includes its kernel's start)
    data = {"notebooks": rows, "total_seconds": round(sum(row["seconds"] for row in rows), 1)}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "results.json").write_text(json.dumps(data, indent=2) + "\n")
    machine = f"{psutil.cpu_count(logical=True)} CPU cores, {platform.machine()}, Python {platform.python_version()}"
    (RESULTS / "RESULTS.md").write_text(results_markdown({**data, "machine": machine}))
    print(f"wrote {RESULTS / 'results.json'} ({data['total_seconds']} s in all)")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="execute notebook sources and write the paired .ipynb files")
    b.add_argument("names", nargs="*", help="e.g. 01_modalities (default: all)")
    b.add_argument("--jobs", type=int, default=2)
    r = sub.add_parser("results", help="run every notebook and write results/results.json and RESULTS.md")
    r.add_argument("names", nargs="*", help="measure only these notebooks, keep the other rows (default: all)")
    sub.add_parser("check", help="exit 1 if a notebook pair is out of sync")
    args = parser.parse_args(argv)
    if args.command == "build":
        build(args.names, args.jobs)
    elif args.command == "results":
        results(args.names)
    else:
        stale = out_of_sync()
        if stale:
            print(f"out of sync (run make notebooks): {', '.join(stale)}")
            return 1
        print("all notebook pairs in sync")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
