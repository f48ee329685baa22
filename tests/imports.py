"""What a module imports, read from its source (AST): the one walker of the layer test
(tests/test_layers.py) and of the collection rule for optional packages (tests/optional.py).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["ROOT", "SCOPES", "imports_of", "module_file", "module_name"]

# which imports count: every one, those that can run (not under `if TYPE_CHECKING:`), or
# those that run when the module is imported (not inside functions or classes either)
SCOPES = ("all", "runtime", "import")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_file(name: str) -> Path | None:
    """The source file of a module of this repository (a package's ``__init__.py``)."""
    rel = ROOT / Path(*name.split("."))
    for path in (rel.with_suffix(".py"), rel / "__init__.py"):
        if path.exists():
            return path
    return None


def _type_checking_only(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _nodes(tree: ast.AST, scope: str) -> Iterator[ast.AST]:
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if scope != "all" and _type_checking_only(node):
            todo.extend(node.orelse)
        elif scope == "import" and isinstance(
                node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        else:
            todo.extend(ast.iter_child_nodes(node))


def imports_of(path: Path, module: str | None = None, scope: str = "all") -> set[str]:
    """Absolute names of every module ``path`` (named ``module``) imports in ``scope``,
    relative ones resolved. ``from pkg import sub`` names ``pkg.sub`` (and ``pkg`` only if
    some name imported is not a submodule of this repository)."""
    assert scope in SCOPES, scope
    package = (module or module_name(path)).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    out = set()
    for node in _nodes(ast.parse(path.read_text(encoding="utf-8")), scope):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *filter(None, [base])])
            subs = {f"{base}.{alias.name}" for alias in node.names
                    if module_file(f"{base}.{alias.name}") is not None}
            out.update(subs)
            if len(subs) < len(node.names):
                out.add(base)
    return out
