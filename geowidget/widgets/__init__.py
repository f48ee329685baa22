"""Jupyter widgets (anywidget) that draw latent-feature geometry; see ``DESIGN.md``.

Every view loads the one bundled module ``geowidget/static/widgets.js``.
"""

from geowidget.widgets.explorer import Explorer, SamplePanel
from geowidget.widgets.histogram import MarginHistogram
from geowidget.widgets.modelmap import ModelMap
from geowidget.widgets.polar import PolarPlot

__all__ = ["Explorer", "MarginHistogram", "ModelMap", "PolarPlot", "SamplePanel"]
