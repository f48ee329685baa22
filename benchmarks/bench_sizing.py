"""The ImageNet-C study, sized from throughput measured on this machine.

Measures, on ``--device`` (default: this machine's CPU), with an ImageNet-sized model
(torchvision ResNet-50, random weights, 1000 classes, 224-pixel images):

1. the forward pass in images per second (best of ``--repeat`` after a warm-up);
2. a whole Study of the same images, clean and dense, divided by that forward (the feature
   hooks, the geometry against 1000 classes, the store and the cube assembly);
3. each ImageNet-C corruption that geowidget implements (16: all of ImageNet-C's 15 but
   frost, plus its extra gaussian blur and saturate) at severity 3, in images per second;
4. the bytes of one unit file of ``--shard`` samples, as a Study stores it.

From these it prints the size of the paper's study: 50,000 validation images x (clean + 15
corruptions x 5 severities) x ``--models`` architectures x ``--sparsities`` pruning levels
(dense included), in units of ``--shard`` samples, and its hours on 1, 8 and 64 GPUs.
With ``--device cuda`` every number is measured on that GPU. On a CPU, the GPU is an
assumption, printed as such: one that runs the ResNet-50 forward at ``--gpu-forward``
images per second, and every other kernel (the corruptions, the Study's own work) faster
by the same factor, since they are torch kernels alike.

Run: python benchmarks/bench_sizing.py [--device cpu] [--gpu-forward 2000]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import best_time, report  # noqa: E402

from geowidget.engine.corruptions import IMAGENET_C, corrupt  # noqa: E402
from geowidget.study import Study  # noqa: E402
from geowidget.study.store import UnitStore  # noqa: E402

IMAGES = 50_000  # ImageNet validation
SEVERITIES = 5
CORRUPTIONS = 15  # ImageNet-C's; their mean cost is that of the ones geowidget implements


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n", type=int, default=32, help="images per measurement")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--sparsities", type=int, default=6)
    parser.add_argument("--shard", type=int, default=4096)
    parser.add_argument("--gpu-forward", type=float, default=2000.0,
                        help="assumed ResNet-50 forward of the target GPU, images/s")
    args = parser.parse_args()
    dev = torch.device(args.device)

    torch.manual_seed(0)
    net = torchvision.models.resnet50(num_classes=1000).eval().to(dev)
    x = torch.rand(args.n, 3, 224, 224)
    labels = torch.randint(0, 1000, (args.n,))
    xd = x.to(dev)

    def forward() -> None:
        with torch.no_grad():
            for a in range(0, args.n, args.batch):
                net(xd[a : a + args.batch])
        if dev.type == "cuda":
            torch.cuda.synchronize()

    fwd = best_time(forward, args.repeat) / args.n  # seconds per image

    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "units"

        def study() -> None:
            for f in store.rglob("*"):  # every run computes its units afresh
                if f.is_file():
                    f.unlink()
            Study({"resnet50": net}, (x, labels), sparsities=(0,), corruptions=None,
                  batch_size=args.batch, device=dev, cache_dir=store, shard_size=args.n,
                  progress=False, probe_samples=args.n).run()

        overhead = best_time(study, args.repeat) / (fwd * args.n)
        # one unit's arrays, repeated to a full shard and stored as the study stores them
        arrays = UnitStore(store).load(next(store.rglob("*.gwu")).stem)
        full = {k: np.resize(v, (*v.shape[:-1], args.shard)) for k, v in arrays.items()}
        UnitStore(Path(tmp) / "full").save("0" * 64, full)
        unit_bytes = next((Path(tmp) / "full").rglob("*.gwu")).stat().st_size

    per_corruption = {}
    for name in IMAGENET_C:
        def run(name: str = name) -> None:
            corrupt(xd, name, 3, seed=0)
            if dev.type == "cuda":
                torch.cuda.synchronize()
        per_corruption[name] = best_time(run, 1) / args.n
    corr = sum(per_corruption.values()) / len(per_corruption)  # seconds per image, mean

    print(f"measured on {dev} ({torch.get_num_threads()} threads), ResNet-50 at 224 px:")
    report("forward, images/s", 1 / fwd)
    report("Study (clean, dense) / forward", overhead, "<= 1.15")
    for name, t in sorted(per_corruption.items(), key=lambda kv: kv[1]):
        report(f"  {name}, images/s", 1 / t)
    report(f"corruption (mean of these {len(per_corruption)}), images/s", 1 / corr)
    report(f"stored bytes per unit of {args.shard} samples (one layer)", unit_bytes)

    conditions = 1 + CORRUPTIONS * SEVERITIES
    cells = args.models * args.sparsities * conditions  # (model, condition) pairs
    shards = math.ceil(IMAGES / args.shard)
    units = cells * shards
    forwards = cells * IMAGES
    corruptions = args.sparsities * CORRUPTIONS * SEVERITIES * IMAGES  # once per task
    seconds = forwards * fwd * overhead + corruptions * corr
    print(f"\nImageNet-C study: {IMAGES:,} images x {conditions} conditions x {args.models} "
          f"models x {args.sparsities} sparsities, shards of {args.shard}")
    report("work units", units)
    report("forward passes (millions of images)", forwards / 1e6)
    report("corruptions applied (millions of images)", corruptions / 1e6)
    report("unit store, GB", units * unit_bytes / 1e9)
    report(f"hours on this {dev.type}", seconds / 3600)
    if dev.type != "cuda":  # scale every kernel by the GPU's forward throughput
        speedup = args.gpu_forward * fwd
        print(f"assumed: a GPU that runs this forward at {args.gpu_forward:g} images/s, "
              f"{speedup:.0f}x the measured {dev.type}, and the corruptions alike")
        seconds /= speedup
    for g in (1, 8, 64):
        report(f"hours on {g} GPU{'s' if g > 1 else ''}", seconds / g / 3600)


if __name__ == "__main__":
    main()
