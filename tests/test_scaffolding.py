"""The test suite's own scaffolding: a package with no ``sys.path`` edits, optional
dependencies decided at collection time, and lint run by ``make test`` before pytest."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import tests.optional as optional

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"


def test_tests_are_a_package() -> None:
    folders = {p.parent for p in TESTS.rglob("*.py") if "__pycache__" not in p.parts}
    assert TESTS in folders and TESTS / "browser" in folders
    assert [f for f in sorted(folders) if not (f / "__init__.py").exists()] == []


def sys_path_edits(source: str) -> list[str]:
    """Uses of ``sys.path`` in code, and in code kept in strings (kernels, subprocesses)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Attribute) and node.attr == "path"
                and isinstance(node.value, ast.Name) and node.value.id == "sys"):
            found.append(f"line {node.lineno}: sys.path")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and re.search(
                r"sys\.path(\.insert|\.append|\[)", node.value):
            found.append(f"line {node.lineno}: a string that edits sys.path")
    return found


def test_no_test_edits_sys_path() -> None:
    edits = {str(p.relative_to(ROOT)): e for p in sorted(TESTS.rglob("*.py"))
             if p != Path(__file__)  # its examples below
             and (e := sys_path_edits(p.read_text(encoding="utf-8")))}
    assert edits == {}


def test_the_sys_path_check_can_fail() -> None:
    assert sys_path_edits("import sys\nsys.path.insert(0, 'x')\n") == ["line 2: sys.path"]
    assert sys_path_edits("code = 'import sys\\nsys.path[:0] = [1]'\n") == [
        "line 1: a string that edits sys.path"]
    assert sys_path_edits("from tests.fixtures.synthetic import make_cube\n") == []


def test_optional_packages_are_found_at_module_level_only() -> None:
    needs = optional.module_level_imports
    assert {"torch", "torchvision"} <= needs(TESTS / "test_features.py")
    assert "playwright" in needs(TESTS / "browser" / "test_render.py")  # through gw_page
    # the views import the engine only inside a function (AttributionView(model=...))
    assert "torch" not in needs(ROOT / "geowidget" / "widgets" / "attribution.py")
    assert "torch" not in needs(TESTS / "test_no_torch.py")


def test_a_module_needing_a_missing_package_is_left_out(monkeypatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec",  # only torch and griffe are missing
                        lambda name, *a: None if name in ("torch", "griffe") else object())
    assert optional.missing_for(TESTS / "test_features.py") == ["torch"]
    assert optional.missing_for(TESTS / "test_docstrings.py") == []  # griffe: importorskip
    assert optional.missing_for(TESTS / "test_no_torch.py") == []


def make_rules() -> dict[str, tuple[str, str]]:
    """Makefile target -> (prerequisites, recipe)."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return {name: (prerequisites, recipe) for name, prerequisites, recipe in
            re.findall(r"^([\w.-]+):(?!=)([^\n]*)\n((?:\t[^\n]*\n)*)", text, re.M)}


def test_lint_runs_in_make_test_not_in_pytest() -> None:
    assert not (TESTS / "test_lint.py").exists()
    rules = make_rules()
    prerequisites, recipe = rules["test"]
    assert "lint" in prerequisites.split()
    lint = rules["lint"][1]
    assert "ruff check geowidget tests benchmarks" in lint and "npm run typecheck" in lint
    assert recipe.index("npm test") < recipe.index("pytest")
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
