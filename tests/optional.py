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

import ast
import importlib.util
import tomllib
from functools import cache
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

__all__ = ["OPTIONAL", "missing_for", "module_level_imports", "needs"]

ROOT = Path(__file__).resolve().parents[1]

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


def _source_of(module: str) -> Path | None:
    """The file of a geowidget or tests module, or None for any other."""
    if module.split(".")[0] not in ("geowidget", "tests"):
        return None
    rel = ROOT / Path(*module.split("."))
    for path in (rel.with_suffix(".py"), rel / "__init__.py"):
        if path.exists():
            return path
    return None


def _top_level_nodes(tree: ast.Module):
    """Statements that run on import: the module body, into ``if``/``try``/``with`` blocks
    but not into functions or classes (nor ``if TYPE_CHECKING:``)."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            continue
        if isinstance(node, ast.If | ast.Try | ast.With):
            for field in ("body", "orelse", "finalbody", "handlers"):
                todo += getattr(node, field, [])
        elif isinstance(node, ast.ExceptHandler):
            todo += node.body


@cache
def _direct(path: Path) -> tuple[frozenset[str], frozenset[Path]]:
    """What ``path`` imports at module level: top-level package names, and the files of
    the geowidget and tests modules that run (parent packages included)."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    names: set[str] = set()
    for node in _top_level_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *filter(None, [base])])
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
    files = {_source_of(".".join(n.split(".")[:i]))
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
