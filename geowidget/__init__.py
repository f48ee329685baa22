"""geowidget: compare neural-network classifiers by the geometry of their latent features.

Public names are imported lazily (PEP 562), so ``import geowidget`` stays fast and pulls in
torch or the widget stack only when a name that needs them is first used. Opening a saved
cube, its analyses and every view need no torch; the names that run models (studies and
the engine) need the ``torch`` extra: ``pip install "geowidget[torch]"``.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it, grouped as a user meets them (__init__.pyi mirrors it)
_EXPORTS: dict[str, str] = {
    # cubes: the per-sample geometry of (model, layer, condition), saved and opened
    "GeometryCube": "geowidget.cube",
    "Coords": "geowidget.coords",
    "Condition": "geowidget.coords",
    "demo_cube": "geowidget.demo",
    # views (no torch), and linking them
    "PolarPlot": "geowidget.widgets",
    "MarginHistogram": "geowidget.widgets",
    "ParallelCoordinates": "geowidget.widgets",
    "LayerProfile": "geowidget.widgets",
    "ModelMap": "geowidget.widgets",
    "ProjectionView": "geowidget.widgets",
    "EvaluationTable": "geowidget.widgets",
    "AttributionView": "geowidget.widgets",
    "SideBySide": "geowidget.widgets",
    "Explorer": "geowidget.widgets",
    "link": "geowidget.widgets",
    # analyses of a cube or of features (no torch)
    "model_embedding": "geowidget.analysis.embedding",
    "benchmark_similarity": "geowidget.analysis.embedding",
    "project": "geowidget.analysis.projection",
    "distortion": "geowidget.analysis.projection",
    # studies: models and data in, a cube out (torch extra)
    "Study": "geowidget.study",
    "GeometryTracker": "geowidget.study",
    "LocalRunner": "geowidget.study",
    "RayRunner": "geowidget.study",
    "Checkpoints": "geowidget.engine.checkpoints",
    # one model measured directly (torch extra)
    "get_layer_names": "geowidget.engine.features",
    "extract_features": "geowidget.engine.features",
    "geometry": "geowidget.engine.geometry",
    "geometry_from_model": "geowidget.engine.head",
    "layer_margin": "geowidget.engine.layer_margin",
    "adversarial_distance": "geowidget.engine.adversarial",
    "occlusion": "geowidget.engine.attribution",
    "prune_masks": "geowidget.engine.pruning",
    "pruned": "geowidget.engine.pruning",
    "corrupt": "geowidget.engine.corruptions",
    "CORRUPTIONS": "geowidget.engine.corruptions",
    # bundled data sets (torch extra)
    "load_digits": "geowidget.datasets",
    "load_mnist": "geowidget.datasets",
}

# Names that left the namespace: result records a user receives but never builds, and the
# building blocks of the views and probes. Still importable from their modules; through
# ``geowidget.<name>`` they warn for one release, then go.
_MOVED: dict[str, str] = {
    "Geometry": "geowidget.engine.geometry",
    "AdversarialDistance": "geowidget.engine.adversarial",
    "Embedding": "geowidget.analysis.embedding",
    "Distortion": "geowidget.analysis.projection",
    "find_head": "geowidget.engine.head",
    "linear_probe": "geowidget.engine.probe",
    "cross_fit": "geowidget.engine.probe",
    "fit_probe": "geowidget.engine.probe",
    "distances": "geowidget.analysis.embedding",
    "layout": "geowidget.analysis.embedding",
    "mst": "geowidget.analysis.embedding",
    "evaluation_grid": "geowidget.analysis.evaluation",
}

__all__ = list(_EXPORTS)

_ENGINE = ("torch", "torchvision")


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name) or _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module 'geowidget' has no attribute {name!r}")
    if name in _MOVED:
        warnings.warn(f"geowidget.{name} is deprecated and leaves the top-level namespace: "
                      f"use `from {module} import {name}`", DeprecationWarning, stacklevel=2)
    try:
        value = getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as err:
        if err.name not in _ENGINE:
            raise
        raise ModuleNotFoundError(
            f"geowidget.{name} runs models and needs {err.name}: pip install "
            f"'geowidget[torch]' (opening a saved cube and its views needs no torch)",
            name=err.name) from err
    if name in _EXPORTS:
        globals()[name] = value  # later lookups skip __getattr__; moved names keep warning
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
