"""make grade: grade a folder of submissions offline with otter, into one CSV gradebook.

    python scripts/grade.py SUBMISSIONS [--timeout 300] [--jobs 2] [--out grades/gradebook.csv]

SUBMISSIONS holds one folder per student with that student's notebooks, named as in the course:
``SUBMISSIONS/<student>/<NN_name>.ipynb``. Each is graded with ``otter run`` (no containers, no
network) against ``dist/autograder/<NN_name>-autograder.zip`` (``make student`` writes them), so the
tests always come from the archive, never from the student's copy. The gradebook has one row per
student, notebook and graded question: ``student,notebook,question,score,max_score,status``. A question
worth 0 points (00's ``q00_try_a_check``, which fails on purpose to show a check's feedback) is practice,
not graded, and has no row.

Guarantees: a submission is copied into a private temporary folder before anything runs, so no file
under SUBMISSIONS is ever changed, moved or deleted; a notebook that runs longer than ``--timeout``
seconds is stopped (its whole process tree) and scored 0 with status ``timeout``; a file that is not a
notebook scores 0 with status ``invalid-notebook``; any other failure scores 0 with status ``error``;
and one bad submission never stops the batch.
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
import psutil

ROOT = Path(__file__).resolve().parents[1]
AUTOGRADER = ROOT / "dist" / "autograder"
COLUMNS = ["student", "notebook", "question", "score", "max_score", "status"]


@dataclass
class Row:
    student: str
    notebook: str
    question: str
    score: float
    max_score: float
    status: str


def questions_in(archive: Path) -> dict[str, float]:
    """Question name -> points, read from the test files inside an autograder archive; questions worth 0
    points are practice and left out."""
    points = {}
    with zipfile.ZipFile(archive) as zf:
        for member in sorted(zf.namelist()):
            if member.startswith("tests/") and member.endswith(".py"):
                text = zf.read(member).decode()
                name = re.search(r'^name = "([^"]+)"', text, flags=re.M)
                value = re.search(r"^points = ([0-9.]+)", text, flags=re.M)
                worth = float(value.group(1)) if value else 1.0
                if name and worth > 0:
                    points[name.group(1)] = worth
    return points


def _kill_tree(pid: int) -> None:
    """Stop a process and everything it started (otter's notebook kernel runs in its own session)."""
    try:
        parent = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    procs = parent.children(recursive=True) + [parent]
    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=10)


def _zero_rows(student: str, notebook: str, questions: dict[str, float], status: str) -> list[Row]:
    return [Row(student, notebook, q, 0.0, pts, status) for q, pts in questions.items()]


def _run_otter(work: Path, archive: Path, out: Path, timeout: float):
    """Run ``otter run`` on ``work``; return the results file, or "timeout" or "error"."""
    out.mkdir()
    # otter's command line, with nbclient's Output-widget echo removed (scripts/headless_widgets.py)
    cmd = [sys.executable, str(Path(__file__).with_name("headless_widgets.py")), "otter", "run", "--no-logo",
           "-a", str(archive), "-o", str(out), str(work)]
    with open(out.parent / f"{out.name}.log", "wb") as log:
        proc = subprocess.Popen(cmd, cwd=work.parent, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_tree(proc.pid)
            return "timeout"
    results = out / "results.json"
    return results if proc.returncode == 0 and results.exists() else "error"


def _last_log_line(tmp: str, attempt: int) -> str:
    lines = (Path(tmp) / f"out{attempt}.log").read_text(errors="replace").strip().splitlines()
    return lines[-1][:200] if lines else "no output"


def grade_one(submission: Path, archive: Path, timeout: float) -> list[Row]:
    """Grade one notebook file; never raises for anything the submission contains."""
    student, notebook = submission.parent.name, submission.stem
    questions = questions_in(archive)
    with tempfile.TemporaryDirectory(prefix="mmcourse-grade-") as tmp:
        work = Path(tmp) / f"{notebook}.ipynb"
        work.write_bytes(submission.read_bytes())  # the only read of the submission
        try:
            nbformat.validate(nbformat.read(work, as_version=4))
        except Exception:
            return _zero_rows(student, notebook, questions, "invalid-notebook")
        for attempt in (1, 2):  # a kernel can fail to start when many start at once: try once more
            outcome = _run_otter(work, archive, Path(tmp) / f"out{attempt}", timeout)
            if outcome != "error":
                break
            print(f"  {student}/{notebook}: otter failed (attempt {attempt}: {_last_log_line(tmp, attempt)})",
                  file=sys.stderr)
        if outcome in ("timeout", "error"):
            return _zero_rows(student, notebook, questions, outcome)
        scored = {t["name"]: t for t in json.loads(outcome.read_text()).get("tests", []) if "score" in t}
    rows = []
    for question, max_score in questions.items():
        test = scored.get(question)
        if test is None:
            rows.append(Row(student, notebook, question, 0.0, max_score, "error"))
            continue
        score = float(test.get("score") or 0.0)
        status = "passed" if score >= max_score else ("partial" if score > 0 else "failed")
        rows.append(Row(student, notebook, question, score, float(test.get("max_score", max_score)), status))
    return rows


def find_submissions(folder: Path) -> list[Path]:
    """Every ``<student>/<NN_name>.ipynb`` below ``folder``, sorted by student then notebook."""
    return sorted(p for p in folder.glob("*/*.ipynb") if p.is_file() and not p.name.startswith("."))


def grade_folder(folder: Path, out: Path, timeout: float = 300, jobs: int = 2,
                 autograder: Path = AUTOGRADER) -> list[Row]:
    if not folder.is_dir():
        raise SystemExit(f"SUBMISSIONS must be a folder of <student>/<NN_name>.ipynb files, got {folder}")
    submissions = find_submissions(folder)
    if not submissions:
        raise SystemExit(f"no <student>/<NN_name>.ipynb files under {folder}")

    def task(sub: Path) -> list[Row]:
        archive = autograder / f"{sub.stem}-autograder.zip"
        if not archive.exists():
            print(f"  {sub.parent.name}/{sub.name}: no autograder archive {archive.name} (run make student)",
                  file=sys.stderr)
            return [Row(sub.parent.name, sub.stem, "*", 0.0, 0.0, "unknown-notebook")]
        try:
            rows = grade_one(sub, archive, timeout)
        except Exception as err:  # a grader bug must not stop the batch either
            print(f"  {sub.parent.name}/{sub.name}: {type(err).__name__}: {err}", file=sys.stderr)
            rows = _zero_rows(sub.parent.name, sub.stem, questions_in(archive), "error")
        total = sum(r.score for r in rows)
        print(f"{sub.parent.name}/{sub.stem}: {total:g}/{sum(r.max_score for r in rows):g} "
              f"({', '.join(sorted({r.status for r in rows}))})", flush=True)
        return rows

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        rows = [row for result in pool.map(task, submissions) for row in result]
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for r in rows:
            writer.writerow([r.student, r.notebook, r.question, f"{r.score:g}", f"{r.max_score:g}", r.status])
    print(f"wrote {out} ({len(rows)} rows)")
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submissions", type=Path)
    parser.add_argument("--timeout", type=float, default=300, help="seconds per notebook (default 300)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks graded at once (default 2)")
    parser.add_argument("--out", type=Path, default=ROOT / "grades" / "gradebook.csv")
    parser.add_argument("--autograder", type=Path, default=AUTOGRADER, help="folder of *-autograder.zip")
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        raise SystemExit(f"--timeout must be a positive number of seconds, got {args.timeout}")
    if shutil.which("otter") is None and not (Path(sys.executable).parent / "otter").exists():
        raise SystemExit("otter-grader is not installed in this environment: run make setup")
    grade_folder(args.submissions, args.out, args.timeout, args.jobs, args.autograder)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
