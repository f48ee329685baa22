"""Where a GeometryCube's per-cell arrays come from: the array backends.

A cube reads its partitioned arrays (the layer metrics, the outputs and ``layer_pred``; see
:mod:`geowidget.cube_schema`) through one small protocol, :class:`CubeArrays`, so the cube
does not care whether they are in memory, read from a saved dataset, or filled in while a
study runs. A backend has:

- ``names``: the arrays it holds (every one of ``ARRAYS``, plus ``"layer_pred"`` in a cube
  with probe layers);
- ``location``: where an opened cube is read from, or None;
- ``full(name)``: the whole array, ``[M, L, K, N]`` for a layer array, ``[M, K, N]`` for an
  output;
- ``block(name, mi, li, ki)``: the same at the given model, layer and condition positions
  (lists of int; ``li`` is ignored for the outputs);
- ``cell(model, layer, condition, names)``: ``{name: [N]}`` for one (model, layer,
  condition), the read behind :meth:`GeometryCube.cell` (one partition file when opened).

Positions are already checked by the cube; a backend only reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

from geowidget.cube_schema import ARRAYS, DTYPES, LAYER_PRED, array_dims

if TYPE_CHECKING:  # pyarrow is imported only when a cube is saved or opened
    from geowidget.cube_format import CubeReader

__all__ = ["CubeArrays", "DatasetArrays", "MemoryArrays"]


class CubeArrays(Protocol):
    """The protocol every array backend implements (see the module doc).

    Examples
    --------
    >>> import numpy as np
    >>> backend: CubeArrays = MemoryArrays({"pred": np.zeros((1, 2, 3), np.int32)})
    >>> backend.block("pred", [0], [0], [1]).shape
    (1, 1, 3)
    """

    names: tuple[str, ...]
    location: str | None

    def full(self, name: str) -> np.ndarray:
        """The whole array ``name``: ``[M, L, K, N]`` or ``[M, K, N]``."""

    def block(self, name: str, mi: list[int], li: list[int], ki: list[int]) -> np.ndarray:
        """Array ``name`` at model, layer and condition positions (``li`` ignored for the
        outputs): ``[len(mi), len(li), len(ki), N]`` or ``[len(mi), len(ki), N]``."""

    def cell(self, model: int, layer: int, condition: int,
             names: list[str]) -> dict[str, np.ndarray]:
        """``{name: [N]}`` of one (model, layer, condition) for each of ``names``."""


def _layered(name: str) -> bool:
    return "layer" in array_dims(name)


class MemoryArrays:
    """The arrays of an in-memory cube, ``{name: array}`` of the full shapes.

    Examples
    --------
    >>> import numpy as np
    >>> arrays = MemoryArrays({"pred": np.arange(6, dtype=np.int32).reshape(1, 2, 3)})
    >>> arrays.cell(0, 0, 1, ["pred"])["pred"].tolist()
    [3, 4, 5]
    """

    location = None

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays
        self.names = tuple(arrays)

    def full(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def block(self, name: str, mi: list[int], li: list[int], ki: list[int]) -> np.ndarray:
        arr = self.arrays[name]
        return arr[np.ix_(mi, li, ki)] if _layered(name) else arr[np.ix_(mi, ki)]

    def cell(self, model: int, layer: int, condition: int,
             names: list[str]) -> dict[str, np.ndarray]:
        return {name: self.arrays[name][model, layer, condition] if _layered(name)
                else self.arrays[name][model, condition] for name in names}


class DatasetArrays:
    """The arrays of an opened cube: read from its partitions when asked for, never kept.

    Examples
    --------
    >>> arrays = DatasetArrays(CubeReader("runs/mnist-cube"), layers)   # doctest: +SKIP
    >>> arrays.cell(0, 2, 0, ["angle", "pred"])["angle"].shape          # doctest: +SKIP
    (1500,)
    """

    def __init__(self, reader: CubeReader, layers: list[str]) -> None:
        self.reader, self.layers = reader, layers
        self.location = reader.location
        self.n = len(reader.labels)
        self.names = ARRAYS + ((LAYER_PRED,) if reader.meta.get(LAYER_PRED) else ())

    def full(self, name: str) -> np.ndarray:
        m, k = len(self.reader.meta["models"]), len(self.reader.meta["conditions"])
        return self.block(name, list(range(m)), list(range(len(self.layers))), list(range(k)))

    def block(self, name: str, mi: list[int], li: list[int], ki: list[int]) -> np.ndarray:
        from geowidget.cube_format import column

        layered = _layered(name)
        shape = (len(mi), len(li), len(ki), self.n) if layered else (len(mi), len(ki), self.n)
        out = np.empty(shape, DTYPES[name])
        cols = [column(name, self.layers[i]) for i in li] if layered else [name]
        for a, m in enumerate(mi):
            for c, k in enumerate(ki):
                got = self.reader.read_partition(m, k, cols)
                if layered:
                    for b, col in enumerate(cols):
                        out[a, b, c] = got[col]
                else:
                    out[a, c] = got[name]
        return out

    def cell(self, model: int, layer: int, condition: int,
             names: list[str]) -> dict[str, np.ndarray]:
        from geowidget.cube_format import column

        cols = [column(name, self.layers[layer]) if _layered(name) else name for name in names]
        got = self.reader.read_partition(model, condition, cols)
        return {name: got[col] for name, col in zip(names, cols, strict=True)}
