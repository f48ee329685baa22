"""extract_features (2 layers of resnet18 at 64x64) against a plain forward pass.

Run: python benchmarks/bench_extract.py [--n 512 --batch 128]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import best_time, report  # noqa: E402

from geowidget.engine.batches import iter_batches  # noqa: E402
from geowidget.engine.features import extract_features  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=10).eval()
    x = torch.randn(args.n, 3, 64, 64)

    def plain() -> None:
        with torch.no_grad():
            for xb, _ in iter_batches(x, args.batch, "cpu"):
                model(xb)

    layers_hook = ["layer3", "fc:input"]  # module names: forward hooks
    layers_fx = ["layer3", "flatten"]  # "flatten" is a graph node: torch.fx
    print(f"extract benchmark: resnet18, N={args.n}, 64x64, batch {args.batch}, "
          f"{torch.get_num_threads()} threads")
    t_plain = best_time(plain)
    t_hook = best_time(lambda: extract_features(model, x, layers_hook, batch_size=args.batch,
                                                progress=False, device="cpu"))
    t_fx = best_time(lambda: extract_features(model, x, layers_fx, batch_size=args.batch,
                                              progress=False, device="cpu"))
    report("plain forward over the same batches (s)", t_plain)
    report("extract_features, 2 module layers (hooks) (s)", t_hook)
    report("extract_features, with a graph node (torch.fx) (s)", t_fx)
    report("ratio hooks / plain forward", t_hook / t_plain, "<= 1.15")
    report("ratio fx / plain forward", t_fx / t_plain, "<= 1.15")


if __name__ == "__main__":
    main()
