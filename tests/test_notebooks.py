"""Every notebook in notebooks/ runs in a fresh kernel; its outputs are checked.

Each notebook ends with a cell that asserts its key numbers against an independent
computation (a loop, a direct forward pass, a hand-written distance) and prints them; the
tests here parse those printed numbers too. Cells that need the internet are tagged
``skip-execution`` and are not run.
"""

from __future__ import annotations

import ast
import re
import time
from pathlib import Path

import nbformat
import pytest

from geowidget import zoo
from tests.docs_hooks import hook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
notebook_runs = hook("notebook_runs")  # the site's build runs the notebooks the same way

NAMES = ["quickstart", "robustness", "pruning", "model-zoo", "bring-your-own", "projections",
         "training", "adversarial", "live"]
WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(autouse=True)
def _shared_runs(notebook_cache, monkeypatch):
    """Runs kept for the session, which the site's build (tests/browser/test_site.py) reuses."""
    monkeypatch.setenv(notebook_runs.CACHE_ENV, str(notebook_cache))


def run(name: str) -> nbformat.NotebookNode:
    """``name`` executed in a fresh kernel, once per session; raises CellExecutionError, with
    the traceback, when a cell fails."""
    return nbformat.read(notebook_runs.executed(NOTEBOOKS / f"{name}.ipynb"), as_version=4)


def stdout(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")


def widgets(nb: nbformat.NotebookNode) -> int:
    return sum(WIDGET in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
               for o in c.get("outputs", []))


def skipped(cell: nbformat.NotebookNode) -> bool:
    return "skip-execution" in cell.get("metadata", {}).get("tags", [])


@pytest.mark.parametrize("name", NAMES)
def test_notebooks_are_stored_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)


def test_internet_cells_are_tagged():
    tagged = {}
    for name in NAMES:
        nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        for cell in nb.cells:
            online = bool(re.search(r"weights=(?!None)[A-Z]|IMAGENET|ImageFolder", cell.source))
            if cell.cell_type == "code" and online:
                assert skipped(cell), (name, cell.source[:80])
        tagged[name] = sum(skipped(c) for c in nb.cells)
    # only the pretrained-ImageNet-C recipe at the end of bring-your-own needs the internet
    assert tagged == {**dict.fromkeys(NAMES, 0), "bring-your-own": 2}


def test_quickstart_polar_plot_is_five_lines():
    nb = nbformat.read(NOTEBOOKS / "quickstart.ipynb", as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    lines = [v for v in first.source.splitlines() if v.strip()]
    assert len(first.source.splitlines()) <= 5 and "PolarPlot" in lines[-1]


def test_quickstart(demo_cache):
    nb = run("quickstart")
    out = stdout(nb.cells[-1])
    acc = ast.literal_eval(re.search(r"clean accuracy: (\{.*\})", out).group(1))
    assert set(acc) == {"mlp-s0", "lenet-s0", "wide_cnn-s0", "wide_cnn-mpt-s0"}
    assert all(0.8 < a <= 1 for a in acc.values())
    angle = float(re.search(r"mean angle \(degrees\): ([\d.]+)", out).group(1))
    assert 0 < angle < 180
    assert widgets(nb) == 2  # the polar plot and the Explorer
    assert re.search(r"(\d+) selected; histogram has \1", "".join(stdout(c) for c in nb.cells))


def test_robustness(demo_cache):
    nb = run("robustness")
    # rows of the (model, sparsity) table: model, sparsity 0, then r for angle, l2 and margin
    rows = re.findall(r"^(\S+)\s+0\.0\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)$",
                      stdout(nb.cells[-1]), re.M)
    table = {m: [float(v) for v in r] for m, *r in rows}
    assert len(table) == 4
    assert all(r[0] < -0.2 and r[2] > 0.2 for r in table.values()), table  # angle -, margin +
    assert widgets(nb) == 3  # corruption strips, polar by robustness, parallel coordinates


def test_pruning(demo_cache):
    nb = run("pruning")
    out = stdout(nb.cells[-1])
    acc = ast.literal_eval(out.strip().splitlines()[-1])
    assert set(acc) == {"random", "global_magnitude", "snip"}
    assert acc["global_magnitude"] > acc["random"] + 0.2
    assert "plot shows condition clean@0.9" in "".join(stdout(c) for c in nb.cells)
    assert widgets(nb) == 2  # slider + plot, side by side


def test_model_zoo(demo_cache):
    nb = run("model-zoo")
    out = stdout(nb.cells[-1])
    d = float(re.search(r"d\(wide_cnn, mpt\) = ([\d.]+)", out).group(1))
    edges = ast.literal_eval(re.search(r"MST edges: (\[.*\])", out).group(1))
    assert d > 0 and len(edges) == 3
    acc = float(re.search(r"vit accuracy: ([\d.]+)", out).group(1))
    nearest = re.search(r"nearest to the ViT in the map: (\S+);", out).group(1)
    angles = ast.literal_eval(re.search(r"median angle by stage \(vit\): (\[.*\])", out).group(1))
    ratio = float(re.search(r"ViT's nearest / others' farthest nearest: ([\d.]+)", out).group(1))
    assert acc > 0.8 and nearest in zoo.names() and len(angles) == 4 and ratio > 1.5
    assert all(0 < a < 180 for a in angles)
    # the model map, side by side, the map of every zoo model, the linked profile and polar plot
    assert widgets(nb) == 4


def test_bring_your_own(demo_cache):
    nb = run("bring-your-own")
    for cell in nb.cells:
        if cell.cell_type == "code" and skipped(cell):
            assert cell.outputs == [] and cell.execution_count is None
    out = stdout(nb.cells[[i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                           and not skipped(c)][-1]])
    acc = float(re.search(r"accuracy of the untrained ResNet-18: ([\d.]+)", out).group(1))
    assert 0 <= acc <= 1
    assert widgets(nb) == 1


def test_projections():
    nb = run("projections")
    out = stdout(nb.cells[-1])
    trust = {m: float(v) for m, v in re.findall(r"(\w+)=([\d.]+)", out.splitlines()[0])}
    assert trust["pca"] < min(trust["tsne"], trust["umap"]) and max(trust.values()) <= 1
    rank = dict(re.findall(r"(\w+)=([\d.]+)", out.splitlines()[2]))
    assert all(float(rank[m]) < float(rank["features"]) for m in ("pca", "tsne", "umap"))
    assert widgets(nb) == 1  # the polar plot and three maps, linked, in one box


def test_training():
    nb = run("training")
    out = stdout(nb.cells[-1])
    final = float(re.search(r"final accuracy: ([\d.]+)", out).group(1))
    forgotten = float(re.search(r"forgotten at least once: ([\d.]+)", out).group(1))
    r_margin = float(re.search(r"r\(margin, forgetting\) = ([-+\d.]+)", out).group(1))
    steps = ast.literal_eval(re.search(r"tracker steps: (\[.*\])", out).group(1))
    assert final > 0.85 and 0 < forgotten < 1 and r_margin < 0
    assert steps == list(range(0, 57, 8))
    assert widgets(nb) == 3  # the linked polar plot and histogram, the model map, the live run


def test_adversarial():
    start = time.perf_counter()
    nb = run("adversarial")
    elapsed = time.perf_counter() - start
    out = stdout(nb.cells[-1])
    r = float(re.search(r"r\(scipy\) = ([-+\d.]+)", out).group(1))
    assert -1 <= r <= 1 and "checks passed" in out
    spearman = "".join(stdout(c) for c in nb.cells if "Spearman r(margin" in stdout(c))
    assert len(re.findall(r"Spearman r\(margin, distance\) = [-+\d.]+ \[", spearman)) == 4
    assert widgets(nb) == 2  # the side-by-side polar plots, the parallel coordinates
    print(f"adversarial notebook: {elapsed:.0f} s")


def test_live():
    nb = run("live")
    out = next(stdout(c) for c in nb.cells if "direct computation" in stdout(c))
    assert float(re.search(r"direct computation \(degrees\): ([\d.e+-]+)", out).group(1)) < 1e-3
    live_acc, direct = map(float, re.search(r"accuracy: live ([\d.]+), direct ([\d.]+)",
                                            out).groups())
    assert abs(live_acc - direct) < 1e-4 and 0.8 < direct <= 1
    # counted by the walk, before any view asks for cells in the background
    walk = "".join(stdout(c) for c in nb.cells)
    done, total = map(int, re.search(r"(\d+) of (\d+) cells computed", walk).groups())
    assert total == 13 * 10 and done == 4 + 9  # four layers at 0.5, then nine more sparsities
    assert "10 of 10 table cells computed" in walk  # the walk's penultimate cells
    assert widgets(nb) == 4  # the polar plot, the table, the layer profile and the Explorer
