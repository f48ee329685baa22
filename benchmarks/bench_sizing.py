"""The ImageNet-C study, sized from throughput measured on this machine.

Measures, on ``--device`` (default: this machine's CPU), with an ImageNet-sized model
(torchvision ResNet-50, random weights, 1000 classes, 224-pixel images):

1. the forward pass in images per second (best of ``--repeat`` after a warm-up);
2. a whole Study of the same images, clean and dense, divided by that forward (the feature
   hooks, the geometry against 1000 classes, the store and the cube assembly);
3. each ImageNet-C corruption that geowidget implements (16: all of ImageNet-C's 15 but
   frost, plus its extra gaussian blur and saturate) at severity 3, in images per second;
4. the bytes a unit of ``--shard`` samples stores, as a Study stores it: one part per layer
   and one for the model's outputs.

From these it prints the size of the paper's study on a Study's default grid, every
sparsity under every condition: 50,000 validation images x (clean + 15 corruptions x 5
severities) x ``--models`` architectures x ``--sparsities`` pruning levels (dense included),
in units of ``--shard`` samples, and its hours on 1, 8 and 64 GPUs; then the same for the
cheaper ``grid="dense-corrupted"`` (corruptions on the dense models only), for comparison.

The formula, with M models, S sparsities, C = 75 corrupted conditions, N images, L layers:
forward passes ``M * S * (1 + C) * N`` (full grid) or ``M * (S + C) * N`` (dense-corrupted);
corruptions applied ``C * N`` either way (once per shard and corruption, for every model and
sparsity); seconds = forwards x (forward time x Study overhead) + corruptions x corruption
time; store bytes = units x (outputs part + L x layer part).
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
    parser.add_argument("--layers", type=int, default=1, help="layers stored per unit")
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
        # each part of one unit (its layer, its outputs), repeated to a full shard and
        # stored as the study stores them
        part_bytes = {}
        for i, f in enumerate(sorted(store.rglob("*.gwu"))):
            arrays = UnitStore(store).load(f.stem)
            kind = "outputs" if "pred" in arrays else "layer"
            full = {k: np.resize(v, (*v.shape[:-1], args.shard)) for k, v in arrays.items()}
            UnitStore(Path(tmp) / "full").save(f"{i:064d}", full)
            part_bytes[kind] = next((Path(tmp) / "full").rglob(f"{i:064d}.gwu")).stat().st_size
        unit_bytes = part_bytes["outputs"] + args.layers * part_bytes["layer"]

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
    report(f"stored bytes of a layer's part of {args.shard} samples", part_bytes["layer"])
    report(f"stored bytes of the outputs' part of {args.shard} samples", part_bytes["outputs"])

    corrupted = CORRUPTIONS * SEVERITIES
    shards = math.ceil(IMAGES / args.shard)
    speedup = 1.0 if dev.type == "cuda" else args.gpu_forward * fwd
    for grid, cells in (
        ("full", args.models * args.sparsities * (1 + corrupted)),  # (model, condition) pairs
        ("dense-corrupted", args.models * (args.sparsities + corrupted)),
    ):
        units = cells * shards
        forwards = cells * IMAGES
        corruptions = corrupted * IMAGES  # once per (shard, corruption, severity)
        seconds = forwards * fwd * overhead + corruptions * corr
        print(f"\nImageNet-C study, grid={grid!r}: {IMAGES:,} images x {args.models} models x "
              f"{args.sparsities} sparsities, clean + {corrupted} corrupted conditions"
              f"{'' if grid == 'full' else ' (dense only)'}, shards of {args.shard}")
        report("work units", units)
        report("tasks (a shard on one input, for every model and sparsity)",
               shards * (1 + corrupted))
        report("forward passes (millions of images)", forwards / 1e6)
        report("corruptions applied (millions of images)", corruptions / 1e6)
        report(f"unit store, GB ({args.layers} layer{'s' if args.layers > 1 else ''})",
               units * unit_bytes / 1e9)
        report(f"hours on this {dev.type}", seconds / 3600)
        for g in (1, 8, 64):
            report(f"hours on {g} GPU{'s' if g > 1 else ''}", seconds / speedup / g / 3600)
    if dev.type != "cuda":  # every kernel scaled by the GPU's forward throughput
        print(f"\nassumed: a GPU that runs this forward at {args.gpu_forward:g} images/s, "
              f"{speedup:.0f}x the measured {dev.type}, and the corruptions alike")


if __name__ == "__main__":
    main()
