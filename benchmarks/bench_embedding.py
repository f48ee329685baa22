"""Model embedding, distances, layout and MST for M = 200 models, N = 10,000 samples.

Prints the time of each stage, its share of the total, and ratios against baselines
measured in the same run: a per-model scipy.stats.zscore loop (embedding), scipy's pdist
and spearmanr (distances), scikit-learn's SMACOF MDS (layout) and scipy's
minimum_spanning_tree (MST). Then the same pipeline for M = 3,000 models, where distances
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

from geowidget.analysis.embedding import distances, layout, model_embedding, mst  # noqa: E402
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
    from sklearn.manifold import MDS

    cube = synthetic_cube(args.models, args.samples)
    m, n = args.models, args.samples
    print(f"embedding benchmark: M={m} models, N={n} samples, 3N={3 * n} columns")

    emb, _ = timed(lambda: model_embedding(cube))
    t_emb = best_time(lambda: model_embedding(cube), repeat=3)
    d = distances(emb)
    t_dist = best_time(lambda: distances(emb), repeat=3)
    t_spear = best_time(lambda: distances(emb, "spearman"), repeat=1)
    t_mds = best_time(lambda: layout(d, "mds"), repeat=3)
    t_mst = best_time(lambda: mst(d), repeat=3)
    t_tsne = best_time(lambda: layout(d, "tsne"), repeat=1, warmup=0)
    total = t_emb + t_dist + t_mds + t_mst
    report("model_embedding (zscore) (s)", t_emb)
    report("distances, euclidean (s)", t_dist)
    report("layout, classical MDS (s)", t_mds)
    report("mst (s)", t_mst)
    report("total: embedding + distances + MDS + MST (s)", total, "< 2")
    for name, t in [("embedding", t_emb), ("distances", t_dist), ("layout", t_mds),
                    ("mst", t_mst)]:
        report(f"  share of total: {name}", t / total)
    report("distances, 1 - Spearman (s)", t_spear)
    report("layout, t-SNE (s)", t_tsne)

    def loop_embedding() -> np.ndarray:
        rows = []
        for i in range(m):
            rows.append(np.concatenate([
                zscore(getattr(cube, f)[i, 0, 0].astype(np.float64))
                for f in ("angle", "norm", "margin")
            ]))
        return np.stack(rows)

    ref, t_ref_emb = timed(loop_embedding)
    assert np.allclose(ref, emb.matrix, atol=1e-9)
    ref_d, t_ref_dist = timed(lambda: squareform(pdist(emb.matrix)))
    assert np.allclose(ref_d, d, atol=1e-8)
    _, t_ref_spear = timed(lambda: spearmanr(emb.matrix, axis=1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mds = MDS(n_components=2, dissimilarity="precomputed", n_init=1, random_state=0)
        _, t_ref_mds = timed(lambda: mds.fit_transform(d))
    ref_tree, t_ref_mst = timed(lambda: minimum_spanning_tree(d))
    assert np.isclose(ref_tree.sum(), d[mst(d)[:, 0], mst(d)[:, 1]].sum())
    report("ratio embedding / scipy zscore loop", t_emb / t_ref_emb, "< 1")
    report("ratio euclidean distances / scipy pdist", t_dist / t_ref_dist, "< 1")
    report("ratio Spearman distances / scipy spearmanr", t_spear / t_ref_spear, "< 1")
    report("ratio classical MDS / sklearn SMACOF MDS", t_mds / t_ref_mds, "< 1")
    report("ratio mst (Prim, dense) / scipy minimum_spanning_tree", t_mst / t_ref_mst)

    # ------------------------------------------------------------- thousands of models
    big_n = 1000
    many = synthetic_cube(args.many, big_n, seed=1)
    print(f"\nmany models: M={args.many}, N={big_n} (3N={3 * big_n} columns)")
    emb_big, t_big_emb = timed(lambda: model_embedding(many))
    d_big, t_big_dist = timed(lambda: distances(emb_big))  # > 2000 points: PCA to 50 first
    _, t_big_mds = timed(lambda: layout(d_big, "mds"))
    _, t_big_mst = timed(lambda: mst(d_big))
    full, t_full = timed(lambda: distances(emb_big, max_points=10**9))
    iu = np.triu_indices(args.many, 1)
    corr = np.corrcoef(d_big[iu], full[iu])[0, 1]
    report("model_embedding (s)", t_big_emb)
    report("distances with PCA-50 reduction (s)", t_big_dist)
    report("layout, classical MDS (s)", t_big_mds)
    report("mst (s)", t_big_mst)
    report("total (s)", t_big_emb + t_big_dist + t_big_mds + t_big_mst, "< 20")
    report("ratio reduced / full distances", t_big_dist / t_full)
    report("Pearson r, reduced vs full distances", corr, "> 0.95")


if __name__ == "__main__":
    main()
