"""Projections and their distortion, checked against numpy, scikit-learn and brute force."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from scipy.stats import rankdata
from sklearn.manifold import trustworthiness

import geowidget as gw
from geowidget.analysis import projection as pj
from tests.fixtures.synthetic import make_cube
from tests.optional import needs


def clusters(n: int = 120, d: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(4, d)) * 3
    return centers[np.arange(n) % 4] + rng.normal(size=(n, d))


def brute_ranks(a: np.ndarray, i: int) -> np.ndarray:
    """1-based rank of every point among i's neighbours in a (i itself last)."""
    d = np.sqrt(((a - a[i]) ** 2).sum(axis=1))
    d[i] = np.inf
    return np.array([1 + np.sum(d < d[j]) for j in range(len(a))])


def brute_knn(a: np.ndarray, i: int, k: int) -> np.ndarray:
    d = np.sqrt(((a - a[i]) ** 2).sum(axis=1))
    d[i] = np.inf
    return np.argsort(d, kind="stable")[:k]


def brute_continuity(x: np.ndarray, xy: np.ndarray, k: int) -> float:
    n = len(x)
    total = 0
    for i in range(n):
        r = brute_ranks(xy, i)
        total += sum(max(r[j] - k, 0) for j in brute_knn(x, i, k))
    return 1 - 2 * total / (n * k * (2 * n - 3 * k - 1))


def brute_neighbour_spearman(values: np.ndarray, space: np.ndarray, k: int) -> float:
    est = np.array([values[brute_knn(space, i, k)].mean() for i in range(len(values))])
    a, b = rankdata(values), rankdata(est)
    return float(np.corrcoef(a, b)[0, 1])


# ---------------------------------------------------------------- project
def test_pca_equals_numpy_svd_up_to_sign():
    x = clusters()
    xy = gw.project(x, "pca")
    xc = x - x.mean(axis=0)
    u, s, _ = np.linalg.svd(xc, full_matrices=False)
    ref = u[:, :2] * s[:2]
    assert xy.dtype == np.float32 and xy.shape == (120, 2)
    for c in range(2):
        sign = np.sign(ref[:, c] @ xy[:, c])
        np.testing.assert_allclose(xy[:, c], sign * ref[:, c], rtol=1e-5, atol=1e-4)


@needs("torch", "torch")
def test_pca_of_torch_tensor_matches_numpy():
    import torch

    x = clusters()
    np.testing.assert_array_equal(gw.project(torch.from_numpy(x), "pca"), gw.project(x, "pca"))


@pytest.mark.parametrize("method", [pytest.param("tsne", marks=needs("openTSNE", "tsne")),
                                    pytest.param("umap", marks=needs("umap", "umap"))])
def test_same_seed_same_positions(method):
    x = clusters(n=90, d=8)
    a = gw.project(x, method, seed=3)
    b = gw.project(x, method, seed=3)
    assert a.shape == (90, 2) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)
    # the map keeps the four clusters apart: each point's 2-D neighbours share its cluster
    nbrs, _ = pj.neighbours_and_ranks(a.astype(np.float64), 5)
    same = (nbrs % 4) == (np.arange(90) % 4)[:, None]
    assert same.mean() > 0.9


@needs("umap", "umap")
@needs("torch", "torch")
def test_umap_leaves_the_callers_threads_and_random_state():
    # umap-learn resets numba's thread count after a fit, and with it OpenMP's, which torch
    # shares: a caller's one thread became two
    import random

    import torch

    before = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            random.seed(11)
            state = random.getstate()
            gw.project(clusters(n=40, d=6), "umap", seed=0)
            assert torch.get_num_threads() == threads
            assert random.getstate() == state
    finally:
        torch.set_num_threads(before)


def test_project_bad_input():
    x = clusters()
    with pytest.raises(ValueError, match=r"'method' parameter of project must be one of "
                       r"\['pca', 'mds', 'tsne', 'umap'\]. Got 'isomap' instead"):
        gw.project(x, "isomap")
    bad = x.copy()
    bad[7, 2] = np.nan
    with pytest.raises(ValueError, match=r"'features' parameter of project must be finite.*"
                       r"1 rows hold NaN or Inf, first: \[7\]"):
        gw.project(bad, "pca")
    with pytest.raises(ValueError, match=r"'features' parameter of project must be None or a "
                       r"tensor or array \[N, D\]. Got a numpy.ndarray of shape \(120,\)"):
        gw.project(x[:, 0], "pca")
    with pytest.raises(ValueError, match=r"'seed' parameter of project must be an int in \[0, inf\)"):
        gw.project(x, "tsne", seed=-1)
    with pytest.raises(ValueError, match="must be 'pca' or 'mds' for fewer than 3 points"):
        gw.project(x[:2], "tsne")
    with pytest.raises(ValueError, match=r"'options' parameter of project must be None or empty "
                       r"for method='pca'. Got \{'perplexity': 5\} instead"):
        gw.project(x, "pca", options={"perplexity": 5})


def test_missing_backend_names_the_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "umap" else real(name, *a))
    with pytest.raises(ImportError, match=r"pip install 'geowidget\[umap\]'"):
        gw.project(clusters(), "umap")


# ---------------------------------------------------------------- distortion
def test_trustworthiness_equals_sklearn():
    x = clusters(n=150, d=10, seed=1)
    xy = gw.project(x, "pca")
    for k in (1, 5, 12):
        d = gw.distortion(x, xy, k=k)
        assert d.trustworthiness == pytest.approx(trustworthiness(x, xy, n_neighbors=k), abs=1e-12)
        # continuity is trustworthiness with the roles swapped
        assert d.continuity == pytest.approx(trustworthiness(xy, x, n_neighbors=k), abs=1e-12)


def test_continuity_against_brute_force():
    rng = np.random.default_rng(2)
    x = clusters(n=60, d=6, seed=2)
    xy = rng.normal(size=(60, 2))  # a bad map, so that continuity is well below 1
    d = gw.distortion(x, xy, k=7)
    assert d.continuity == pytest.approx(brute_continuity(x, xy, 7), abs=1e-12)
    assert d.continuity < 0.8


def test_isometric_projection_of_a_plane_is_perfect():
    rng = np.random.default_rng(3)
    plane = rng.normal(size=(200, 2))
    basis = np.linalg.qr(rng.normal(size=(16, 2)))[0]  # orthonormal columns
    x = plane @ basis.T + 5.0  # a shifted plane in 16-D
    rotation = np.array([[0.6, -0.8], [0.8, 0.6]])
    d = gw.distortion(x, plane @ rotation, k=10)
    assert d.continuity == 1.0 and d.trustworthiness == 1.0


def test_angle_and_margin_spearman_against_brute_force():
    rng = np.random.default_rng(4)
    x = clusters(n=80, d=6, seed=4)
    xy = gw.project(x, "pca")
    angle = np.linalg.norm(x[:, :2], axis=1) + 0.1 * rng.normal(size=80)
    margin = rng.normal(size=80)
    d = gw.distortion(x, xy, k=6, angle=angle, margin=margin)
    assert d.angle_spearman == pytest.approx(brute_neighbour_spearman(angle, xy, 6), abs=1e-12)
    assert d.angle_spearman_features == pytest.approx(
        brute_neighbour_spearman(angle, x, 6), abs=1e-12)
    assert d.margin_spearman == pytest.approx(brute_neighbour_spearman(margin, xy, 6), abs=1e-12)
    assert d.angle_spearman_features > 0.5  # angle lives in the features' neighbourhoods
    assert abs(d.margin_spearman) < 0.4  # noise does not


def test_nan_angles_are_left_out():
    x = clusters(n=80, d=6, seed=5)
    xy = gw.project(x, "pca")
    angle = np.linalg.norm(x, axis=1)
    holed = angle.copy()
    holed[[3, 40]] = np.nan
    d = gw.distortion(x, xy, k=5, angle=holed)
    nbrs, _ = pj.neighbours_and_ranks(xy.astype(np.float64), 5)
    est = np.array([np.nanmean(holed[nbrs[i]]) for i in range(80)])
    keep = ~np.isnan(holed)
    a, b = rankdata(holed[keep]), rankdata(est[keep])
    assert d.angle_spearman == pytest.approx(np.corrcoef(a, b)[0, 1], abs=1e-12)
    assert np.isnan(gw.distortion(x, xy, k=5).margin_spearman)


def test_distortion_repr():
    x = clusters(n=40, d=4)
    d = gw.distortion(x, gw.project(x), k=5, angle=np.linalg.norm(x, axis=1))
    text = repr(d)
    assert text.splitlines()[0] == "Distortion(k=5, n=40)"
    assert f"{d.trustworthiness:6.3f}" in text and "margin" not in text
    page = d._repr_html_()
    assert "<table>" in page and f"{d.continuity:.3f}" in page and "angle rank" in page
    assert d.as_dict()["k"] == 5


def test_distortion_bad_input():
    x = clusters(n=40, d=4)
    xy = gw.project(x)
    with pytest.raises(ValueError, match=r"'k' parameter of distortion must be an int in "
                       r"\[1, N / 2\) = \[1, 20\) for N = 40 samples. Got 40 instead"):
        gw.distortion(x, xy, k=40)
    with pytest.raises(ValueError, match="Got 20 instead"):
        gw.distortion(x, xy, k=20)
    with pytest.raises(ValueError, match=r"'k' parameter of distortion must be an int in \[1, inf\)"
                       r". Got 0 instead"):
        gw.distortion(x, xy, k=0)
    with pytest.raises(TypeError, match="Got 2.5 instead"):
        gw.distortion(x, xy, k=2.5)
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"'features' parameter of distortion must be finite"):
        gw.distortion(bad, xy)
    with pytest.raises(ValueError, match=r"'xy' parameter of distortion must be of shape \(40, 2\) "
                       r"to match features. Got a numpy.ndarray of shape \(39, 2\)"):
        gw.distortion(x, xy[:-1])
    with pytest.raises(ValueError, match=r"'angle' parameter of distortion must be of shape "
                       r"\(40,\), one value per sample"):
        gw.distortion(x, xy, angle=np.zeros(3))


# ---------------------------------------------------------------- the view
def test_projection_view_positions_and_errors():
    cube = make_cube(m=2, layers=2, n=30)
    xy = np.random.default_rng(0).normal(size=(2, 2, 30, 2))
    view = gw.ProjectionView(cube, method="pca", xy=xy, color_by="margin")
    np.testing.assert_array_equal(view._arrays["proj_x"], xy[..., 0].astype(np.float32))
    np.testing.assert_array_equal(view._arrays["proj_y"], xy[..., 1].astype(np.float32))
    assert view._meta["projection"] == "pca" and view.color_by == "margin"
    view.model, view.layer = 1, 1
    np.testing.assert_array_equal(view.positions, xy[1, 1].astype(np.float32))
    assert view.to_plotly().data[0].type == "scattergl"
    polar = gw.PolarPlot(cube)
    gw.link(view, polar)
    view.selected = [1003, 1010]
    np.testing.assert_array_equal(polar.selected, [1003, 1010])  # linked by selection
    with pytest.raises(ValueError, match=r"The 'method' parameter of ProjectionView must name a "
                       r"projection the cube holds: \[\]. Got 'umap' instead"):
        gw.ProjectionView(cube)
    with pytest.raises(ValueError, match=r"'xy' parameter of ProjectionView must have shape "
                       r"\(2, 2, 30, 2\)"):
        gw.ProjectionView(cube, xy=xy[0])
    single = gw.ProjectionView(angle=np.ones(5), norm=np.ones(5), xy=np.zeros((5, 2)),
                               method="tsne")
    assert single._arrays["proj_x"].shape == (1, 1, 5)


# ---------------------------------------------------------------- stored in the cube
def test_cube_projections_select_concat_and_parquet_round_trip(tmp_path):
    from geowidget.cube import GeometryCube

    rng = np.random.default_rng(1)
    pca = rng.normal(size=(2, 2, 30, 2))
    pca[1, 0, 3] = np.nan  # not computed for this sample: kept as NaN
    cube = make_cube(m=2, layers=2, n=30).replace(projections={"pca": pca})
    assert cube.projections["pca"].dtype == np.float32
    sub = cube.sel(model="net1", layer=["layer1", "layer0"], sample=[5, 3])
    np.testing.assert_array_equal(sub.projections["pca"],
                                  cube.projections["pca"][[1]][:, [1, 0]][:, :, [5, 3]])
    path = tmp_path / "cube.parquet"
    cube.to_parquet(str(path))
    back = GeometryCube.from_parquet(str(path))
    assert back.equals(cube) and list(back.projections) == ["pca"]
    assert not back.equals(cube.replace(projections={}))
    other = cube.sel(model="net0").replace(models=["other"], projections={})
    both = GeometryCube.concat_models([cube, other])
    assert both.projections["pca"].shape == (3, 2, 30, 2)
    assert np.isnan(both.projections["pca"][2]).all()  # the cube without it: NaN
    with pytest.raises(ValueError, match=r"projections\['pca'\] has shape \(2, 2, 29, 2\), "
                       r"expected \(2, 2, 30, 2\)"):
        cube.replace(projections={"pca": pca[:, :, 1:]})


@needs("torch", "torch")
def test_study_stores_projections_of_the_clean_dense_features(tmp_path, monkeypatch):
    import torch
    from torch import nn

    from geowidget.analysis import projection as pj

    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 8), nn.ReLU(),
                        nn.Linear(8, 3))
    x = torch.rand(90, 1, 4, 4)
    y = torch.arange(90) % 3
    kw = {"layers": ["penultimate", "2"], "sparsities": (0.5,), "projections": ("pca", "umap"),
          "progress": False, "shard_size": 40, "cache_dir": tmp_path / "store"}
    cube = gw.Study({"net": net}, (x, y), **kw).run()
    assert sorted(cube.projections) == ["pca", "umap"]
    assert cube.layers == ["2", "penultimate"]  # stored by depth
    feats = gw.extract_features(net, x, ["2", "5:input"], progress=False)
    for li, node in enumerate(["2", "5:input"]):
        f = feats[node].double().numpy()
        np.testing.assert_array_equal(cube.projections["pca"][0, li], gw.project(f, "pca"))
        np.testing.assert_array_equal(cube.projections["umap"][0, li],
                                      gw.project(f, "umap", seed=0))
    view = gw.ProjectionView(cube, method="umap")
    np.testing.assert_array_equal(view.positions,  # at the default layer
                                  cube.projections["umap"][0, cube.coords.default_layer])
    explorer = gw.Explorer(cube)  # shows the first stored map beside the polar plot, linked
    assert explorer.projection._meta["projection"] == "pca"
    assert explorer.projection in explorer.views()
    assert explorer.projection._link == explorer.polar._link != ""
    with pytest.raises(ValueError, match=r"must name a projection the cube holds: \['pca', "
                       r"'umap'\]. Got 'tsne' instead"):
        gw.ProjectionView(cube, method="tsne")
    # a re-run reads them from the unit store: no projection is computed again
    monkeypatch.setattr(pj, "project", lambda *a, **k: pytest.fail("projected again"))
    again = gw.Study({"net": net}, (x, y), **kw).run()
    assert again.equals(cube)
    with pytest.raises(ValueError, match=r"'projections' parameter of Study must be a list, "
                       r"each one of \['pca', 'tsne', 'umap'\]"):
        gw.Study({"net": net}, (x, y), projections=("mds",))
