"""Occlusion attribution for one 28x28 MNIST sample (patch 4, stride 2: 13 x 13 positions).

Ours builds every occluded copy at once and sends them through the model in one batched
forward; the baseline is a loop of one forward per patch position, with the feature hook
registered once for the loop and the same geometry per position. Both get one warm-up run,
then 5 runs each, interleaved in pairs (so load on a shared machine hits both alike). Prints
the best time of each and the median of the 5 paired ratios ours / loop.

Run: python benchmarks/bench_occlusion.py [--models lenet-s0,wide_cnn-s0 --patch 4 --stride 2]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import paired_ratio, report  # noqa: E402

from geowidget import zoo  # noqa: E402
from geowidget.engine.attribution import occlusion, patch_positions  # noqa: E402
from geowidget.engine.geometry import geometry  # noqa: E402


def loop_occlusion(model, image, label, patch, stride):  # noqa: ANN001, ANN201
    """Baseline: one forward and one geometry call per patch position, the head's input read
    by a forward hook registered once for the whole loop."""
    w, b = model.fc.weight.detach(), model.fc.bias.detach()
    y = torch.tensor([label])
    seen: list[torch.Tensor] = []
    hook = model.fc.register_forward_pre_hook(lambda m, inputs: seen.append(inputs[0]))

    def geo(x: torch.Tensor) -> tuple[float, float]:
        seen.clear()
        model(x[None])
        g = geometry(seen[0], y, w, b)
        return float(g.angle[0]), float(g.margin[0])

    try:
        model.eval()
        with torch.no_grad():
            base = geo(image)
            tops = patch_positions(image.shape[1], patch, stride)
            lefts = patch_positions(image.shape[2], patch, stride)
            out = torch.zeros(len(tops), len(lefts), 2)
            for i, t in enumerate(tops.tolist()):
                for j, left in enumerate(lefts.tolist()):
                    x = image.clone()
                    x[:, t : t + patch, left : left + patch] = 0.0
                    a, m = geo(x)
                    out[i, j, 0], out[i, j, 1] = a - base[0], m - base[1]
    finally:
        hook.remove()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="lenet-s0,wide_cnn-s0")
    parser.add_argument("--patch", type=int, default=4)
    parser.add_argument("--stride", type=int, default=2)
    args = parser.parse_args()
    probe = zoo.probe_data()
    image, label = probe.images[37], int(probe.labels[37])
    n_pos = len(patch_positions(28, args.patch, args.stride)) ** 2
    print(f"occlusion benchmark: one 28x28 sample, patch {args.patch}, stride {args.stride} "
          f"({n_pos} positions), {torch.get_num_threads()} threads, "
          f"load average {os.getloadavg()[0]:.2f}")
    for name in args.models.split(","):
        model = zoo.load(name)
        ours = occlusion(model, image, label, patch=args.patch, stride=args.stride)
        ref = loop_occlusion(model, image, label, args.patch, args.stride)
        ratio, t_ours, t_loop = paired_ratio(
            lambda m=model: occlusion(m, image, label, patch=args.patch, stride=args.stride),
            lambda m=model: loop_occlusion(m, image, label, args.patch, args.stride), repeat=5)
        err = float((ours.delta_angle - ref[..., 0]).abs().max())
        report(f"{name}: batched occlusion, one forward (s, best)", t_ours)
        report(f"{name}: loop of {n_pos + 1} single forwards (s, best)", t_loop)
        report(f"{name}: ratio ours / loop (median of 5 pairs)", ratio, "< 0.2")
        print(f"{name}: max |delta angle| difference ours vs loop: {err:.2e} rad (target < 1e-4)")


if __name__ == "__main__":
    main()
