"""The one 2-D reducer against scikit-learn's PCA and ClassicalMDS, and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.decomposition import PCA
from sklearn.manifold import ClassicalMDS

import geowidget as gw
from geowidget.analysis import reducer
from geowidget.analysis.reducer import classical_mds, orient, pca, project


def blobs(n: int = 60, d: int = 7, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, d)) * 4
    return centres[np.arange(n) % 3] + rng.normal(size=(n, d)) * [3, 2, 1.5, 1, 1, 0.5, 0.2][:d]


def assert_oriented(xy: np.ndarray) -> None:
    """The convention: each axis's largest |coordinate| (first on ties) is positive."""
    for j in range(xy.shape[1]):
        assert xy[np.argmax(np.abs(xy[:, j])), j] >= 0


def equal_up_to_sign(a: np.ndarray, b: np.ndarray, atol: float) -> None:
    for j in range(b.shape[1]):
        sign = 1.0 if a[:, j] @ b[:, j] >= 0 else -1.0
        np.testing.assert_allclose(a[:, j], sign * b[:, j], atol=atol)


@pytest.mark.parametrize("shape", [(60, 7), (9, 40)])  # the [D, D] and the [N, N] Gram matrix
def test_pca_equals_sklearn_up_to_sign_and_is_oriented(shape):
    x = blobs(*shape) if shape[1] <= 7 else np.random.default_rng(1).normal(size=shape)
    xy = project(x, "pca")
    ref = PCA(n_components=2, svd_solver="full").fit_transform(x)
    assert xy.dtype == np.float32 and xy.shape == (shape[0], 2)
    equal_up_to_sign(xy.astype(np.float64), ref, atol=1e-4)
    assert_oriented(xy)


def test_mds_of_a_distance_matrix_equals_sklearn_classical_mds_up_to_sign():
    x = blobs()
    for metric in ("euclidean", "cityblock"):  # cityblock: no Euclidean configuration has it
        d = cdist(x, x, metric)
        xy = project(distances=d, method="mds")
        ref = ClassicalMDS(n_components=2, metric="precomputed").fit_transform(d)
        equal_up_to_sign(xy.astype(np.float64), ref, atol=1e-3)
        assert_oriented(xy)


def test_features_and_their_distances_give_the_same_map_and_the_same_signs():
    x = blobs(d=5)
    via_features = project(x, "pca")
    via_distances = project(distances=cdist(x, x), method="mds")
    np.testing.assert_allclose(via_distances, via_features, atol=1e-4)
    # "pca" and "mds" are one method under two names, for either input
    np.testing.assert_array_equal(project(x, "mds"), via_features)
    np.testing.assert_array_equal(project(distances=cdist(x, x), method="pca"), via_distances)
    # the closed form: planar points come back up to a rotation, every distance kept
    plane = np.random.default_rng(4).normal(size=(15, 2)) * [3, 1]
    back = classical_mds(cdist(plane, plane))
    np.testing.assert_allclose(cdist(back, back), cdist(plane, plane), atol=1e-9)


def test_orient_and_the_randomised_path(monkeypatch):
    xy = orient(np.array([[1.0, 3.0], [-2.0, -3.0], [0.5, 1.0]]))
    np.testing.assert_array_equal(xy, [[-1.0, 3.0], [2.0, -3.0], [-0.5, 1.0]])  # tie: first wins
    rng = np.random.default_rng(2)
    x = rng.normal(size=(80, 4)) @ rng.normal(size=(4, 30))  # rank 4
    exact = pca(x, 3)
    monkeypatch.setattr(reducer, "EXACT_MAX", 10)  # min(N, D) = 30 > 10: randomised SVD
    np.testing.assert_allclose(pca(x, 3), exact, atol=1e-8)
    # columns past the rank are zero, never noise
    assert np.array_equal(pca(np.c_[np.arange(5.0), np.zeros(5)], 3)[:, 1:], np.zeros((5, 2)))


def test_tsne_starts_from_the_exact_map_for_features_and_for_distances():
    pytest.importorskip("openTSNE")
    x = blobs()
    frozen = {"n_iter": 0, "early_exaggeration_iter": 0}  # the start itself
    start = pca(x)
    want = start * (1e-4 / start[:, 0].std())  # openTSNE's own scale for its PCA start
    np.testing.assert_allclose(project(x, "tsne", options=frozen), want, rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(project(distances=cdist(x, x), method="tsne", options=frozen),
                               want, rtol=1e-4, atol=1e-9)
    # and the fitted maps keep the three blobs apart, from either input
    for xy in (project(x, "tsne", seed=2), project(distances=cdist(x, x), method="tsne", seed=2)):
        d = cdist(xy, xy) + np.diag(np.full(len(x), np.inf))
        assert (d.argmin(axis=1) % 3 == np.arange(len(x)) % 3).mean() > 0.95


def test_umap_of_distances_keeps_the_blobs_apart():
    pytest.importorskip("umap")
    x = blobs()
    xy = project(distances=cdist(x, x), method="umap", seed=0)
    d = cdist(xy, xy) + np.diag(np.full(len(x), np.inf))
    assert (d.argmin(axis=1) % 3 == np.arange(len(x)) % 3).mean() > 0.95


def test_bad_input_names_the_parameter():
    x = blobs()
    d = cdist(x, x)
    with pytest.raises(ValueError, match=r"'features' parameter of project must be an array "
                       r"\[N, D\], or None with distances= .*distances= is given too"):
        project(x, distances=d)
    with pytest.raises(ValueError, match=r"'features' parameter of project must be .* Got None"):
        project()
    with pytest.raises(ValueError, match=r"'distances' parameter of project must be a "
                       r"symmetric distance matrix .*not symmetric with a zero diagonal"):
        project(distances=d + np.eye(len(d)), method="mds")
    with pytest.raises(ValueError, match=r"'distances' parameter of project .*its smallest "
                       r"entry is -1.0"):
        project(distances=-np.ones((2, 2)) + np.eye(2), method="mds")
    with pytest.raises(ValueError, match=r"'method' parameter of project must be 'pca' or "
                       r"'mds' for fewer than 3 points\. Got 'tsne' instead \(the features "
                       r"hold 2 points\)"):
        project(x[:2], "tsne")
    with pytest.raises(ValueError, match=r"'options' parameter of project must be None or "
                       r"empty for method='mds'"):
        project(distances=d, method="mds", options={"perplexity": 5})
    pytest.importorskip("openTSNE")
    with pytest.raises(ValueError, match=r"'distances' parameter of project must be not "
                       r"all 0 for method='tsne'"):
        project(distances=np.zeros((5, 5)), method="tsne")
    with pytest.raises(ValueError, match=r"'options' .* without a metric for distances="):
        project(distances=d, method="tsne", options={"metric": "cosine"})


def test_the_public_paths_are_one_function():
    from geowidget.analysis import projection

    assert gw.project is project and projection.project is project
