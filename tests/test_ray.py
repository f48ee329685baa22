"""The Ray backend on a local 2-CPU cluster: same cube as local, a killed worker, a killed driver.

One cluster on this machine serves the whole module (it takes seconds to start); it keeps its
files in a temporary directory and is shut down at the end.
"""

from __future__ import annotations

import copy
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import torch
from torch import nn

from geowidget.cli import main
from geowidget.cube import GeometryCube
from geowidget.datasets import load_mnist
from geowidget.study import RayRunner, Study

ray = pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = dict(sparsities=(0.5,), corruptions=["fog"], severities=(2,), shard_size=40,
                batch_size=32, progress=False, grid="dense-corrupted")
PARTS = 2  # stored parts of a unit: its one layer and its outputs
# Ray actors run torch on one thread, the local run on all cores: float32 sums are taken in
# another order, so the geometry may differ in the last bits (seen: angle 2.4e-7, norm 1.2e-7,
# i.e. 1-2 ulps of values near 1). The bound allows about 80 ulps relative, and 1e-6 absolute
# for values near zero (margins, angle gaps: differences of larger terms); every quantity
# the cube reports varies by orders of magnitude more between conditions. pred and correct
# stay exact.
ACROSS_PROCESSES = dict(rtol=1e-5, atol=1e-6)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    """A local cluster with 2 CPUs; this process is connected to it as a driver.

    Its files (and the address file Ray writes for ``RayRunner(address="auto")``) stay in a
    temporary directory, so no other Ray on the machine sees it.
    """
    from ray.cluster_utils import Cluster

    saved = os.environ.get("RAY_TMPDIR")
    tmp = tempfile.mkdtemp(prefix="gwray")
    os.environ["RAY_TMPDIR"] = tmp
    os.makedirs(os.path.join(tmp, "ray"))
    last = None
    for _ in range(3):  # the dashboard agent must start within Ray's 15 s on a busy machine
        try:
            c = Cluster(initialize_head=True, head_node_args=dict(
                num_cpus=2, include_dashboard=False,
                metrics_agent_port=_free_port(), metrics_export_port=_free_port(),
                dashboard_agent_listen_port=_free_port()))
            break
        except Exception as err:  # noqa: BLE001 -- Ray raises a bare Exception on a timeout
            last = err
    else:
        raise RuntimeError(f"the local Ray cluster did not start: {last}")
    ray.init(address=c.address, log_to_driver=False, configure_logging=False)
    yield c
    ray.shutdown()
    c.shutdown()
    if saved is None:
        os.environ.pop("RAY_TMPDIR", None)
    else:
        os.environ["RAY_TMPDIR"] = saved
    shutil.rmtree(tmp, ignore_errors=True)


def mlp(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 16),
                         nn.ReLU(), nn.Linear(16, 10)).eval()


@pytest.fixture(scope="module")
def setup():
    data = load_mnist()
    index = torch.randperm(len(data), generator=torch.Generator().manual_seed(1))[:160]
    return {"a": mlp(0), "b": mlp(1)}, (data.images[index], data.labels[index])


@pytest.fixture(scope="module")
def reference(setup) -> GeometryCube:
    models, data = setup
    return Study(models, data, **SETTINGS).run()


def slow(models: dict[str, nn.Module], seconds: float) -> dict[str, nn.Module]:
    """Copies whose forward passes sleep (the outputs are unchanged)."""
    out = {}
    for name, m in models.items():
        m = copy.deepcopy(m)
        m.register_forward_hook(lambda *_: time.sleep(seconds))
        out[name] = m
    return out


def units_in(store: Path) -> int:
    return len(list(store.rglob("*.gwu")))


def test_ray_gives_the_local_cube(cluster, setup, reference) -> None:
    models, data = setup
    study = Study(models, data, runner=RayRunner(), **SETTINGS)
    cube = study.run()
    assert cube.equals(reference, **ACROSS_PROCESSES)
    total = 2 * 3 * 4  # models x conditions x shards
    assert study.stats == {"computed": total, "cached": 0, "corrupt": 0}
    # the actors are gone after the run: nothing keeps the models loaded
    assert study.runner.actors == []


def actor_pids(cluster) -> list[int]:
    raylet = cluster.head_node.all_processes["raylet"][0].process.pid
    return [p.pid for p in psutil.Process(raylet).children(recursive=True)
            if "_StudyActor" in " ".join(p.cmdline())]


def test_many_small_shards_reach_the_workers(cluster, setup, tmp_path) -> None:
    # 20 shards: the driver forgets the object refs of earlier shards while it queues tasks
    models, data = setup
    settings = dict(SETTINGS, shard_size=8, sparsities=(), corruptions=None)
    local = Study(models, data, **settings).run()
    remote = Study(models, data, **settings, runner=RayRunner(), cache_dir=tmp_path).run()
    assert remote.equals(local, **ACROSS_PROCESSES)


def test_a_killed_worker_is_retried_and_no_unit_is_lost_or_counted_twice(
        cluster, setup, reference, tmp_path) -> None:
    models, data = setup
    store = tmp_path / "units"
    study = Study(slow(models, 0.05), data, runner=RayRunner(), cache_dir=store, **SETTINGS)
    result: dict[str, object] = {}
    thread = threading.Thread(target=lambda: result.update(cube=study.run()))
    thread.start()
    deadline = time.time() + 120
    while units_in(store) < 4 * PARTS and time.time() < deadline:
        time.sleep(0.05)
    victims = actor_pids(cluster)
    assert victims, "no actor process found"
    os.kill(victims[0], signal.SIGKILL)
    killed_at = units_in(store)
    thread.join(timeout=240)
    assert not thread.is_alive()
    assert killed_at < 24 * PARTS, "the study finished before a worker could be killed"
    assert result["cube"].equals(reference, **ACROSS_PROCESSES)
    assert study.stats == {"computed": 24, "cached": 0, "corrupt": 0}
    assert units_in(store) == 24 * PARTS
    assert not psutil.pid_exists(victims[0]) or psutil.Process(victims[0]).status() == "zombie"


def test_driver_killed_with_9_resumes_from_the_store(cluster, setup, reference, tmp_path) -> None:
    models, (x, y) = setup
    torch.save({"models": models, "x": x, "y": y}, tmp_path / "inputs.pt")
    store = tmp_path / "units"
    script = textwrap.dedent(f"""
        import time, torch
        from geowidget.study import RayRunner, Study
        d = torch.load({str(tmp_path / 'inputs.pt')!r}, weights_only=False)
        for m in d["models"].values():  # slow every forward pass down
            m.register_forward_hook(lambda *_: time.sleep(0.1))
        Study(d["models"], (d["x"], d["y"]), runner=RayRunner(address={cluster.address!r}),
              cache_dir={str(store)!r}, **{SETTINGS!r}).run()
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    deadline = time.time() + 180
    while time.time() < deadline and units_in(store) < 3 * PARTS and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the driver finished (or failed) before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = units_in(store)
    assert 3 * PARTS <= done < 24 * PARTS
    resumed = Study(models, (x, y), runner=RayRunner(), cache_dir=store, **SETTINGS)
    assert resumed.run().equals(reference, **ACROSS_PROCESSES)
    parts = resumed.part_stats
    assert parts["outputs"]["cached"] + parts["layers"]["penultimate"]["cached"] == done
    assert resumed.stats["cached"] + resumed.stats["computed"] == 24
    assert resumed.stats["corrupt"] == 0


def test_run_out_resumes_on_ray_and_removes_dead_writers_files(cluster, tmp_path) -> None:
    from tests.test_resume import HOST, SETTINGS, UNITS, dead_pid, debris
    from tests.test_resume import setup as small_setup

    models, data = small_setup()
    cache, out = tmp_path / "cache", tmp_path / "cube"
    Study(models, data, cache_dir=cache, **{**SETTINGS, "sparsities": ()}).run()  # 12 units
    pid = dead_pid()  # what a killed driver left: its staging folder and a unit being written
    (tmp_path / f".cube.w{pid}@{HOST}.{'0' * 32}.staging").mkdir()
    (cache / "ab").mkdir(exist_ok=True)
    (cache / "ab" / f"z.gwu.w{pid}@{HOST}.{'0' * 32}.tmp").write_bytes(b"half")
    study = Study(models, data, cache_dir=cache, runner=RayRunner(), **SETTINGS)
    cube = study.run(out=out)
    assert study.stats == {"computed": UNITS - 12, "cached": 12, "corrupt": 0}
    assert debris(tmp_path) == [] and sorted(p.name for p in tmp_path.iterdir()) == [
        "cache", "cube"]
    reference = Study(models, data, **SETTINGS).run()
    # floats from other processes agree within float32 rounding; predictions exactly
    for name in ("angle", "norm", "margin", "logit_margin"):
        np.testing.assert_allclose(cube.values(name), reference.values(name), rtol=1e-5,
                                   atol=1e-6)
    np.testing.assert_array_equal(cube.pred, reference.pred)


def test_cli_runs_a_study_on_ray(cluster, tmp_path) -> None:
    out, store = tmp_path / "cube.parquet", tmp_path / "units"
    args = ["study", "--models", "mlp-s0", "--samples", "50", "--sparsities", "0.5",
            "--quiet", "--cache-dir", str(store)]
    assert main([*args, "--out", str(out), "--backend", "ray", "--ray-address",
                 cluster.address]) == 0
    assert main([*args, "--out", str(tmp_path / "local.parquet")]) == 0  # all from the store
    ray_cube = GeometryCube.from_parquet(str(out))
    local = GeometryCube.from_parquet(str(tmp_path / "local.parquet"))
    # exact: the local run read every unit the Ray run wrote
    assert ray_cube.equals(local) and ray_cube.shape["sample"] == 50


def test_the_deprecated_backend_spelling_gives_the_runner_s_cube(cluster, setup) -> None:
    models, data = setup
    new = Study(models, data, runner=RayRunner(remote_args={"num_cpus": 1}), **SETTINGS).run()
    with pytest.warns(DeprecationWarning, match=r"pass runner=RayRunner\(remote_args="):
        old = Study(models, data, backend="ray", ray_remote_args={"num_cpus": 1}, **SETTINGS)
    assert old.run().equals(new, rtol=1e-6, atol=1e-6)


def test_bad_runner_input(setup, monkeypatch, tmp_path) -> None:
    models, data = setup
    with pytest.raises(ValueError, match=r"The 'backend' parameter of Study must be one of "
                                         r"\['local', 'ray'\]. Got 'dask' instead"):
        Study(models, data, backend="dask")
    with pytest.raises(ValueError, match="The 'ray_address' parameter of Study must be None with "
                                         "backend='local'.*Got 'auto' instead"):
        Study(models, data, ray_address="auto")
    with pytest.raises(ValueError, match="The 'cache_dir' parameter of Study must be a unit store "
                                         "that every node of the cluster can reach"):
        Study(models, data, runner=RayRunner(address="auto"))
    with pytest.raises(TypeError, match=r"'remote_args' parameter of RayRunner must be None or a "
                                        r"dict .* Got \['num_gpus'\] instead"):
        RayRunner(remote_args=["num_gpus"])
    port = _free_port()  # nothing listens there
    study = Study(models, data, runner=RayRunner(address=f"127.0.0.1:{port}"),
                  cache_dir=tmp_path, progress=False)
    start = time.time()
    with pytest.raises(ConnectionError, match=rf"cannot reach the Ray cluster at "
                                              rf"address='127.0.0.1:{port}'.*ray start --head"):
        study.run()
    assert time.time() - start < 60
    with pytest.raises(ValueError, match="a Ray address must be 'auto', 'host:port'"):
        Study(models, data, runner=RayRunner(address="nowhere"), cache_dir=tmp_path,
              progress=False).run()
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    study = Study(models, data, runner=RayRunner(), progress=False)  # made: Ray not needed yet
    with pytest.raises(ImportError, match=r"RayRunner needs Ray.*pip install 'geowidget\[ray\]'"):
        study.run()


def test_ray_is_not_imported_by_a_local_study(setup) -> None:
    code = ("import sys, torch; from geowidget.study import Study; "
            "x = torch.rand(20, 1, 28, 28); y = torch.arange(20) % 10; "
            "net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10)); "
            "Study({'n': net}, (x, y), sparsities=(), progress=False).run(); "
            "print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    assert out.stdout.strip() == "False", out.stderr
