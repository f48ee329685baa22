"""The layers read one way: every import of every module, checked against one table.

engine (torch kernels) -> study -> cube -> analysis -> widgets; the app layer on top. The
rules and their reasons are in docs/design.md ("Architecture"). Imports are read from the
source (AST), including imports inside functions, so lazy imports count too. Every module
has a layer by rule (a package prefix) or by name (a top-level module), and a module the
table does not know fails the test: a new top-level module is a deliberate decision.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.imports import ROOT, imports_of, module_name

PACKAGE = ROOT / "geowidget"

# package -> layer of every module in it (the longest matching prefix wins)
PACKAGES = {
    "geowidget.engine": "engine",
    "geowidget.study": "study",
    "geowidget.live": "study",  # a study's units computed on demand (Study.live())
    "geowidget.analysis": "analysis",
    "geowidget.widgets": "widgets",
    "geowidget.zoo": "data",
}

# top-level module -> layer, one by one (no catch-all)
TOP_LEVEL = {
    "geowidget": "app",  # the lazy public namespace: loads any layer's names on first use
    "geowidget._validation": "base",
    "geowidget.filesystem": "base",
    "geowidget.coords": "cube",
    "geowidget.cube": "cube",
    "geowidget.cube_format": "cube",
    "geowidget.cube_arrays": "cube",
    "geowidget.cube_schema": "cube",
    "geowidget.testing": "cube",  # random_cube: small cubes for tests, numpy only
    "geowidget.datasets": "data",
    "geowidget.tracker": "study",  # the old path of geowidget.study.tracker
    "geowidget.report": "widgets",  # a cube's HTML report: views and tables, no torch
    "geowidget.demo": "app",
    "geowidget.cli": "app",
}

# layer -> the geowidget layers it may import
ALLOWED = {
    "base": {"base"},
    "engine": {"base", "engine"},
    "data": {"base", "engine", "data"},  # bundled data sets and zoo models
    "cube": {"base", "cube"},
    "study": {"base", "engine", "cube", "study"},
    "analysis": {"base", "cube", "analysis"},
    "widgets": {"base", "cube", "analysis", "widgets"},
    "app": {"base", "engine", "data", "cube", "study", "analysis", "widgets", "app"},
}

# third-party packages a layer must never import, at module level or lazily
NO_TORCH = {"torch", "torchvision", "ray"}
FORBIDDEN = {
    "base": NO_TORCH,
    "cube": NO_TORCH,
    "analysis": NO_TORCH,
    "widgets": NO_TORCH,
    "engine": {"ray"},
    "data": {"ray"},
}

# (importer, imported): the named exceptions, each justified in docs/design.md
EXCEPTIONS = {
    # cube.correlations() and cube.scores() are the public convenience API; they import the
    # analysis when called, so the cube module itself stays a pure numpy data structure.
    ("geowidget.cube", "geowidget.analysis.scores"),
    # AttributionView(model=...) computes occlusion maps for the sample the user picks.
    ("geowidget.widgets.attribution", "geowidget.engine.attribution"),
    # Study(projections=...) maps the features it extracts to 2-D with the analysis' project
    # (numpy only: no cube, no widgets, no torch), so the one projection serves both.
    ("geowidget.study.study", "geowidget.analysis.projection"),
}

def layer_of(module: str) -> str:
    """The layer of a geowidget module; KeyError for a module the table does not know."""
    if module in TOP_LEVEL:
        return TOP_LEVEL[module]
    prefixes = [p for p in PACKAGES if module == p or module.startswith(p + ".")]
    if not prefixes:
        raise KeyError(f"{module} has no layer: add it to TOP_LEVEL or PACKAGES in "
                       f"tests/test_layers.py (and to docs/design.md's table)")
    return PACKAGES[max(prefixes, key=len)]


MODULES = sorted(PACKAGE.rglob("*.py"))
NAMES = [module_name(p) for p in MODULES]


def known_module(name: str) -> str | None:
    """The geowidget module an imported name refers to: itself, or the module defining it."""
    while name.startswith("geowidget"):
        if name in NAMES:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    """module -> the geowidget modules it imports when it runs (lazy imports included, type
    hints not). The namespace ``geowidget`` loads its exports by name on first use."""
    import geowidget

    graph = {me: {known_module(n) for n in imports_of(p, scope="runtime")} - {None, me}
             for me, p in zip(NAMES, MODULES, strict=True)}
    graph["geowidget"] |= set(geowidget._EXPORTS.values()) | set(geowidget._MOVED.values())
    return graph


def circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_module_has_a_layer() -> None:
    assert len(MODULES) > 30
    unknown = []
    for name in NAMES:
        try:
            layer_of(name)
        except KeyError:
            unknown.append(name)
    assert unknown == []
    assert layer_of("geowidget.engine.geometry") == "engine"
    assert layer_of("geowidget.study.store") == "study"
    assert layer_of("geowidget.analysis.scores") == "analysis"
    assert layer_of("geowidget.widgets.polar") == "widgets"
    assert layer_of("geowidget.zoo.models") == "data"
    assert layer_of("geowidget.cli") == "app" and layer_of("geowidget") == "app"


def test_an_unknown_module_fails() -> None:
    """A new top-level module has no layer until someone gives it one."""
    with pytest.raises(KeyError, match=r"geowidget\.newthing has no layer: add it to TOP_LEVEL"):
        layer_of("geowidget.newthing")
    with pytest.raises(KeyError):
        layer_of("geowidget.cubes")  # a prefix of no package, however close its name
    assert layer_of("geowidget.engine.corruptions.noise") == "engine"  # packages go by rule


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_follow_the_layers(path: Path) -> None:
    me = module_name(path)
    mine = layer_of(me)
    bad = []
    for name in sorted(imports_of(path)):
        top = name.split(".")[0]
        if top == "geowidget":
            if layer_of(name) not in ALLOWED[mine] and (me, name) not in EXCEPTIONS:
                bad.append(f"{name} (layer {layer_of(name)})")
        elif top in FORBIDDEN.get(mine, ()):
            bad.append(f"{name} (third-party, forbidden in {mine})")
    assert not bad, f"{me} (layer {mine}) imports {bad}; allowed layers: {sorted(ALLOWED[mine])}"


def test_the_walker_sees_lazy_and_relative_imports(tmp_path) -> None:
    """The checker itself: a lazy import inside a function and a relative import are found;
    a type-only import counts for the layers but not for the circles."""
    fake = tmp_path / "probe.py"
    fake.write_text("from typing import TYPE_CHECKING\nfrom . import codec\n"
                    "if TYPE_CHECKING:\n    from geowidget.cube import GeometryCube\n"
                    "def f():\n    import torch\n"
                    "    from geowidget.study import Study\n", encoding="utf-8")
    found = imports_of(fake, "geowidget.widgets.probe")
    assert found == {"typing", "geowidget.widgets.codec", "geowidget.cube", "torch",
                     "geowidget.study"}
    assert imports_of(fake, "geowidget.widgets.probe", scope="runtime") == found - {
        "geowidget.cube"}
    assert imports_of(fake, "geowidget.widgets.probe", scope="import") == {
        "typing", "geowidget.widgets.codec"}
    assert layer_of("geowidget.study") not in ALLOWED["widgets"]


def test_exceptions_are_still_needed() -> None:
    """A named exception that no module uses any more must be removed from the table."""
    used = {(module_name(p), name) for p in MODULES for name in imports_of(p)}
    assert EXCEPTIONS <= used, f"unused exceptions: {EXCEPTIONS - used}"


def test_no_import_circles() -> None:
    found = [sorted(c) for c in circles(import_graph())]
    assert found == [], f"import circles (lazy imports included): {found}"


def test_the_circle_finder_finds_circles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e", "d"}}
    assert circles(graph) == [{"a", "b", "c"}]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_the_namespace_loads_its_names_lazily() -> None:
    """``import geowidget`` runs no import of another geowidget module: its names load on
    first use, which the circle check counts as imports of the namespace."""
    graph = import_graph()
    assert {known_module(n) for n in imports_of(PACKAGE / "__init__.py")} == {None}
    assert {"geowidget.cube", "geowidget.widgets", "geowidget.study"} <= graph["geowidget"]


# Every module of a layer that forbids torch, imported in a fresh interpreter one after the
# other: the first that loads torch, torchvision or Ray is named.
NO_TORCH_MODULES = [n for n in NAMES if FORBIDDEN.get(layer_of(n)) == NO_TORCH]


def test_importing_never_loads_torch_or_ray() -> None:
    assert {"geowidget.cube", "geowidget.widgets.polar", "geowidget.analysis.scores",
            "geowidget.report"} <= set(NO_TORCH_MODULES)
    code = ("import importlib, sys\n"
            f"for name in ['geowidget', *{NO_TORCH_MODULES!r}]:\n"
            "    importlib.import_module(name)\n"
            f"    loaded = sorted(m for m in {sorted(NO_TORCH)!r} if m in sys.modules)\n"
            "    if loaded:\n"
            "        sys.exit(f'importing {name} loaded {loaded}')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
