"""The layers read one way: every import of every module, checked against one table.

engine (torch kernels) -> study -> cube -> analysis -> widgets; the app layer on top. The
rules and their reasons are in docs/design.md ("Architecture"). Imports are read from the
source (AST), including imports inside functions, so lazy imports count too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "geowidget"

# module prefix -> layer (the longest matching prefix wins)
LAYER_OF = {
    "geowidget._validation": "base",
    "geowidget.filesystem": "base",
    "geowidget.engine": "engine",
    "geowidget.coords": "cube",
    "geowidget.cube": "cube",
    "geowidget.cube_format": "cube",
    "geowidget.study": "study",
    "geowidget.live": "study",  # a study's units computed on demand (Study.live())
    "geowidget.analysis": "analysis",
    "geowidget.widgets": "widgets",
    "geowidget": "app",  # __init__, cli, demo, report, zoo, datasets
}

# layer -> the geowidget layers it may import
ALLOWED = {
    "base": {"base"},
    "engine": {"base", "engine"},
    "cube": {"base", "cube"},
    "study": {"base", "engine", "cube", "study"},
    "analysis": {"base", "cube", "analysis"},
    "widgets": {"base", "cube", "analysis", "widgets"},
    "app": {"base", "engine", "cube", "study", "analysis", "widgets", "app"},
}

# third-party packages a layer must never import, at module level or lazily
FORBIDDEN = {
    "base": {"torch", "ray"},
    "cube": {"torch", "ray"},
    "analysis": {"torch", "ray"},
    "widgets": {"torch", "ray"},
    "engine": {"ray"},
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


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    best = max((p for p in LAYER_OF if module == p or module.startswith(p + ".")), key=len)
    return LAYER_OF[best]


def imports_of(path: Path, module: str | None = None) -> set[str]:
    """Absolute names of every module ``path`` (named ``module``) imports, relative ones resolved."""
    package = (module or module_name(path)).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *filter(None, [base])])
            out.add(base)
            # `from geowidget.analysis import scores` imports the submodule
            out.update(f"{base}.{alias.name}" for alias in node.names
                       if base.startswith("geowidget") and (_is_module(f"{base}.{alias.name}")))
    return out


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (ROOT / rel).with_suffix(".py").exists() or (ROOT / rel / "__init__.py").exists()


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_layer() -> None:
    assert len(MODULES) > 30
    layers = {module_name(p): layer_of(module_name(p)) for p in MODULES}
    assert layers["geowidget.engine.geometry"] == "engine"
    assert layers["geowidget.study.store"] == "study"
    assert layers["geowidget.analysis.scores"] == "analysis"
    assert layers["geowidget.widgets.polar"] == "widgets"
    assert layers["geowidget.cli"] == "app" and layers["geowidget"] == "app"


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
    """The checker itself: a lazy import inside a function and a relative import are found."""
    fake = tmp_path / "probe.py"
    fake.write_text("from . import codec\n\ndef f():\n    import torch\n"
                    "    from geowidget.study import Study\n", encoding="utf-8")
    found = imports_of(fake, "geowidget.widgets.probe")
    assert {"geowidget.widgets", "geowidget.widgets.codec", "torch",
            "geowidget.study"} <= found
    assert layer_of("geowidget.study") not in ALLOWED["widgets"]


def test_exceptions_are_still_needed() -> None:
    """A named exception that no module uses any more must be removed from the table."""
    used = {(module_name(p), name) for p in MODULES for name in imports_of(p)}
    assert EXCEPTIONS <= used, f"unused exceptions: {EXCEPTIONS - used}"


@pytest.mark.parametrize("module", ["geowidget", "geowidget.widgets", "geowidget.cube",
                                    "geowidget.analysis.scores", "geowidget.analysis.embedding"])
def test_importing_never_loads_torch_or_ray(module: str) -> None:
    code = (f"import sys, {module}; "
            "print(sorted(m for m in ('torch', 'ray') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
