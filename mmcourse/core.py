"""Reproducibility, devices and shape checks: the few tools every notebook uses.

Every notebook starts with ``set_seed(0)`` (so it prints the same numbers on each run) and
``device = get_device()`` (so it runs on a laptop's CPU, an NVIDIA GPU or Apple silicon
unchanged), and checks each new tensor with ``check_shape``.

Defined in notebook 00 (welcome); used by every notebook.
"""
from __future__ import annotations

import os
import random
from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["set_seed", "get_device", "check_shape", "as_tensor"]

_DEVICES = ("cpu", "cuda", "mps")


def set_seed(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and torch, and return a ``torch.Generator`` seeded the same way.

    Defined in notebook 00. Pass the returned generator to functions that draw random numbers
    when a result must not depend on what ran before.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an int, got {type(seed).__name__} {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    return torch.Generator().manual_seed(seed)


def get_device(prefer: str | None = None) -> torch.device:
    """The device to train on: ``prefer`` if given, else CUDA, then Apple's MPS, then the CPU.

    Defined in notebook 00. The environment variable ``MMCOURSE_DEVICE`` (``cpu``, ``cuda``,
    ``mps``) overrides the automatic choice, e.g. to force the CPU on a machine with a GPU.
    """
    choice = prefer if prefer is not None else os.environ.get("MMCOURSE_DEVICE")
    if choice is not None:
        name = str(choice).split(":")[0]
        if name not in _DEVICES:
            raise ValueError(f"prefer must be one of {_DEVICES} (or 'cuda:N'), got {choice!r}")
        if name == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"prefer={choice!r} but torch sees no CUDA GPU on this machine")
        if name == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"prefer={choice!r} but Apple's MPS backend is not available here")
        return torch.device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def check_shape(x, shape: Sequence[int | None], name: str = "tensor"):
    """Raise a ``ValueError`` unless ``x.shape`` matches ``shape`` (``None`` matches any size).

    Defined in notebook 00. Returns ``x`` so it can be used inline:
    ``h = check_shape(encoder(x), (B, T, 64), "h")``.
    """
    if not hasattr(x, "shape"):
        raise ValueError(f"{name} must be a tensor or array with a .shape, got {type(x).__name__}")
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence):
        raise ValueError(f"shape must be a sequence of ints or None, got {shape!r}")
    actual = tuple(x.shape)
    expected = tuple(shape)
    ok = len(actual) == len(expected) and all(e is None or a == e for a, e in zip(actual, expected))
    if not ok:
        shown = "(" + ", ".join("*" if e is None else str(e) for e in expected) + ")"
        raise ValueError(f"{name} has shape {actual} but {shown} was expected")
    return x


def as_tensor(x, name: str = "x", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Turn a list, NumPy array or tensor into a tensor of ``dtype``, with a clear error otherwise."""
    if isinstance(x, torch.Tensor):
        return x.to(dtype)
    try:
        return torch.as_tensor(np.asarray(x), dtype=dtype)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a tensor, array or list of numbers, got {type(x).__name__}") from err
