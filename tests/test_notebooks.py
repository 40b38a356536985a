"""The notebook pipeline: sources and built notebooks agree, and each follows the course frame.

The notebooks themselves run under nbval in the same `make test` (instructor versions in
notebooks/, student versions in dist/student/); these tests check what nbval cannot.
"""
import re

import jupytext
import nbformat
import pytest

import nbtools

SOURCES = nbtools.sources()
NAMES = [s.stem for s in SOURCES]


def test_there_is_a_notebook_source_for_welcome_and_modalities():
    assert {"00_welcome", "01_modalities"} <= set(NAMES)


def test_every_ipynb_is_in_sync_with_its_py_source():
    assert nbtools.out_of_sync() == [], "run `make notebooks` and commit the refreshed .ipynb files"


def test_jupytext_config_pairs_the_notebooks_folder():
    from jupytext.config import load_jupytext_config

    config = load_jupytext_config(str(nbtools.NOTEBOOKS))
    assert config is not None and "notebooks///py:percent" in str(config.formats)


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_is_executed_with_the_python3_kernel_and_has_no_errors(name):
    nb = nbformat.read(nbtools.NOTEBOOKS / f"{name}.ipynb", 4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "some cells were never run: make notebooks"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{name} has error outputs: {[e.ename for e in errors]}"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_follows_the_course_frame(name):
    nb = jupytext.read(nbtools.NOTEBOOKS / f"{name}.py")
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert nb.cells[0].cell_type == "raw" and nb.cells[0].source.startswith("# ASSIGNMENT CONFIG")
    assert re.search(r"^# \d\d[a-z]? ", text, flags=re.M), "a title '# NN · ...' (or '# NNb · ...')"
    for heading in ("Take-aways", "Further reading"):
        assert heading in text, f"{name} has no '{heading}' section"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "mmcourse.set_seed(" in code and "get_device(" in code, "the set-up cell seeds and picks a device"


@pytest.mark.parametrize("name", NAMES)
def test_every_question_has_a_solution_visible_tests_and_hidden_tests(name):
    nb = jupytext.read(nbtools.NOTEBOOKS / f"{name}.py")
    raw = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "raw"]
    begins = [i for i, s in raw if s.startswith("# BEGIN QUESTION")]
    # an NNb_* notebook is optional "going further" material: exercises are welcome there, not required
    assert begins or re.match(r"\d\db_", name), f"{name} has no exercise"
    for start in begins:
        end = next(i for i, s in raw if i > start and s.startswith("# END QUESTION"))
        block = nb.cells[start:end]
        name_line = re.search(r"name: (q\d\d_\w+)", nb.cells[start].source)
        assert name_line and name_line.group(1).startswith(f"q{name[:2]}_"), "questions are named qNN_..."
        tests = [c.source for c in block if c.cell_type == "code" and c.source.lstrip().startswith(("def ", "# HIDDEN"))]
        assert any(not t.startswith("# HIDDEN") for t in tests), f"{name_line.group(1)} has no visible test"
        if re.search(r"^points: 0$", nb.cells[start].source, flags=re.M):
            # a practice question (00's check that fails on purpose): no solution, no grade, nothing hidden
            assert not any("# BEGIN SOLUTION" in c.source for c in block), f"{name_line.group(1)} is worth 0 points"
            continue
        assert any("# BEGIN SOLUTION" in c.source for c in block if c.cell_type == "code"), "no solution lines"
        assert any(t.startswith("# HIDDEN") for t in tests), f"{name_line.group(1)} has no hidden test"


def test_results_json_has_the_promised_shape_and_a_row_per_notebook():
    import json

    data = json.loads((nbtools.RESULTS / "results.json").read_text())
    assert set(data) == {"notebooks", "total_seconds"}
    assert [row["name"] for row in data["notebooks"]] == NAMES, "run `make results` after adding a notebook"
    for row in data["notebooks"]:
        default = nbtools.speech_default(nbtools.NOTEBOOKS / f"{row['name']}.py")
        runs = [row]
        if default:  # a speech notebook: its run on the default source, and one on the other source
            assert row["speech"] == default and row["other_speech"]["speech"] != default, row["name"]
            assert set(row["other_speech"]) == {"speech", "seconds", "peak_rss_mb", "metrics"}, row["name"]
            runs.append(row["other_speech"])
        assert set(row) == {"name", "seconds", "peak_rss_mb", "metrics"} | ({"speech", "other_speech"} if default
                                                                            else set()), row["name"]
        for run in runs:
            assert run["seconds"] > 0 and run["peak_rss_mb"] > 0
            assert all(isinstance(v, float) for v in run["metrics"].values()) and run["metrics"], row["name"]
    assert data["total_seconds"] >= sum(row["seconds"] for row in data["notebooks"]) * 0.99


def test_results_markdown_lists_every_notebook_and_each_speech_source():
    table = (nbtools.RESULTS / "RESULTS.md").read_text()
    for name in NAMES:
        default = nbtools.speech_default(nbtools.NOTEBOOKS / f"{name}.py")
        if default is None:
            assert f"| {name} |" in table
        else:
            assert f"| {name} · speech: {default} |" in table
            assert f"| {name} (on its other speech) · speech: " in table


def test_speech_default_reads_the_notebooks_speech_source_call(tmp_path):
    source = tmp_path / "99_x.py"
    source.write_text('SPEECH = speech_source("fsdd")  # real voices\n')
    assert nbtools.speech_default(source) == "fsdd"
    source.write_text("speech = load_spoken_digits()\n")
    assert nbtools.speech_default(source) is None


def _bound_names(source: str) -> set[str]:
    """Names a code cell binds at its top level (def, class, assignment, for, with, import)."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        else:
            targets = {ast.Assign: lambda n: n.targets, ast.AugAssign: lambda n: [n.target],
                       ast.AnnAssign: lambda n: [n.target], ast.For: lambda n: [n.target],
                       ast.With: lambda n: [i.optional_vars for i in n.items if i.optional_vars]}
            for kind, get in targets.items():
                if isinstance(node, kind):
                    for target in get(node):
                        names.update(t.id for t in ast.walk(target) if isinstance(t, ast.Name))
    return names


@pytest.mark.parametrize("name", NAMES)
def test_no_cell_after_an_exercise_rebinds_the_students_answer(name):
    # otter grades the names in the final namespace when a submission runs no check: if a later cell
    # rebinds an answer (e.g. `f = student_or_reference(f, reference, ...)`), a submission that deletes its
    # check cells is graded on the course's reference and gets full marks
    nb = jupytext.read(nbtools.NOTEBOOKS / f"{name}.py")
    cells = nb.cells
    problems = []
    for start, cell in enumerate(cells):
        if not (cell.cell_type == "raw" and cell.source.startswith("# BEGIN QUESTION")):
            continue
        end = next(i for i in range(start, len(cells)) if cells[i].source.startswith("# END QUESTION"))
        answers = set()
        for i in range(start, end):
            if cells[i].cell_type == "code" and "# BEGIN SOLUTION" in cells[i].source:
                answers |= _bound_names(cells[i].source)
        for later in cells[end:]:
            if later.cell_type == "code" and not later.source.startswith("def test_"):
                for rebound in sorted(answers & _bound_names(later.source)):
                    problems.append(f"{rebound!r} (an answer) is bound again in: {later.source[:80]!r}")
    assert not problems, "\n".join(problems)
