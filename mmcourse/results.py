"""The results table: each notebook records its key numbers with ``record(name, value)``.

``make results`` (``scripts/results.py``) runs every notebook headless with the environment
variable ``MMCOURSE_RESULTS_FILE`` pointing at a JSON file; ``record`` adds each value to that file,
and the runner gathers them into ``results/results.json``. Run by hand, ``record`` only keeps the
value in ``recorded()``. It never prints: a notebook shows its numbers in its own words.

Defined in notebook 00 (welcome); used by every notebook.
"""
from __future__ import annotations

import json
import math
import os
import re
import resource
import sys
from pathlib import Path

import numpy as np

__all__ = ["record", "recorded", "peak_rss_mb", "RESULTS_ENV"]

RESULTS_ENV = "MMCOURSE_RESULTS_FILE"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_recorded: dict[str, float] = {}


def record(name: str, value) -> float:
    """Record a key number of this notebook for the results table and return it as a float.

    ``name`` is snake_case (``zero_shot_accuracy_unseen``); ``value`` is a finite real number
    (a Python or NumPy number, or a one-element tensor).
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"name must be a snake_case string like 'vqa_accuracy', got {name!r}")
    value = _as_float(name, value)
    if not math.isfinite(value):
        raise ValueError(f"value for {name!r} must be finite, got {value}")
    _recorded[name] = value
    path = os.environ.get(RESULTS_ENV)
    if path:
        file = Path(path)
        data = json.loads(file.read_text()) if file.exists() and file.stat().st_size else {}
        data[name] = value
        file.write_text(json.dumps(data, indent=2, sort_keys=True))
    return value


def _as_float(name: str, value) -> float:
    """A real number from a Python/NumPy number or a one-element tensor or array."""
    if isinstance(value, (bool, str, bytes)) or value is None:
        raise ValueError(f"value for {name!r} must be a real number, got {type(value).__name__} {value!r}")
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"value for {name!r} must be a real number, got {type(value).__name__}") from None
    if array.size != 1:
        raise ValueError(f"value for {name!r} must be a single number, got an array of shape {array.shape}")
    return float(array.reshape(()))


def recorded() -> dict[str, float]:
    """A copy of every value recorded in this Python session."""
    return dict(_recorded)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
