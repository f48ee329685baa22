"""PolarPlot: the angle–norm half-disc, one point per sample."""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets as t

from geowidget._validation import validate_params
from geowidget.widgets import slab as _slab
from geowidget.widgets.codec import as_numpy
from geowidget.widgets.deprecation import moved, renamed
from geowidget.widgets.livecells import is_live
from geowidget.widgets.slab import ADVERSARIAL, Slab
from geowidget.widgets.traits import Bool, Enum, Float, Int, invalid
from geowidget.widgets.view import DEFAULT_BUDGET, SlabView

__all__ = ["ANGLE_TO", "BASE_FIELDS", "PolarPlot", "color_fields"]

BASE_FIELDS = ("class", "correct", "pred", "margin", "angle", "norm")
ANGLE_TO = ("true", "pred")
# the slab plumbing the views share lived here
__getattr__ = moved(__name__, dict.fromkeys(("ARRAY_KEYWORDS", "CELL_PARAMS", "build_slab",
                                             "robustness_of", "robustness_shown"),
                                            "geowidget.widgets.slab"))


def color_fields(slab: Slab, color_by: Any, owner: str) -> tuple[str, dict[str, Any],
                                                                 dict[str, np.ndarray]]:
    """The colour a slab view starts with, and what it sends for its colour fields.

    ``color_by`` is a field name or a per-sample array (``[N]``, or ``[M, L, K, N]`` per
    cell, added to the slab's per-cell arrays); an array becomes the field ``"custom"``.
    Returns ``(color_by, meta, arrays)``: the field name, ``color_fields`` / ``color_kinds``
    (and ``robust_levels``) for the metadata, and the arrays sent once.
    """
    m, ly, k, n = slab.shape
    fields = list(BASE_FIELDS)
    kinds = {"class": "categorical", "correct": "categorical", "pred": "categorical",
             "margin": "diverging", "angle": "continuous", "norm": "continuous"}
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {}
    rob = _slab.robustness_of(slab.cube)
    if rob is not None:  # per (model, sparsity): the browser reads the shown one's level
        fields.append("robustness")
        kinds["robustness"] = "continuous"
        arrays["robustness"], meta["robust_levels"] = rob
    if ADVERSARIAL in slab.extra:  # the cube's adversarial distances, per cell
        fields.append(ADVERSARIAL)
        kinds[ADVERSARIAL] = "continuous"
    if not isinstance(color_by, str):
        arr = as_numpy(color_by)
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"The 'color_by' parameter of {owner} must be a field name or a "
                            f"numeric array. Got an array of dtype {arr.dtype} instead.")
        kinds["custom"] = "continuous" if arr.dtype.kind == "f" else "categorical"
        with np.errstate(over="ignore"):  # beyond float32: refused just below
            values = arr.astype(np.float32)
        if np.isinf(values).any():  # it would span the colour range alone
            at = np.flatnonzero(np.isinf(values.ravel()))
            raise ValueError(f"The 'color_by' parameter of {owner} must be finite in float32 "
                             f"(NaN marks a missing value). Got {at.size} infinite "
                             f"value(s), at flat positions {at[:3].tolist()}.")
        if arr.shape == (n,):
            arrays["custom"] = values  # one value per sample, whatever the cell
        elif arr.shape == (m, ly, k, n):
            slab.extra["custom"] = ("mlkn", values)  # per cell: sent with the cell
        else:
            raise ValueError(
                f"The 'color_by' parameter of {owner} must be a field name or an array of "
                f"shape ({n},) or {(m, ly, k, n)} (one value per sample, optionally per "
                f"model, layer, condition). Got shape {arr.shape} instead."
            )
        fields.append("custom")
        color_by = "custom"
    return color_by, {**meta, "color_fields": fields, "color_kinds": kinds}, arrays


class PolarPlot(SlabView):
    """Angle–norm polar plot: sample ``i`` sits at angle θ_i and radius ρ_i on a half disc.

    The class direction points right (θ = 0); θ runs counter-clockwise to 180 degrees. Points
    are drawn with WebGL2 (Canvas2D where there is no GL); switching model, layer, condition,
    classes or colour happens in the browser.

    Parameters
    ----------
    cube : GeometryCube, optional
        The data; or pass plain arrays as keywords ``angle`` (radians), ``norm``, ``margin``,
        ``labels``, ``pred``, ``angle_pred``, ``class_names``, ``sample_ids``, ``images``.
    color_by : str or array-like, default "class"
        A field name (``class``, ``correct``, ``pred``, ``margin``, ``angle``, ``norm``, and
        ``robustness`` when the scores module can compute it from a cube (on a live cube
        computed for the shown model and sparsity when picked, see
        :class:`~geowidget.widgets.slab.LiveRobustness`), ``adversarial``
        when the cube has adversarial distances) or a per-sample array
        ``[N]`` or ``[M, L, K, N]``: float values get a colour bar, integer values categories.
        NaN values are drawn as a "missing" category and counted in the legend. At a layer
        measured with a linear probe, ``correct`` and ``pred`` are the probe's; colour by the
        model's own with ``color_by=cube.correct[:, None].repeat(len(cube.layers), 1)``.
        (``color=`` is its deprecated spelling.)
    angle_to : {"true", "pred"}
        Measure θ to the true class direction or to the predicted class direction.
    normalize : bool
        Divide ρ by the largest finite ρ of the shown slice, so the disc has radius 1.
    model, layer : str or int, optional
        Initial model and layer (name or position); the default layer when not given.
    sparsity, benchmark, severity : optional
        Initial condition, found as ``cube.slice`` finds it (sparsity within a tolerance;
        ``severity`` needed only when several conditions match).
    classes : list of int, optional
        Classes to show (all by default).
    palette : list of str, optional
        CSS colours for the categories, replacing the colour-blind-safe default.
    budget : int
        Bytes above which slices are fetched on demand instead of sent at once (64 MB).
    density : {"auto", "on", "off"}
        Density mode: points are binned in the browser (bins of ``point_size`` CSS px), each bin
        drawn in the mean colour of its points at an opacity that grows with log(count).
        ``"auto"`` switches it on when more than ``density_threshold`` points are in view;
        below that, points are drawn with an opacity that adapts to their number and the zoom.
    density_threshold : int
        Points in view above which ``density="auto"`` bins them (100,000).

    Examples
    --------
    >>> import numpy as np
    >>> w = PolarPlot(angle=np.array([0.1, 2.0]), norm=np.array([1.0, 3.0]), labels=[0, 1],
    ...               class_names=["cat", "dog"])
    >>> w.color_by
    'class'
    """

    _kind = t.Unicode("polar").tag(sync=True)
    color_by = t.Unicode("class").tag(sync=True)
    angle_to = Enum(ANGLE_TO, "true").tag(sync=True)
    normalize = Bool(False).tag(sync=True)
    point_size = Float(3.0, min=0.5, max=64.0).tag(sync=True)
    density = Enum(("auto", "on", "off"), "auto").tag(sync=True)
    density_threshold = Int(100_000, min=0).tag(sync=True)
    # per layer, the [θ min, θ max, ρ min, ρ max] the fitted frame shows instead of the shown
    # cell's own range, so that several plots share one scale (SideBySide); [] for none
    shared_range = t.List().tag(sync=True)

    @validate_params(_slab.CELL_PARAMS)
    def __init__(self, cube: Any = None, *, color_by: Any = "class", angle_to: str = "true",
                 normalize: bool = False, model: str | int | None = None,
                 layer: str | int | None = None, sparsity: float | None = None,
                 benchmark: str | None = None, severity: int | None = None,
                 budget: int = DEFAULT_BUDGET, **kwargs: Any) -> None:
        color_by = renamed(kwargs, "color", "color_by", color_by, "class", type(self).__name__)
        slab = _slab.build_slab(cube, kwargs)
        color_by, meta, arrays = color_fields(slab, color_by, type(self).__name__)
        super().__init__(slab, budget=budget, model=model, layer=layer, sparsity=sparsity,
                         benchmark=benchmark, severity=severity, color_by=color_by,
                         angle_to=angle_to, normalize=normalize,
                         _meta={**meta, **kwargs.pop("_meta", {})},
                         _arrays={**arrays, **kwargs.pop("_arrays", {})}, **kwargs)
        if "robust_levels" in meta and is_live(slab.cube):  # computed when shown
            self._robust = _slab.LiveRobustness(self, {"robustness": None},
                                                lambda view: view.color_by == "robustness")
            self.observe(self._robust.ask, "color_by")

    @t.validate("color_by")
    def _valid_color(self, proposal: Any) -> str:
        fields = self._meta.get("color_fields", list(BASE_FIELDS))
        if proposal["value"] not in fields:
            raise invalid(self, "color_by", f"one of {fields}", proposal["value"])
        return proposal["value"]

    @t.validate("shared_range")
    def _valid_shared_range(self, proposal: Any) -> list[list[float]]:
        value = proposal["value"]
        layers = len(self._meta.get("layers", []))
        expected = (f"[] or one [θ min, θ max, ρ min, ρ max] (finite, θ in [0, π], 0 <= ρ min "
                    f"<= ρ max) or [] per layer ({layers})")
        try:
            out = [[float(v) for v in r] for r in value]
        except (TypeError, ValueError):
            raise invalid(self, "shared_range", expected, value) from None
        ok = all(len(r) == 0 or (len(r) == 4 and np.isfinite(r).all()
                                 and 0 <= r[0] <= r[1] <= np.pi + 1e-6 and 0 <= r[2] <= r[3])
                 for r in out)
        if not ok or len(out) not in (0, layers):
            raise invalid(self, "shared_range", expected, value)
        return out

    # ---------------------------------------------------------------- current view
    def current(self) -> dict[str, np.ndarray]:
        """The arrays of the shown slice: ``theta`` (radians), ``rho``, ``margin``, ``label``,
        ``pred``, ``ids``, and ``visible`` (class filter and finite position), each ``[N]``;
        with a robustness colour, ``robustness`` of the shown model at the shown condition's
        sparsity (NaN where the cube has no corruption at that sparsity)."""
        slab = self._slab
        cell = self.cell()
        theta = cell["angle_pred" if self.angle_to == "pred" else "angle"]
        rho = cell["norm"].astype(np.float64)
        if self.normalize and np.isfinite(rho).any():
            top = np.nanmax(np.where(np.isfinite(rho), rho, np.nan))
            rho = rho / top if top > 0 else rho
        visible = np.isfinite(theta) & np.isfinite(rho)
        if self.classes:
            visible &= np.isin(slab.labels, self.classes)
        out = {"theta": theta.astype(np.float64), "rho": rho,
               "margin": cell["margin"], "label": slab.labels,
               "pred": cell["pred"], "ids": slab.sample_ids, "visible": visible}
        if "robust_levels" in self._meta:
            out["robustness"] = _slab.robustness_shown(self, "robustness")
        return out

    def to_plotly(self) -> Any:
        """A plotly Figure of the current view (one trace per class), for PNG or SVG export.

        Returns
        -------
        plotly.graph_objects.Figure
            ``Scatterpolar`` traces with θ in degrees on a 0–180 degree sector.
        """
        import plotly.graph_objects as go

        cur = self.current()
        names = self._meta["class_names"]
        fig = go.Figure()
        vis = cur["visible"]
        sel = set(self.selected.tolist())
        for c in np.unique(cur["label"][vis]):
            mask = vis & (cur["label"] == c)
            fig.add_trace(go.Scatterpolar(
                theta=np.degrees(cur["theta"][mask]), r=cur["rho"][mask], mode="markers",
                name=names[int(c)], marker={"size": 4},
                customdata=cur["ids"][mask],
                selectedpoints=[i for i, s in enumerate(cur["ids"][mask]) if s in sel] or None,
            ))
        meta = self._meta
        title = (f"{meta['models'][self.model]} · {meta['layers'][self.layer]} · "
                 f"{meta['conditions'][self.condition]['label']}")
        fig.update_layout(
            title=title,
            polar={"sector": [0, 180], "angularaxis": {"rotation": 0, "direction": "counterclockwise"},
                   "radialaxis": {"title": {"text": "ρ (L2 norm)"}}},
        )
        return fig
