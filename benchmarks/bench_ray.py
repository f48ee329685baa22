"""Ray on a local 2-CPU cluster against the local runner, and Ray's overhead per unit.

1. A CPU-bound study of 48 units (4 convolutional models x 6 conditions x 2 shards): the
   local runner with torch's default threads (one per core: what a user gets) against Ray
   with two one-CPU actors (one thread each) on the same two cores. Actors start (and load
   the models) inside the timed run, as in real use.
2. Tiny units (a linear model, 64 samples each): Ray with one two-CPU actor against the
   local runner with torch's default threads; the difference per unit is what Ray adds
   (scheduling, the shard through the object store, the unit file written by the worker and
   read back).

Both Ray cubes are checked to equal the local ones: predictions exactly, the float geometry
within float32 rounding (``equals(rtol=1e-5, atol=1e-6)``; the thread counts differ). The cluster is started on loopback
in a temporary directory and shut down at the end.

Run: python benchmarks/bench_ray.py
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import report  # noqa: E402

from geowidget.study import RayRunner, Study  # noqa: E402

# another thread count sums float32 in another order: the last bits may differ
ROUNDING = dict(rtol=1e-5, atol=1e-6)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_cluster(num_cpus: int = 2):  # noqa: ANN201 -- ray's Cluster
    """A local Ray cluster whose files stay in a temporary directory (three tries: on a busy
    machine Ray's dashboard agent may miss its 15 s start-up window)."""
    import ray
    from ray.cluster_utils import Cluster

    tmp = tempfile.mkdtemp(prefix="gwray")
    os.environ["RAY_TMPDIR"] = tmp
    os.makedirs(os.path.join(tmp, "ray"))
    for attempt in range(3):
        try:
            cluster = Cluster(initialize_head=True, head_node_args=dict(
                num_cpus=num_cpus, include_dashboard=False,
                metrics_agent_port=free_port(), metrics_export_port=free_port(),
                dashboard_agent_listen_port=free_port()))
            break
        except Exception:  # noqa: BLE001 -- Ray raises a bare Exception on a timeout
            if attempt == 2:
                raise
    ray.init(address=cluster.address, log_to_driver=False, configure_logging=False)
    return cluster, tmp


def convnet(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
        nn.Flatten(), nn.Linear(1024, 128), nn.ReLU(), nn.Linear(128, 10),
    ).eval()


def timed(study: Study) -> tuple[float, object]:
    start = time.perf_counter()
    cube = study.run()
    return time.perf_counter() - start, cube


def main() -> None:
    import ray

    cluster, tmp = start_cluster(2)
    try:
        g = torch.Generator().manual_seed(0)
        x, y = torch.rand(1024, 3, 32, 32, generator=g), torch.randint(0, 10, (1024,))
        models = {f"conv{i}": convnet(i) for i in range(4)}
        kw = dict(sparsities=(0.5, 0.9), corruptions=["fog", "contrast", "gaussian_noise"],
                  severities=(3,), shard_size=512, batch_size=256, progress=False)
        t_local, local = timed(Study(models, (x, y), **kw))
        t_ray, on_ray = timed(Study(models, (x, y), runner=RayRunner(), **kw))
        units = 4 * 6 * 2
        assert on_ray.equals(local, **ROUNDING), "Ray and local cubes differ"

        tiny = {"linear": nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10)).eval()}
        xs, ys = x[:1024], y[:1024]
        tkw = dict(sparsities=(), shard_size=64, batch_size=64, progress=False)
        t_tiny_local, tiny_local = timed(Study(tiny, (xs, ys), **tkw))
        t_tiny_ray, tiny_ray = timed(Study(tiny, (xs, ys),
                                           runner=RayRunner(remote_args={"num_cpus": 2}), **tkw))
        assert tiny_ray.equals(tiny_local, **ROUNDING)
        tiny_units = 1024 // 64
        print(f"Ray {ray.__version__}: local cluster with 2 CPUs; local runner on "
              f"{torch.get_num_threads()} torch threads, each Ray actor on its num_cpus; "
              f"load average {os.getloadavg()[0]:.2f}")
        report(f"CPU-bound study, {units} units: local, default threads (s)", t_local)
        report(f"CPU-bound study, {units} units: Ray, 2 actors (s)", t_ray)
        report("speed-up Ray / local (torch's default threads)", t_local / t_ray)
        report(f"tiny units ({tiny_units}): local (s)", t_tiny_local)
        report(f"tiny units ({tiny_units}): Ray, 1 actor (s)", t_tiny_ray)
        report("Ray overhead per unit, actor start included (ms)",
               1000 * (t_tiny_ray - t_tiny_local) / tiny_units)
        # the same tiny study again: the actors' start-up is paid again, so the difference
        # between two sizes isolates the per-unit part
        xs2, ys2 = torch.cat([xs] * 4), torch.cat([ys] * 4)
        t_big_local, _ = timed(Study(tiny, (xs2, ys2), **tkw))
        t_big_ray, _ = timed(Study(tiny, (xs2, ys2),
                                   runner=RayRunner(remote_args={"num_cpus": 2}), **tkw))
        per_unit = ((t_big_ray - t_big_local) - (t_tiny_ray - t_tiny_local)) / (3 * tiny_units)
        report("Ray overhead per unit, marginal (ms)", 1000 * per_unit)
    finally:
        ray.shutdown()
        cluster.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
