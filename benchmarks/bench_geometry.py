"""geometry() against one GEMM of the same shape, and against a naive per-class loop.

Run: python benchmarks/bench_geometry.py [--n 20000 --d 2048 --c 1000]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import best_time, report  # noqa: E402

from geowidget.engine.geometry import geometry  # noqa: E402


def naive(h: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The obvious reference: per class, angles by arccos and margins pair by pair."""
    z = h @ w.T + b
    margin = torch.full((len(h),), math.inf)
    wy = w[y]
    for j in range(w.shape[0]):
        dist = (w - w[j]).norm(dim=1)[y]  # |W_y - W_j| for every sample's y
        ratio = (z.gather(1, y[:, None])[:, 0] - z[:, j]) / dist
        ratio[y == j] = math.inf
        margin = torch.minimum(margin, ratio)
    cos = (h * wy).sum(1) / (h.norm(dim=1) * wy.norm(dim=1))
    return torch.arccos(cos.clamp(-1, 1)), margin


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--d", type=int, default=2048)
    parser.add_argument("--c", type=int, default=1000)
    args = parser.parse_args()
    g = torch.Generator().manual_seed(0)
    h = torch.randn(args.n, args.d, generator=g)
    w = torch.randn(args.c, args.d, generator=g) / math.sqrt(args.d)
    b = torch.randn(args.c, generator=g)
    y = torch.randint(0, args.c, (args.n,), generator=g)
    print(f"geometry benchmark: N={args.n} D={args.d} C={args.c} float32, "
          f"{torch.get_num_threads()} threads")
    t_gemm = best_time(lambda: h @ w.T)
    t_geo = best_time(lambda: geometry(h, y, w, b))
    t_naive = best_time(lambda: naive(h, y, w, b), repeat=1)
    report("GEMM features @ weight.T (s)", t_gemm)
    report("geometry() (s)", t_geo)
    report("naive per-class loop (s)", t_naive)
    report("ratio geometry / GEMM", t_geo / t_gemm, "<= 1.5")
    report("ratio naive loop / geometry", t_naive / t_geo, "report")


if __name__ == "__main__":
    main()
