"""Each exercise's diagnosis is proven: the wrong answer that triggers it gets that message.

The test functions are taken from the notebook sources exactly as otter takes them, and called with
wrong implementations, as a student's notebook would call them.
"""
import ast

import jupytext
import pytest
import torch

from mmcourse.exercises import ExerciseError
import nbtools


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
        assert isinstance(definition, ast.FunctionDef) and len(tree.body) == 2, "one def and one call per cell"
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


# ---- notebook 00 -----------------------------------------------------------------------------
Q00 = exercise_tests("00_welcome", "q00_accuracy")


def _right(logits, labels):
    return (logits.argmax(1) == labels).float().mean().item()


def test_q00_accuracy_passes_a_correct_answer():
    assert all(feedback(t, accuracy_of=_right) == "" for t in Q00.values())


@pytest.mark.parametrize("wrong, diagnosis", [
    (lambda logits, labels: None, "not done yet"),
    (lambda logits, labels: (logits.argmax(1) == labels).sum().item(), "number of correct predictions"),
    (lambda logits, labels: (logits.argmax(0) == labels).float().mean().item(), "argmax over dim 0"),
])
def test_q00_accuracy_names_each_known_mistake(wrong, diagnosis):
    assert diagnosis in feedback(Q00["test_accuracy_on_four_examples"], accuracy_of=wrong)


def test_q00_accuracy_asks_for_a_python_float():
    message = feedback(Q00["test_accuracy_on_random_logits"],
                       accuracy_of=lambda logits, labels: (logits.argmax(1) == labels).float().mean())
    assert "Python float" in message
