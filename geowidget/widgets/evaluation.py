"""EvaluationTable: the paper's overview, models against conditions, one cell per pair.

Each cell shows the accuracy (colour and number) and a small histogram of one per-sample
quantity, with bins shared per column. The grid is computed once in Python
(:func:`geowidget.analysis.evaluation.evaluation_grid`) and only the binned counts travel: a
few KB for a typical cube, never the per-sample arrays. Sorting switches between orders sent
with the grid, in the browser. Clicking a cell sets ``model`` and ``condition`` here and in
every linked view (:func:`geowidget.link`), and ``selected_cell`` in Python.

On a live cube (``Study.live()``) the table shows the cells computed so far and marks the
others "not computed" (it computes none itself); it refreshes as cells get computed, by a
view, a notebook cell or an analysis. Clicking a cell that is not computed picks it, and the
linked views compute it.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import traitlets as t

from geowidget.analysis.evaluation import (
    COLUMN_ORDERS,
    QUANTITIES,
    ROW_ORDERS,
    EvaluationGrid,
    evaluation_grid,
)
from geowidget.widgets.livecells import Refresh, cells_computed, is_live, outputs_computed
from geowidget.widgets.slab import pick_cell
from geowidget.widgets.traits import Enum, Int, List, TraitValueError, invalid
from geowidget.widgets.view import PickerView

__all__ = ["EvaluationTable"]


class EvaluationTable(PickerView):
    """Accuracy and per-sample distributions of every (model x sparsity, benchmark x severity).

    Parameters
    ----------
    cube : GeometryCube
        The data.
    quantity : {"margin", "angle", "norm", "robustness"}
        The per-sample quantity of the cell histograms (see
        :mod:`geowidget.analysis.evaluation` for units). Changing it recomputes the grid.
    layer : str or int, optional
        Layer of the angle, norm and margin histograms (linked views share it); the default
        layer when not given.
    bins : int
        Bins per histogram (1 to 255).
    sort_rows : {"cube", "accuracy", "robustness"}
        Row order: the cube's, by mean accuracy, or by robustness (best first).
    sort_columns : {"cube", "difficulty"}
        Column order: the cube's, or easiest first.
    model, sparsity, benchmark, severity : optional
        A cell to start with selected (its model and condition, found as ``cube.slice``
        finds them); none by default.

    Attributes
    ----------
    grid : EvaluationGrid
        The table's data (rows, columns, accuracy, counts, bin edges, orders).
    selected_cell : list of int
        ``[row, column]`` of the clicked cell in :attr:`grid` (empty before a click).
        Setting it from Python selects that cell and sets ``model`` and ``condition``.
    model, condition : int
        The cube's model and condition of the selected cell; follow linked views.

    Notes
    -----
    On a live cube the numbers are those of the cells computed so far (see the module doc):
    ``computed()`` says which grid cells those are.

    Examples
    --------
    >>> table = EvaluationTable(cube, quantity="angle", sort_rows="accuracy")   # doctest: +SKIP
    >>> gw.link(table, gw.PolarPlot(cube))                                       # doctest: +SKIP
    >>> table.selected_cell, table.cell_info()                                   # doctest: +SKIP
    """

    _kind = t.Unicode("evaltable").tag(sync=True)
    quantity = Enum(QUANTITIES, "margin").tag(sync=True)
    sort_rows = Enum(ROW_ORDERS, "cube").tag(sync=True)
    sort_columns = Enum(COLUMN_ORDERS, "cube").tag(sync=True)
    bins = Int(12, min=1, max=255).tag(sync=True)
    selected_cell = List(Int(min=0), maxlen=2).tag(sync=True)
    data_keywords = ("cube", "sparsity", "benchmark", "severity")

    def __init__(self, cube: Any, *, quantity: str = "margin", layer: str | int | None = None,
                 bins: int = 12, model: str | int | None = None, sparsity: float | None = None,
                 benchmark: str | None = None, severity: int | None = None,
                 **kwargs: Any) -> None:
        from geowidget.cube import GeometryCube

        if not isinstance(cube, GeometryCube):
            raise TypeError(f"The 'cube' parameter of EvaluationTable must be a GeometryCube. "
                            f"Got {type(cube).__name__} instead.")
        self._refuse_unknown(kwargs)
        self._cube = cube
        self._grid_lock = threading.Lock()
        if quantity == "robustness" and not cube.corruptions:
            raise ValueError(self._no_robustness("parameter"))
        picks = pick_cell(cube.coords, model, layer, sparsity, benchmark, severity)
        self.grid: EvaluationGrid = evaluation_grid(cube, quantity, picks["layer"], bins,
                                                    cells=self._cells(quantity, picks["layer"]))
        meta, arrays = self._grid_state()
        if not (model is None and sparsity is None and benchmark is None and severity is None):
            kwargs.setdefault("selected_cell", self._cell_of(
                picks["model"], kwargs.get("condition", picks["condition"])))
        elif kwargs.get("selected_cell") and "condition" not in kwargs:
            m, k = self._picks_of(kwargs["selected_cell"])
            if k is not None and k >= 0:  # else the selected_cell trait says what is wrong
                model, kwargs["condition"] = m, k
        super().__init__(cube.coords, model=model, layer=picks["layer"], sparsity=sparsity,
                         benchmark=benchmark, severity=severity, quantity=quantity, bins=bins,
                         _meta=meta, _arrays=arrays, **kwargs)
        self.observe(self._recompute, ["quantity", "layer", "bins"])
        self.observe(self._on_cell, "selected_cell")
        self.observe(self._on_pick, ["model", "condition"])
        if is_live(cube):  # redrawn as cells get computed, whoever computes them
            self._refresh = Refresh(cube, self, "_recompute")

    def _cells(self, quantity: str, layer: int) -> np.ndarray | None:
        """The (model, condition) pairs the grid may read, ``[M, K]``: on a live cube the
        computed ones (their outputs for robustness, else their cell at ``layer``); None
        (every one) on other cubes."""
        if not is_live(self._cube):
            return None
        if quantity == "robustness":
            return outputs_computed(self._cube)
        return cells_computed(self._cube)[:, layer, :]

    def _shown_cells(self) -> tuple[Any, list[tuple[int, int, int]]]:
        """The picked cell (the one outlined, and the one linked views show)."""
        return self._cube, [(self.model, self.layer, self.condition)]

    def _cells_computed(self) -> None:
        self._recompute()

    def computed(self) -> np.ndarray:
        """Which grid cells hold numbers, bool ``[R, C]``: on a live cube the computed ones
        (the others are marked "not computed"); on other cubes every cell the cube has."""
        return (self.grid.condition >= 0) & np.isfinite(self.grid.accuracy)

    # ---------------------------------------------------------------- data
    def _grid_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The metadata and arrays of :attr:`grid` (only binned counts travel)."""
        g = self.grid
        # the codec sends uint8 or int32: one byte per count when every count fits
        counts = g.counts.astype(np.uint8 if g.counts.max(initial=0) <= 255 else np.int32)
        meta = {
            **self._cube.coords.to_json(),
            "quantity": g.quantity,
            "layer_name": g.layer,
            "shape": [*g.shape, counts.shape[2]],
            "rows": [{k: r[k] for k in ("label", "group", "model", "sparsity", "method")}
                     for r in g.rows],
            "columns": [{k: c[k] for k in ("label", "group", "benchmark", "severity")}
                        for c in g.columns],
            "column_groups": list(dict.fromkeys(c["benchmark"] for c in g.columns)),
            "row_orders": list(g.row_orders),
            "column_orders": list(g.column_orders),
            "live": is_live(self._cube),
            "classes": len(self._cube.class_names),  # the colour scale starts at chance
        }
        arrays: dict[str, np.ndarray] = {
            "accuracy": g.accuracy,
            "counts": counts,
            "edges": g.edges.astype(np.float32),
            "condition": g.condition,
            "row_model": np.array([r["model_index"] for r in g.rows], np.int32),
        }
        if is_live(self._cube):  # which cells hold numbers; the others are not computed yet
            arrays["computed"] = self.computed().astype(np.uint8)
        for name, order in g.row_orders.items():
            arrays[f"rows:{name}"] = order
        for name, order in g.column_orders.items():
            arrays[f"columns:{name}"] = order
        return meta, arrays

    def _recompute(self, change: dict[str, Any] | None = None) -> None:
        with self._grid_lock:  # a live cube's refresh comes from a timer thread
            self.grid = evaluation_grid(self._cube, self.quantity, self.layer, self.bins,
                                        cells=self._cells(self.quantity, self.layer))
            meta, arrays = self._grid_state()
            with self.hold_sync():
                self._meta, self._arrays = meta, arrays

    def _no_robustness(self, what: str) -> str:
        return (f"The 'quantity' {what} of EvaluationTable cannot be 'robustness' for this cube: "
                "robustness is the fraction of corrupted conditions a sample is classified "
                f"right in, and the cube has none (benchmarks {self._cube.benchmarks}); run a "
                "Study with corruptions=..., or pick one of ['margin', 'angle', 'norm']")

    @t.validate("quantity")
    def _valid_quantity(self, proposal: Any) -> str:
        if proposal["value"] == "robustness" and not self._cube.corruptions:
            raise TraitValueError(self._no_robustness("trait"))
        return proposal["value"]

    # ---------------------------------------------------------------- cell and picks
    @t.validate("selected_cell")
    def _valid_cell(self, proposal: Any) -> list[int]:
        value = list(proposal["value"])
        if not value:
            return value
        r, c = self.grid.shape
        if len(value) != 2 or not (value[0] < r and value[1] < c):
            raise invalid(self, "selected_cell", f"[row, column] with row < {r} and column < {c}",
                          value)
        if self.grid.condition[value[0], value[1]] < 0:
            raise invalid(self, "selected_cell", "a cell the cube evaluated (this one is empty)",
                          value)
        return value

    def _on_cell(self, change: dict[str, Any]) -> None:
        if not change["new"]:
            return
        with self.hold_sync():
            self.model, self.condition = self._picks_of(change["new"])

    def _picks_of(self, cell: Any) -> tuple[int | None, int | None]:
        """The model and condition of grid cell ``[row, column]``; (None, None) for a value
        that is not one (the ``selected_cell`` trait then says why)."""
        try:
            r, c = (int(v) for v in cell)
            return int(self.grid.rows[r]["model_index"]), int(self.grid.condition[r, c])
        except (TypeError, ValueError, IndexError):
            return None, None

    def _cell_of(self, model: int, condition: int) -> list[int]:
        """``[row, column]`` of the grid cell of ``model`` at ``condition``; [] for none."""
        for i, r in enumerate(self.grid.rows):
            hits = np.flatnonzero(self.grid.condition[i] == condition)
            if r["model_index"] == model and hits.size:
                return [i, int(hits[0])]
        return []

    def _on_pick(self, change: dict[str, Any]) -> None:
        """A linked view picked a model or condition: select the matching cell, if any."""
        cell = self._cell_of(self.model, self.condition)
        if cell and self.selected_cell != cell:
            self.selected_cell = cell

    def cell_info(self) -> dict[str, Any]:
        """The selected cell: model, sparsity, benchmark, severity, accuracy and its counts.

        Empty when no cell is selected.
        """
        if not self.selected_cell:
            return {}
        r, c = self.selected_cell
        g = self.grid
        row, col = g.rows[r], g.columns[c]
        return {"model": row["model"], "sparsity": row["sparsity"],
                "benchmark": col["benchmark"], "severity": col["severity"],
                "computed": bool(self.computed()[r, c]),
                "accuracy": float(g.accuracy[r, c]), "quantity": g.quantity,
                "edges": g.edges[c].copy(), "counts": g.counts[r, c].copy()}
