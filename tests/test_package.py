"""The public namespace: every advertised name resolves, the stub agrees with it, every
module says what it exports, moved names warn, and importing stays light."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import geowidget as gw
from tests.imports import module_file
from tests.optional import OPTIONAL, missing_for, needs
from tests.test_layers import MODULES, NAMES

ROOT = Path(__file__).resolve().parents[1]
STUB = ROOT / "geowidget" / "__init__.pyi"



@needs("torch", "torch")  # the engine's names
def test_every_public_name_resolves():
    missing = [name for name in gw.__all__ if getattr(gw, name, None) is None]
    assert missing == []
    assert len(gw.__all__) == len(set(gw.__all__)) == 38


def test_the_quickstart_names_are_public():
    """A newcomer's first lines: the demo cube, a condition, the coordinates, a view."""
    assert {"demo_cube", "Condition", "Coords", "GeometryCube", "PolarPlot", "Study",
            "link"} <= set(gw.__all__)
    assert gw.Condition(0.5, "fog", 2).label == "fog-2@0.5"


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'PolarPlott'"):
        gw.PolarPlott  # noqa: B018


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=needs("torch", "torch")) if m.startswith("geowidget.engine") else n
    for n, m in sorted(gw._MOVED.items())])
def test_a_moved_name_warns_and_still_works(name):
    module = gw._MOVED[name]
    with pytest.warns(DeprecationWarning, match=rf"geowidget\.{name} is deprecated .* use "
                      rf"`from {module} import {name}`"):
        value = getattr(gw, name)
    assert value is getattr(importlib.import_module(module), name)
    assert name not in gw.__all__ and name not in vars(gw)  # so it warns again next time


def stub_names() -> tuple[dict[str, str], list[str]]:
    """``{name: module}`` of the stub's re-exports, and its ``__all__``."""
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    imports, listed = {}, []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module.startswith("geowidget"):
            for alias in node.names:
                assert alias.asname == alias.name, f"{alias.name}: re-export as `X as X`"
                imports[alias.name] = node.module
        elif isinstance(node, ast.Assign) and node.targets[0].id == "__all__":
            listed = ast.literal_eval(node.value)
    return imports, listed


def test_the_stub_agrees_with_the_namespace():
    imports, listed = stub_names()
    assert listed == gw.__all__
    assert imports == gw._EXPORTS  # each name from the module the namespace loads it from
    assert (ROOT / "geowidget" / "py.typed").exists()  # PEP 561: type checkers read the stub


def test_the_stub_check_can_fail(monkeypatch):
    monkeypatch.setattr(gw, "_EXPORTS", {**gw._EXPORTS, "extra": "geowidget.cube"})
    with pytest.raises(AssertionError):
        test_the_stub_agrees_with_the_namespace()


def declares_all(path: Path) -> list[str] | None:
    """The module's literal ``__all__`` (read from source), or None if it has none."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        target = getattr(node, "target", None) or (getattr(node, "targets", None) or [None])[0]
        if isinstance(target, ast.Name) and target.id == "__all__":
            return ast.literal_eval(node.value) if not isinstance(node.value, ast.Call) else []
    return None


def test_every_module_declares_all():
    without = {n for n, p in zip(NAMES, MODULES, strict=True) if declares_all(p) is None}
    assert without == set(), "modules without __all__"


def _needs_of(name: str) -> list[pytest.MarkDecorator]:
    """The namespace loads every layer's names; other modules need what they import."""
    missing = ["torch"] if name == "geowidget" else missing_for(module_file(name))
    return [needs(m, OPTIONAL[m]) for m in missing]


@pytest.mark.parametrize("name", [pytest.param(n, marks=_needs_of(n)) for n in NAMES])
def test_every_name_in_all_exists(name):
    module = importlib.import_module(name)
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert missing == [], f"{name}.__all__ names {missing}, which it does not define"
    assert len(set(module.__all__)) == len(module.__all__), f"{name}.__all__ repeats a name"


def test_import_does_not_pull_in_torch_or_widgets():
    code = "import sys, geowidget; print('torch' in sys.modules, 'anywidget' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
