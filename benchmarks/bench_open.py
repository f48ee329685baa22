"""A cube larger than memory: open it, read one slice, and compare with a raw pyarrow read.

Writes a synthetic cube of about 3.2 GB (8 models x 48 conditions x 250,000 samples, one
layer; random values, so nothing compresses) with GeometryCube's partitioned format, then
reports, in fresh interpreters:

- the peak RSS of ``GeometryCube.open`` plus one ``slice`` (target <= 300 MB);
- the time to the first slice (open + slice, wall clock);
- the time of a slice read divided by a raw ``pyarrow.parquet.read_table`` of the same 9
  columns of the same file (best of 5 interleaved pairs each).

Run: python benchmarks/bench_open.py [--dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import report  # noqa: E402

from geowidget.cube import LAYER_METRICS  # noqa: E402
from geowidget.cube_format import CubeWriter  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
M, K, N = 8, 48, 250_000


def write_cube(root: Path) -> int:
    """The synthetic cube; returns its size on disk in bytes."""
    writer = CubeWriter(root, {
        "models": [f"model{i}" for i in range(M)], "layers": ["penultimate"],
        "conditions": [[0.0, "clean", 0]] + [[0.0, f"corruption{i // 5}", i % 5 + 1]
                                              for i in range(K - 1)],
        "class_names": [str(c) for c in range(1000)], "model_info": [{}] * M,
        "dataset": "synthetic", "n": N,
    })
    rng = np.random.default_rng(0)
    writer.write_samples(rng.integers(0, 1000, N), np.arange(N))
    for mi in range(M):
        for ki in range(K):
            metrics = {name: rng.random((1, N), np.float32) for name in LAYER_METRICS}
            outputs = {"pred": rng.integers(0, 1000, N), "correct": rng.random(N) < 0.7,
                       "logit_margin": rng.standard_normal(N, np.float32)}
            writer.write_partition(mi, ki, metrics, outputs)
    writer.finish()
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, cwd=ROOT, check=True)
    return out.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", default=None, help="where to write the cube (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the cube afterwards")
    args = parser.parse_args()
    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="gw-bench-open-"))
    root = base / "cube"
    try:
        start = time.perf_counter()
        size = write_cube(root)
        print(f"synthetic cube: {M} models x {K} conditions x {N:,} samples, "
              f"{size / 1e9:.2f} GB on disk (written in {time.perf_counter() - start:.0f} s)")
        first = run(f"""
            import time
            t = time.perf_counter()
            from geowidget.cube import GeometryCube
            imported = time.perf_counter()
            cube = GeometryCube.open({str(root)!r})
            s = cube.slice(model="model5", benchmark="corruption6", severity=3)
            done = time.perf_counter()
            assert s.angle.shape == ({N},)
            peak = [int(x.split()[1]) for x in open("/proc/self/status")
                    if x.startswith("VmHWM:")][0]
            print(peak / 1024, done - imported)
        """).split()
        compare = run(f"""
            import time
            import pyarrow.parquet as pq
            from geowidget.cube import GeometryCube, LAYER_METRICS, OUTPUTS
            from geowidget.cube_format import column, partition_name
            cube = GeometryCube.open({str(root)!r})
            path = {str(root)!r} + "/" + partition_name(5, 33)
            cols = [column(n, "penultimate") for n in LAYER_METRICS] + list(OUTPUTS)
            ours, raw = [], []
            cube.cell(5, 0, 33); pq.read_table(path, columns=cols)  # warm the page cache
            for _ in range(5):
                t = time.perf_counter(); pq.read_table(path, columns=cols)
                raw.append(time.perf_counter() - t)
                t = time.perf_counter(); cube.cell(5, 0, 33)
                ours.append(time.perf_counter() - t)
            print(min(ours), min(raw))
        """).split()
        report("peak RSS of open + one slice (MB)", float(first[0]), "<= 300")
        report("time to the first slice: open + slice (s)", float(first[1]))
        report("slice read (s)", float(compare[0]))
        report("raw pyarrow read of the same 9 columns (s)", float(compare[1]))
        report("ratio slice / raw pyarrow read", float(compare[0]) / float(compare[1]))
    finally:
        if not args.keep:
            shutil.rmtree(base if not args.dir else root, ignore_errors=True)


if __name__ == "__main__":
    main()
