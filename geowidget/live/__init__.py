"""Live cubes: a Study's cells computed by the engine the first time anyone asks for them.

- :mod:`geowidget.live.cube`: :class:`LiveCube`, the GeometryCube that
  :meth:`Study.live() <geowidget.study.Study.live>` returns;
- :mod:`geowidget.live.arrays`: :class:`LiveArrays`, the array backend that computes a cell
  with the run's own code and keeps it (memory, and the unit store with ``cache_dir``);
- :mod:`geowidget.live.cache`: :class:`ByteLRU`, the memory bound;
- :mod:`geowidget.live.requests`: :class:`CellRequests`, the worker thread that answers the
  views' cell requests, the newest pick of a view first.
"""

from geowidget.live.arrays import Cancelled, LiveArrays, LiveCellError, ModelChangedError
from geowidget.live.cache import ByteLRU, default_bytes
from geowidget.live.cube import LiveCube

__all__ = ["ByteLRU", "Cancelled", "LiveArrays", "LiveCellError", "LiveCube",
           "ModelChangedError", "default_bytes"]
