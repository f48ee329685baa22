"""The views of the contract test: one of each kind on one small cube, linked.

Imported by the test (exported HTML) and by the kernel of the JupyterLab notebook it runs, so
both hosts show the same views.
"""

from __future__ import annotations

import numpy as np
import torch

import geowidget as gw
from tests.fixtures.synthetic import make_cube

KINDS = ("polar", "histogram", "parallel", "modelmap", "attribution", "panel", "evaltable",
         "projection", "layerprofile")
MODES = {"full": 64 * 2**20, "lazy": 1}  # budget: every cell sent at once, or on demand


def contract_cube():
    # seed 3: sorting the evaluation table's rows by accuracy moves them (seed 0 keeps them)
    return make_cube(m=2, layers=2, n=48, classes=3, seed=3)


def contract_xy(cube) -> np.ndarray:
    """Projection positions [M, L, N, 2], another map per (model, layer)."""
    m, ly, _, n = cube.angle.shape
    return np.random.default_rng(1).normal(size=(m, ly, n, 2)).astype(np.float32)


def linked_views(budget: int) -> gw.Link:
    """Polar plot, histogram, parallel coordinates, model map, attribution, sample panel,
    evaluation table, projection and layer profile of one cube, linked on model, layer,
    condition and classes."""
    cube = contract_cube()
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 12), torch.nn.ReLU(),
                              torch.nn.Linear(12, 3))
    inputs = torch.as_tensor(cube.images, dtype=torch.float32)[:, None] / 255
    views = [
        gw.PolarPlot(cube, budget=budget, point_size=5.0, height=300, thumbnails=False),
        gw.MarginHistogram(cube, budget=budget, height=220, bins=12),
        gw.ParallelCoordinates(cube, budget=budget, height=240),
        gw.ModelMap(xy=[[0.0, 0.0], [1.0, 1.0]], edges=[[0, 1]], names=cube.models,
                    point_model=np.arange(2), height=220,
                    color_by={"accuracy": [0.9, 0.7], "method": ["random", "magnitude"]}),
        gw.AttributionView(net, inputs, cube.labels, class_names=cube.class_names,
                           sample_ids=cube.sample_ids, patch=3, stride=2, scale=8),
        gw.widgets.SamplePanel(cube),
        # the table sends binned counts, never cells: it has no budget and is the same in
        # both modes
        gw.EvaluationTable(cube, height=200),
        gw.ProjectionView(cube, method="pca", xy=contract_xy(cube), budget=budget,
                          point_size=5.0, height=260, thumbnails=False),
        gw.LayerProfile(cube, budget=budget, height=220, thumbnails=False),
    ]
    return gw.link(*views, keys=("model", "layer", "condition", "classes"))
