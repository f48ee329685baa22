"""Analyses of GeometryCubes: numpy and scipy only, never torch.

Each module takes a cube (or its arrays) and returns numbers, tables or layouts for the
views: per-sample scores and correlation tables, model and benchmark embeddings,
projections and their distortion, training dynamics.
"""

__all__: list[str] = []  # a namespace of modules: import from geowidget.analysis.<module>
