"""ModelMap: models placed by a 2-D layout of their geometric embedding, with MST edges."""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets as t

from geowidget._validation import Options, validate_params
from geowidget.coords import SPARSITY_TOL
from geowidget.widgets.codec import as_numpy
from geowidget.widgets.deprecation import renamed
from geowidget.widgets.livecells import is_live
from geowidget.widgets.slab import robustness_of
from geowidget.widgets.traits import Colors, Int, invalid
from geowidget.widgets.view import GeoView

__all__ = ["BY", "ModelMap", "run_paths"]

BY = ("model", "condition", "model_condition", "model_sparsity")


def _accuracy(cube: Any, info: list[dict[str, Any]]) -> np.ndarray:
    acc = np.full(len(info), np.nan, np.float32)
    for i, d in enumerate(info):
        mi, ki = d.get("_m", -1), d.get("_k", -1)
        if mi >= 0 or ki >= 0:  # read only the cells it needs (an opened cube stays on disk)
            acc[i] = cube.values("correct", None if mi < 0 else [mi], None,
                                 None if ki < 0 else [ki]).mean()
    return acc


def _robustness_at(cube: Any, info: list[dict[str, Any]]) -> np.ndarray:
    """Mean robustness of each point's model pruned to the point's sparsity (every ``by`` with
    models: a point at condition k is the model at k's sparsity); NaN where the cube has no
    corrupted condition at that sparsity, and for points without a model. On a live cube, of
    the (model, sparsity) pairs whose corrupted conditions are all computed (NaN elsewhere):
    the map computes no corrupted condition for its colour."""
    from geowidget.analysis.scores import robust_levels, robustness

    levels = robust_levels(cube)
    if is_live(cube):
        values, meta = robustness_of(cube)  # type: ignore[misc]
        by_level = {s: values[:, meta["sparsities"].index(s)].mean(axis=1) for s in levels}
    else:
        by_level = {s: robustness(cube, sparsity=s).mean(axis=1) for s in levels}
    return np.array([by_level[d["sparsity"]][d["_m"]] if d.get("sparsity") in by_level
                     and d["_m"] >= 0 else np.nan for d in info])


def _method_of(cube: Any, point: dict[str, Any]) -> str:
    """The pruning method of a point's model, ``"dense"`` at sparsity 0 (an unpruned model
    was pruned by no method), ``""`` for a point without a model."""
    if point["_m"] < 0:
        return ""
    if abs(float(point.get("sparsity", np.nan))) <= SPARSITY_TOL:
        return "dense"
    info = cube.model_info[point["_m"]]
    return str(info.get("pruning", info.get("method", "")))


def _live_note(cube: Any, layer: Any, info: list[dict[str, Any]]) -> str:
    """What a live cube's map is placed by (the cells it computed) and coloured by."""
    name = cube.layers[cube.coords.index("layer", layer)]
    conditions = sorted({cube.conditions[d["_k"]].label for d in info if d.get("_k", -1) >= 0})
    where = f" at {', '.join(conditions[:4])}{' …' if len(conditions) > 4 else ''}" if (
        conditions) else ""
    return (f"live cube: placed by layer {name}{where}, the cells computed for this map; "
            "robustness from the cells computed so far")


def _layout_from_cube(cube: Any, by: str, method: str, layer: Any,
                      select: dict[str, Any]) -> tuple[Any, ...]:
    from geowidget.analysis.embedding import distances, model_embedding, mst
    from geowidget.analysis.reducer import project

    emb = model_embedding(cube, by=by, layer=layer, **select)
    d = distances(emb)
    return emb.labels, list(getattr(emb, "info", [{} for _ in emb.labels])), project(
        distances=d, method=method if len(d) > 2 else "mds").astype(np.float64), mst(d)


def _condition_of(coords: Any, point: dict[str, Any]) -> int:
    """The condition a point of the embedding stands for (-1: none): its own, or the clean
    condition at its sparsity (a point per model and sparsity)."""
    try:
        if "condition" in point:
            return coords.index("condition", point["condition"])
        if "sparsity" in point:
            return coords.condition(point["sparsity"], "clean")
    except KeyError:
        pass
    return -1


def run_paths(cube: Any, point_model: np.ndarray) -> list[list[int]]:
    """Each training run in the cube (see :mod:`geowidget.analysis.training`) as the path of
    its points in step order; none when the cube holds no run."""
    from geowidget.analysis.training import runs

    try:
        members = runs(cube)
    except ValueError:  # no model has a run and a step
        return []
    where = {int(m): i for i, m in enumerate(point_model) if m >= 0}
    paths = [[where[m] for m in idx if m in where] for idx in members.values()]
    return [q for q in paths if len(q) > 1]


class ModelMap(GeoView):
    """Each point is a model (or model at a sparsity level, or benchmark) in a 2-D layout.

    Positions come from :func:`geowidget.analysis.embedding.layout` of the model geometric
    embedding, and the minimum-spanning-tree edges are drawn. Clicking a point sets
    ``active`` and, in linked views, makes that model (and condition) current.

    Parameters
    ----------
    cube : GeometryCube, optional
        Positions are computed from it unless ``xy`` is given.
    xy : array-like [P, 2], optional
        Explicit positions (any units).
    edges : array-like of int [E, 2], optional
        Point index pairs to connect (e.g. MST edges).
    names : list of str, optional
        Point labels (rendered as text).
    color_by : str, array-like [P] or dict of str to array-like [P], optional
        The colour: a field name, or colour fields of your own (an array is the field
        ``"custom"``; a dict names its fields, and the first is shown). Float arrays get a
        colour scale, string arrays categories. From a cube, ``accuracy``, ``robustness``
        (when the scores module is available) and ``method`` (``model_info["pruning"]`` or
        ``["method"]``) are filled in. Default: the first field. (``color=``, a dict of
        fields, is its deprecated spelling.)
    by : {"model", "condition", "model_condition", "model_sparsity"}
        What a point is, when computing from a cube. ``"model_sparsity"``: one point per
        (model, sparsity), placed by its geometry under every benchmark (the paper's map of
        pruning methods x sparsities; needs a Study's full grid), coloured by the robustness
        of the model pruned to that sparsity.
    method : {"mds", "pca", "tsne", "umap"}
        Layout method when computing from a cube.
    point_model, point_condition : array-like of int [P], optional
        The model / condition index each point stands for (-1: none), used for linking.
    paths : list of list of int, optional
        Point index sequences drawn as arrows (e.g. one model's pruning trajectory). With
        ``by="model_condition"`` each model's points are joined in order of sparsity; with
        ``by="model"`` each training run's checkpoints (models with ``run`` and ``step`` in
        their ``model_info``) are joined in order of step, and a ``step`` colour is added.
    layer : str or int, optional
        The layer whose geometry places the points; the default layer when not given.
    sparsity, benchmark, severity : optional
        Condition selection passed to ``model_embedding`` when computing from a cube; for
        ``by="model_condition"`` the default is every sparsity of the clean benchmark, for
        ``by="model_sparsity"`` every sparsity and every benchmark.

    Notes
    -----
    On a live cube (``Study.live()``) the map computes the cells it is placed by, and only
    those (by default each model's cell at the default layer, clean and dense), with a
    progress bar; its robustness colour comes from the (model, sparsity) pairs whose corrupted
    conditions are computed already (the others are marked not computed), and the view says
    so under the map.

    Examples
    --------
    >>> import geowidget as gw
    >>> from geowidget.demo import demo_cube
    >>> gw.ModelMap(demo_cube(), method="mds")            # doctest: +SKIP
    """

    _kind = t.Unicode("modelmap").tag(sync=True)
    color_by = t.Unicode("").tag(sync=True)
    active = Int(-1, min=-1).tag(sync=True)
    palette = Colors().tag(sync=True)
    data_keywords = ("cube", "xy", "edges", "names", "by", "method", "layer", "point_model",
                     "point_condition", "paths", "sparsity", "benchmark", "severity")

    @validate_params({
        "by": [Options(*BY)],
        "method": [Options("mds", "pca", "tsne", "umap")],
    })
    def __init__(
        self,
        cube: Any = None,
        *,
        xy: Any = None,
        edges: Any = None,
        names: list[str] | None = None,
        color_by: Any = None,
        by: str = "model",
        method: str = "mds",
        layer: Any = None,
        point_model: Any = None,
        point_condition: Any = None,
        paths: list[list[int]] | None = None,
        sparsity: Any = "default",
        benchmark: Any = "clean",
        severity: Any = None,
        **kwargs: Any,
    ) -> None:
        shown = color_by if isinstance(color_by, str) else None
        # the deprecated color= took the fields (a dict), and color_by= the one shown
        given = renamed(kwargs, "color", "color_by", None if shown else color_by, None,
                        "ModelMap")
        colors: dict[str, Any] = ({} if given is None else dict(given)
                                  if isinstance(given, dict) else {"custom": given})
        info: list[dict[str, Any]] = []
        if xy is None:
            if cube is None:
                raise ValueError("pass a GeometryCube, or xy= positions (and optionally edges=)")
            if sparsity == "default":
                sparsity = None if by in ("model_condition", "model_sparsity") else 0.0
            if by == "model_sparsity" and benchmark == "clean":
                benchmark = None
            select = {"sparsity": sparsity, "benchmark": benchmark, "severity": severity}
            layer = cube.coords.default_layer if layer is None else layer
            labels, info, xy, edges_c = _layout_from_cube(cube, by, method, layer, select)
            names = list(labels) if names is None else names
            edges = edges_c if edges is None else edges
        pos = as_numpy(xy)
        if pos.dtype.kind not in "fiu":
            raise TypeError(f"The 'xy' parameter of ModelMap must be numeric positions [P, 2]. "
                            f"Got dtype {pos.dtype} instead.")
        pos = pos.astype(np.float64)
        if pos.ndim != 2 or pos.shape[1] != 2:
            raise ValueError(f"The 'xy' parameter of ModelMap must have shape [P, 2]. Got shape "
                             f"{pos.shape} instead.")
        bad = np.flatnonzero(~np.isfinite(pos).all(axis=1))
        if bad.size:
            raise ValueError(f"The 'xy' parameter of ModelMap must hold finite positions. Got "
                             f"NaN or infinite values in row(s) {bad[:5].tolist()} instead.")
        p = pos.shape[0]
        names = [str(i) for i in range(p)] if names is None else [str(x) for x in names]
        if len(names) != p:
            raise ValueError(f"names has {len(names)} entries for {p} points; lengths must match")
        e = np.zeros((0, 2), np.int64) if edges is None else as_numpy(edges).astype(np.int64)
        if e.size and (e.ndim != 2 or e.shape[1] != 2):
            raise ValueError(f"edges must have shape [E, 2], got {e.shape}")
        e = e.reshape(-1, 2)
        if e.size and (e.min() < 0 or e.max() >= p):
            raise ValueError(f"edges refer to points {e.min()}..{e.max()}, valid: 0..{p - 1}")
        pm = np.full(p, -1, np.int64)
        pk = np.full(p, -1, np.int64)
        if cube is not None and info:
            for i, d in enumerate(info):
                if "model" in d and d["model"] in cube.models:
                    pm[i] = cube.models.index(d["model"])
                pk[i] = _condition_of(cube.coords, d)
                d["_m"], d["_k"] = int(pm[i]), int(pk[i])
            colors.setdefault("accuracy", _accuracy(cube, info))
            if (cube.corruptions or by == "model_sparsity") and (pm >= 0).any():  # own sparsity
                colors.setdefault("robustness", _robustness_at(cube, info))
            methods = [_method_of(cube, d) for d in info]
            if any(methods):
                colors.setdefault("method", np.array(methods))
            if by == "model" and paths is None:
                paths = run_paths(cube, pm)
                if paths:
                    colors.setdefault("step", np.array(
                        [float(cube.model_info[d["_m"]].get("step", np.nan)) if d["_m"] >= 0
                         else np.nan for d in info]))
            if by in ("model_condition", "model_sparsity") and paths is None:
                sp = [float(d.get("sparsity", 0.0)) for d in info]
                paths = [sorted(np.flatnonzero(pm == mi).tolist(), key=lambda i: sp[i])
                         for mi in range(len(cube.models))]
                paths = [q for q in paths if len(q) > 1]
                colors.setdefault("sparsity", np.array(sp))
        if point_model is not None:
            pm = as_numpy(point_model).astype(np.int64)
        if point_condition is not None:
            pk = as_numpy(point_condition).astype(np.int64)
        for what, arr in (("point_model", pm), ("point_condition", pk)):
            if arr.shape != (p,):
                raise ValueError(f"{what} has shape {arr.shape}, expected ({p},)")
        flat: list[int] = []
        for q in paths or []:
            q = [int(i) for i in q]
            if any(not 0 <= i < p for i in q):
                raise ValueError(f"paths refer to points {q}; valid: 0..{p - 1}")
            flat += [*q, -1]
        self._paths = [list(q) for q in paths or []]
        arrays: dict[str, np.ndarray] = {"x": pos[:, 0], "y": pos[:, 1], "edges": e,
                                         "pm": pm, "pk": pk,
                                         "paths": np.asarray(flat, np.int64)}
        kinds: dict[str, str] = {}
        cat_names: dict[str, list[str]] = {}
        for field, value in colors.items():
            arr = np.asarray(value)
            if arr.shape != (p,):
                raise ValueError(f"color field {field!r} has shape {arr.shape}, expected ({p},)")
            if arr.dtype.kind in "USO":
                uniq = list(dict.fromkeys(arr.astype(str).tolist()))
                arrays[f"c_{field}"] = np.array([uniq.index(v) for v in arr.astype(str)], np.float32)
                kinds[field], cat_names[field] = "categorical", uniq
            elif arr.dtype.kind in "fiub":
                arrays[f"c_{field}"] = arr.astype(np.float32)
                kinds[field] = "continuous"
            else:
                raise TypeError(f"color field {field!r} has unsupported dtype {arr.dtype}")
        fields = list(colors)
        self._names = names
        self._xy = pos
        self._edges = e
        self._colors = colors
        meta: dict[str, Any] = {"names": names, "color_fields": fields, "color_kinds": kinds,
                                "category_names": cat_names}
        if cube is not None:  # the accuracy colour starts at chance, as the table's
            meta["classes"] = len(cube.class_names)
        if is_live(cube) and info:  # what the map is based on, said under it
            meta["note"] = _live_note(cube, layer, info)
            meta["robustness_missing"] = ("not computed (a live cube: it needs the outputs of "
                                          "every corrupted condition at the point's sparsity, "
                                          "e.g. colour a linked view by robustness)")
        super().__init__(_meta=meta, _arrays=arrays, color_by=shown if shown is not None
                         else (fields[0] if fields else ""), **kwargs)

    @t.validate("color_by")
    def _valid_color(self, proposal: Any) -> str:
        fields = self._meta.get("color_fields", [])
        if proposal["value"] and proposal["value"] not in fields:
            raise invalid(self, "color_by", f"one of {fields}", proposal["value"])
        return proposal["value"]

    @t.validate("active")
    def _valid_active(self, proposal: Any) -> int:
        p = len(self._meta.get("names", []))
        if not proposal["value"] < p:
            raise invalid(self, "active", f"-1 (none) or a point index in 0..{p - 1}",
                          proposal["value"])
        return proposal["value"]

    # ---------------------------------------------------------------- linking
    def pick_of(self, point: int) -> dict[str, int]:
        """The ``model`` and ``condition`` that point ``point`` stands for (what a click on it
        makes current in linked views); empty for -1."""
        if point < 0:
            return {}
        out = {"model": int(self._arrays["pm"][point]),
               "condition": int(self._arrays["pk"][point])}
        return {k: v for k, v in out.items() if v >= 0}

    def point_of(self, picks: dict[str, int]) -> int:
        """The first point standing for ``picks["model"]`` (and its condition, when points
        stand for conditions), or -1."""
        pm, pk = self._arrays["pm"], self._arrays["pk"]
        for i in range(len(pm)):
            if pm[i] != picks.get("model", -2):
                continue
            if "condition" in picks and pk[i] >= 0 and pk[i] != picks["condition"]:
                continue
            return i
        return -1

    def to_plotly(self) -> Any:
        """A plotly Figure: points, MST edges and labels, coloured by the current field."""
        import plotly.graph_objects as go

        fig = go.Figure()
        xs, ys = [], []
        for a, b in self._edges:
            xs += [self._xy[a, 0], self._xy[b, 0], None]
            ys += [self._xy[a, 1], self._xy[b, 1], None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"color": "#999"}, name="MST"))
        marker: dict[str, Any] = {"size": 12}
        if self.color_by:
            value = np.asarray(self._colors[self.color_by])
            if value.dtype.kind in "fiub":
                marker.update(color=value, colorscale="Viridis", showscale=True)
        fig.add_trace(go.Scatter(x=self._xy[:, 0], y=self._xy[:, 1], mode="markers+text",
                                 text=self._names, textposition="top right", marker=marker,
                                 name="models"))
        fig.update_yaxes(scaleanchor="x")
        return fig
