"""adversarial_distance: cost in forward and backward passes per sample, time per 1,000 MNIST
samples on CPU, and the sizing of the paper's ImageNet setting on one GPU.

The baseline, measured in the same run: one forward + backward pass of the same batch.

Run: python benchmarks/bench_adversarial.py [--n 200] [--norm l2] [--steps 100] [--check 100]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import best_time, report  # noqa: E402

from geowidget import zoo  # noqa: E402
from geowidget.engine.adversarial import adversarial_distance  # noqa: E402

# The ImageNet sizing's assumption, stated: a ResNet-50 forward + backward pass at 224x224
# takes about 1/1,000 s per image on one current data-centre GPU in fp32 (roughly 3x the
# ~3,000 images/s of its forward pass). Scale the result by your own measured rate.
GPU_FB_PER_IMAGE_S = 1 / 1000
IMAGENET_VAL = 50_000
SPARSITIES = 6  # the Study's default levels (0, .1, .3, .5, .7, .9)


class Counter(nn.Module):
    """Counts the samples that pass forward and backward through ``model``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model, self.forward_samples, self.backward_samples = model, 0, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        self.forward_samples += len(x)
        if out.requires_grad:
            n = len(x)

            def count(grad: torch.Tensor) -> torch.Tensor:
                self.backward_samples += n
                return grad

            out.register_hook(count)
        return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--norm", default="l2", choices=["l2", "linf"])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--check", type=int, default=100)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = zoo.load("lenet-s0").eval()
    data = zoo.probe_data()
    x, y = data.images[: args.n], data.labels[: args.n]
    print(f"adversarial distance benchmark: lenet-s0 on {args.n} MNIST digits, norm={args.norm}, "
          f"steps={args.steps}, check={args.check}, {torch.get_num_threads()} threads")

    def forward_backward() -> None:
        xx = x.clone().requires_grad_(True)
        nn.functional.cross_entropy(model(xx), y).backward()

    counted = Counter(model).eval()
    adversarial_distance(counted, (x, y), args.norm, steps=args.steps, check=args.check,
                         batch_size=args.n, device="cpu", progress=False)
    fwd = counted.forward_samples / args.n
    bwd = counted.backward_samples / args.n
    t_fb = best_time(forward_backward)
    t_adv = best_time(lambda: adversarial_distance(
        model, (x, y), args.norm, steps=args.steps, check=args.check, batch_size=args.n,
        device="cpu", progress=False), repeat=1, warmup=0)
    report("forward passes per sample", fwd)
    report("backward passes per sample", bwd)
    report("one forward + backward of the batch (s)", t_fb)
    report("adversarial_distance of the batch (s)", t_adv)
    report("ratio attack / (forward + backward)", t_adv / t_fb)
    report("time per 1,000 MNIST samples on CPU (s)", t_adv / args.n * 1000)
    # ImageNet: every pass costs about one forward + backward (a forward alone is cheaper,
    # so counting backward passes and half the extra forwards is the estimate's basis)
    per_image = (bwd + 0.5 * max(fwd - bwd, 0.0)) * GPU_FB_PER_IMAGE_S
    report("ImageNet, ResNet-50, one GPU: s per attacked image (assumed rate)", per_image)
    report("  500 samples x 6 sparsities, one model (h)", per_image * 500 * SPARSITIES / 3600)
    report("  all 50,000 validation images x 6 sparsities, one model (h)",
           per_image * IMAGENET_VAL * SPARSITIES / 3600)


if __name__ == "__main__":
    main()
