"""The viewer's path, run by tests/test_no_torch.py in an environment without torch.

``python -m tests.viewer_without_torch OUT`` saves a small cube made with the cube API,
opens it, runs the analyses of the public namespace on it, reads it back as the cached demo
cube, builds every view kind and writes each one's ``to_html`` under OUT. It prints one JSON line: what it found, and every
attempt any module made to import torch or torchvision (a finder first on ``sys.meta_path``
records each attempt, with the file that asked, before the import fails or succeeds).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import traceback
from pathlib import Path

ENGINE = ("torch", "torchvision")


class RecordEngineImports:
    """A meta-path finder that finds nothing: it only notes who asks for the engine."""

    def __init__(self) -> None:
        self.attempts: list[dict[str, str]] = []

    def find_spec(self, name, path=None, target=None):  # noqa: ANN001, ANN201 -- finder API
        if name.split(".")[0] in ENGINE:
            frames = [f for f in traceback.extract_stack()[:-1]
                      if not f.filename.startswith("<frozen") and f.filename != __file__]
            self.attempts.append({"module": name,
                                  "by": frames[-1].filename if frames else "?"})
        return None


def make_cube(n: int = 40):
    """Three models, two layers, four conditions, ``n`` samples with 8x8 images."""
    import numpy as np

    from geowidget.cube import Condition, GeometryCube

    rng = np.random.default_rng(0)
    conds = [Condition(0.0, "clean", 0), Condition(0.5, "clean", 0), Condition(0.0, "fog", 3),
             Condition(0.0, "gaussian_noise", 3)]
    shape = (3, 2, len(conds), n)
    labels = np.arange(n) % 3
    angle = rng.uniform(0.05, np.pi - 0.05, shape).astype(np.float32)
    margin = rng.normal(0.5, 1.0, shape).astype(np.float32)
    pred = np.where(rng.random((3, len(conds), n)) < 0.8, labels, (labels + 1) % 3)
    return GeometryCube(
        models=["a", "b", "c"], layers=["conv", "penultimate"], conditions=conds,
        labels=labels, class_names=["x", "y", "z"], angle=angle,
        angle_pred=np.clip(angle * 0.9, 0, np.pi), avh=np.full(shape, 0.3, np.float32),
        angle_gap=np.zeros(shape, np.float32),
        norm=rng.uniform(0.5, 5.0, shape).astype(np.float32), margin=margin, pred=pred,
        correct=pred == labels, logit_margin=margin[:, 0],
        images=(rng.random((n, 8, 8)) * 255).astype(np.uint8))


def view_kinds() -> dict[str, str]:
    """Class name -> ``_kind`` of every view class the widgets package exports."""
    import geowidget.widgets as widgets

    kinds = {}
    for name in widgets.__all__:
        cls = getattr(widgets, name)
        trait = getattr(cls, "class_traits", lambda: {})().get("_kind")
        if trait is not None and trait.default_value:
            kinds[name] = trait.default_value
    return kinds


def main(out: Path) -> dict:
    torch_found = importlib.util.find_spec("torch") is not None  # asked before recording
    recorder = RecordEngineImports()
    sys.meta_path.insert(0, recorder)
    import numpy as np

    import geowidget as gw
    from geowidget.widgets import SamplePanel

    cube = make_cube()
    cube.save(out / "cube")
    opened = gw.GeometryCube.open(out / "cube")
    n = len(opened.labels)
    xy = np.random.default_rng(1).normal(size=(3, 2, n, 2)).astype(np.float32)
    features = np.random.default_rng(2).normal(size=(n, 6))
    analyses = {
        "correlations": list(opened.correlations(target="robustness", n_boot=10).shape),
        "model_embedding": list(gw.model_embedding(opened).matrix.shape),
        "benchmark_similarity": list(np.shape(gw.benchmark_similarity(opened))),
        "project": list(gw.project(features, "pca").shape),
        "distortion_k": gw.distortion(features, gw.project(features, "pca"), k=5).k,
    }
    views = {
        "PolarPlot": gw.PolarPlot(opened),
        "MarginHistogram": gw.MarginHistogram(opened),
        "ParallelCoordinates": gw.ParallelCoordinates(opened),
        "LayerProfile": gw.LayerProfile(opened),
        "ModelMap": gw.ModelMap(opened),
        "ProjectionView": gw.ProjectionView(opened, method="pca", xy=xy),
        "EvaluationTable": gw.EvaluationTable(opened),
        "AttributionView": gw.AttributionView(image=opened.images[0],
                                              delta_angle=np.zeros((8, 8), np.float32),
                                              delta_margin=np.ones((8, 8), np.float32)),
        "SamplePanel": SamplePanel(opened),
    }
    composites = {"SideBySide": gw.SideBySide(opened), "Explorer": gw.Explorer(opened),
                  "link": gw.link(views["PolarPlot"], views["MarginHistogram"])}
    # the demo cube, once cached, opens without torch too (its cache key reads the zoo's
    # manifest and weights as files); here the cache holds this cube
    from geowidget.demo import CACHE_ENV, cube_path

    os.environ[CACHE_ENV] = str(out / "cache")
    cube_path().parent.mkdir(parents=True)
    cube.to_parquet(str(cube_path()))
    demo_equal = bool(gw.demo_cube(progress=False).equals(cube))
    pages = {}
    for name, view in {**views, **composites}.items():
        page = Path(view.to_html(out / f"{name}.html", title=name)).read_text(encoding="utf-8")
        pages[name] = {"bytes": len(page), "kinds": sorted(
            k for k in set(view_kinds().values()) if f'"_kind": "{k}"' in page)}
    return {
        "torch_found": torch_found,
        "engine_loaded": sorted(m for m in sys.modules if m.split(".")[0] in ENGINE),
        "engine_attempts": recorder.attempts,
        "equal": bool(opened.equals(cube)),
        "demo_equal": demo_equal,
        "shape": list(opened.angle.shape),
        "analyses": analyses,
        "view_kinds": view_kinds(),
        "built": {name: type(v).__name__ for name, v in views.items()},
        "pages": pages,
    }


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
