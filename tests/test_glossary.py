"""The glossary, enforced: every public signature spells its parameters as docs/design.md's
"Glossary" says.

The table's last column lists the forbidden spellings of each term, some with where they
are forbidden. This test reads it, walks every public signature (the functions of
``geowidget.__all__``, the ``__init__`` and public methods of its classes, and the views'
public traits, which are their constructor keywords) and fails on a forbidden spelling,
unless it is a deprecated alias: its default is a sentinel and its function warns
``DeprecationWarning``, or it is declared in ``DEPRECATED_ALIASES``, whose calls must warn.
"""

from __future__ import annotations

import inspect
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import geowidget as gw
from tests.optional import needs

DESIGN = Path(__file__).resolve().parents[1] / "docs" / "design.md"
TERMS = {"model", "data", "probe", "features", "color_by", "default layer", "condition", "cell"}

# "where(param)" -> (new spelling, a call that passes the alias). Each must warn
# DeprecationWarning naming the new spelling (test_declared_aliases_warn).
DEPRECATED_ALIASES: dict[str, tuple[str, Callable[[], Any]]] = {}

# Renames that this wave's other branches make (views: net/images/inputs/color in the views;
# study: GeometryTracker's probe_data; engine: model_embedding's and benchmark_similarity's
# features -> metrics). The lead empties this list after merging them; an entry that no
# longer violates fails the test, so it cannot go stale.
PENDING_RENAMES = {
    "geowidget.model_embedding(features)",
    "geowidget.benchmark_similarity(features)",
}


# ---------------------------------------------------------------------------- the table
def glossary(text: str | None = None) -> list[dict[str, Any]]:
    """The rows of the Glossary table: term, meaning, allowed names, forbidden spellings
    (``(name, where)``, ``where`` None for everywhere)."""
    text = DESIGN.read_text(encoding="utf-8") if text is None else text
    section = text.split("\n## Glossary\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]  # no header
    out = []
    for row in rows:
        term, meaning, allowed, forbidden = (c.strip() for c in row.strip("|").split(" | "))
        out.append({"term": term, "meaning": meaning,
                    "allowed": re.findall(r"`(\w+)`", allowed),
                    "forbidden": [(name, where or None) for name, where in
                                  re.findall(r"`(\w+)`(?:\s*\(([^)]*)\))?", forbidden)]})
    return out


def _holds_names(p: inspect.Parameter) -> bool:
    """A parameter that holds names (of metrics), not an array."""
    d, note = p.default, str(p.annotation)
    return (isinstance(d, tuple | list) and bool(d) and all(isinstance(x, str) for x in d)) or any(
        s in note for s in ("Sequence[str]", "list[str]", "tuple[str"))


# where a qualified spelling is forbidden: (all parameter names of the signature, parameter)
WHERE: dict[str | None, Callable[[set[str], inspect.Parameter], bool]] = {
    None: lambda names, p: True,
    "beside a model": lambda names, p: bool(names & {"model", "net"}),  # the one run
    "without data": lambda names, p: "data" not in names,
    "metric names": lambda names, p: _holds_names(p),
}


# ---------------------------------------------------------------------------- the signatures
def _own_traits(cls: type) -> dict[str, Any]:
    """Public traits declared by geowidget's classes (not ipywidgets'), by name."""
    import traitlets

    out = {}
    for klass in reversed(cls.__mro__):
        if klass.__module__.startswith("geowidget"):
            out.update({k: v for k, v in vars(klass).items()
                        if isinstance(v, traitlets.TraitType) and not k.startswith("_")})
    return out


def _params(func: Callable) -> list[inspect.Parameter]:
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return []
    return [p for p in sig.parameters.values() if p.name not in ("self", "cls")
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def signatures() -> Iterator[tuple[str, Callable, list[inspect.Parameter]]]:
    """``(where, function, parameters)`` of every public signature."""
    for name in gw.__all__:
        obj = getattr(gw, name)
        where = f"geowidget.{name}"
        if inspect.isfunction(obj):
            yield where, obj, _params(obj)
        elif inspect.isclass(obj):
            yield f"{where}.__init__", obj.__init__, _params(obj.__init__)
            for attr in dir(obj):
                raw = inspect.getattr_static(obj, attr)
                func = raw.__func__ if isinstance(raw, classmethod | staticmethod) else raw
                if (attr.startswith("_") or not inspect.isfunction(func)
                        or not func.__module__.startswith("geowidget")):
                    continue
                yield f"{where}.{attr}", func, _params(func)
            traits = _own_traits(obj)
            if traits:
                yield f"{where}.traits", obj, [
                    inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY,
                                      default=getattr(v, "default_value", None))
                    for k, v in traits.items()]


def is_deprecated_alias(func: Callable, p: inspect.Parameter) -> bool:
    """A sentinel default, and a function whose source warns DeprecationWarning about it."""
    d = p.default
    sentinel = type(d) is object or any(w in type(d).__name__.lower() or w in repr(d).lower()
                                        for w in ("sentinel", "deprecated", "unset", "missing"))
    if not sentinel:
        return False
    try:
        source = inspect.getsource(func)
    except (OSError, TypeError):
        return False
    return "DeprecationWarning" in source and re.search(rf"\b{p.name}\b", source) is not None


def violations(sigs=None, table=None) -> dict[str, str]:
    """``"where(param)"`` -> the glossary term it breaks."""
    table = glossary() if table is None else table
    found = {}
    for where, func, params in (signatures() if sigs is None else sigs):
        names = {p.name for p in params}
        for p in params:
            for row in table:
                for spelling, context in row["forbidden"]:
                    if (p.name == spelling and WHERE[context](names, p)
                            and f"{where}({p.name})" not in DEPRECATED_ALIASES
                            and not is_deprecated_alias(func, p)):
                        found[f"{where}({p.name})"] = row["term"]
    return found


# ---------------------------------------------------------------------------- the tests
def test_the_glossary_has_every_term_and_readable_rules() -> None:
    table = glossary()
    assert {row["term"] for row in table} == TERMS
    for row in table:
        assert row["meaning"] and row["allowed"], row["term"]
        assert {where for _, where in row["forbidden"]} <= set(WHERE), row["forbidden"]
    by_term = {row["term"]: row for row in table}
    assert ("net", None) in by_term["model"]["forbidden"]
    assert ("color", None) in by_term["color_by"]["forbidden"]
    assert ("features", "metric names") in by_term["features"]["forbidden"]


@needs("torch", "torch")  # the engine's signatures
def test_the_walk_reaches_every_kind_of_signature() -> None:
    seen = {where: {p.name for p in params} for where, _, params in signatures()}
    assert {"model", "data"} <= seen["geowidget.extract_features"]
    assert {"models", "data", "probe_data"} <= seen["geowidget.Study.__init__"]
    assert "layer" in seen["geowidget.GeometryCube.sel"]  # methods
    assert "color_by" in seen["geowidget.PolarPlot.traits"]  # traits
    assert "path" in seen["geowidget.GeometryCube.open"]  # classmethods
    assert len(seen) > 100


@needs("torch", "torch")
def test_public_signatures_follow_the_glossary() -> None:
    found = violations()
    new = {k: v for k, v in found.items() if k not in PENDING_RENAMES}
    assert new == {}, f"spellings the glossary forbids (docs/design.md, Glossary): {new}"
    done = PENDING_RENAMES - set(found)
    assert done == set(), f"renamed: remove from PENDING_RENAMES: {sorted(done)}"


def test_declared_aliases_warn() -> None:
    for where, (new, call) in DEPRECATED_ALIASES.items():
        with pytest.warns(DeprecationWarning, match=new):
            call()
        assert where.endswith(")")


# ---------------------------------------------------------------------------- the checker
_UNSET: Any = object()


def _measure(net, images, color="red", features=("angle", "norm"), probe_data=None):
    """A made-up function with one of each mistake."""


def _good(model, data, features, probe_data=None, color_by="class"):
    """The same, spelled right (``features`` an array, ``probe_data`` beside ``data``)."""


def _aliased(model=None, data=None, net=_UNSET):
    """``net`` is a deprecated alias of ``model``."""
    if net is not _UNSET:
        warnings.warn("net= is deprecated: use model=", DeprecationWarning, stacklevel=2)
        model = net
    return model


def _sig(func) -> tuple[str, Callable, list[inspect.Parameter]]:
    return func.__name__, func, _params(func)


def test_the_checker_catches_each_mistake() -> None:
    found = violations([_sig(_measure), _sig(_good)])
    assert found == {"_measure(net)": "model", "_measure(images)": "data",
                     "_measure(color)": "color_by", "_measure(features)": "features",
                     "_measure(probe_data)": "data"}


def test_a_deprecated_alias_passes_and_is_real() -> None:
    assert violations([_sig(_aliased)]) == {}
    with pytest.warns(DeprecationWarning, match="use model="):
        assert _aliased(net=3) == 3
    # a plain default is no alias
    assert violations([("f", _aliased, [inspect.Parameter(
        "net", inspect.Parameter.KEYWORD_ONLY, default=None)])]) == {"f(net)": "model"}


def test_a_declared_alias_is_exempt(monkeypatch) -> None:
    monkeypatch.setitem(DEPRECATED_ALIASES, "_measure(net)", ("model", lambda: _aliased(net=1)))
    assert "_measure(net)" not in violations([_sig(_measure)])
    test_declared_aliases_warn()


def test_the_table_is_what_the_checker_reads() -> None:
    text = ("\n## Glossary\n\n| term | meaning | parameter names | forbidden spellings |\n"
            "|---|---|---|---|\n| thing | a thing | `thing` | `stuff`, `item` (beside a model) |\n"
            "\n## Next\n")
    table = glossary(text)
    assert table == [{"term": "thing", "meaning": "a thing", "allowed": ["thing"],
                      "forbidden": [("stuff", None), ("item", "beside a model")]}]

    def f(model, item, stuff):
        """Made up."""

    assert violations([_sig(f)], table) == {"f(item)": "thing", "f(stuff)": "thing"}
