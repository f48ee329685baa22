"""The torch engine: features, geometry, margins, pruning, corruptions, scores, embeddings.

Pure torch and numpy; nothing here imports the widget stack.
"""

__all__: list[str] = []  # a namespace of modules: import from geowidget.engine.<module>
