"""A real English text corpus that is always offline: the docstrings of Python's standard library.

The language modality of notebook 01 needs real text to measure (word frequencies and Zipf's law,
entropy, discrete tokens). Every Python installation carries one: the documentation strings of
its standard-library modules and of their public functions and classes, written by hundreds of
people over 30 years. The project commits no text; ``load_corpus`` reads the docstrings at run
time. One document is one docstring, in a fixed order (modules sorted by name; in each module the
module docstring, then its public functions and classes sorted by name, each class followed
by its own public methods), so the corpus is the same
on every run of a given Python version (versions differ slightly).

Modules that do something when imported (``antigravity`` opens a browser, ``this`` prints a poem),
need a display (``tkinter``, ``turtle``, ``idlelib``), are tests, are private (``_name``) or fail to
import are skipped.

Defined in notebook 01 (modalities); used in notebooks 02, 03 and 04 as the text to tokenise.
Sources: ``sys.stdlib_module_names`` (Python ≥ 3.10); G. K. Zipf, *Human Behavior and the Principle
of Least Effort* (1949) for the frequency law the corpus is used to show.
"""
from __future__ import annotations

import importlib
import inspect
import numbers
import re
import sys
import warnings
from functools import lru_cache

__all__ = ["load_corpus", "tokenize"]

# imported for a side effect, need a display or a terminal, platform shims, or tests
SKIP_MODULES = frozenset({
    "antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "test", "lib2to3", "distutils",
    "ensurepip", "readline", "rlcompleter", "pydoc_data", "__hello__", "__phello__", "msilib", "msvcrt",
    "winreg", "winsound", "nt", "_winapi", "xxsubtype", "xxlimited", "xxlimited_35", "sre_compile",
    "sre_constants", "sre_parse", "idle",
})
WORD = re.compile(r"[a-z]+")


def _skip(name: str) -> bool:
    return name.startswith("_") or name in SKIP_MODULES or name.startswith(("turtle", "test", "xx"))


def _public_objects(module) -> list:
    """The module's own public functions and classes, sorted by name."""
    out = []
    for name in sorted(vars(module)):
        if name.startswith("_"):
            continue
        obj = vars(module)[name]
        if (inspect.isclass(obj) or inspect.isroutine(obj)) and getattr(obj, "__module__", None) == module.__name__:
            out.append(obj)
    return out


@lru_cache(maxsize=1)
def _all_documents() -> tuple[str, ...]:
    documents = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated modules warn when imported
        for name in sorted(sys.stdlib_module_names):
            if _skip(name):
                continue
            try:
                module = importlib.import_module(name)
            except BaseException:  # noqa: BLE001 - a module that cannot be imported here is skipped
                continue
            objects = [module]
            for obj in _public_objects(module):
                objects.append(obj)
                if inspect.isclass(obj):  # and the class's own public methods, sorted by name
                    objects.extend(v for k, v in sorted(vars(obj).items()) if not k.startswith("_") and callable(v))
            for obj in objects:
                doc = obj.__doc__ if isinstance(getattr(obj, "__doc__", None), str) else None
                if doc and doc.strip():
                    documents.append(inspect.cleandoc(doc))
    return tuple(documents)


def load_corpus(max_documents: int | None = None) -> list[str]:
    """The standard library's docstrings as a list of documents (strings), in a fixed order.

    Defined in notebook 01. ``max_documents`` keeps only the first ones (``None``: all, several
    thousand documents and a few hundred thousand words). The first call imports the modules
    (about a second); later calls are instant.
    """
    if max_documents is not None and (
        isinstance(max_documents, bool) or not isinstance(max_documents, numbers.Integral) or max_documents < 1
    ):
        raise ValueError(f"max_documents must be None or an int >= 1, got {max_documents!r}")
    documents = _all_documents()
    return list(documents if max_documents is None else documents[: int(max_documents)])


def tokenize(text: str) -> list[str]:
    """Lower-case ``text`` and return its words: the runs of letters ``a-z`` (regex ``[a-z]+``).

    Defined in notebook 01. Digits, punctuation and non-ASCII letters separate words:
    ``tokenize("Don't panic, 42!") == ["don", "t", "panic"]``.
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    return WORD.findall(text.lower())
