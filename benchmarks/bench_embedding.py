"""Model embedding, distances, layout and MST for M = 200 models, N = 10,000 samples.

Prints the time of each stage, its share of the total, and ratios against baselines
measured in the same run: scipy.stats.zscore over the model axis (embedding), scipy's pdist
and spearmanr (distances), the same classical MDS written with numpy's full ``eigh``
(layout: the same double centring, every eigenpair, the top two kept; checked to give the
same positions) and scipy's minimum_spanning_tree (MST). Each pair is timed alike: the same warm-up, the same number of
repetitions, the best of them. Then the same pipeline for M = 3,000 models, where distances
and layouts work on 50 principal components, against computing the full distances.

Run: python benchmarks/bench_embedding.py [--models 200 --samples 10000 --many 3000]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import best_time, report  # noqa: E402

from geowidget.analysis.embedding import distances, model_embedding, mst  # noqa: E402
from geowidget.analysis.reducer import project  # noqa: E402
from geowidget.cube import LAYER_METRICS, GeometryCube  # noqa: E402


def synthetic_cube(m: int, n: int, seed: int = 0) -> GeometryCube:
    """A cube with ``m`` models in 8 planted families, ``n`` samples, one layer and condition."""
    rng = np.random.default_rng(seed)
    family = rng.integers(0, 8, m)
    proto = rng.normal(size=(8, 3, n)).astype(np.float32)
    base = proto[family] + 0.5 * rng.normal(size=(m, 3, n)).astype(np.float32)
    arrays = {name: np.zeros((m, 1, 1, n), np.float32) for name in LAYER_METRICS}
    arrays["angle"][:, 0, 0] = np.pi / 2 + 0.2 * base[:, 0]
    arrays["norm"][:, 0, 0] = np.exp(base[:, 1])
    arrays["margin"][:, 0, 0] = base[:, 2]
    return GeometryCube(
        models=[f"model{i}" for i in range(m)], layers=["pen"], conditions=[(0.0, "clean", 0)],
        labels=rng.integers(0, 10, n), class_names=[str(i) for i in range(10)],
        pred=np.zeros((m, 1, n)), correct=np.ones((m, 1, n), bool),
        logit_margin=np.zeros((m, 1, n)), **arrays,
    )


def numpy_classical_mds(d: np.ndarray) -> np.ndarray:
    """Classical MDS by the book: double-centred ``-D^2 / 2``, numpy's full ``eigh``."""
    b = -0.5 * d**2
    b -= b.mean(axis=0, keepdims=True)
    b -= b.mean(axis=1, keepdims=True)
    vals, vecs = np.linalg.eigh(b)  # ascending: the last two are the top ones
    return vecs[:, :-3:-1] * np.sqrt(np.maximum(vals[:-3:-1], 0.0))


def timed(fn):  # noqa: ANN001, ANN201
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--many", type=int, default=3000)
    args = parser.parse_args()
    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.spatial.distance import pdist, squareform
    from scipy.stats import spearmanr, zscore

    cube = synthetic_cube(args.models, args.samples)
    m, n = args.models, args.samples
    print(f"embedding benchmark: M={m} models, N={n} samples, 3N={3 * n} columns")

    emb = model_embedding(cube)
    d = distances(emb)

    def zscore_baseline() -> np.ndarray:
        return np.concatenate([zscore(getattr(cube, f)[:, 0, 0].astype(np.float64), axis=1)
                               for f in ("angle", "norm", "margin")], axis=1)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # (ours, baseline, repetitions): both sides of a pair get one warm-up call and the
        # same repetitions; the best time of each is reported
        pairs = {
            "embedding": (lambda: model_embedding(cube), zscore_baseline, 3),
            "distances": (lambda: distances(emb), lambda: squareform(pdist(emb.matrix)), 3),
            "spearman": (lambda: distances(emb, "spearman"),
                         lambda: spearmanr(emb.matrix, axis=1), 1),
            "mds": (lambda: project(distances=d, method="mds"), lambda: numpy_classical_mds(d), 3),
            "mst": (lambda: mst(d), lambda: minimum_spanning_tree(d), 3),
        }
        times = {k: (best_time(ours, repeat=r), best_time(base, repeat=r))
                 for k, (ours, base, r) in pairs.items()}
    assert np.allclose(zscore_baseline(), emb.matrix, atol=1e-9)
    assert np.allclose(squareform(pdist(emb.matrix)), d, atol=1e-8)
    # the same positions up to each axis's sign
    # (float32 positions)
    assert np.allclose(np.abs(project(distances=d, method="mds")), np.abs(numpy_classical_mds(d)),
                       rtol=1e-5, atol=1e-4)
    assert np.isclose(minimum_spanning_tree(d).sum(), d[mst(d)[:, 0], mst(d)[:, 1]].sum())
    t_tsne = best_time(lambda: project(distances=d, method="tsne"), repeat=1, warmup=0)
    stages = ("embedding", "distances", "mds", "mst")
    total = sum(times[k][0] for k in stages)
    report("model_embedding (zscore) (s)", times["embedding"][0])
    report("distances, euclidean (s)", times["distances"][0])
    report("project, classical MDS (s)", times["mds"][0])
    report("mst (s)", times["mst"][0])
    report("total: embedding + distances + MDS + MST (s)", total, "< 2")
    for name in stages:
        report(f"  share of total: {name}", times[name][0] / total)
    report("distances, 1 - Spearman (s)", times["spearman"][0])
    report("project, t-SNE (s)", t_tsne)
    report("ratio embedding / scipy zscore(axis=1)", times["embedding"][0] / times["embedding"][1],
           "< 1")
    report("ratio euclidean distances / scipy pdist",
           times["distances"][0] / times["distances"][1], "< 1")
    report("ratio Spearman distances / scipy spearmanr",
           times["spearman"][0] / times["spearman"][1], "< 1")
    report("ratio classical MDS / numpy eigh classical MDS", times["mds"][0] / times["mds"][1],
           "< 1")
    report("ratio mst (Prim, dense) / scipy minimum_spanning_tree",
           times["mst"][0] / times["mst"][1])

    # ------------------------------------------------------------- thousands of models
    big_n = 1000
    many = synthetic_cube(args.many, big_n, seed=1)
    print(f"\nmany models: M={args.many}, N={big_n} (3N={3 * big_n} columns)")
    emb_big, t_big_emb = timed(lambda: model_embedding(many))
    d_big, t_big_dist = timed(lambda: distances(emb_big))  # > 2000 points: PCA to 50 first
    _, t_big_mds = timed(lambda: project(distances=d_big, method="mds"))
    _, t_big_mst = timed(lambda: mst(d_big))
    full = distances(emb_big, max_points=10**9)
    # the reduced and full distances are timed alike: one warm-up, best of 2
    t_reduced = best_time(lambda: distances(emb_big), repeat=2)
    t_full = best_time(lambda: distances(emb_big, max_points=10**9), repeat=2)
    iu = np.triu_indices(args.many, 1)
    corr = np.corrcoef(d_big[iu], full[iu])[0, 1]
    report("model_embedding (s)", t_big_emb)
    report("distances with PCA-50 reduction (s)", t_big_dist)
    report("project, classical MDS (s)", t_big_mds)
    report("mst (s)", t_big_mst)
    report("total (s)", t_big_emb + t_big_dist + t_big_mds + t_big_mst, "< 20")
    report("ratio reduced / full distances", t_reduced / t_full)
    report("Pearson r, reduced vs full distances", corr, "> 0.95")


if __name__ == "__main__":
    main()
