"""Notebook 00's exercise diagnoses are proven: the wrong answer that triggers each one gets its message.

The test functions are taken from the notebook source exactly as otter takes them, and called with
wrong implementations, as a student's notebook would call them.
"""
import numpy as np
import pytest
import torch

from exercise_feedback import exercise_tests, feedback

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


def test_the_practice_check_fails_on_its_wrong_answer_with_the_fix_and_passes_once_fixed():
    # 00 shows a failing check live: the answer it ships with must fail with the named mistake, and the
    # fix the text asks for must pass
    import jupytext

    import nbtools
    test = exercise_tests("00_welcome", "q00_try_a_check")["test_the_demo_on_four_examples"]
    source = next(c.source for c in jupytext.read(nbtools.NOTEBOOKS / "00_welcome.py").cells
                  if c.cell_type == "code" and c.source.startswith("def accuracy_wrong"))
    namespace = {}
    exec(source, namespace)
    assert "number of correct predictions; divide by the number of examples" in feedback(
        test, accuracy_wrong=namespace["accuracy_wrong"])
    fixed = source.replace(".sum().item()", ".float().mean().item()")
    assert fixed != source, "the text tells the student to replace .sum() with .float().mean()"
    exec(fixed, namespace)
    assert feedback(test, accuracy_wrong=namespace["accuracy_wrong"]) == ""



def test_the_report_quoted_for_the_web_reader_ends_with_the_message_the_check_gives():
    # the instructor version (read on the web) quotes the failing report; its last line must be the real message
    import re

    import jupytext

    import nbtools
    test = exercise_tests("00_welcome", "q00_try_a_check")["test_the_demo_on_four_examples"]
    cells = jupytext.read(nbtools.NOTEBOOKS / "00_welcome.py").cells
    shown = next(c.source for c in cells if c.cell_type == "code" and c.source.startswith("def accuracy_wrong"))
    namespace = {}
    exec(shown, namespace)
    quote = next(c.source for c in cells if c.cell_type == "markdown" and "q00_try_a_check results:" in c.source)
    block = re.search(r"```\n(.*?)\n```", quote, re.S).group(1).splitlines()
    assert block[0] == "q00_try_a_check results:" and "❌ Test case failed" in block[2]
    assert block[-1].strip() == "ExerciseError: " + feedback(test, accuracy_wrong=namespace["accuracy_wrong"])
Q00_MEANS = exercise_tests("00_welcome", "q00_class_means")


def _means_right(features, labels):
    return torch.stack([features[labels == k].mean(dim=0) for k in range(int(labels.max()) + 1)])


def test_q00_class_means_passes_a_correct_answer():
    assert all(feedback(t, class_means=_means_right) == "" for t in Q00_MEANS.values())


@pytest.mark.parametrize("wrong, diagnosis", [
    (lambda features, labels: None, "not done yet"),
    (lambda features, labels: _means_right(features, labels).T, "one column per class"),
    (lambda features, labels: torch.stack([features[labels == k].sum(dim=0) for k in range(int(labels.max()) + 1)]),
     "you summed the examples"),
    (lambda features, labels: features.mean(dim=0).expand(int(labels.max()) + 1, -1), "average of all examples"),
])
def test_q00_class_means_names_each_known_mistake(wrong, diagnosis):
    assert diagnosis in feedback(Q00_MEANS["test_class_means_of_six_points"], class_means=wrong)


def test_q00_class_means_hidden_test_catches_a_wrong_answer():
    message = feedback(Q00_MEANS["test_class_means_against_sklearn"],
                       class_means=lambda features, labels: _means_right(features, labels) + 0.1)
    assert "NearestCentroid" in message
