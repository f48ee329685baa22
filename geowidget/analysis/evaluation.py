"""The evaluation table: accuracy and a per-sample distribution for every (model, condition).

:func:`evaluation_grid` lays a cube out as the paper's overview:

- **rows** are (model, sparsity) pairs: one row per model when the cube holds dense models
  only, else one group of rows per model with its pruning levels side by side (the model's
  pruning method, ``model_info["pruning"]``, labels the group), so a cube of several methods
  and levels reads as method x sparsity;
- **columns** are (benchmark, severity) pairs, grouped by benchmark, with ``clean`` first and
  the severities of each corruption side by side;
- **cells** hold the accuracy (fraction of the N samples classified correctly) and a
  histogram of one per-sample quantity, with bins shared by every cell of a column, so that
  cells of a column compare bar by bar. A (row, column) pair the cube did not evaluate is an
  empty cell: accuracy NaN, no counts. A Study's default grid (``grid="full"``) evaluates
  every cell; ``grid="dense-corrupted"`` corrupts the dense model only, which leaves the
  pruned rows empty under corruption.

Quantities: ``margin`` (signed, feature units), ``angle`` (to the true class direction,
radians), ``norm`` (L2, feature units), all at one layer; and ``robustness``, the fraction of
a sample's corrupted conditions at the row's sparsity that it survives. Robustness is a
property of the sample and the model rather than of one condition, so each column shows it
over its own benchmark's severities (:func:`geowidget.analysis.scores.robustness_per_benchmark`)
and the clean column over every corruption (:func:`geowidget.analysis.scores.robustness`).

The orders the view sorts by are computed here too: rows by mean accuracy over their cells
or by robustness (mean accuracy over their corrupted cells, which equals the mean of the
samples' robustness), best first; columns by difficulty, easiest first. Sorting moves whole
groups (a model with its pruning levels, a benchmark with its severities), so groups stay
together.

Examples
--------
>>> grid = evaluation_grid(cube, quantity="margin")          # doctest: +SKIP
>>> grid.accuracy.shape, grid.counts.shape                   # doctest: +SKIP
((4, 5), (4, 5, 12))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from geowidget._validation import Instance, Interval, Options, validate_params
from geowidget.coords import sparsity_text

if TYPE_CHECKING:
    import pandas as pd

    from geowidget.cube import GeometryCube

QUANTITIES = ("margin", "angle", "norm", "robustness")
ROW_ORDERS = ("cube", "accuracy", "robustness")
COLUMN_ORDERS = ("cube", "difficulty")


@dataclass(frozen=True)
class EvaluationGrid:
    """Accuracy and binned per-sample counts of every (row, column) cell; see the module doc.

    Attributes
    ----------
    quantity : str
        The binned quantity (one of :data:`QUANTITIES`).
    layer : str
        The layer of ``angle``, ``norm`` and ``margin``.
    rows : list of dict
        ``model`` (name), ``model_index`` (in the cube), ``sparsity``, ``method``, ``label``,
        ``group`` (index of the row's group: one per model).
    columns : list of dict
        ``benchmark``, ``severity``, ``label``, ``group`` (one per benchmark).
    condition : int32 ndarray [R, C]
        The cube's condition index of each cell; -1 where the cube has none.
    accuracy : float32 ndarray [R, C]
        Fraction correct, NaN for empty cells.
    edges : float64 ndarray [C, B + 1]
        Bin edges shared by the cells of each column (in the quantity's units).
    counts : uint16 or uint32 ndarray [R, C, B]
        Samples per bin; ``numpy.histogram(values, edges[c])`` of the cell's finite values.
    row_orders, column_orders : dict of str to int ndarray
        Permutations of the rows (``"cube"``, ``"accuracy"``, ``"robustness"``) and of the
        columns (``"cube"``, ``"difficulty"``).
    """

    quantity: str
    layer: str
    rows: list[dict[str, Any]]
    columns: list[dict[str, Any]]
    condition: np.ndarray
    accuracy: np.ndarray
    edges: np.ndarray
    counts: np.ndarray
    row_orders: dict[str, np.ndarray]
    column_orders: dict[str, np.ndarray]

    @property
    def shape(self) -> tuple[int, int]:
        return self.accuracy.shape

    def nbytes(self) -> int:
        """Bytes of the arrays a view sends (accuracy, edges, counts, condition, orders)."""
        orders = sum(a.nbytes for a in (*self.row_orders.values(), *self.column_orders.values()))
        return (self.accuracy.nbytes + self.edges.astype(np.float32).nbytes + self.counts.nbytes
                + self.condition.nbytes + orders)

    def to_pandas(self) -> pd.DataFrame:
        """The accuracy as a DataFrame: rows (model, sparsity), columns (benchmark, severity)."""
        import pandas as pd

        index = pd.MultiIndex.from_tuples([(r["model"], r["sparsity"]) for r in self.rows],
                                          names=["model", "sparsity"])
        columns = pd.MultiIndex.from_tuples(
            [(c["benchmark"], c["severity"]) for c in self.columns],
            names=["benchmark", "severity"])
        return pd.DataFrame(self.accuracy.astype(np.float64), index=index, columns=columns)

    def __repr__(self) -> str:
        r, c = self.shape
        return (f"EvaluationGrid({r} rows x {c} columns, quantity={self.quantity!r}, "
                f"layer={self.layer!r}, {self.counts.shape[2]} bins, {self.nbytes():,} bytes)")


@validate_params({
    "cube": [Instance("geowidget.cube.GeometryCube")],
    "quantity": [Options(*QUANTITIES)],
    "layer": [str, Interval(int, None, None)],
    "bins": [Interval(int, 1, 255)],
})
def evaluation_grid(
    cube: GeometryCube, quantity: str = "margin", layer: str | int = 0, bins: int = 12,
    cells: np.ndarray | None = None,
) -> EvaluationGrid:
    """Accuracy and per-sample histograms of every (model x sparsity, benchmark x severity).

    Parameters
    ----------
    cube : GeometryCube
    quantity : {"margin", "angle", "norm", "robustness"}
        The per-sample quantity binned in each cell (see the module doc for units).
    layer : str or int
        Layer of ``angle``, ``norm`` and ``margin`` (name or position).
    bins : int
        Bins per histogram, 1 to 255.
    cells : bool ndarray [M, K], optional
        The (model, condition) pairs that may be read (a live cube's computed ones), one at a
        time; a grid cell that needs another one is left out: accuracy NaN, no counts, its
        ``condition`` kept (the cube has it, it was not read). With ``"robustness"`` a cell
        needs every corrupted condition its robustness averages over. Default: every pair,
        read whole.

    Returns
    -------
    EvaluationGrid

    Examples
    --------
    >>> grid = evaluation_grid(cube, "angle", layer="penultimate")     # doctest: +SKIP
    >>> grid.to_pandas().round(3)                                      # doctest: +SKIP
    """
    li = cube.layer_index(layer)
    rows = _rows(cube)
    columns = _columns(cube)
    condition = np.full((len(rows), len(columns)), -1, np.int32)
    by_level: dict[float, dict[tuple[str, int], int]] = {}
    for s in {r["sparsity"] for r in rows}:
        by_level[s] = {(cube.conditions[k].benchmark, cube.conditions[k].severity): k
                       for k in cube.find_conditions(sparsity=s)}
    for i, r in enumerate(rows):
        for j, c in enumerate(columns):
            condition[i, j] = by_level[r["sparsity"]].get((c["benchmark"], c["severity"]), -1)
    model = np.array([r["model_index"] for r in rows], dtype=np.intp)
    if cells is not None and np.shape(cells) != (len(cube.models), len(cube.conditions)):
        raise ValueError(f"The 'cells' parameter of evaluation_grid must be a bool array of "
                         f"shape [M, K] = {[len(cube.models), len(cube.conditions)]}. Got shape "
                         f"{np.shape(cells)} instead.")
    have = condition >= 0
    if cells is not None:
        have &= np.asarray(cells, bool)[model[:, None], np.maximum(condition, 0)]
    values, known = _quantity(cube, quantity, li, rows, columns, condition, cells)
    if known is not None:  # robustness: every corrupted condition it averages over is there
        have &= known
    accuracy = np.full(condition.shape, np.nan, np.float32)
    ri, ci = np.nonzero(have)
    correct = _reader(cube, "correct", None, cells)
    accuracy[ri, ci] = correct(model[ri], condition[ri, ci]).mean(axis=-1, dtype=np.float64)
    n = len(cube.labels)
    edges = np.zeros((len(columns), bins + 1))
    counts = np.zeros((len(rows), len(columns), bins), np.uint16 if n < 2**16 else np.uint32)
    for j in range(len(columns)):
        present = np.flatnonzero(have[:, j])
        block = values(present, j)  # [rows present, N]
        edges[j] = _shared_edges(quantity, block, bins)
        counts[present, j] = _histograms(block, edges[j])
    return EvaluationGrid(
        quantity=quantity,
        layer=cube.layers[li],
        rows=rows,
        columns=columns,
        condition=condition,
        accuracy=accuracy,
        edges=edges,
        counts=counts,
        row_orders=_row_orders(rows, columns, accuracy),
        column_orders=_column_orders(columns, accuracy),
    )


def level_label(method: str, sparsity: float, levels: Sequence[float] | None = None) -> str:
    """How a pruning level reads in tables and maps: ``"dense"`` or ``"<method> 90%"``, the
    percent with the decimals that tell the grid's ``levels`` apart
    (:func:`~geowidget.coords.sparsity_text`)."""
    return "dense" if sparsity == 0 else f"{method} {sparsity_text(sparsity, levels)}".strip()


def _rows(cube: GeometryCube) -> list[dict[str, Any]]:
    levels = sorted({c.sparsity for c in cube.conditions})
    pruned = len(levels) > 1
    rows = []
    for m, name in enumerate(cube.models):
        method = str(cube.model_info[m].get("pruning", "")) if pruned else ""
        for s in levels:
            tail = f" · {level_label(method, s, levels)}" if pruned else ""
            rows.append({"model": name, "model_index": m, "sparsity": float(s),
                         "method": method, "label": name + tail, "group": m})
    return rows


def _columns(cube: GeometryCube) -> list[dict[str, Any]]:
    benchmarks = ["clean"] + cube.corruptions if "clean" in cube.benchmarks else cube.corruptions
    columns = []
    for g, b in enumerate(benchmarks):
        for v in sorted({c.severity for c in cube.conditions if c.benchmark == b}):
            label = b if b == "clean" else f"{b}-{v}"
            columns.append({"benchmark": b, "severity": int(v), "label": label, "group": g})
    return columns


def _reader(cube: GeometryCube, name: str, li: int | None, cells: np.ndarray | None) -> Any:
    """``read(models, conditions)``: array ``name`` (at layer ``li``) of those (model,
    condition) pairs, ``[len, N]``; the whole array read once, or, with ``cells``, one pair at
    a time (a live cube reads only what it holds)."""
    if cells is None:
        arr = getattr(cube, name)
        return lambda mi, ki: arr[mi, ki] if li is None else arr[mi, li, ki]
    layer = None if li is None else [li]

    def read(mi: np.ndarray, ki: np.ndarray) -> np.ndarray:
        out = [cube.values(name, [int(m)], layer, [int(k)]) for m, k in zip(mi, ki, strict=True)]
        return np.array([v.reshape(-1) for v in out]).reshape(len(out), len(cube.labels))

    return read


def _quantity(cube: GeometryCube, quantity: str, li: int, rows: list[dict[str, Any]],
              columns: list[dict[str, Any]], condition: np.ndarray, cells: np.ndarray | None
              ) -> tuple[Any, np.ndarray | None]:
    """``values(rows, j)``: the quantity of those rows in column ``j``, ``[len(rows), N]``;
    and, with ``cells``, which grid cells it can be read at without another pair."""
    model = np.array([r["model_index"] for r in rows], dtype=np.intp)
    if quantity != "robustness":
        read = _reader(cube, quantity, li, cells)
        return lambda present, j: read(model[present], condition[present, j]), None

    from geowidget.analysis.scores import (
        robustness,
        robustness_conditions,
        robustness_of_model,
        robustness_per_benchmark,
    )

    # per sparsity level: {benchmark: [M, N]}, "clean" holding the robustness over all
    per_level: dict[float, dict[str, np.ndarray]] = {}
    n = len(cube.labels)
    for s in {r["sparsity"] for r in rows}:
        if not cube.find_conditions(sparsity=s, benchmark=cube.corruptions):
            continue
        if cells is None:
            per_level[s] = {"clean": robustness(cube, sparsity=s),
                            **robustness_per_benchmark(cube, sparsity=s)}
            continue
        per_level[s] = {}
        for bench in dict.fromkeys(c["benchmark"] for c in columns):
            idx = robustness_conditions(cube, s, None if bench == "clean" else bench)
            per = np.full((len(cube.models), n), np.nan)
            for m in range(len(cube.models)):  # the models whose outputs are all there
                if idx and np.asarray(cells, bool)[m, idx].all():
                    per[m] = robustness_of_model(cube, m, s, None if bench == "clean" else bench)
            per_level[s][bench] = per
    nan = np.full(n, np.nan)

    def values(present: np.ndarray, j: int) -> np.ndarray:
        bench = columns[j]["benchmark"]
        out = [per_level.get(rows[i]["sparsity"], {}).get(bench) for i in present]
        return np.array([nan if v is None else v[model[i]] for i, v in zip(present, out,
                                                                            strict=True)]
                        ).reshape(len(present), n)

    if cells is None:
        return values, None
    # a level without corruptions has no robustness to wait for (NaN, as in a whole read)
    known = np.array([[rows[i]["sparsity"] not in per_level
                       or not np.isnan(per_level[rows[i]["sparsity"]][c["benchmark"]][
                           model[i]]).all() for c in columns] for i in range(len(rows))],
                     bool).reshape(len(rows), len(columns))
    return values, known


def _shared_edges(quantity: str, block: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width edges over the finite values of a column ([0, 1] for robustness)."""
    if quantity == "robustness":
        return np.linspace(0.0, 1.0, bins + 1)
    finite = block[np.isfinite(block)]
    if finite.size == 0:
        return np.linspace(0.0, 1.0, bins + 1)
    lo, hi = float(finite.min()), float(finite.max())
    if lo == hi:  # one value: a unit-wide range around it, as numpy.histogram does
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, bins + 1)


def _histograms(block: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``numpy.histogram(row, edges)`` of each row's finite values, in one pass: ``[R, B]``."""
    bins = edges.size - 1
    r = block.shape[0]
    idx = np.searchsorted(edges, block, side="right") - 1
    idx[block == edges[-1]] = bins - 1  # the last bin is closed, as in numpy.histogram
    keep = np.isfinite(block) & (idx >= 0) & (idx < bins)
    flat = (np.arange(r)[:, None] * bins + idx)[keep]
    return np.bincount(flat, minlength=r * bins).reshape(r, bins)


def _group_order(groups: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Positions sorted by their group's score, best first, NaN last; groups stay together.

    Ties keep the original order (a stable sort), and so does the order inside a group.
    """
    ids = list(dict.fromkeys(groups.tolist()))
    mean = {g: _mean(score[groups == g], 0) for g in ids}
    ranked = sorted(ids, key=lambda g: -mean[g] if np.isfinite(mean[g]) else np.inf)
    return np.concatenate([np.flatnonzero(groups == g) for g in ranked]).astype(np.int32)


def _mean(a: np.ndarray, axis: int) -> np.ndarray:
    """Mean of the finite values along ``axis``; NaN where there are none."""
    finite = np.isfinite(a)
    count = finite.sum(axis=axis)
    total = np.where(finite, a, 0.0).sum(axis=axis, dtype=np.float64)
    return np.divide(total, count, out=np.full(count.shape, np.nan), where=count > 0)


def _row_orders(rows: list[dict[str, Any]], columns: list[dict[str, Any]],
                accuracy: np.ndarray) -> dict[str, np.ndarray]:
    groups = np.array([r["group"] for r in rows])
    corrupted = np.array([c["benchmark"] != "clean" for c in columns], dtype=bool)
    return {"cube": np.arange(len(rows), dtype=np.int32),
            "accuracy": _group_order(groups, _mean(accuracy, 1)),
            "robustness": _group_order(groups, _mean(accuracy[:, corrupted], 1))}


def _column_orders(columns: list[dict[str, Any]], accuracy: np.ndarray) -> dict[str, np.ndarray]:
    groups = np.array([c["group"] for c in columns])
    return {"cube": np.arange(len(columns), dtype=np.int32),
            "difficulty": _group_order(groups, _mean(accuracy, 0))}


__all__ = [
    "COLUMN_ORDERS", "EvaluationGrid", "QUANTITIES", "ROW_ORDERS", "evaluation_grid",
    "level_label",
]
