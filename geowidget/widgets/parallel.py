"""ParallelCoordinates: robustness on each benchmark, then θ, ρ and m, one line per sample."""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets as t

from geowidget._validation import invalid as invalid_param
from geowidget._validation import validate_params
from geowidget.widgets.codec import as_numpy
from geowidget.widgets.livecells import is_live
from geowidget.widgets.slab import (
    ADVERSARIAL,
    CELL_PARAMS,
    LiveRobustness,
    build_slab,
    robustness_of,
    robustness_shown,
)
from geowidget.widgets.traits import Bool, Dict, invalid
from geowidget.widgets.view import DEFAULT_BUDGET, SlabView

__all__ = ["ParallelCoordinates"]


class ParallelCoordinates(SlabView):
    """n + 3 axes: robustness R(x) on each of n benchmarks, then θ (degrees), ρ and m.

    A cube with adversarial distances adds one more axis, ``adv l2`` (or ``adv linf``).

    Dragging along an axis in the browser brushes a range (``ranges[axis] = [lo, hi]``); the
    samples inside every brushed range become ``selected``.

    Parameters
    ----------
    cube : GeometryCube, optional
        Robustness axes come from :func:`geowidget.analysis.scores.robustness_per_benchmark`
        (when the cube holds corrupted conditions), of the shown model at the shown
        condition's sparsity (empty, and marked so, at a sparsity without corruptions); θ, ρ
        and m from the shown cell.
    axes : dict of str to array-like [N], optional
        Extra (or, without a cube, all) axes, in order.
    labels, class_names, sample_ids : optional
        Per-sample classes and ids when no cube is given.
    model, layer, sparsity, benchmark, severity : optional
        The initial cell, found as ``cube.slice`` finds it (the default layer when no layer
        is given).
    compute_robustness : bool
        On a live cube (``Study.live()``), compute the robustness axes of the shown model and
        sparsity (the outputs of every corrupted condition there, on the cube's request
        worker) now and at each pick; until then they are drawn empty and marked not
        computed. Other cubes hold them whole (this does nothing there).

    Examples
    --------
    >>> import geowidget as gw
    >>> from geowidget.demo import demo_cube
    >>> gw.ParallelCoordinates(demo_cube())               # doctest: +SKIP
    """

    data_keywords = (*SlabView.data_keywords, "axes")
    _kind = t.Unicode("parallel").tag(sync=True)
    ranges = Dict().tag(sync=True)
    compute_robustness = Bool(False).tag(sync=True)

    @validate_params({**CELL_PARAMS, "axes": [None, dict]})
    def __init__(self, cube: Any = None, *, axes: dict[str, Any] | None = None,
                 model: str | int | None = None, layer: str | int | None = None,
                 sparsity: float | None = None, benchmark: str | None = None,
                 severity: int | None = None, budget: int = DEFAULT_BUDGET,
                 **kwargs: Any) -> None:
        plain = dict(axes or {})
        if cube is None:
            if not plain:
                raise ValueError("pass a GeometryCube or axes={name: values}")
            n = len(as_numpy(next(iter(plain.values()))))
            nan = np.full(n, np.nan, np.float32)
            kwargs.setdefault("angle", nan)
            kwargs.setdefault("norm", nan)
        slab = build_slab(cube, kwargs)
        n = slab.n
        specs: list[dict[str, Any]] = []
        extra: dict[str, np.ndarray] = {}
        meta: dict[str, Any] = {}
        if cube is not None:
            for i, name in enumerate(cube.corruptions):  # per (model, sparsity), see polar
                rob = robustness_of(cube, benchmark=name)
                assert rob is not None  # the cube has corruptions
                extra[f"rob_{i}"], meta["robust_levels"] = rob
                specs.append({"name": f"R({name})", "source": "rob", "key": f"rob_{i}"})
            specs += [{"name": "θ (deg)", "source": "metric", "key": "angle", "degrees": True},
                      {"name": "ρ", "source": "metric", "key": "norm"},
                      {"name": "m", "source": "metric", "key": "margin"}]
            if ADVERSARIAL in slab.extra:  # per cell: it moves with the sparsity
                norm = next(iter(cube.adversarial))
                specs.append({"name": f"adv {norm}", "source": "metric", "key": ADVERSARIAL})
        for i, (name, value) in enumerate(plain.items()):
            arr = as_numpy(value)
            expected = f"a dict of numeric arrays [{n}], one value per sample"
            if arr.shape != (n,):
                raise invalid_param("ParallelCoordinates", "axes", expected, axes,
                                    f"axis {name!r} has shape {arr.shape}; expected ({n},)")
            if arr.dtype.kind not in "biuf":
                raise invalid_param("ParallelCoordinates", "axes", expected, axes,
                                    f"axis {name!r} holds {arr.dtype} values, e.g. "
                                    f"{arr[:3].tolist()}")
            extra[f"ax_{i}"] = arr.astype(np.float32)
            specs.append({"name": str(name), "source": "plain", "key": f"ax_{i}"})
        super().__init__(slab, budget=budget, model=model, layer=layer, sparsity=sparsity,
                         benchmark=benchmark, severity=severity,
                         _meta={"axes": specs, **meta}, _arrays=extra, **kwargs)
        if "robust_levels" in meta and is_live(cube):  # computed when asked for
            keys = {f"rob_{i}": name for i, name in enumerate(cube.corruptions)}
            self._robust = LiveRobustness(self, keys, lambda view: view.compute_robustness)
            self.observe(self._robust.ask, "compute_robustness")

    @t.validate("ranges")
    def _valid_ranges(self, proposal: Any) -> dict[str, list[float]]:
        names = [a["name"] for a in self._meta.get("axes", [])]
        out = {}
        for key, value in proposal["value"].items():
            if key not in names:
                raise invalid(self, "ranges", f"a dict keyed by axis names {names}", key)
            try:
                lo, hi = (float(v) for v in value)
            except (TypeError, ValueError):
                raise invalid(self, "ranges", f"[low, high] numbers for axis {key!r}",
                              value) from None
            if not (np.isfinite(lo) and np.isfinite(hi)):
                raise invalid(self, "ranges", f"finite [low, high] for axis {key!r}", value)
            out[key] = [lo, hi]
        return out

    def columns(self) -> dict[str, np.ndarray]:
        """The values on each axis for the shown cell, by axis name (``[N]`` each)."""
        cell = self.cell()
        out: dict[str, np.ndarray] = {}
        for spec in self._meta["axes"]:
            if spec["source"] == "rob":
                out[spec["name"]] = robustness_shown(self, spec["key"])
            elif spec["source"] == "plain":
                out[spec["name"]] = np.asarray(self._arrays[spec["key"]])
            else:
                v = cell[spec["key"]].astype(np.float32)
                out[spec["name"]] = np.degrees(v) if spec.get("degrees") else v
        return out

    def select_ranges(self, ranges: dict[str, Any]) -> np.ndarray:
        """Brush from Python: set ``ranges`` and select the samples inside all of them."""
        self.ranges = ranges
        cols = self.columns()
        keep = np.ones(self._slab.n, bool)
        for name, (lo, hi) in self.ranges.items():
            v = cols[name]
            keep &= (v >= min(lo, hi)) & (v <= max(lo, hi))
        ids = self._slab.sample_ids[keep] if self.ranges else np.zeros(0, np.int64)
        self.selected = ids
        return self.selected

    def to_plotly(self) -> Any:
        """A plotly ``Parcoords`` Figure of the shown cell, with the brushed ranges."""
        import plotly.graph_objects as go

        dims = []
        for name, values in self.columns().items():
            dim: dict[str, Any] = {"label": name, "values": values}
            if name in self.ranges:
                dim["constraintrange"] = sorted(self.ranges[name])
            dims.append(dim)
        return go.Figure(go.Parcoords(dimensions=dims, line={"color": self._slab.labels}))
