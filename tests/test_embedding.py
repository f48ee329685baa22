"""Geometric embeddings, distances, layouts, MST and benchmark similarity (synthetic cubes)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial.distance import cdist
from scipy.stats import spearmanr

from geowidget.analysis.embedding import (
    Embedding,
    benchmark_similarity,
    classical_mds,
    distances,
    layout,
    model_embedding,
    mst,
    transform_values,
)
from geowidget.analysis.reducer import project
from geowidget.coords import Coords
from geowidget.cube import LAYER_METRICS, Condition, GeometryCube


def make_cube(values: np.ndarray, conditions=None, seed: int = 0) -> GeometryCube:
    """Cube from ``values`` [M, K, N, 3] = (angle, norm, margin); other metrics random."""
    m, k, n, _ = values.shape
    rng = np.random.default_rng(seed)
    conditions = conditions or [Condition()]
    arrays = {name: rng.random((m, 1, k, n)) for name in LAYER_METRICS}
    for i, name in enumerate(("angle", "norm", "margin")):
        arrays[name] = values[:, None, :, :, i]
    return GeometryCube.from_arrays(
        Coords([f"m{i}" for i in range(m)], ["pen"], conditions), rng.integers(0, 3, n),
        ["a", "b", "c"], pred=np.zeros((m, k, n), int), logit_margin=rng.random((m, k, n)),
        model_info=[{"arch": "x", "seed": i} for i in range(m)], **arrays)


def random_values(m: int, n: int, k: int = 1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.random((m, k, n, 3))
    v[..., 0] *= np.pi
    v[..., 1] = rng.lognormal(size=(m, k, n))
    v[..., 2] = rng.normal(size=(m, k, n))
    return v.astype(np.float32)


@pytest.fixture(scope="module")
def cube():
    return make_cube(random_values(6, 40))


# ------------------------------------------------------------------ embedding values
def test_zscore_embedding_matches_a_loop(cube):
    emb = model_embedding(cube)
    assert emb.matrix.shape == (6, 3 * 40) and emb.matrix.dtype == np.float64
    assert emb.labels == cube.models and emb.info[2]["seed"] == 2
    for i in range(6):
        for f, name in enumerate(("angle", "norm", "margin")):
            x = getattr(cube, name)[i, 0, 0].astype(np.float64)
            expect = (x - x.mean()) / x.std()
            np.testing.assert_allclose(emb.matrix[i, f * 40 : (f + 1) * 40], expect, atol=1e-12)
    np.testing.assert_array_equal(emb.block("norm"), emb.matrix[:, 40:80])


def test_default_layer_is_the_cubes_default_layer():
    rng = np.random.default_rng(8)
    m, n = 3, 30

    def cube_with(layers):
        arrays = {name: rng.random((m, len(layers), 1, n)) for name in LAYER_METRICS}
        return GeometryCube(models=["a", "b", "c"], layers=layers, conditions=[Condition()],
                            labels=rng.integers(0, 2, n), class_names=["x", "y"],
                            pred=np.zeros((m, 1, n)), correct=np.ones((m, 1, n), bool),
                            logit_margin=rng.random((m, 1, n)), **arrays)

    for layers, want in ((["conv", "penultimate", "fc"], 1), (["conv", "pool", "fc"], 2)):
        c = cube_with(layers)
        assert c.coords.default_layer == want
        emb = model_embedding(c)
        assert emb.layer == layers[want]
        x = c.angle[1, want, 0].astype(np.float64)  # by a loop: model b, angle block
        np.testing.assert_allclose(emb.block("angle")[1], (x - x.mean()) / x.std(), atol=1e-12)


def test_metrics_and_the_deprecated_features_alias(cube):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        emb = model_embedding(cube, metrics=("margin", "angle"))
        assert emb.metrics == ("margin", "angle")
    x = cube.margin[4, 0, 0].astype(np.float64)
    np.testing.assert_allclose(emb.matrix[4, :40], (x - x.mean()) / x.std(), atol=1e-12)
    with pytest.warns(DeprecationWarning, match=r"model_embedding\(features=...\) is "
                      r"deprecated; use metrics=") as record:
        old = model_embedding(cube, features=("margin", "angle"))
    assert record[0].filename == __file__
    np.testing.assert_array_equal(old.matrix, emb.matrix)
    with pytest.warns(DeprecationWarning, match="use Embedding.metrics"):
        assert old.features == ("margin", "angle")
    with pytest.raises(ValueError, match=r"'features' parameter of model_embedding must be None "
                       r"when metrics= is given"):
        model_embedding(cube, metrics=("norm",), features=("angle",))
    sim_cube, _ = _condition_cube()
    with pytest.warns(DeprecationWarning, match=r"benchmark_similarity\(features=...\)"):
        old_sim = benchmark_similarity(sim_cube, features=("norm",))
    np.testing.assert_array_equal(old_sim, benchmark_similarity(sim_cube, metrics=("norm",)))


def test_rank_transform_gives_spearman_through_euclidean(cube):
    emb = model_embedding(cube, transform="rank")
    n = 40
    for i, j in [(0, 1), (2, 5)]:
        a, b = emb.block("margin")[i], emb.block("margin")[j]
        rho = spearmanr(cube.margin[i, 0, 0], cube.margin[j, 0, 0]).statistic
        assert np.sum((a - b) ** 2) == pytest.approx(2 * n * (1 - rho), rel=1e-9)


def test_large_p_mds_uses_lanczos_and_matches_the_dense_solver():
    pts = np.random.default_rng(9).normal(size=(700, 4)) * [5, 2, 1, 0.5]
    xy = classical_mds(distances(pts))
    xc = pts - pts.mean(0)
    u, s, _ = np.linalg.svd(xc, full_matrices=False)
    np.testing.assert_allclose(np.abs(xy), np.abs(u[:, :2] * s[:2]), atol=1e-8)


def test_constant_block_warns_and_is_zero():
    with pytest.warns(RuntimeWarning, match="1 feature block"):
        z = transform_values(np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]]))
    np.testing.assert_array_equal(z[0], 0.0)


def test_nan_samples_are_dropped_from_every_point():
    v = random_values(3, 20)
    v[1, 0, 7, 0] = np.nan  # undefined angle of sample 7 in model 1
    with pytest.warns(RuntimeWarning, match="dropped 1 of 20 samples"):
        emb = model_embedding(make_cube(v))
    assert emb.dropped == 1 and emb.matrix.shape == (3, 57)
    assert 7 not in emb.sample_ids and np.isfinite(emb.matrix).all()


# ------------------------------------------------------------------ the tests
def test_identical_models_are_at_distance_zero():
    v = random_values(4, 30)
    v[3] = v[1]
    c = make_cube(v)
    for transform in ("zscore", "rank"):
        emb = model_embedding(c, transform=transform)
        for metric in ("euclidean", "spearman"):
            d = distances(emb, metric)
            assert d[1, 3] == pytest.approx(0.0, abs=1e-9)
            assert d[0, 1] > 0.1
    # scaling a model's norms changes nothing after z-scoring (within-model standardisation)
    v[2, ..., 1] = v[0, ..., 1] * 7.0
    v[2, ..., [0, 2]] = v[0, ..., [0, 2]]
    assert distances(model_embedding(make_cube(v)))[0, 2] == pytest.approx(0.0, abs=1e-6)


def test_permuting_samples_consistently_changes_nothing(cube):
    perm = np.random.default_rng(3).permutation(40)
    shuffled = cube.sel(sample=perm)
    for transform, metric in [("zscore", "euclidean"), ("rank", "spearman")]:
        d0 = distances(model_embedding(cube, transform=transform), metric)
        d1 = distances(model_embedding(shuffled, transform=transform), metric)
        np.testing.assert_allclose(d1, d0, atol=1e-10)
    np.testing.assert_allclose(
        project(distances=distances(model_embedding(shuffled)), method="mds"),
        project(distances=distances(model_embedding(cube)), method="mds"), atol=1e-5,
    )


@pytest.mark.parametrize("method", ["mds", "pca", "tsne"])
def test_layout_is_identical_across_runs_with_the_same_seed(cube, method):
    emb = model_embedding(cube)
    arg = {"features": emb.matrix} if method == "pca" else {"distances": distances(emb)}
    a, b = project(method=method, seed=3, **arg), project(method=method, seed=3, **arg)
    assert a.shape == (6, 2)
    np.testing.assert_array_equal(a, b)


def test_mst_has_m_minus_one_edges_and_minimum_weight():
    rng = np.random.default_rng(1)
    for p in (2, 5, 40):
        d = distances(rng.normal(size=(p, 8)))
        edges = mst(d)
        assert edges.shape == (p - 1, 2) and edges.dtype == np.int64
        assert len(np.unique(edges)) == p  # spans every point
        weight = d[edges[:, 0], edges[:, 1]].sum()
        assert weight == pytest.approx(minimum_spanning_tree(d).sum(), rel=1e-12)
    # brute force over all 5^3 = 125 labelled spanning trees (Pruefer sequences)
    d = distances(rng.normal(size=(5, 3)))
    best = min(_tree_weight(d, seq) for seq in itertools.product(range(5), repeat=3))
    assert d[mst(d)[:, 0], mst(d)[:, 1]].sum() == pytest.approx(best, rel=1e-12)


def _tree_weight(d: np.ndarray, seq: tuple[int, ...]) -> float:
    degree = np.ones(len(d), int)
    for s in seq:
        degree[s] += 1
    total = 0.0
    for s in seq:
        leaf = int(np.flatnonzero(degree == 1)[0])
        total += d[leaf, s]
        degree[leaf] -= 1
        degree[s] -= 1
    u, v = np.flatnonzero(degree == 1)
    return total + d[u, v]


def test_mst_keeps_zero_distance_edges():
    d = np.array([[0, 0, 3], [0, 0, 3], [3, 3, 0]], float)  # models 0 and 1 identical
    edges = mst(d)
    assert edges.tolist() == [[0, 1], [0, 2]]
    assert d[edges[:, 0], edges[:, 1]].sum() == 3.0
    # scipy reads a dense 0 as "no edge" and returns a heavier tree
    assert minimum_spanning_tree(d).sum() == 6.0


def test_planted_clusters_are_recovered():
    rng = np.random.default_rng(7)
    n, per, k = 200, 5, 3
    prototypes = random_values(k, n, seed=11)
    v = np.concatenate([prototypes[c] + 0.15 * rng.normal(size=(per, 1, n, 3)) for c in range(k)])
    truth = np.repeat(np.arange(k), per)
    emb = model_embedding(make_cube(v.astype(np.float32)))
    d = distances(emb)
    same = truth[:, None] == truth[None, :]
    off = ~np.eye(len(truth), dtype=bool)
    assert d[same & off].max() < d[~same].min()
    edges = mst(d)
    assert int((truth[edges[:, 0]] != truth[edges[:, 1]]).sum()) == k - 1
    for method in ("mds", "tsne"):
        xy = project(distances=d, method=method, seed=0)
        dd = cdist(xy, xy) + np.diag(np.full(len(truth), np.inf))
        assert (truth[dd.argmin(1)] == truth).all()  # 2-D nearest neighbour in the cluster


# ------------------------------------------------------------------ distances and layouts
def test_distances_match_scipy():
    x = np.random.default_rng(2).normal(size=(7, 30))
    np.testing.assert_allclose(distances(x), cdist(x, x), atol=1e-10)
    expect = 1 - np.array([[spearmanr(a, b).statistic for b in x] for a in x])
    np.testing.assert_allclose(distances(x, "spearman"), expect, atol=1e-12)


def test_many_points_are_reduced_first_and_stay_exact_for_low_rank_data():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2100, 10)) @ rng.normal(size=(10, 120))  # rank 10 < 50 components
    d = distances(x)
    idx = rng.choice(2100, 30, replace=False)
    np.testing.assert_allclose(d[np.ix_(idx, idx)], cdist(x[idx], x[idx]), atol=1e-6)
    small = distances(x[:300], max_points=100)  # forced reduction on a small set
    np.testing.assert_allclose(small, cdist(x[:300], x[:300]), atol=1e-6)



def test_reduced_distances_of_full_rank_data_lose_just_the_dropped_variance():
    # 8 planted families plus noise in all 120 dimensions: the 70 components past the 50
    # kept ones carry a fifth of the variance, so the reduction is not exact here
    rng = np.random.default_rng(7)
    p = 400
    family = rng.integers(0, 8, p)
    x = 1.5 * rng.normal(size=(8, 120))[family] + rng.normal(size=(p, 120))
    s = np.linalg.svd(x - x.mean(axis=0), compute_uv=False)
    dropped = (s[50:] ** 2).sum()
    assert s[-1] > 0.4 * s[50] and 0.1 < dropped / (s**2).sum() < 0.4  # not low-rank
    full, reduced = cdist(x, x), distances(x, max_points=100)
    iu = np.triu_indices(p, 1)
    # sum over pairs of |a_i - a_j|^2 is P times the sum of squares about the mean, so exact
    # PCA to 50 components loses 2 / (P - 1) * (sum of the dropped s_k^2) per pair on average;
    # no rank-50 map keeps more (Eckart-Young), and the randomised SVD comes within 5 %
    lost = (full[iu] ** 2 - reduced[iu] ** 2).mean()
    optimal = 2.0 / (p - 1) * dropped
    assert optimal * (1 - 1e-9) <= lost <= 1.05 * optimal
    assert np.corrcoef(full[iu], reduced[iu])[0, 1] > 0.95
    # the families stay apart: each point's nearest neighbour is of its own family, as in full
    np.fill_diagonal(full, np.inf)
    np.fill_diagonal(reduced, np.inf)
    assert (family[full.argmin(axis=1)] == family).all()
    assert (family[reduced.argmin(axis=1)] == family).all()

def test_classical_mds_recovers_planar_points_and_pca_matches_svd():
    pts = np.random.default_rng(5).normal(size=(12, 2)) * [3, 1]
    xy = classical_mds(distances(pts))
    np.testing.assert_allclose(cdist(xy, xy), cdist(pts, pts), atol=1e-9)
    x = np.random.default_rng(6).normal(size=(9, 20))
    emb = Embedding(x, [str(i) for i in range(9)], [{}] * 9, ("angle",), "zscore", "l",
                    np.arange(20))
    xy = project(emb.matrix, "pca")
    xc = x - x.mean(0)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    np.testing.assert_allclose(np.abs(xy), np.abs(xc @ vt[:2].T), atol=1e-5)
    # for euclidean distances, classical MDS is PCA, with the same orientation
    np.testing.assert_allclose(project(distances=distances(x), method="mds"), xy, atol=1e-5)


def test_layout_is_a_deprecated_caller_of_project():
    d = distances(np.array([[0.0, 0.0], [0.0, 2.0]]))
    for method in ("mds", "tsne"):  # two points: the exact map whatever the method, as before
        with pytest.warns(DeprecationWarning, match=r"use project\(distances=d, method=") as w:
            xy = layout(d, method)
        assert w[0].filename == __file__ and xy.dtype == np.float64
        assert np.linalg.norm(xy[0] - xy[1]) == pytest.approx(2.0)
    x = np.random.default_rng(3).normal(size=(8, 5))
    emb = Embedding(x, [str(i) for i in range(8)], [{}] * 8, ("angle",), "zscore", "l",
                    np.arange(5))
    with pytest.warns(DeprecationWarning):
        np.testing.assert_allclose(layout(distances(x), "mds"),
                                   project(distances=distances(x), method="mds"), atol=1e-6)
        np.testing.assert_allclose(layout(emb, "pca"), project(x, "pca"), atol=1e-6)
        np.testing.assert_array_equal(layout(distances(x), "tsne", seed=1, perplexity=2.0),
                                      project(distances=distances(x), method="tsne", seed=1,
                                              options={"perplexity": 2.0}))


def test_layout_and_distance_errors():
    d = distances(np.eye(3))
    with pytest.raises(ValueError, match=r"'method' .* one of \['pca', 'mds', .* Got 'som' "):
        project(distances=d, method="som")
    with pytest.raises(ValueError, match="symmetric with a zero diagonal"):
        mst(d + np.eye(3))
    with pytest.raises(ValueError, match=r"'distances' parameter of mst must be a finite "
                       r"floating-point numpy array \[P, P\]\. .*its shape is \(3, 4\)"):
        mst(np.zeros((3, 4)))  # [P, P]: one size for both dimensions
    with pytest.raises(ValueError, match="'metric' .* Got 'cosine' instead"):
        distances(np.eye(3), "cosine")
    try:
        import umap  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"pip install 'geowidget\[umap\]'"):
            project(distances=distances(np.eye(5)), method="umap")


# ------------------------------------------------------------------ conditions and benchmarks
def _condition_cube(seed: int = 0):
    conds = [Condition(0.0, "clean", 0), Condition(0.5, "clean", 0), Condition(0.9, "clean", 0),
             Condition(0.0, "blur", 1), Condition(0.0, "blur", 2),
             Condition(0.0, "zoom", 1), Condition(0.0, "zoom", 2),
             Condition(0.0, "noise", 1), Condition(0.0, "noise", 2)]
    rng = np.random.default_rng(seed)
    m, n = 3, 80
    base = random_values(m, n, seed=seed)[:, 0]  # [M, N, 3]
    effect_blur = rng.normal(size=(m, n, 3))
    effect_noise = rng.normal(size=(m, n, 3))
    v = np.empty((m, len(conds), n, 3), np.float32)
    for k, c in enumerate(conds):
        if c.benchmark == "clean":
            v[:, k] = base + c.sparsity * rng.normal(size=(m, n, 3))
        else:
            eff = effect_noise if c.benchmark == "noise" else effect_blur
            v[:, k] = base + c.severity * eff + 0.3 * rng.normal(size=(m, n, 3))
    return make_cube(v, conds), v


def test_model_condition_points_and_delta():
    cube, v = _condition_cube()
    emb = model_embedding(cube, by="model_condition", sparsity=None, benchmark="clean")
    assert emb.matrix.shape == (3 * 3, 3 * 80)
    assert emb.labels[:3] == ["m0 | clean@0", "m0 | clean@0.5", "m0 | clean@0.9"]
    assert [i["sparsity"] for i in emb.info[:3]] == [0.0, 0.5, 0.9]
    dlt = model_embedding(cube, by="model_condition", sparsity=0.5, delta=True)
    x = v[1, 1, :, 2].astype(np.float64) - v[1, 0, :, 2]
    np.testing.assert_allclose(dlt.block("margin")[1], (x - x.mean()) / x.std(), atol=1e-6)
    cond = model_embedding(cube, by="condition", sparsity=0.0, benchmark=None)
    assert cond.matrix.shape == (7, 3 * 3 * 80) and cond.info[3]["models"] == ["m0", "m1", "m2"]
    with pytest.raises(ValueError, match="by='model' needs exactly one condition.*select 3"):
        model_embedding(cube, sparsity=None)
    with pytest.raises(KeyError, match=r"unknown benchmark\(s\) \['fog'\]"):
        model_embedding(cube, benchmark="fog")
    with pytest.raises(ValueError, match=r"'metrics' .*Got \('theta',\) instead \(item 0 "):
        model_embedding(cube, metrics=("theta",))
    with pytest.raises(ValueError, match="'transform' .* Got 'minmax' instead"):
        model_embedding(cube, transform="minmax")


def test_benchmark_similarity_groups_planted_families():
    cube, _ = _condition_cube()
    sim = benchmark_similarity(cube)
    assert list(sim.index) == ["blur", "zoom", "noise"]
    np.testing.assert_allclose(sim.to_numpy(), sim.to_numpy().T)
    assert sim.loc["blur", "zoom"] > 0.8
    assert sim.loc["blur", "zoom"] > sim.loc["blur", "noise"] + 0.5
    with pytest.raises(ValueError, match="'benchmarks' .* at least 2 items"):
        benchmark_similarity(cube, benchmarks=["blur"])


def test_benchmark_similarity_matches_a_loop():
    cube, v = _condition_cube(seed=3)
    sim = benchmark_similarity(cube, benchmarks=["noise", "zoom"])
    vecs = []
    for bench, ks in (("noise", (7, 8)), ("zoom", (5, 6))):
        parts = []
        for k in ks:  # severities in order; then feature, model, sample
            assert cube.conditions[k].benchmark == bench
            for f in range(3):
                for m in range(3):
                    x = v[m, k, :, f].astype(np.float64) - v[m, 0, :, f]
                    parts.append((x - x.mean()) / x.std())
        vecs.append(np.concatenate(parts))
    assert sim.loc["noise", "zoom"] == pytest.approx(np.corrcoef(vecs)[0, 1], abs=1e-10)


# ------------------------------------------------------------------ on the bundled zoo
def _penultimate_angles(model, images: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
    """Brute force: hook the head's input, arccos of the float64 cosine to W_y."""
    seen = {}
    hook = model.fc.register_forward_pre_hook(lambda m, i: seen.__setitem__("h", i[0].clone()))
    with torch.no_grad():
        model(images)
    hook.remove()
    h = seen["h"].double()
    u = model.fc.weight.detach().double()[labels]
    cos = (h * u).sum(1) / (h.norm(dim=1) * u.norm(dim=1))
    return np.degrees(np.arccos(cos.clamp(-1, 1).numpy()))


def test_mpt_like_model_has_larger_and_tighter_angles_than_regular_models():
    from geowidget import zoo

    probe = zoo.probe_data()
    stats = {}
    for name in ("wide_cnn-s0", "wide_cnn-s1", "wide_cnn-mpt-s0"):
        a = _penultimate_angles(zoo.load(name), probe.images, probe.labels)
        stats[name] = (a.mean(), a.std())
    mpt_mean, mpt_std = stats.pop("wide_cnn-mpt-s0")
    # the paper's finding: a large mean angle with a small variance (degrees)
    for mean, std in stats.values():
        assert mpt_mean > mean + 1.0
        assert mpt_std < std - 0.3


def _zoo_cube(names, conditions, labels, geos) -> GeometryCube:
    """Cube from per-model, per-condition geometry dicts (``Geometry.to_numpy()``)."""
    arrays = {f: np.stack([[g[f] for g in row] for row in geos])[:, None]
              for f in LAYER_METRICS}
    outputs = {f: np.stack([[g[f] for g in row] for row in geos])
               for f in ("pred", "correct", "logit_margin")}
    return GeometryCube.from_arrays(Coords(names, ["fc:input"], conditions), labels,
                                    [str(i) for i in range(10)], **arrays, **outputs)


def test_benchmark_similarity_on_the_zoo_puts_the_blur_family_together():
    from geowidget import zoo
    from geowidget.engine.corruptions import corrupt
    from geowidget.engine.head import geometry_from_model

    probe = zoo.probe_data().subset(np.arange(0, 1500, 10))
    blur = ["gaussian_blur", "defocus_blur", "motion_blur", "zoom_blur"]
    others = ["gaussian_noise", "impulse_noise", "contrast", "fog", "rotate"]
    keys = [("clean", 0)] + [(c, s) for c in blur + others for s in (3, 5)]
    images = torch.cat([probe.images if c == "clean" else corrupt(probe.images, c, s)
                        for c, s in keys])
    n = len(probe)
    geos = []
    for name in ("lenet-s0", "wide_cnn-s0"):  # all conditions in one pass per model
        g = geometry_from_model(zoo.load(name), (images, probe.labels.repeat(len(keys))),
                                progress=False).to_numpy()
        geos.append([{f: v[k * n : (k + 1) * n] for f, v in g.items()} for k in range(len(keys))])
    cube = _zoo_cube(["lenet-s0", "wide_cnn-s0"], [Condition(0.0, c, s) for c, s in keys],
                     probe.labels.numpy(), geos)
    sim = benchmark_similarity(cube)
    s = sim.to_numpy()
    names = list(sim.index)
    bi, oi = [names.index(b) for b in blur], [names.index(o) for o in others]
    within = s[np.ix_(bi, bi)][~np.eye(len(bi), dtype=bool)].mean()
    across = s[np.ix_(bi, oi)].mean()
    assert within > across + 0.1
    # Gaussian and defocus blur are near-duplicate benchmarks: each is the other's nearest
    off = s - 2 * np.eye(len(names))
    g, dfc = names.index("gaussian_blur"), names.index("defocus_blur")
    assert s[g, dfc] > 0.9 and off[g].argmax() == dfc and off[dfc].argmax() == g
