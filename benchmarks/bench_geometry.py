"""geometry() against one GEMM of the same shape, and against a naive per-class loop.

The GEMM ``features @ weight.T`` is the work geometry cannot avoid (it gives the logits).
What a Study stores (angles to the true and the predicted class, norms, exact margins, the
outputs) must cost at most 1.2x that GEMM; the per-class extras (``avh``, ``angle_gap``,
which need the angle to every class) are reported on top. Each ratio is the median over
interleaved pairs (timing.paired_ratio), so load from other processes hits both sides alike.

Run: python benchmarks/bench_geometry.py [--n 20000 --d 2048 --c 1000]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import best_time, paired_ratio, report  # noqa: E402

from geowidget.engine.geometry import geometry  # noqa: E402


def naive(h: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: torch.Tensor,
          dist: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The obvious reference: per class, margins pair by pair, angles by arccos.

    ``dist`` holds the class-pair distances |W_i - W_j|, computed once outside the timing
    (they do not depend on the samples), so the loop is charged only for what it must do.
    """
    z = h @ w.T + b
    z_y = z.gather(1, y[:, None])[:, 0]
    margin = torch.full((len(h),), math.inf)
    for j in range(w.shape[0]):
        ratio = (z_y - z[:, j]) / dist[y, j]
        ratio[y == j] = math.inf
        margin = torch.minimum(margin, ratio)
    wy = w[y]
    cos = (h * wy).sum(1) / (h.norm(dim=1) * wy.norm(dim=1))
    return torch.arccos(cos.clamp(-1, 1)), margin


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--d", type=int, default=2048)
    parser.add_argument("--c", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's); 1 on a machine others share")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    h = torch.randn(args.n, args.d, generator=g)
    w = torch.randn(args.c, args.d, generator=g) / math.sqrt(args.d)
    b = torch.randn(args.c, generator=g)
    y = torch.randint(0, args.c, (args.n,), generator=g)
    dist = torch.cdist(w.double(), w.double()).float()
    print(f"geometry benchmark: N={args.n} D={args.d} C={args.c} float32, "
          f"{torch.get_num_threads()} threads")

    def gemm() -> torch.Tensor:
        return h @ w.T

    lean, t_lean, t_gemm = paired_ratio(lambda: geometry(h, y, w, b, extras=False), gemm,
                                        repeat=args.repeat)
    full, t_full, _ = paired_ratio(lambda: geometry(h, y, w, b), gemm, repeat=args.repeat)
    t_naive = best_time(lambda: naive(h, y, w, b, dist), repeat=1)
    report("GEMM features @ weight.T (s)", t_gemm)
    report("geometry(extras=False): what a Study stores (s)", t_lean)
    report("geometry(): with avh and angle_gap over every class (s)", t_full)
    report("naive per-class loop, class distances precomputed (s)", t_naive)
    report("ratio geometry(extras=False) / GEMM", lean, "<= 1.2")
    report("ratio geometry() / GEMM", full, "report")
    report("ratio naive loop / geometry(extras=False)", t_naive / t_lean, "report")


if __name__ == "__main__":
    main()
