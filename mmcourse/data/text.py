"""A real English text corpus that is always offline: the docstrings of Python's standard library.

The language modality of notebook 01 needs real text to measure (word frequencies and Zipf's law,
entropy, discrete tokens). Every Python installation carries one: the documentation strings of
its standard-library modules and of their public functions and classes, written by hundreds of
people over 30 years. The project commits no text; ``load_corpus`` reads the docstrings at run
time from the library's source files, with ``ast`` (nothing is imported, so the corpus does not
depend on what the calling program has imported). One document is one docstring, in a fixed order:
modules (with the submodules of packages) sorted by dotted name; in each, the module docstring, then its public functions and
classes sorted by name, each class followed by its own public methods. The corpus is the same on
every run of a given Python version (versions differ slightly).

Tests, private modules (``_name``), and modules with a display or a side effect (``tkinter``,
``turtle``, ``idlelib``, ``antigravity``, ``this``) are skipped.

Defined in notebook 01 (modalities); used in notebooks 02, 03 and 04 as the text to tokenise.
Sources: the Python standard library's source; G. K. Zipf, *Human Behavior and the Principle of
Least Effort* (1949) for the frequency law the corpus is used to show.
"""
from __future__ import annotations

import ast
import numbers
import re
import sysconfig
from functools import lru_cache
from pathlib import Path

__all__ = ["load_corpus", "tokenize"]

# need a display or a terminal, have a side effect, are tests or are legacy shims
SKIP_MODULES = frozenset({
    "antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "test", "lib2to3", "distutils",
    "ensurepip", "pydoc_data", "idle", "site-packages", "sre_compile", "sre_constants", "sre_parse",
})
WORD = re.compile(r"[a-z]+")


def _skip(name: str) -> bool:
    return name.startswith("_") or name in SKIP_MODULES or name.startswith(("turtle", "test", "xx"))


def _module_sources() -> list[Path]:
    """The source file of each standard-library module written in Python (packages with their
    submodules), sorted by dotted module name."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    found = {}
    for path in stdlib.rglob("*.py"):
        parts = path.relative_to(stdlib).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if not parts or any(_skip(p) or not p.isidentifier() for p in parts):
            continue
        if len(parts) > 1 and not (stdlib / parts[0] / "__init__.py").exists():
            continue  # a folder that is not a package (e.g. site-packages, config-3.x)
        found[".".join(parts)] = path
    return [found[name] for name in sorted(found)]


def _public(nodes) -> list:
    """Public function and class definitions among ``nodes``, sorted by name."""
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return sorted((n for n in nodes if isinstance(n, kinds) and not n.name.startswith("_")), key=lambda n: n.name)


@lru_cache(maxsize=1)
def _all_documents() -> tuple[str, ...]:
    documents = []
    for source in _module_sources():
        try:
            tree = ast.parse(source.read_bytes())
        except (SyntaxError, ValueError, OSError):  # a file this Python cannot parse is skipped
            continue
        nodes = [tree]
        for node in _public(tree.body):
            nodes.append(node)
            if isinstance(node, ast.ClassDef):  # and the class's own public methods, sorted by name
                nodes.extend(_public(node.body))
        for node in nodes:
            doc = ast.get_docstring(node, clean=True)
            if doc and doc.strip():
                documents.append(doc)
    return tuple(documents)


def load_corpus(max_documents: int | None = None) -> list[str]:
    """The standard library's docstrings as a list of documents (strings), in a fixed order.

    Defined in notebook 01. ``max_documents`` keeps only the first ones (``None``: all, several
    thousand documents and a few hundred thousand words). The first call parses the library's
    source files (about a second); later calls are instant.
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
