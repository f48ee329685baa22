"""The gallery: every view of the demo study, in light and dark, as live HTML for the site.

Each view is exported with the widgets' own standalone exporter
(:func:`geowidget.widgets.export.export_state`, what ``to_html()`` writes), so the page holds the
view's whole state (every model, layer and condition cell) and needs no kernel. The cube is
sampled first (:func:`sample_cube`) so that a page stays small; the page says how many samples
it shows.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

SAMPLES = 300  # samples per gallery page: two themes of the largest view stay well under 5 MB
SEED = 0
THEMES = ("light", "dark")


def sample_cube(cube: Any, n: int = SAMPLES, seed: int = SEED) -> Any:
    """``cube`` with at most ``n`` of its samples, drawn without replacement, in their order."""
    total = len(cube.sample_ids)
    if n >= total:
        return cube
    keep = np.sort(np.random.default_rng(seed).choice(total, size=n, replace=False))
    return cube.sel(sample=keep)


def _density(cube: Any) -> list[Any]:
    import geowidget as gw

    m, _, k, _ = cube.angle.shape
    return [gw.PolarPlot(angle=cube.angle[:, -1].ravel(), norm=cube.norm[:, -1].ravel(),
                         labels=np.tile(cube.labels, m * k), class_names=cube.class_names,
                         density="on", thumbnails=False)]


def _projection(cube: Any) -> list[Any]:
    """PCA of each model's penultimate features on the demo probe images, as a ProjectionView
    (the demo cube stores no projections: the features are recomputed here, in seconds)."""
    import geowidget as gw
    from geowidget import zoo
    from geowidget.demo import probe_subset

    data = probe_subset()  # the images the demo study ran on; sample id = position
    pos = np.asarray(cube.sample_ids)
    images = data.images[pos]
    if not np.array_equal((images.numpy()[:, 0] * 255).round().astype(np.uint8), cube.images):
        raise RuntimeError("the demo probe images no longer match the demo cube's samples")
    xy = []
    for name, info in zip(cube.models, cube.model_info, strict=True):
        layer = info["penultimate"]
        feats = gw.extract_features(zoo.load(name).eval(), images, layers=[layer],
                                    progress=False)[layer]
        xy.append(gw.project(feats, "pca"))
    return [gw.ProjectionView(cube, method="pca", xy=np.stack(xy)[:, None], color_by="correct")]


def _one(name: str, **kwargs: Any) -> Callable[[Any], list[Any]]:
    def make(cube: Any) -> list[Any]:
        import geowidget as gw

        return [getattr(gw, name)(cube, **kwargs)]
    return make


def _group(name: str, **kwargs: Any) -> Callable[[Any], list[Any]]:
    def make(cube: Any) -> list[Any]:
        import geowidget as gw

        widget = getattr(gw, name)(cube, **kwargs)
        return widget.views() if hasattr(widget, "views") else [widget.left, widget.right]
    return make


@dataclass(frozen=True)
class View:
    slug: str
    title: str
    what: str  # one paragraph: what it shows and what to try
    make: Callable[[Any], list[Any]]


VIEWS = [
    View("polar", "Polar plot", "Every sample at its angle θ to its class direction and its "
         "feature norm ρ, zoomed to the data's sector. Hover a point for its image and numbers; "
         "drag a box or lasso to select; switch model, layer or condition with the pickers.",
         _one("PolarPlot", color_by="correct")),
    View("density", "Density mode", "All models and conditions of the last layer in one "
         "picture, binned in the browser: each bin in its points' mean class colour, opacity "
         "by log(count).", _density),
    View("histogram", "Margin histogram", "The signed margin to the decision boundary per "
         "class; the misclassified side is shaded. Drag to select a margin range.",
         _one("MarginHistogram")),
    View("parallel", "Parallel coordinates", "Angle, norm, margin and the robustness axes of "
         "every sample; axes with few values are drawn as bands. Brush an axis to select.",
         _one("ParallelCoordinates")),
    View("layerprofile", "Layer profile", "Angle, norm and margin summarised layer by layer "
         "for each condition (the demo study records one layer; studies with more draw a "
         "line per condition).", _one("LayerProfile")),
    View("evaluation", "Evaluation table", "Accuracy and the distribution of the margin for "
         "every model and condition in one table; click a cell to pick that model and "
         "condition.", _one("EvaluationTable")),
    View("projection", "Projection view", "The same samples placed by a PCA of each model's "
         "penultimate features, coloured as the polar plot; compare what the map keeps with "
         "the exact angles and norms.", _projection),
    View("modelmap", "Model map", "The geometric embedding of the models in 2-D, with its "
         "minimum spanning tree. Click a model to pick it.", _one("ModelMap")),
    View("sidebyside", "Side by side", "The polar plots of two models, linked: a selection in "
         "one shows the same samples in the other.", _group("SideBySide", models=(0, 3))),
    View("explorer", "Explorer", "The linked views of one cube: evaluation table, polar plot, "
         "margin histogram, parallel coordinates, model map and the sample panel. A selection "
         "in any view selects the same samples in the others, and the pickers move together.",
         _group("Explorer")),
]


def state_json(views: list[Any], theme: str) -> str:
    """The exported state of ``views`` drawn in ``theme``, as JSON safe inside a script tag."""
    from geowidget.widgets.export import export_state

    for v in views:
        v.theme = theme
    # every view shows its pickers, as in `geowidget report`: in the Explorer they are
    # ipywidgets dropdowns, which need a kernel
    return json.dumps(export_state(views, show_controls=True)).replace("<", "\\u003c")


def live_html(views: list[Any], theme: str, label: str) -> str:
    """One live block: a root the site's mount script fills from the embedded state."""
    return (f'<div class="gw-live" data-theme="{theme}" aria-label="{html.escape(label)}">'
            f'<script type="application/json" class="gw-state">{state_json(views, theme)}'
            '</script><div class="gw-live-root"></div></div>')


def page(view: View, cube: Any, total: int) -> str:
    """The Markdown of one gallery page: both themes of ``view`` on ``cube``."""
    n = len(cube.sample_ids)
    parts = [f"# {view.title}\n", f"{view.what}\n",
             f'<p class="gw-samples">This page shows <strong>{n}</strong> of the demo study\'s '
             f"{total} samples (drawn at random, seed {SEED}) for each of "
             f"{len(cube.models)} models × {len(cube.layers)} layer(s) × "
             f"{len(cube.conditions)} conditions; every view runs in the page, with no "
             "kernel.</p>\n"]
    for theme in THEMES:
        parts.append(f"## {theme.capitalize()}\n")
        parts.append(live_html(view.make(cube), theme, f"{view.title}, {theme}") + "\n")
    return "\n".join(parts)


def index(cube: Any, total: int) -> str:
    """The Markdown of the gallery's index page."""
    rows = "\n".join(f"- [{v.title}]({v.slug}.md): {v.what}" for v in VIEWS)
    return (
        "# Gallery\n\nEvery view of geowidget on the demo study (four bundled MNIST models, "
        "their pruned versions and corruptions), live in the page: hover, select, pick a "
        "model, layer or condition, and watch linked views follow. No kernel runs; each "
        f"page embeds the views' state for {len(cube.sample_ids)} of the {total} samples "
        "and the widgets' own bundle draws them.\n\n"
        f"{rows}\n\nThe attribution view is not here: it occludes images through a live "
        "model, in the kernel (see "
        "[AttributionView][geowidget.widgets.attribution.AttributionView]).\n"
    )
