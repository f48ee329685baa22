"""Studies: evaluate models over pruning levels and corruptions, unit by unit, locally or on Ray.

- :mod:`~geowidget.study.units`: a work unit (a model at one condition on one shard) and the
  pure function that evaluates it;
- :mod:`~geowidget.study.shards`: the data, read once, shard by shard;
- :mod:`~geowidget.study.store`: the checksummed, atomic unit store (local or any
  ``pyarrow.fs`` URI), which makes runs resumable;
- :mod:`~geowidget.study.runners`: where units run: in this process, or on a Ray cluster;
- :mod:`~geowidget.study.study`: :class:`Study`, the user-facing sweep that returns a
  :class:`~geowidget.cube.GeometryCube`.
"""

from geowidget.study.study import Study
from geowidget.study.units import WorkUnit, evaluate_unit

__all__ = ["Study", "WorkUnit", "evaluate_unit"]
