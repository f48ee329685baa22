"""Adding a layer to a finished study: its own work only, against the whole study again.

A study of a zoo CNN on the demo's held-out digits (full grid: every sparsity under every
corruption) is run with layers ``conv2`` and ``penultimate`` into a unit store. Then
``pool1`` is added. Timed, in interleaved pairs (load on a shared machine hits both sides):

- **full**: the study of all three layers from an empty store (what adding a layer cost
  before units were stored per layer: every unit again);
- **add**: the same study on a copy of the store of the first two layers: only ``pool1``'s
  parts are computed (its probe, and forward passes that stop at ``pool1``); the outputs and
  the other layers' parts are read from the store.

Run: python benchmarks/bench_add_layer.py [--samples 500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import report  # noqa: E402

from geowidget import zoo  # noqa: E402
from geowidget.demo import probe_subset  # noqa: E402
from geowidget.study import Study  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="wide_cnn-s0")
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    models = {args.model: zoo.load(args.model)}
    data = probe_subset(args.samples)
    kw = dict(sparsities=(0.5, 0.9), corruptions=["gaussian_noise", "fog"], severities=(3,),
              progress=False, shard_size=250)
    base, every = ["conv2", "penultimate"], ["pool1", "conv2", "penultimate"]

    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared"
        Study(models, data, layers=base, cache_dir=prepared, **kw).run()

        def full() -> Study:
            store = Path(tmp) / "full"
            shutil.rmtree(store, ignore_errors=True)
            study = Study(models, data, layers=every, cache_dir=store, **kw)
            study.run()
            return study

        def add() -> Study:
            store = Path(tmp) / "add"
            shutil.rmtree(store, ignore_errors=True)
            shutil.copytree(prepared, store)
            study = Study(models, data, layers=every, cache_dir=store, **kw)
            study.run()
            return study

        add(), full()  # warm-up
        t_full, t_add = [], []
        for _ in range(args.repeat):
            start = time.perf_counter()
            full()
            mid = time.perf_counter()
            study = add()
            t_full.append(mid - start)
            t_add.append(time.perf_counter() - mid)
        ratio = statistics.median(a / f for a, f in zip(t_add, t_full, strict=True))
    units = study.stats["computed"] + study.stats["cached"]
    print(f"{args.model}, {args.samples} digits, {len(study.conditions)} conditions, "
          f"{units} units; layers {base} in the store, then pool1 added")
    report("full study of the three layers, s (best)", min(t_full))
    report("adding pool1 to the store of the other two, s (best)", min(t_add))
    report("add / full (median of interleaved pairs)", ratio)
    print("parts when adding:", study.part_stats)


if __name__ == "__main__":
    main()
