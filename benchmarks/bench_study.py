"""A whole Study against the work it cannot avoid: the forward passes and the corruptions.

The unavoidable work, timed as a baseline in the same run: for every model and every
condition, one forward pass over the data (the pruned levels inside ``pruned``, as the study
does), and each generated corruption applied once per sample. The Study adds feature hooks,
the geometry, the shard fingerprints, the thumbnails, the unit store and the cube assembly.
Both are timed the same way (best of ``--repeat`` after one warm-up run).

Run: python benchmarks/bench_study.py [--n 2048 --models 2 --threads 2]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from pathlib import Path

import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import best_time, report  # noqa: E402

from geowidget.engine.corruptions import corrupt  # noqa: E402
from geowidget.engine.pruning import PruningPlan, pruned  # noqa: E402
from geowidget.study import Study  # noqa: E402

SPARSITIES = (0.5, 0.9)
CORRUPTIONS = ("fog", "gaussian_noise")
SEVERITIES = (3,)


def models(count: int) -> dict[str, torch.nn.Module]:
    out = {}
    for i in range(count):
        torch.manual_seed(i)
        out[f"resnet18-{i}"] = torchvision.models.resnet18(num_classes=10).eval()
    return out


def unavoidable(nets: dict[str, torch.nn.Module], x: torch.Tensor, batch: int, shard: int,
                seed: int) -> None:
    """Forward passes of every (model, condition) and each corruption once per sample."""
    corrupted = []
    for name in CORRUPTIONS:
        for sev in SEVERITIES:
            corrupted.append(torch.cat([
                corrupt(x[a : a + shard], name, sev, seed=seed,
                        index=torch.arange(a, min(a + shard, len(x))))
                for a in range(0, len(x), shard)]))

    def forward(net: torch.nn.Module, inputs: torch.Tensor) -> None:
        with torch.no_grad():
            for a in range(0, len(inputs), batch):
                net(inputs[a : a + batch])

    for net in nets.values():
        plan = PruningPlan.from_model(net, "global_magnitude")
        forward(net, x)
        for s in SPARSITIES:
            with pruned(net, plan.masks(s)):
                forward(net, x)
        for xc in corrupted:
            forward(net, xc)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2048)
    parser.add_argument("--models", type=int, default=2)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--shard", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(args.n, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (args.n,), generator=g)
    nets = models(args.models)
    k = 1 + len(SPARSITIES) + len(CORRUPTIONS) * len(SEVERITIES)
    print(f"study benchmark: {args.models} ResNet-18 (10 classes) x {k} conditions x "
          f"{args.n} CIFAR-sized images, {torch.get_num_threads()} threads")

    def study(cache: str | None = None) -> Study:
        return Study(nets, (x, y), sparsities=SPARSITIES, corruptions=list(CORRUPTIONS),
                     severities=SEVERITIES, batch_size=args.batch, shard_size=args.shard,
                     progress=False, device="cpu", cache_dir=cache)

    t_base = best_time(lambda: unavoidable(nets, x, args.batch, args.shard, 0),
                       repeat=args.repeat)
    t_study = best_time(lambda: study().run(), repeat=args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        fresh = itertools.count()  # a new store each run, so nothing comes from a cache
        t_store = best_time(lambda: study(f"{tmp}/{next(fresh)}").run(), repeat=args.repeat)
        units = sorted(Path(tmp).rglob("*.gwu"))
        unit_bytes = sum(p.stat().st_size for p in units) / max(len(units), 1)
    report("forward passes + corruptions (s)", t_base)
    report("Study.run(), in memory (s)", t_study)
    report("Study.run() writing every unit to a store (s)", t_store)
    report("ratio Study / unavoidable", t_study / t_base, "<= 1.15")
    report("ratio Study with a store / unavoidable", t_store / t_base, "report")
    report(f"bytes per unit file ({args.shard} samples, 1 layer)", unit_bytes)
    report("images per second through the whole Study",
           args.models * k * args.n / t_study)


if __name__ == "__main__":
    main()
