"""gw.project on 10,000 x 512 features: PCA, t-SNE and UMAP seconds; t-SNE by two libraries.

t-SNE is timed through :func:`geowidget.project` (openTSNE) and through scikit-learn's
``TSNE`` with the same settings: perplexity 30, PCA initialisation, 250 early-exaggeration
plus 500 iterations. Each library runs once on one thread (gw.project's default, and
scikit-learn under ``threadpool_limits(1)``) and once on all cores (``n_jobs=-1``, and
scikit-learn's default OpenMP threads), on the same features, after a warm-up on 500
samples (imports, thread pools). The ratios scikit-learn / openTSNE are printed for both.
UMAP's first call compiles its numba kernels; that one-time cost is printed on its own.

The features are synthetic and shaped like a penultimate layer: 10 classes in a 32-D latent
space, lifted to 512-D by a random ReLU layer, plus noise.

Run: python benchmarks/bench_project.py [--samples 10000 --dim 512]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import report  # noqa: E402

from geowidget.analysis.projection import distortion, project  # noqa: E402


def features(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(10, 32)) * 4
    z = centers[rng.integers(0, 10, n)] + rng.normal(size=(n, 32))
    lifted = np.maximum(z @ rng.normal(size=(32, d)), 0) + 0.1 * rng.normal(size=(n, d))
    return lifted.astype(np.float32)


def seconds(fn) -> float:  # noqa: ANN001
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def sklearn_tsne(x: np.ndarray) -> np.ndarray:
    from sklearn.manifold import TSNE

    return TSNE(2, perplexity=min(30.0, (len(x) - 1) / 3), init="pca", max_iter=750,
                n_jobs=-1, random_state=0).fit_transform(x)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=512)
    args = parser.parse_args()
    x = features(args.samples, args.dim)
    warm = x[:500]
    print(f"features {x.shape[0]:,} x {x.shape[1]}")

    report("pca seconds", seconds(lambda: project(x, "pca")))

    from threadpoolctl import threadpool_limits

    project(warm, "tsne")
    sklearn_tsne(warm)
    for threads in ("1 thread", "all cores"):
        if threads == "1 thread":
            open_s = seconds(lambda: project(x, "tsne"))
            with threadpool_limits(1):
                sk_s = seconds(lambda: sklearn_tsne(x))
        else:
            open_s = seconds(lambda: project(x, "tsne", options={"n_jobs": -1}))
            sk_s = seconds(lambda: sklearn_tsne(x))
        report(f"t-SNE seconds, openTSNE (gw.project), {threads}", open_s)
        report(f"t-SNE seconds, scikit-learn TSNE, {threads}", sk_s)
        report(f"t-SNE ratio scikit-learn / openTSNE, {threads}", sk_s / open_s)

    jit_s = seconds(lambda: project(warm, "umap"))
    report("UMAP first call on 500 samples (numba JIT), seconds", jit_s)
    xy = None

    def run_umap() -> None:
        nonlocal xy
        xy = project(x, "umap")

    report("UMAP seconds", seconds(run_umap))
    report("distortion (k=10) seconds", seconds(lambda: distortion(x, xy, k=10)))


if __name__ == "__main__":
    main()
