"""The torch engine: features, geometry, margins, probes, pruning, corruptions, attribution.

Pure torch and numpy; nothing here imports the widget stack. The API lives in the modules.
"""

__all__: list[str] = []  # a namespace of modules: import from geowidget.engine.<module>
