"""GeometryTracker: the cost of one recorded step against one forward pass of the probe set.

The model is the zoo's LeNet architecture (random initial weights, as at the start of a
training run) and the probe set the zoo's 1,500 held-out MNIST digits. The baseline is a
plain forward pass of the probe set in the same batches, under ``torch.no_grad()`` in eval
mode: the least any recording could cost.

Run: python benchmarks/bench_tracker.py [--arch lenet --batch 256 --repeat 7]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import paired_ratio, report  # noqa: E402

from geowidget import zoo  # noqa: E402
from geowidget.engine.batches import iter_batches  # noqa: E402
from geowidget.study import GeometryTracker  # noqa: E402
from geowidget.zoo.models import build_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", default="lenet", choices=["mlp", "lenet", "wide_cnn"])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    model = build_model(args.arch, seed=0)
    probe = zoo.probe_data()
    x = probe.images

    def plain() -> None:
        was = model.training
        model.eval()
        with torch.no_grad():
            for xb, _ in iter_batches(x, args.batch, "cpu"):
                model(xb)
        model.train(was)

    tracker = GeometryTracker(model, probe, run=args.arch, batch_size=args.batch)
    counter = iter(range(10**9))
    print(f"tracker benchmark: {args.arch}, N={len(x)} probe digits, batch {args.batch}, "
          f"{torch.get_num_threads()} threads; median of {args.repeat} interleaved pairs")
    ratio, t_step, t_plain = paired_ratio(lambda: tracker.step(next(counter)), plain,
                                          args.repeat)
    report("plain forward of the probe set (s, best)", t_plain)
    report("tracker.step: one recorded step (s, best)", t_step)
    report("ratio recorded step / forward pass", ratio, "<= 1.2")


if __name__ == "__main__":
    main()
