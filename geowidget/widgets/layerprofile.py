"""LayerProfile: angle, norm and margin along the layers, one line per model."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import traitlets as t

from geowidget._validation import Boolean, Instance, validate_params
from geowidget.analysis.depth import PROFILE_METRICS, QUANTILES, layer_quantiles
from geowidget.widgets.livecells import Refresh, Sweep, cells_computed, is_live
from geowidget.widgets.slab import CELL_PARAMS, slab_from_cube
from geowidget.widgets.view import DEFAULT_BUDGET, SlabView

__all__ = ["LayerProfile"]


class LayerProfile(SlabView):
    """Geometry through depth: per model, the angle, norm and margin of the probe set along
    the cube's layers.

    Three panels share the layer axis (angle in degrees to the true class direction, L2 norm,
    signed margin). Each model is one line, its median over the samples, in a band from the
    10 % to the 90 % quantile; the current model is drawn on top. Each selected sample
    (up to 8, from this view's or a linked view's selection) is its own line, for the current
    model. Clicking a layer makes it the layer of this view and of linked views.

    Intermediate layers are measured as a Study measures them: against linear probes
    cross-fitted once per (model, layer) on the dense model's clean features, so that no sample
    meets a probe that saw it; the penultimate layer against the model's own head (see
    :mod:`geowidget.analysis.depth`). Every layer is named under the panels (slanted where the
    names would touch); hovering a probe layer's name says that it is measured with a probe
    fitted out of sample, and the probe's held-out accuracy (current model and condition).

    On a live cube (``Study.live()``) the lines are drawn from the cells computed so far: the
    view asks the cube's request worker for every layer of the shown (model, condition) (off
    the kernel's main thread; another pick supersedes the cells not started yet), draws each
    layer as it arrives, under a progress line while some are computing, and names the layers
    not computed (other models are drawn at the layers computed for them). ``to_html``
    computes the shown model's layers at the shown condition first; the page names the layers
    of other picks "not computed when this page was exported" (a page computes nothing).

    Parameters
    ----------
    cube : GeometryCube
        Measured at several layers (``Study(..., layers=[...])``); with one layer each line is
        a point.
    model, layer : str or int, optional
        The current model and layer (name or position; the default layer when not given).
    sparsity, benchmark, severity : optional
        The condition the quantiles are shown for, found as ``cube.slice`` finds it.
    budget : int
        Bytes above which the per-sample cells (for the selected samples' lines) are fetched
        on demand instead of sent at once (64 MB); the quantiles are always sent.
    thumbnails : bool
        Send the sample images (for linked views' tooltips).

    Examples
    --------
    >>> view = LayerProfile(cube, model="vit-s0")             # doctest: +SKIP
    >>> view.profile()["margin"].shape                        # doctest: +SKIP
    (4, 5, 3)
    """

    _kind = t.Unicode("layerprofile").tag(sync=True)
    data_keywords = ("cube", "sparsity", "benchmark", "severity", "budget", "thumbnails")

    @validate_params({**CELL_PARAMS, "cube": [Instance("geowidget.cube.GeometryCube")],
                      "thumbnails": [Boolean()]})
    def __init__(self, cube: Any, *, model: str | int | None = None,
                 layer: str | int | None = None, sparsity: float | None = None,
                 benchmark: str | None = None, severity: int | None = None,
                 budget: int = DEFAULT_BUDGET, thumbnails: bool = True, **kwargs: Any) -> None:
        # a live cube: the cells computed so far (the others are asked for, below)
        self._done = cells_computed(cube)
        # [M, L, K, metric, quantile]
        self._quantiles = layer_quantiles(cube, cells=self._done if is_live(cube) else None)
        slab = slab_from_cube(cube)
        if not thumbnails:
            slab.images = None
        arrays: dict[str, np.ndarray] = {"profile": self._quantiles}
        if is_live(cube):
            arrays["cell_state"] = self._done.astype(np.uint8)
        super().__init__(slab, budget=budget, model=model, layer=layer, sparsity=sparsity,
                         benchmark=benchmark, severity=severity,
                         _meta={"metrics": list(PROFILE_METRICS), "quantiles": list(QUANTILES),
                                "head_layers": measured_by_head(cube)},
                         _arrays=arrays, **kwargs)
        if is_live(cube):
            self._lock = threading.Lock()  # updates come from the kernel and a timer thread
            self._refresh = Refresh(cube, self, "_update")
            self._sweep = Sweep(self, cube, "profile", self._refresh.schedule)
            self.observe(self._ask, ["model", "condition"])
            self._ask()

    def _ask(self, _change: Any = None) -> None:
        """Ask for every layer of the shown (model, condition) (a live cube), the shown layer
        first: the cell the linked views show too."""
        layers = [self.layer, *(ly for ly in range(len(self.coords.layers)) if ly != self.layer)]
        self._sweep.ask([(self.model, ly, self.condition) for ly in layers])
        self._update()

    def _update(self) -> None:
        """Add the cells computed since the last update, and send what is drawn (a live cube)."""
        cube = self._slab.cube
        with self._lock:
            new = cells_computed(cube) & ~self._done
            if new.any():
                q = layer_quantiles(cube, cells=new)
                self._quantiles[new] = q[new]
                self._done |= new
            state = self._sweep.state(self._done.shape, self._done)
            errors = {f"{m},{ly},{k}": msg for (m, ly, k), msg in self._sweep.failed.items()}
            with self.hold_sync():
                self._meta = {**self._meta, "cell_errors": errors}
                self._arrays = {**self._arrays, "profile": self._quantiles.copy(),
                                "cell_state": state}

    def _shown_cells(self) -> tuple[Any, list[tuple[int, int, int]]]:
        """Every layer of the shown model and condition."""
        return self._slab.cube, [(self.model, ly, self.condition)
                                 for ly in range(len(self.coords.layers))]

    def _cells_computed(self) -> None:
        super()._cells_computed()
        self._update()

    def computed(self) -> np.ndarray:
        """Which cells the lines are drawn from, bool ``[M, L, K]`` (every one, except on a
        live cube)."""
        return self._done.copy()

    def profile(self) -> dict[str, np.ndarray]:
        """What is drawn for the current condition: per metric, float32 ``[M, L, 3]`` (the
        10 %, 50 % and 90 % quantiles of each model at each layer; angles in radians)."""
        q = self._quantiles[:, :, self.condition]
        return {name: q[:, :, j] for j, name in enumerate(PROFILE_METRICS)}


def measured_by_head(cube: Any) -> list[bool]:
    """Per layer, whether every model's angle and margin there are measured against the
    model's own head (the penultimate layer) rather than a linear probe's class directions.

    A live cube knows it from its plan (before any cell is computed); a stored cube from
    ``probe_accuracy``, which is finite exactly at the probe layers' cells.
    """
    live = getattr(cube, "_arrays", None)
    if is_live(cube) and hasattr(live, "probed"):
        probed = live.probed
    else:
        acc = cube.probe_accuracy
        probed = None if acc is None else np.isfinite(np.asarray(acc)).any(axis=2)
    if probed is None:  # no probe layers: every layer is the models' own
        return [True] * len(cube.layers)
    return [not bool(np.asarray(probed)[:, ly].any()) for ly in range(len(cube.layers))]
