"""Deprecated location of :class:`~geowidget.study.GeometryTracker`: it lives in
:mod:`geowidget.study.tracker` now. Importing from here still works for one release, with a
DeprecationWarning that names the new spelling."""

from __future__ import annotations

import warnings
from typing import Any

__all__ = ["GeometryTracker", "preserved_rng"]  # noqa: F822 -- served by __getattr__


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'geowidget.tracker' has no attribute {name!r}")
    from geowidget.study import tracker

    warnings.warn(f"geowidget.tracker.{name} moved: import it from geowidget.study.tracker "
                  f"(or `from geowidget.study import {name}`); geowidget.tracker goes in the "
                  "next release", DeprecationWarning, stacklevel=2)
    return getattr(tracker, name)
