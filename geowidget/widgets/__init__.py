"""Jupyter widgets (anywidget) that draw latent-feature geometry; see ``DESIGN.md``.

Every view loads the one bundled module ``geowidget/static/widgets.js``.
"""

from geowidget.widgets import base  # noqa: F401 (deprecated: gw.widgets.base.X still resolves)
from geowidget.widgets.attribution import AttributionView
from geowidget.widgets.evaluation import EvaluationTable
from geowidget.widgets.explorer import Explorer, SamplePanel
from geowidget.widgets.histogram import MarginHistogram
from geowidget.widgets.layerprofile import LayerProfile
from geowidget.widgets.link import Link, link
from geowidget.widgets.modelmap import ModelMap
from geowidget.widgets.parallel import ParallelCoordinates
from geowidget.widgets.polar import PolarPlot
from geowidget.widgets.projection import ProjectionView
from geowidget.widgets.sidebyside import SideBySide

__all__ = [
    "AttributionView",
    "EvaluationTable",
    "Explorer",
    "LayerProfile",
    "Link",
    "MarginHistogram",
    "ModelMap",
    "ParallelCoordinates",
    "PolarPlot",
    "ProjectionView",
    "SamplePanel",
    "SideBySide",
    "link",
]
