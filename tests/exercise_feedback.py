"""Reading an exercise's test functions out of a notebook source, and calling them on wrong answers.

Used by ``tests/test_exercise_feedback*.py``: one file per notebook proves that each named diagnosis
of that notebook's exercises reaches a student who makes that mistake.
"""
import ast

import jupytext

import nbtools
from mmcourse.exercises import ExerciseError


def exercise_tests(notebook: str, question: str) -> dict:
    """The test functions of one question, by name, with a flag for hidden ones."""
    nb = jupytext.read(nbtools.NOTEBOOKS / f"{notebook}.py")
    cells = nb.cells
    start = next(i for i, c in enumerate(cells) if c.cell_type == "raw"
                 and c.source.startswith("# BEGIN QUESTION") and f"name: {question}" in c.source)
    begin = next(i for i in range(start, len(cells)) if cells[i].source.startswith("# BEGIN TESTS"))
    end = next(i for i in range(begin, len(cells)) if cells[i].source.startswith("# END TESTS"))
    found = {}
    for cell in cells[begin + 1:end]:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        definition = tree.body[0]
        # one def and its call; a practice question that fails on purpose (00) leaves the call to its check cell
        assert isinstance(definition, ast.FunctionDef) and len(tree.body) in (1, 2), "one def and one call per cell"
        namespace = {}
        exec(compile(ast.Module([definition], []), f"<{question}>", "exec"), namespace)
        found[definition.name] = namespace[definition.name]
    assert found, f"{question} has no test functions"
    return found


def feedback(test, **answers) -> str:
    """The message a student reads when ``test`` runs on ``answers``; '' if it passes."""
    try:
        test(**answers)
    except ExerciseError as err:
        return str(err)
    except AssertionError as err:
        return str(err) or "bare AssertionError"
    return ""
