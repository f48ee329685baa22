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
   picks the kernel computed to the end (target <= 3) and the time from the last pick to its
   answer against one new cell's compute time (``--resnet-drag``: on ResNet-18 too, where a
   cell is slower than the picks);
4. neighbours computed ahead: the time from a pick of the next sparsity, made after the
   idle time that follows a pick, to its answer, with and without; and how soon a cell being
   computed (ahead) stops once a request sets its flag: the delay it adds to a pick.

Run: ``.venv/bin/python benchmarks/bench_live.py [--reps 5] [--no-resnet] [--resnet-drag]``.
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
from geowidget.study.units import OUTPUTS_PART as OUTPUT  # noqa: E402


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

    def ours() -> None:  # the views' path: a cancel flag, every torch operation checked
        k = next(todo)
        live.live.parts(0, k, [live.layers[0], OUTPUT], threading.Event())

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
    report(f"{name}: new cell / forward+geometry (median of paired ratios)", ratio, "<= 1.3")
    report(f"{name}: new cell / forward+geometry (best / best)", best / base, "<= 1.3")


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


def one_cell(live, ks: list[int]) -> float:
    """Median seconds of a new cell (layer 0) on the views' path (a cancel flag, so every
    torch operation is checked) at conditions ``ks``."""
    times = []
    for k in ks:
        start = time.perf_counter()
        live.live.parts(0, k, [live.layers[0], OUTPUT], threading.Event())
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def drag(name: str, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    """20 picks at 10 Hz through the request queue of one view, neighbours computed ahead as
    a view's are: a pick within SETTLE of the previous one waits for the view to be quiet."""
    from geowidget.live.requests import SETTLE, CellRequests

    levels = np.round(np.linspace(0.05, 0.95, 30), 4)
    live = Study({name: model}, (x, y), sparsities=levels, progress=False,
                 batch_size=min(256, len(x)), shard_size=len(x), device="cpu").live()
    live.cell(0, 0, 0)  # the worker's copies of the models
    live.cell(0, 0, 1)  # the pruning plan (a sort of the weights, once)
    one = one_cell(live, [2, 3, 4])
    requests = CellRequests(live.live, ahead=live._neighbours)
    done = threading.Event()
    answered = {}
    picks = list(range(6, 26))
    for k in picks:
        last = time.perf_counter()
        requests.submit("slider", (0, 0, k),
                        lambda err, k=k: (answered.__setitem__(k, (err, time.perf_counter())),
                                          k == picks[-1] and done.set()), pick=True)
        time.sleep(0.1)
    done.wait(600)
    while not requests.idle():  # the last pick's neighbours
        time.sleep(0.005)
    one = float(np.median([one, one_cell(live, [27, 28, 29])]))  # load moves: before, after
    err, at = answered[picks[-1]]
    print(f"[{name}, {len(x)} samples, one new cell {one * 1e3:.0f} ms (3 before the drag, 3 "
          f"after: the mean of the two medians): slider "
          f"drag, 20 sparsities at 10 Hz, one view, settle {SETTLE * 1e3:.0f} ms; picks "
          f"started {[c[2] for c in requests.started]}, computed to the end "
          f"{[c[2] for c in requests.finished]}, computed ahead to the end (neighbours, "
          f"idle time) {[c[2] for c in requests.prefetched]}; last pick answered "
          f"{(at - last) * 1e3:.0f} ms after it was made]")
    report(f"{name} drag: picks computed to the end", float(len(requests.finished)), "<= 3")
    report(f"{name} drag: last pick to its answer / one cell", (at - last) / one, "")
    report(f"{name} drag: (last pick to its answer - settle) / one cell",
           (at - last - SETTLE) / one, "~ 1")
    assert err is None, repr(err)


def ahead(x: torch.Tensor, y: torch.Tensor, picks: int) -> None:
    """Time from a pick of the next sparsity to its answer, with the neighbours computed
    ahead in the idle time after the previous pick, and without; and how soon a cell being
    computed stops when a request comes."""
    import geowidget as gw
    from geowidget import zoo
    from geowidget.live.requests import CellRequests

    levels = np.round(np.linspace(0.05, 0.95, 8 * picks + 8), 4)

    def record(view) -> dict[str, float]:
        sent: dict[str, float] = {}
        view.send = lambda content, buffers=None: sent.__setitem__(content["id"],
                                                                   time.perf_counter())
        return sent

    def ask(view, sent, rid: str, k: int) -> float:
        start = time.perf_counter()
        view._handle_custom_msg({"kind": "anywidget-command", "id": rid, "name": "_slice",
                                 "msg": {"m": 0, "l": 0, "k": k, "pick": True}}, [])
        while rid not in sent:
            time.sleep(0.001)
        return sent[rid] - start

    sides = {}
    for with_ahead in (True, False):
        live = Study({"lenet": zoo.load("lenet-s0")}, (x, y), sparsities=levels,
                     progress=False, shard_size=len(x), device="cpu").live()
        live.cell(0, 0, 0)
        live.cell(0, 0, 1)
        if not with_ahead:
            live._requests = CellRequests(live.live)
        view = gw.PolarPlot(live, budget=1)
        sides[with_ahead] = (live, view, record(view))

    times: dict[bool, list[float]] = {True: [], False: []}
    for i in range(picks):
        k = 2 + 4 * i  # a cell, then (once idle) the next sparsity
        for with_ahead, (live, view, sent) in sides.items():
            ask(view, sent, f"a{i}", k)
            while not live.requests.idle():
                time.sleep(0.005)
            time.sleep(0.25)  # more than a settle: the next pick is lone
            times[with_ahead].append(ask(view, sent, f"b{i}", k + 1))
    on, off = (float(np.median(times[w])) for w in (True, False))
    live = sides[True][0]
    while not live.requests.idle():  # the last pick's neighbours
        time.sleep(0.005)
    one = one_cell(live, [4 * picks + 2 + j for j in range(3)])
    stops = stop_latency(live, [4 * picks + 6 + j for j in range(picks)], one)
    print(f"[lenet, {len(x)} samples, {picks} pairs: a pick of the next sparsity after the "
          f"idle time, answered in {on * 1e3:.1f} ms (median) with the neighbours computed "
          f"ahead, {off * 1e3:.0f} ms without (one new cell {one * 1e3:.0f} ms); a cell "
          f"being computed (ahead) stopped {np.median(stops) * 1e3:.1f} ms (median; max "
          f"{max(stops) * 1e3:.1f} ms) after a request set its flag, the delay a pick sees]")
    report("next sparsity after idle: with ahead / without", on / off, "< 1")
    report("stop of a cell computed ahead / one new cell", float(np.median(stops)) / one,
           "<< 1")


def stop_latency(live, ks: list[int], one: float) -> list[float]:
    """Seconds from setting a running cell's cancel flag (at a spread of moments within its
    computation) to the end of its stop, cleanup included."""
    from geowidget.live import Cancelled

    out = []
    for i, k in enumerate(ks):
        flag, ended = threading.Event(), []

        def compute(k=k, flag=flag, ended=ended) -> None:
            try:
                live.live.parts(0, k, [live.layers[0], OUTPUT], flag)
            except Cancelled:
                pass
            ended.append(time.perf_counter())

        worker = threading.Thread(target=compute)
        worker.start()
        time.sleep(one * (i + 1) / (len(ks) + 1))
        start = time.perf_counter()
        flag.set()
        worker.join()
        out.append(ended[0] - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--no-resnet", action="store_true")
    parser.add_argument("--resnet-drag", action="store_true",
                        help="also drag on ResNet-18 (64 samples; cells slower than the picks)")
    args = parser.parse_args()
    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}")
    from geowidget import zoo

    d = zoo.probe_data()
    new_cell_ratio("lenet", zoo.load("lenet-s0"), d.images[:1000], d.labels[:1000],
                   max(args.reps, 15), 256)  # a cell is ~0.1 s: pairs are cheap
    if not args.no_resnet:
        import torchvision

        torch.manual_seed(0)
        net = torchvision.models.resnet18(num_classes=10).eval()
        g = torch.Generator().manual_seed(0)
        x = torch.rand(256, 3, 224, 224, generator=g)
        new_cell_ratio("resnet18", net, x, torch.arange(256) % 10, max(args.reps // 2, 3), 64)
    switch_ratio(args.reps)
    drag("lenet", zoo.load("lenet-s0"), d.images[:1000], d.labels[:1000])
    ahead(d.images[:1000], d.labels[:1000], args.reps)
    if args.resnet_drag and not args.no_resnet:
        drag("resnet18", net, x[:64], torch.arange(64) % 10)
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
