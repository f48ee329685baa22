"""layer_margin(k=5) against one forward+backward pass over the same batch.

Run: python benchmarks/bench_layer_margin.py [--n 256]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import best_time, report  # noqa: E402

from geowidget.engine.layer_margin import layer_margin  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=256)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=10).eval()
    x = torch.randn(args.n, 3, 64, 64)
    y = torch.randint(0, 10, (args.n,))

    def forward_backward() -> None:
        model.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()

    print(f"layer margin benchmark: resnet18, N={args.n}, 64x64, layer3, k=5, "
          f"{torch.get_num_threads()} threads")
    t_fb = best_time(forward_backward)
    t_lm = best_time(lambda: layer_margin(model, (x, y), "layer3", k=5, batch_size=args.n,
                                          progress=False, device="cpu"))
    model.zero_grad(set_to_none=True)
    report("one forward + backward (s)", t_fb)
    report("layer_margin(k=5) at layer3 (s)", t_lm)
    report("ratio layer_margin / (forward + backward)", t_lm / t_fb, "<= 7")


if __name__ == "__main__":
    main()
