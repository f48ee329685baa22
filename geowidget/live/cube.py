"""LiveCube: a GeometryCube whose cells the engine computes the first time anyone reads them."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from geowidget.cube import GeometryCube
from geowidget.cube_schema import DTYPES, LAYER_METRICS, LAYER_PRED, OUTPUTS
from geowidget.live.arrays import LiveArrays
from geowidget.study.shards import thumbnails
from geowidget.study.units import OUTPUTS_PART

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

            self._requests = CellRequests(self._arrays, ahead=self._neighbours)
        return self._requests

    def _neighbours(self, cell: tuple[int, int, int]) -> list[tuple[int, int, int]]:
        """The cells a user is likely to pick after ``cell`` (model, layer, condition): the
        next and the previous sparsity at its benchmark and severity, and the next severity
        of its corruption at its sparsity."""
        m, ly, k = cell
        here = self.conditions[k]
        levels = sorted(self.coords.find(benchmark=here.benchmark, severity=here.severity),
                        key=lambda i: self.conditions[i].sparsity)
        at = levels.index(k)
        out = levels[at + 1 : at + 2] + levels[max(at - 1, 0) : at]
        if here.benchmark != "clean":
            worse = [i for i in self.coords.find(sparsity=here.sparsity,
                                                 benchmark=here.benchmark)
                     if self.conditions[i].severity > here.severity]
            out += sorted(worse, key=lambda i: self.conditions[i].severity)[:1]
        return [(m, ly, i) for i in out]

    def computed(self) -> np.ndarray:
        """Which cells are kept now, bool ``[M, L, K]``: in memory, or evicted from memory
        but in the unit store (``cache_dir``) where this cube wrote or found them. Reading
        them computes nothing."""
        live = self._arrays
        shape = (len(self.models), len(self.layers), len(self.conditions))
        return np.array([live.is_kept(m, ly, k) for m, ly, k in np.ndindex(*shape)],
                        bool).reshape(shape)

    def save(self, path: str | os.PathLike) -> None:
        """Write the cells computed so far as a cube folder (:meth:`GeometryCube.open` reads it).

        Nothing is computed. The folder holds the models and the conditions at which the
        model's outputs were computed (a cell's first read computes them for its (model,
        condition)), every layer: the metrics of a cell not computed are NaN, its
        ``probe_accuracy`` NaN and its ``layer_pred`` 0 (the format holds class indices only;
        the NaN accuracy says it is no prediction). ``pred`` and ``correct`` have no missing value, so every (model,
        condition) of the folder must have its outputs: when the models and conditions that
        have some lack some pairs, the save is refused, naming the pairs and how to compute
        them (or select a part of the cube with ``live.sel(...)``, which computes its cells).
        A cell evicted from memory (``cache_bytes``) is read back from the unit store when
        the study has a ``cache_dir`` (see :meth:`computed`), and counts as not computed
        without one.

        Examples
        --------
        >>> live = study.live()                                       # doctest: +SKIP
        >>> live.slice("lenet", "penultimate", 0.5, "fog", 2)         # doctest: +SKIP
        >>> live.save("cube/")  # what was computed so far            # doctest: +SKIP
        """
        self._computed_cube("LiveCube.save").save(path)

    def _computed_cube(self, caller: str) -> GeometryCube:
        """The cells kept now, as an in-memory cube (see :meth:`save`)."""
        live = self._arrays
        m, ly, k = len(self.models), len(self.layers), len(self.conditions)
        # one look at each part, so an eviction between two reads cannot tear a cell
        got = {(a, c, p): live.kept(a, c, p) for a, c in np.ndindex(m, k)
               for p in (*self.layers, OUTPUTS_PART)}
        outputs = np.array([[got[(a, c, OUTPUTS_PART)] is not None for c in range(k)]
                            for a in range(m)], bool).reshape(m, k)
        if not outputs.any():
            raise ValueError(f"{caller}: no cell of this live cube was computed yet, so there is "
                             "nothing to write; read some cells first (a view, "
                             "live.cell(model, layer, condition), live.sel(...))")
        mi, ki = np.flatnonzero(outputs.any(1)), np.flatnonzero(outputs.any(0))
        lacking = [(self.models[a], self.conditions[c].label)
                   for a in mi for c in ki if not outputs[a, c]]
        if lacking:
            a, c = next((a, c) for a in mi for c in ki if not outputs[a, c])
            cond = self.conditions[c]
            raise ValueError(
                f"{caller}: the models {[self.models[a] for a in mi]} and conditions "
                f"{[self.conditions[c].label for c in ki]} have cells computed, but no cell of "
                f"(model, condition) {lacking} was computed, and a cube's pred and correct have "
                f"no missing value; compute one cell of each (e.g. live.slice("
                f"{self.models[a]!r}, {self.layers[self.coords.default_layer]!r}, {cond.sparsity!r}, "
                f"{cond.benchmark!r}, {cond.severity!r})), or save a part whose cells are all "
                "computed, e.g. live.sel(model=..., sparsity=..., benchmark=..., "
                "severity=...).save(path) (sel computes the cells it selects)")
        arrays: dict[str, np.ndarray] = {}
        for name in (*LAYER_METRICS, LAYER_PRED):
            fill = 0 if name == LAYER_PRED else np.nan  # the format holds classes only
            arrays[name] = np.full((len(mi), ly, len(ki), len(self.labels)), fill, DTYPES[name])
        for name in OUTPUTS:
            arrays[name] = np.zeros((len(mi), len(ki), len(self.labels)), DTYPES[name])
        done = np.zeros((len(mi), ly, len(ki)), bool)
        for a, mm in enumerate(mi):
            for c, kk in enumerate(ki):
                for name, value in got[(mm, kk, OUTPUTS_PART)].items():
                    arrays[name][a, c] = value
                for b, layer in enumerate(self.layers):
                    part = got[(mm, kk, layer)]
                    if part is not None:
                        done[a, b, c] = True
                        for name in (*LAYER_METRICS, LAYER_PRED):
                            if name in part:
                                arrays[name][a, b, c] = part[name]
        if live.probed is None:
            arrays.pop(LAYER_PRED)
            accuracy = None
        else:
            probed = live.probed[np.ix_(mi, np.arange(ly))][:, :, None]
            hits = np.mean(arrays[LAYER_PRED] == self.labels, axis=-1, dtype=np.float64)
            accuracy = np.where(done & probed, hits, np.nan)
        images = self._optional["images"]
        return GeometryCube(
            models=[self.models[a] for a in mi], layers=self.layers,
            conditions=[self.conditions[c] for c in ki], labels=self.labels,
            class_names=self.class_names, sample_ids=self.sample_ids,
            model_info=[self.model_info[a] for a in mi], dataset=self.dataset,
            images=images, probe_accuracy=accuracy, **arrays)

    def export_slab(self, slab: Any) -> dict[str, Any]:
        """What an exported page of a view of this cube holds (``GeoView.to_html``): the
        slab's arrays of the cells computed so far only, packed ``[C, N]`` (one row per
        computed cell), as ``_slab``, and where each cell's row is, int32 ``[M, L, K]`` (-1:
        not computed), as ``_computed``: the page says that the others were not computed.
        Nothing is computed here; a page of a 200-sample cube of 1,000 cells holds only the
        few cells computed, not 1,000 rows of NaN."""
        done = self.computed()
        index = np.full(done.shape, -1, np.int32)
        cells = list(zip(*np.nonzero(done), strict=True))
        for row, cell in enumerate(cells):
            index[cell] = row
        n = slab.shape[3]
        packed: dict[str, list[np.ndarray]] = {
            name: [] for name in slab.dims() if name not in slab.stand_ins}
        for a, b, c in cells:
            for name, arr in slab.sent(slab.cell(int(a), int(b), int(c))).items():
                packed[name].append(arr)
        full = {name: np.stack(rows) if rows else np.zeros((0, n), np.float32)
                for name, rows in packed.items()}
        return {"_slab": full, "_computed": {"index": index}}

    @property
    def probe_accuracy(self) -> np.ndarray | None:  # type: ignore[override]
        """Held-out accuracy of each probe ``[M, L, K]`` at the cells computed so far (NaN
        elsewhere and at layers that use the model's head); None without probe layers."""
        live = self._arrays
        if live.probed is None:
            return None
        out = np.full((len(self.models), len(self.layers), len(self.conditions)), np.nan)
        for m, ly, k in zip(*np.nonzero(self.computed()), strict=True):
            part = live.kept(m, k, self.layers[ly]) if live.probed[m, ly] else None
            if part is not None:
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


