"""Studies: evaluate models over pruning levels and corruptions, unit by unit, locally or on Ray.

- :mod:`~geowidget.study.units`: a work unit (a model at one condition on one shard) and the
  pure function that evaluates it;
- :mod:`~geowidget.study.shards`: the data, read once, shard by shard;
- :mod:`~geowidget.study.store`: the checksummed, atomic unit store (local or any
  ``pyarrow.fs`` URI), which makes runs resumable;
- :mod:`~geowidget.study.runners`: where units run: :class:`LocalRunner` in this process,
  :class:`RayRunner` on a Ray cluster;
- :mod:`~geowidget.study.plan`: what a study's parameters resolve to once the data and the
  models are read (the work that starts in ``run()``);
- :mod:`~geowidget.study.study`: :class:`Study`, the user-facing sweep that returns a
  :class:`~geowidget.cube.GeometryCube`;
- :mod:`~geowidget.study.tracker`: :class:`GeometryTracker`, a Study of one model at each
  step of its training.
"""

from geowidget.study.runners import LocalRunner, RayRunner
from geowidget.study.study import Study
from geowidget.study.tracker import GeometryTracker
from geowidget.study.units import WorkUnit, evaluate_unit

__all__ = ["GeometryTracker", "LocalRunner", "RayRunner", "Study", "WorkUnit", "evaluate_unit"]
