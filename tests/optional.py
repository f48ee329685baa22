"""Optional dependencies of tests, decided at collection time, never inside a test.

- A test module that needs an optional package which is not installed is left out when
  pytest collects (``tests/conftest.py`` asks :func:`missing_for`), and the run's header
  names each one and the extra that installs what it needs. A module needs what it imports
  at module level, directly or through the geowidget and tests modules it imports there:
  ``import torch``, or ``from geowidget.engine.features import ...`` (which imports torch).
- A single test that needs one is marked with :func:`needs`, a ``skipif`` decided when the
  module is collected.
"""

from __future__ import annotations

import importlib.util
import tomllib
from functools import cache
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.imports import ROOT, imports_of, module_file

__all__ = ["OPTIONAL", "missing_for", "module_level_imports", "needs"]

# distributions whose import name is not their name
_IMPORT_NAMES = {"umap-learn": "umap", "pillow": "PIL", "jupyter-scatter": "jscatter",
                 "opentsne": "openTSNE", "mkdocs-material": "material",
                 "mkdocstrings-python": "mkdocstrings_handlers", "pytest-timeout": "pytest_timeout"}


def _optional() -> dict[str, str]:
    """Import name -> the extra that installs it, for every package of pyproject.toml's
    extras (a specific extra before ``dev``)."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
        "project"]["optional-dependencies"]
    out: dict[str, str] = {}
    for extra in sorted(extras, key=lambda e: e == "dev"):
        for spec in extras[extra]:
            name = canonicalize_name(Requirement(spec).name)
            if name != "geowidget":
                out.setdefault(_IMPORT_NAMES.get(name, name.replace("-", "_")), extra)
    return out


OPTIONAL = _optional()  # e.g. "torch": "torch", "ray": "ray", "nbformat": "dev"


def needs(module: str, extra: str) -> pytest.MarkDecorator:
    """Skip the test unless ``module`` is installed (``pip install geowidget[extra]``)."""
    return pytest.mark.skipif(importlib.util.find_spec(module) is None,
                              reason=f"needs {module}: pip install 'geowidget[{extra}]'")


@cache
def _direct(path: Path) -> tuple[frozenset[str], frozenset[Path]]:
    """What importing ``path`` imports: top-level package names, and the files of this
    repository's modules that run (parent packages included)."""
    names = imports_of(path, scope="import")
    files = {module_file(".".join(n.split(".")[:i]))
             for n in names for i in range(1, n.count(".") + 2)}  # a.b.c runs a, a.b, a.b.c
    return frozenset(n.split(".")[0] for n in names), frozenset(files - {None, path})


def module_level_imports(path: Path) -> set[str]:
    """Every top-level package imported when ``path`` is imported, following its
    module-level imports of geowidget and tests modules, however deep."""
    found: set[str] = set()
    seen, todo = {path}, [path]
    while todo:
        tops, files = _direct(todo.pop())
        found |= tops
        todo += [f for f in files if f not in seen]
        seen |= files
    return found


def missing_for(path: Path) -> list[str]:
    """The optional packages ``path`` imports at module level that are not installed."""
    return sorted(p for p in module_level_imports(path) & set(OPTIONAL)
                  if importlib.util.find_spec(p) is None)
