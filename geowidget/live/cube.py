"""LiveCube: a GeometryCube whose cells the engine computes the first time anyone reads them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from geowidget.cube import GeometryCube
from geowidget.live.arrays import LiveArrays
from geowidget.study.shards import thumbnails

if TYPE_CHECKING:
    from geowidget.live.requests import CellRequests
    from geowidget.study.study import Study

__all__ = ["LiveCube"]


class LiveCube(GeometryCube):
    """A cube over a Study's models, layers and conditions whose cells are computed on demand.

    Made by :meth:`Study.live() <geowidget.study.Study.live>`, which returns at once: only the
    labels and thumbnails are read. A cell is computed (see :mod:`geowidget.live.arrays`) the
    first time a view, :meth:`slice`, :meth:`sel`, :meth:`values` or an analysis reads it, and
    equals the cell :meth:`Study.run` computes. Everything else is a GeometryCube's.

    Parameters
    ----------
    study : Study
    cache_bytes : int, optional
        Bytes of computed cells kept in memory (default a quarter of the machine's memory).

    Notes
    -----
    ``probe_accuracy`` holds the accuracy of the cells computed so far (NaN elsewhere), and
    ``computed`` says which cells those are. A live cube has no projections and no
    adversarial distances (run the Study for them).
    """

    def __init__(self, study: Study, cache_bytes: int | None = None) -> None:
        plan = study.plan  # what run() resolves first: models by name, layers, conditions
        labels = np.zeros(plan.n, np.int64)
        images = None
        for shard in plan.reader:  # labels and thumbnails: no forward pass
            labels[shard.start : shard.stop] = shard.labels.numpy()
            thumbs = thumbnails(shard.inputs)
            if thumbs is not None:
                if images is None:
                    images = np.zeros((plan.n, *thumbs.shape[1:]), np.uint8)
                images[shard.start : shard.stop] = thumbs
        self._set_coordinates(list(plan.models), plan.layers, plan.conditions, labels,
                              plan.class_names, None, [study._info(m) for m in plan.models],
                              plan.dataset)
        self._arrays: LiveArrays = LiveArrays(study, cache_bytes)  # type: ignore[assignment]
        # probe_accuracy is this class's own (it follows the computed cells)
        self._optional = {"images": images, "projections": {}, "adversarial": {},
                          "probe_accuracy": None}
        self._requests: CellRequests | None = None

    @property
    def live(self) -> LiveArrays:
        """The backend: its ``stats`` (parts computed, read from the store), ``cache``."""
        return self._arrays

    @property
    def requests(self) -> CellRequests:
        """The worker thread that computes the cells the views ask for (see
        :mod:`geowidget.live.requests`); started when a view first asks."""
        if self._requests is None:
            from geowidget.live.requests import CellRequests

            self._requests = CellRequests(self._arrays)
        return self._requests

    def computed(self) -> np.ndarray:
        """Which cells are in memory now, bool ``[M, L, K]``."""
        live = self._arrays
        shape = (len(self.models), len(self.layers), len(self.conditions))
        return np.array([live.ready(m, ly, k) for m, ly, k in np.ndindex(*shape)],
                        bool).reshape(shape)

    def export_slab(self, slab: Any) -> dict[str, np.ndarray]:
        """What an exported page of a view of this cube holds (``GeoView.to_html``): the
        slab's arrays at the cells computed so far (NaN, or 0, elsewhere; nothing is computed
        for the page) as ``_slab``, and which cells those are, uint8 ``[M, L, K]``, as
        ``_computed``: the page says that the others were not computed."""
        done = self.computed()
        m, ly, k, n = slab.shape
        shapes = {"mlkn": (m, ly, k, n), "mkn": (m, k, n)}
        full: dict[str, np.ndarray] = {}
        for a, b, c in zip(*np.nonzero(done), strict=True):
            for name, arr in slab.sent(slab.cell(int(a), int(b), int(c))).items():
                dims = slab.dims()[name]
                if name not in full:
                    fill = np.nan if arr.dtype.kind == "f" else 0
                    full[name] = np.full(shapes[dims], fill, arr.dtype)
                full[name][(a, b, c) if dims == "mlkn" else (a, c)] = arr
        for name, dims in slab.dims().items():  # no cell computed yet: empty arrays
            if name not in full and name not in slab.stand_ins:
                full[name] = np.full(shapes[dims], np.nan, np.float32)
        return {"_slab": full, "_computed": {"cells": done.astype(np.uint8)}}

    @property
    def probe_accuracy(self) -> np.ndarray | None:  # type: ignore[override]
        """Held-out accuracy of each probe ``[M, L, K]`` at the cells computed so far (NaN
        elsewhere and at layers that use the model's head); None without probe layers."""
        live = self._arrays
        if live.probed is None:
            return None
        out = np.full((len(self.models), len(self.layers), len(self.conditions)), np.nan)
        for m, ly, k in zip(*np.nonzero(self.computed()), strict=True):
            part = live.cache.get((m, k, self.layers[ly]))
            if part is not None and live.probed[m, ly]:
                out[m, ly, k] = np.mean(part["layer_pred"] == self.labels, dtype=np.float64)
        return out

    @probe_accuracy.setter
    def probe_accuracy(self, value: Any) -> None:
        raise AttributeError("a live cube's probe_accuracy follows its computed cells")

    def __repr__(self) -> str:
        dims = ", ".join(f"{k}: {v}" for k, v in self.shape.items())
        done = int(self.computed().sum())
        return (f"LiveCube({dims}; dataset={self.dataset!r}, models={self.models}, "
                f"{done} of {self.computed().size} cells computed)")


