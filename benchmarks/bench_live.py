"""Live cubes: the cost of a cell computed on demand, against what it must cost at least.

Prints (every ratio is the median of runs paired with their baseline, measured back to back so
load on a shared machine hits both alike; each side gets the same warm-up, repetitions and
statistic; every line names what each side ran):

1. one new cell of a live cube (a sparsity never computed before, layer ``penultimate``, CPU)
   against its floor: one forward pass of the probe set through the model pruned to that
   sparsity (its masks computed from the model's sorted weights and applied in place, as the
   engine does) plus that layer's
   geometry, for
   - the zoo's LeNet (``lenet-s0``) with 1,000 probe samples (target <= 1.3);
   - torchvision's ResNet-18, random weights, 256 samples at 224 px (target <= 1.3);
2. switching a view to a cell already computed (the kernel's ``_slice`` answer) on a live cube
   against the same switch on the precomputed (run) cube (target ~ 1, as bench_render's slice
   switch);
3. a slider drag: 20 picks of one view at 10 Hz through the live request queue: how many
   cells the kernel computed (target <= 3) and the time from the last pick to its answer
   against one cell's compute time.

Run: ``.venv/bin/python benchmarks/bench_live.py [--reps 5] [--no-resnet]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import paired_ratio, report  # noqa: E402

from geowidget.engine.features import extract_features  # noqa: E402
from geowidget.engine.geometry import geometry  # noqa: E402
from geowidget.engine.head import find_head  # noqa: E402
from geowidget.engine.pruning import pruned  # noqa: E402
from geowidget.study import Study  # noqa: E402


def new_cell_ratio(name: str, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                   reps: int, batch_size: int) -> None:
    """Live's new cell against one pruned forward pass plus the layer's geometry."""
    levels = np.round(np.linspace(0.05, 0.95, 2 * reps + 4), 4)
    study = Study({name: model}, (x, y), sparsities=levels, batch_size=batch_size,
                  shard_size=len(x), progress=False, device="cpu")
    live = study.live()
    worker_model = None
    head, linear, node = find_head(model)
    todo = iter(range(1, len(levels) + 1))  # condition k: clean at levels[k - 1]

    def ours() -> None:
        k = next(todo)
        live.cell(0, 0, k)

    def floor() -> None:
        nonlocal worker_model
        k = next(todo_floor)
        masks = plan.masks(float(live.conditions[k].sparsity))  # pruning is part of a condition
        with pruned(worker_model, dict(masks)):
            feats = extract_features(worker_model, (x, y), [node], batch_size=batch_size,
                                     device="cpu", progress=False)  # outputs included
            w = linear.weight.detach().float()
            b = None if linear.bias is None else linear.bias.detach().float()
            geometry(feats[node].float(), y, w, b)

    live.cell(0, 0, 0)  # the worker's copies and pruning plan, made once per live cube
    worker = live.live._worker
    worker_model = worker.models[name]
    linear = worker_model.get_submodule(head)
    plan = worker.plan(name)  # the sort of the weights, made once per live cube
    todo_floor = iter(range(1, len(levels) + 1))
    ratio, best, base = paired_ratio(ours, floor, repeat=reps, warmup=1)
    print(f"[{name}: live new cell (worker: read shard, prune, forward, geometry, outputs, "
          f"cache) vs masks + one pruned forward + geometry of the head layer] best {best * 1e3:.0f} ms vs "
          f"{base * 1e3:.0f} ms")
    report(f"{name}: new cell / forward+geometry", ratio, "<= 1.3")


def switch_ratio(reps: int) -> tuple[float, Study]:
    import geowidget as gw
    from geowidget import zoo

    d = zoo.probe_data()
    x, y = d.images[:1000], d.labels[:1000]
    kw = dict(sparsities=(0.5, 0.9), layers=["fc1", "penultimate"], progress=False,
              shard_size=1000)
    study = Study({"lenet": zoo.load("lenet-s0")}, (x, y), **kw)
    run = study.run()
    live = Study({"lenet": zoo.load("lenet-s0")}, (x, y), **kw).live()
    for k in range(3):
        for ly in range(2):
            live.cell(0, ly, k)
    views = [gw.PolarPlot(c, budget=1) for c in (live, run)]
    cells = [(ly, k) for ly in range(2) for k in range(3)]
    at = {"i": 0}

    def switch(view: gw.PolarPlot):
        def go() -> None:
            ly, k = cells[at["i"] % len(cells)]
            view._slice({"m": 0, "l": ly, "k": k}, [])
        return go

    def step(fn):
        def go() -> None:
            fn()
            at["i"] += 1
        return go

    ratio, best, base = paired_ratio(step(switch(views[0])), switch(views[1]),
                                     repeat=max(reps, 15), warmup=2)
    print(f"[computed cell: live cube (memory cache) vs run cube (in memory); "
          f"the kernel's _slice answer] best {best * 1e6:.0f} us vs {base * 1e6:.0f} us")
    report("switch to a computed cell: live / precomputed", ratio, "~ 1")
    return ratio, study


def drag(name: str, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    """20 picks at 10 Hz through the request queue of one view. A pick is superseded only
    when a cell takes longer than the 100 ms between picks; the line says how long one took."""
    from geowidget.live.requests import CellRequests

    levels = np.round(np.linspace(0.05, 0.95, 24), 4)
    live = Study({name: model}, (x, y), sparsities=levels, progress=False, batch_size=64,
                 shard_size=len(x), device="cpu").live()
    live.cell(0, 0, 0)  # the worker's copies of the models
    live.cell(0, 0, 1)  # the pruning plan (a sort of the weights, once)
    start = time.perf_counter()
    live.cell(0, 0, 2)
    one = time.perf_counter() - start
    requests = CellRequests(live.live)
    done = threading.Event()
    answered = {}
    picks = list(range(3, 23))
    asked = {}
    for k in picks:
        asked[k] = time.perf_counter()
        requests.submit("slider", (0, 0, k),
                        lambda err, k=k: (answered.__setitem__(k, (err, time.perf_counter())),
                                          k == picks[-1] and done.set()))
        last = time.perf_counter()
        time.sleep(0.1)
    done.wait(600)
    err, at = answered[picks[-1]]
    print(f"[{name}, {len(x)} samples, one cell {one * 1e3:.0f} ms: "
          f"slider drag: 20 sparsities at 10 Hz, one view; started {len(requests.started)} "
          f"(each stopped within a batch or before a layer's geometry when the next pick "
          f"came), computed to the end: {requests.finished}; a finished pick answered in "
          f"{np.median([answered[c[2]][1] - asked[c[2]] for c in requests.finished]) * 1e3:.0f}"
          f" ms (median): a cell done within the 100 ms between picks is never superseded]")
    report(f"{name} drag: cells computed to the end",
           float(len(requests.finished)), "<= 3")
    report(f"{name} drag: last pick to its answer / one cell", (at - last) / one, "")
    assert err is None, repr(err)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--no-resnet", action="store_true")
    args = parser.parse_args()
    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}")
    from geowidget import zoo

    d = zoo.probe_data()
    new_cell_ratio("lenet", zoo.load("lenet-s0"), d.images[:1000], d.labels[:1000],
                   args.reps, 256)
    if not args.no_resnet:
        import torchvision

        torch.manual_seed(0)
        net = torchvision.models.resnet18(num_classes=10).eval()
        g = torch.Generator().manual_seed(0)
        x = torch.rand(256, 3, 224, 224, generator=g)
        new_cell_ratio("resnet18", net, x, torch.arange(256) % 10, max(args.reps // 2, 2), 64)
    switch_ratio(args.reps)
    drag("lenet", zoo.load("lenet-s0"), d.images[:1000], d.labels[:1000])
    if not args.no_resnet:
        drag("resnet18", net, x[:64], torch.arange(64) % 10)
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
