"""Coords: the one coordinate authority of a cube, a slab and every view.

A cube's cells are labelled by three dimensions: ``model`` (M names), ``layer`` (L names,
ordered by depth) and ``condition`` (K :class:`Condition` triples of sparsity, benchmark and
severity). Every lookup by name, position or condition value goes through a :class:`Coords`,
so a selection means the same thing in :meth:`GeometryCube.slice`, in the analyses and in the
views: sparsities match within :data:`SPARSITY_TOL`, an unknown value raises ``KeyError``
naming the valid ones, and a condition asked for without a severity is found only when one
severity matches.

The *default layer* is ``"penultimate"`` (the head's input, a Study's default) when present,
else the deepest layer: scores, training curves, the model map and the views start there.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from geowidget._validation import Interval, ListOf, validate_params

__all__ = ["CONDITION_CONSTRAINTS", "DIMS", "FIND_CONSTRAINTS", "SPARSITY_TOL", "Condition", "Coords",
           "same_sparsity", "sparsity_text"]

SPARSITY_TOL = 1e-6  # sparsities closer than this are the same level
DIMS = ("model", "layer", "condition")
DEFAULT_LAYER = "penultimate"

# How a condition is chosen, one value or a list each (see Coords.find).
CONDITION_CONSTRAINTS = {
    "sparsity": [None, Interval(float, 0, 1, closed="left"),
                 ListOf(Interval(float, 0, 1, closed="left"))],
    "benchmark": [None, str, ListOf(str)],
    "severity": [None, Interval(int, 0, 5), ListOf(Interval(int, 0, 5))],
}
# find also takes empty lists (they match nothing), for the analyses
FIND_CONSTRAINTS = {name: [c if not isinstance(c, ListOf) else ListOf(c.item, min_len=0)
                  for c in constraints] for name, constraints in CONDITION_CONSTRAINTS.items()}


@dataclass(frozen=True)
class Condition:
    """One evaluation condition: the pruning sparsity and the benchmark (corruption) applied.

    ``benchmark="clean"`` (severity 0) is the uncorrupted data.

    Examples
    --------
    >>> Condition(0.5, "gaussian_noise", 3).label
    'gaussian_noise-3@0.5'
    """

    sparsity: float = 0.0
    benchmark: str = "clean"
    severity: int = 0

    @property
    def label(self) -> str:
        bench = self.benchmark if self.benchmark == "clean" else f"{self.benchmark}-{self.severity}"
        return f"{bench}@{self.sparsity:g}"

    def to_json(self) -> dict[str, Any]:
        """The condition as the views' metadata carries it."""
        return {"sparsity": float(self.sparsity), "benchmark": self.benchmark,
                "severity": int(self.severity), "label": self.label}


class Coords:
    """Models, layers and conditions of a cube, with the one lookup for each.

    Parameters
    ----------
    models, layers : sequence of str
        Unique names; layers in the order of depth.
    conditions : sequence of Condition or (sparsity, benchmark, severity)
        Unique conditions.

    Examples
    --------
    >>> c = Coords(["dense"], ["conv1", "penultimate"],
    ...            [(0.0, "clean", 0), (0.5, "clean", 0), (0.0, "fog", 2)])
    >>> c.index("layer", "penultimate"), c.default_layer
    (1, 1)
    >>> c.find(sparsity=0.5)
    [1]
    >>> c.condition(benchmark="fog")
    2
    """

    __slots__ = ("models", "layers", "conditions")

    def __init__(self, models: Iterable[Any], layers: Iterable[Any],
                 conditions: Iterable[Condition | Sequence[Any]]) -> None:
        self.models: tuple[str, ...] = tuple(str(m) for m in models)
        self.layers: tuple[str, ...] = tuple(str(v) for v in layers)
        self.conditions: tuple[Condition, ...] = tuple(
            c if isinstance(c, Condition) else _condition(c) for c in conditions)
        _check_unique("models", self.models)
        _check_unique("layers", self.layers)
        _check_unique("conditions", [c.label for c in self.conditions])

    # ---------------------------------------------------------------- sizes and values
    @property
    def shape(self) -> tuple[int, int, int]:
        """``(M, L, K)``."""
        return len(self.models), len(self.layers), len(self.conditions)

    def names(self, dim: str) -> list[str]:
        """The labels along ``dim``: model and layer names, or condition labels."""
        if dim == "condition":
            return [c.label for c in self.conditions]
        return list(getattr(self, _dim(dim) + "s"))

    @property
    def sparsities(self) -> list[float]:
        """Sparsity levels with a clean condition, ascending."""
        return sorted({c.sparsity for c in self.conditions if c.benchmark == "clean"})

    @property
    def benchmarks(self) -> list[str]:
        """Benchmark names in first-seen order, ``"clean"`` included."""
        return list(dict.fromkeys(c.benchmark for c in self.conditions))

    @property
    def corruptions(self) -> list[str]:
        """Benchmark names other than ``"clean"``, in first-seen order."""
        return [b for b in self.benchmarks if b != "clean"]

    @property
    def severities(self) -> list[int]:
        """Severity levels present, ascending (0 is clean)."""
        return sorted({c.severity for c in self.conditions})

    @property
    def default_layer(self) -> int:
        """Position of the default layer: ``"penultimate"`` when present, else the deepest."""
        if not self.layers:
            raise KeyError("there are no layers, so there is no default layer")
        return self.layers.index(DEFAULT_LAYER) if DEFAULT_LAYER in self.layers \
            else len(self.layers) - 1

    # ---------------------------------------------------------------- lookups
    def index(self, dim: str, key: Any) -> int:
        """Position along ``dim`` ("model", "layer" or "condition") of a name or a position.

        A condition is named by its label (``"fog-2@0"``) or given as a :class:`Condition`.
        Positions may be negative (from the end).

        Raises
        ------
        KeyError
            An unknown name or an out-of-range position, naming the valid ones.
        """
        names = self.names(dim)
        if isinstance(key, int | np.integer) and not isinstance(key, bool | np.bool_):
            if not -len(names) <= key < len(names):
                raise KeyError(f"{dim} index {int(key)} out of range for {len(names)} "
                               f"{dim}s; valid: {names}")
            return int(key) % len(names)
        if isinstance(key, Condition) and dim == "condition":
            key = key.label
        if isinstance(key, str) and key in names:
            return names.index(key)
        raise KeyError(f"unknown {dim} {key!r}; valid: {names}")

    def positions(self, dim: str, keys: Any) -> list[int]:
        """Positions of one key or a list of keys along ``dim``; ``None`` takes them all."""
        if keys is None:
            return list(range(len(self.names(dim))))
        if isinstance(keys, str | int | np.integer | Condition):
            return [self.index(dim, keys)]
        return [self.index(dim, k) for k in keys]

    @validate_params(FIND_CONSTRAINTS)
    def find(
        self,
        sparsity: float | Sequence[float] | None = None,
        benchmark: str | Sequence[str] | None = None,
        severity: int | Sequence[int] | None = None,
    ) -> list[int]:
        """Positions of the conditions that match every given dimension, in order.

        Parameters
        ----------
        sparsity, benchmark, severity : value, sequence of values, or None
            ``None`` matches every value of that dimension. Sparsities match within
            ``SPARSITY_TOL`` (0.3 finds a level stored as 0.30000001).

        Returns
        -------
        list of int
            Possibly empty when each value exists but not in this combination.

        Raises
        ------
        KeyError
            A value that no condition has, naming the valid ones.
        """
        sp, bm, sv = _as_values(sparsity), _as_values(benchmark), _as_values(severity)
        if bm is not None and (unknown := sorted({str(b) for b in bm} - set(self.benchmarks))):
            raise KeyError(f"unknown benchmark(s) {unknown}; valid: {self.benchmarks}")
        if sp is not None:
            have = sorted({c.sparsity for c in self.conditions})
            if unknown := [float(s) for s in sp if not any(same_sparsity(s, h) for h in have)]:
                raise KeyError(f"unknown sparsity {unknown}; valid: {have}")
        if sv is not None and (unknown := [v for v in sv if v not in self.severities]):
            raise KeyError(f"unknown severity {unknown}; valid: {self.severities}")
        return [
            i
            for i, c in enumerate(self.conditions)
            if (sp is None or any(same_sparsity(c.sparsity, s) for s in sp))
            and (bm is None or c.benchmark in bm)
            and (sv is None or c.severity in sv)
        ]

    def condition(self, sparsity: float = 0.0, benchmark: str = "clean",
                  severity: int | None = None) -> int:
        """Position of the one matching condition; ``severity=None`` is allowed when only one
        severity of ``benchmark`` exists at that sparsity.

        Raises
        ------
        KeyError
            No condition matches, or several do (then pass ``severity``).
        """
        try:
            hits = self.find(sparsity, benchmark, severity)
        except KeyError:
            hits = []
        if len(hits) == 1:
            return hits[0]
        what = f"sparsity={sparsity!r}, benchmark={benchmark!r}, severity={severity!r}"
        if not hits:
            raise KeyError(f"no condition with {what}: {self._why_none(sparsity, benchmark, severity)}")
        severities = sorted(self.conditions[i].severity for i in hits)
        raise KeyError(f"{len(hits)} conditions match {what}; pass severity, one of {severities}")

    def _why_none(self, sparsity: float, benchmark: str, severity: int | None) -> str:
        """Which part of a pick is off this grid, and the grid's values nearest to it."""
        if benchmark not in self.benchmarks:
            return f"no benchmark {benchmark!r}; this cube has {list(self.benchmarks)}"
        bench = [c for c in self.conditions if c.benchmark == benchmark]
        levels = sorted({c.sparsity for c in bench})
        at = [c for c in bench if same_sparsity(c.sparsity, sparsity)]
        if not at:
            # the neighbours below and above, the nearer first, each as the views show it
            near = sorted([s for s in levels if s < sparsity][-1:]
                          + [s for s in levels if s > sparsity][:1], key=lambda s: abs(s - sparsity))
            shown = " and ".join(f"{s:g} (shown as {sparsity_text(s, levels)})" for s in near)
            return (f"sparsity {sparsity:g} is not on the grid of {benchmark!r}; the nearest "
                    f"level{' is' if len(near) == 1 else 's are'} {shown} "
                    f"(grid: {', '.join(f'{s:g}' for s in levels)})")
        have = sorted({c.severity for c in at})
        return (f"{benchmark!r} at sparsity {sparsity:g} has severity {have[0]}" if len(have) == 1
                else f"{benchmark!r} at sparsity {sparsity:g} has severities {have}")

    # ---------------------------------------------------------------- derived coordinates
    def subset(self, models: Sequence[int] | None = None, layers: Sequence[int] | None = None,
               conditions: Sequence[int] | None = None) -> Coords:
        """The coordinates at the given positions (``None`` keeps a dimension whole)."""
        def keep(values: tuple, at: Sequence[int] | None) -> list:
            return list(values) if at is None else [values[i] for i in at]

        return Coords(keep(self.models, models), keep(self.layers, layers),
                      keep(self.conditions, conditions))

    def to_json(self) -> dict[str, Any]:
        """Plain JSON for the views' metadata."""
        return {"models": list(self.models), "layers": list(self.layers),
                "conditions": [c.to_json() for c in self.conditions]}

    @classmethod
    def from_json(cls, meta: dict[str, Any]) -> Coords:
        """The inverse of :meth:`to_json`."""
        return cls(meta["models"], meta["layers"],
                   [Condition(float(c["sparsity"]), str(c["benchmark"]), int(c["severity"]))
                    for c in meta["conditions"]])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Coords):
            return NotImplemented
        return (self.models, self.layers, self.conditions) == \
            (other.models, other.layers, other.conditions)

    def __hash__(self) -> int:
        return hash((self.models, self.layers, self.conditions))

    def __repr__(self) -> str:
        m, ly, k = self.shape
        return f"Coords({m} models, {ly} layers, {k} conditions)"


def same_sparsity(a: float, b: float) -> bool:
    """Whether two sparsities are the same level (within :data:`SPARSITY_TOL`).

    Examples
    --------
    >>> same_sparsity(0.5, 0.5 + 1e-9), same_sparsity(0.5, 0.501)
    (True, False)
    """
    return abs(float(a) - float(b)) <= SPARSITY_TOL


def sparsity_text(value: float, levels: Sequence[float] | None = None) -> str:
    """A sparsity as the views write it: a percent with the fewest decimals (0 to 3) that keep
    every two of ``levels`` (the grid's sparsities) apart; the browser's ``sparsityText`` is
    the same rule.

    >>> sparsity_text(0.409, [0.409, 0.412]), sparsity_text(0.409091, [0, 0.409091])
    ('40.9%', '41%')
    """
    uniq = {float(f"{v:.9g}") for v in (levels if levels is not None else [value])}
    digits = next((d for d in range(3) if len({f"{100 * v:.{d}f}" for v in uniq}) == len(uniq)),
                  3)
    return f"{100 * value:.{digits}f}%"


def _condition(value: Any) -> Condition:
    try:
        sparsity, benchmark, severity = value
    except (TypeError, ValueError):
        raise ValueError(f"a condition is a Condition or a (sparsity, benchmark, severity) "
                         f"triple, got {value!r}") from None
    return Condition(float(sparsity), str(benchmark), int(severity))


def _dim(dim: str) -> str:
    if dim not in DIMS:
        raise ValueError(f"dim must be one of {list(DIMS)}, got {dim!r}")
    return dim


def _check_unique(what: str, names: Sequence[str]) -> None:
    seen: set[str] = set()
    dupes = [x for x in names if x in seen or seen.add(x)]
    if dupes:
        raise ValueError(f"{what} must be unique, got duplicates {sorted(set(dupes))}")


def _as_values(value: Any) -> list[Any] | None:
    if value is None:
        return None
    if isinstance(value, str | int | float | np.integer | np.floating):
        return [value]
    return list(value)
