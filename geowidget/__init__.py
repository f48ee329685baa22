"""geowidget: compare neural-network classifiers by the geometry of their latent features.

Public names are imported lazily, so ``import geowidget`` stays fast and pulls in torch or
the widget stack only when a name that needs them is first used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # engine
    "extract_features": "geowidget.engine.features",
    "get_layer_names": "geowidget.engine.features",
    "geometry": "geowidget.engine.geometry",
    "Geometry": "geowidget.engine.geometry",
    "geometry_from_model": "geowidget.engine.head",
    "find_head": "geowidget.engine.head",
    "layer_margin": "geowidget.engine.layer_margin",
    "adversarial_distance": "geowidget.engine.adversarial",
    "AdversarialDistance": "geowidget.engine.adversarial",
    "linear_probe": "geowidget.engine.probe",
    "cross_fit": "geowidget.engine.probe",
    "fit_probe": "geowidget.engine.probe",
    "prune_masks": "geowidget.engine.pruning",
    "pruned": "geowidget.engine.pruning",
    "corrupt": "geowidget.engine.corruptions",
    "CORRUPTIONS": "geowidget.engine.corruptions",
    "model_embedding": "geowidget.analysis.embedding",
    "distances": "geowidget.analysis.embedding",
    "layout": "geowidget.analysis.embedding",
    "mst": "geowidget.analysis.embedding",
    "Embedding": "geowidget.analysis.embedding",
    "benchmark_similarity": "geowidget.analysis.embedding",
    "occlusion": "geowidget.engine.attribution",
    # analyses
    "project": "geowidget.analysis.projection",
    "distortion": "geowidget.analysis.projection",
    "Distortion": "geowidget.analysis.projection",
    "evaluation_grid": "geowidget.analysis.evaluation",
    # data structures and studies
    "GeometryCube": "geowidget.cube",
    "Study": "geowidget.study",
    "GeometryTracker": "geowidget.study",
    "LocalRunner": "geowidget.study", "RayRunner": "geowidget.study",
    "Checkpoints": "geowidget.engine.checkpoints",
    "load_mnist": "geowidget.datasets",
    "load_digits": "geowidget.datasets",
    # widgets
    "PolarPlot": "geowidget.widgets",
    "MarginHistogram": "geowidget.widgets",
    "LayerProfile": "geowidget.widgets",
    "ModelMap": "geowidget.widgets",
    "Explorer": "geowidget.widgets",
    "ParallelCoordinates": "geowidget.widgets",
    "AttributionView": "geowidget.widgets",
    "SideBySide": "geowidget.widgets",
    "link": "geowidget.widgets",
    "EvaluationTable": "geowidget.widgets",
    "ProjectionView": "geowidget.widgets",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'geowidget' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
