"""Type stub of the lazy public namespace: the names of ``geowidget.__all__`` and where
they are defined (geowidget/__init__.py loads them on first use)."""

# ruff: noqa: I001  (imports grouped as in __init__.py, not sorted)
from typing import Final

# cubes: the per-sample geometry of (model, layer, condition), saved and opened
from geowidget.cube import GeometryCube as GeometryCube
from geowidget.coords import Coords as Coords
from geowidget.coords import Condition as Condition
from geowidget.demo import demo_cube as demo_cube

# views (no torch), and linking them
from geowidget.widgets import PolarPlot as PolarPlot
from geowidget.widgets import MarginHistogram as MarginHistogram
from geowidget.widgets import ParallelCoordinates as ParallelCoordinates
from geowidget.widgets import LayerProfile as LayerProfile
from geowidget.widgets import ModelMap as ModelMap
from geowidget.widgets import ProjectionView as ProjectionView
from geowidget.widgets import EvaluationTable as EvaluationTable
from geowidget.widgets import AttributionView as AttributionView
from geowidget.widgets import SideBySide as SideBySide
from geowidget.widgets import Explorer as Explorer
from geowidget.widgets import link as link

# analyses of a cube or of features (no torch)
from geowidget.analysis.embedding import model_embedding as model_embedding
from geowidget.analysis.embedding import benchmark_similarity as benchmark_similarity
from geowidget.analysis.projection import project as project
from geowidget.analysis.projection import distortion as distortion

# studies: models and data in, a cube out (torch extra)
from geowidget.study import Study as Study
from geowidget.study import GeometryTracker as GeometryTracker
from geowidget.study import LocalRunner as LocalRunner
from geowidget.study import RayRunner as RayRunner
from geowidget.engine.checkpoints import Checkpoints as Checkpoints

# one model measured directly (torch extra)
from geowidget.engine.features import get_layer_names as get_layer_names
from geowidget.engine.features import extract_features as extract_features
from geowidget.engine.geometry import geometry as geometry
from geowidget.engine.head import geometry_from_model as geometry_from_model
from geowidget.engine.layer_margin import layer_margin as layer_margin
from geowidget.engine.adversarial import adversarial_distance as adversarial_distance
from geowidget.engine.attribution import occlusion as occlusion
from geowidget.engine.pruning import prune_masks as prune_masks
from geowidget.engine.pruning import pruned as pruned
from geowidget.engine.corruptions import corrupt as corrupt
from geowidget.engine.corruptions import CORRUPTIONS as CORRUPTIONS

# bundled data sets (torch extra)
from geowidget.datasets import load_digits as load_digits
from geowidget.datasets import load_mnist as load_mnist

__version__: Final[str]

__all__ = [
    "GeometryCube",
    "Coords",
    "Condition",
    "demo_cube",
    "PolarPlot",
    "MarginHistogram",
    "ParallelCoordinates",
    "LayerProfile",
    "ModelMap",
    "ProjectionView",
    "EvaluationTable",
    "AttributionView",
    "SideBySide",
    "Explorer",
    "link",
    "model_embedding",
    "benchmark_similarity",
    "project",
    "distortion",
    "Study",
    "GeometryTracker",
    "LocalRunner",
    "RayRunner",
    "Checkpoints",
    "get_layer_names",
    "extract_features",
    "geometry",
    "geometry_from_model",
    "layer_margin",
    "adversarial_distance",
    "occlusion",
    "prune_masks",
    "pruned",
    "corrupt",
    "CORRUPTIONS",
    "load_digits",
    "load_mnist",
]
