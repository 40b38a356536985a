"""record() keeps values, writes them where make results asks, and rejects bad input."""
import json

import numpy as np
import pytest
import torch

from mmcourse.results import RESULTS_ENV, peak_rss_mb, record, recorded


def test_record_returns_and_keeps_the_value_as_a_float(monkeypatch):
    monkeypatch.delenv(RESULTS_ENV, raising=False)
    assert record("test_value", torch.tensor(0.25)) == 0.25
    assert recorded()["test_value"] == 0.25
    assert record("test_numpy", np.float32(2.0)) == 2.0


def test_record_appends_to_the_results_file_when_asked(tmp_path, monkeypatch):
    file = tmp_path / "metrics.json"
    monkeypatch.setenv(RESULTS_ENV, str(file))
    record("first_metric", 1)
    record("second_metric", 0.5)
    assert json.loads(file.read_text()) == {"first_metric": 1.0, "second_metric": 0.5}


@pytest.mark.parametrize("name", ["Accuracy", "has space", "", 3, "1st"])
def test_record_rejects_names_that_are_not_snake_case(name):
    with pytest.raises(ValueError, match="name"):
        record(name, 1.0)


@pytest.mark.parametrize("value", ["0.9", None, float("nan"), float("inf"), True, torch.zeros(2)])
def test_record_rejects_values_that_are_not_finite_numbers(value):
    with pytest.raises(ValueError, match="value"):
        record("metric", value)


def test_peak_rss_is_a_plausible_number_of_megabytes():
    assert 10 < peak_rss_mb() < 100_000
