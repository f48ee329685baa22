"""Saving and resuming: a killed ``Study.run(out=...)`` is resumed by the same call, and the
temporary files of dead writers are removed at once, those of live writers never."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from geowidget.cli import main
from geowidget.cube import GeometryCube
from geowidget.filesystem import HOST, remove_orphans, resolve, writer_name
from geowidget.study import Study
from tests.fixtures.kill import kill_9_after_units

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = dict(sparsities=(0.5,), corruptions=["fog"], severities=(2,), shard_size=20,
                progress=False)
UNITS = 2 * 4 * 3  # models x (2 sparsities x (clean, fog)) x shards
PARTS = UNITS * 2  # each unit stored as its penultimate layer and its outputs

# the models and data, built the same way in this process and in the one that is killed
SETUP = """
import torch
from torch import nn
def net(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 4)).eval()
models = {"a": net(0), "b": net(1)}
g = torch.Generator().manual_seed(2)
data = (torch.rand(60, 1, 8, 8, generator=g), torch.arange(60) % 4)
"""


def setup() -> tuple[dict[str, nn.Module], tuple[torch.Tensor, torch.Tensor]]:
    scope: dict = {}
    exec(SETUP, scope)  # noqa: S102 -- the one definition both processes run
    return scope["models"], scope["data"]


def dead_pid() -> int:
    """The id of a process of this host that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def debris(tmp_path: Path) -> list[Path]:
    return sorted(p for p in tmp_path.rglob("*")
                  if p.name.endswith((".tmp", ".staging")) or ".staging" in str(p))


def test_orphans_are_removed_exactly_when_their_writer_is_dead(tmp_path) -> None:
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        names = {
            "dead": f"u1.gwu.w{dead_pid()}@{HOST}.{'a' * 32}.tmp",
            "this process": Path(writer_name(str(tmp_path / "u2.gwu"), ".tmp")).name,
            "live": f"u3.gwu.w{live.pid}@{HOST}.{'b' * 32}.tmp",
            "other host, fresh": f"u4.gwu.w{live.pid}@elsewhere.{'c' * 32}.tmp",
            "other host, old": f"u5.gwu.w{live.pid}@elsewhere.{'d' * 32}.tmp",
            "no writer, old": "u6.gwu.0123456789abcdef0123456789abcdef.tmp",
        }
        for name in names.values():
            (tmp_path / "ab" / name).parent.mkdir(exist_ok=True)
            (tmp_path / "ab" / name).write_bytes(b"x")
        two_hours_ago = time.time() - 7200
        for key in ("other host, old", "no writer, old"):
            os.utime(tmp_path / "ab" / names[key], (two_hours_ago, two_hours_ago))
        removed = {Path(p).name for p in remove_orphans(*resolve(tmp_path))}
        assert removed == {names["dead"], names["other host, old"], names["no writer, old"]}
        left = {p.name for p in (tmp_path / "ab").iterdir()}
        assert left == {names["this process"], names["live"], names["other host, fresh"]}
    finally:
        live.kill()
        live.wait()


def test_kill_9_during_run_out_then_the_same_call_resumes(tmp_path) -> None:
    cache, out = tmp_path / "cache", tmp_path / "cube"
    script = SETUP + textwrap.dedent(f"""
        import time
        from geowidget.study import Study
        for m in models.values():  # slow every forward pass down
            m.register_forward_hook(lambda *_: time.sleep(0.15))
        Study(models, data, cache_dir={str(cache)!r}, **{SETTINGS!r}).run(out={str(out)!r})
    """)
    pid = kill_9_after_units(script, cache, {**os.environ, "PYTHONPATH": str(ROOT)})
    done = len(list(cache.rglob("*.gwu")))
    assert 3 <= done < PARTS
    assert not out.exists()  # the cube was being written beside it
    staged = [p for p in tmp_path.iterdir() if p.name.endswith(".staging")]
    assert len(staged) == 1 and str(pid) in staged[0].name
    # a unit file the killed process was writing when it died
    (cache / "ab").mkdir(exist_ok=True)
    (cache / "ab" / f"x.gwu.w{pid}@{HOST}.{'e' * 32}.tmp").write_bytes(b"half")

    models, data = setup()
    resumed = Study(models, data, cache_dir=cache, **SETTINGS)
    cube = resumed.run(out=out)
    # every part on disk is reused, every other one computed; a unit is cached when all its
    # parts were
    parts = resumed.part_stats
    cached = parts["outputs"]["cached"] + sum(v["cached"] for v in parts["layers"].values())
    computed = parts["outputs"]["computed"] + sum(v["computed"] for v in parts["layers"].values())
    assert (cached, computed) == (done, PARTS - done)
    assert resumed.stats["computed"] + resumed.stats["cached"] == UNITS
    assert resumed.stats["corrupt"] == 0 and resumed.stats["cached"] <= done
    assert debris(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "cube"]
    assert cube.location == str(out)
    assert GeometryCube.open(out).equals(Study(models, data, **SETTINGS).run())


def test_a_failed_run_out_leaves_the_old_cube_and_no_debris(tmp_path, monkeypatch) -> None:
    models, data = setup()
    out = tmp_path / "cube"
    first = Study(models, data, **SETTINGS).run(out=out)
    reference = first.load()
    import geowidget.study.study as study_module

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(study_module._DatasetBuilder, "add", fail)
    with pytest.raises(OSError, match="No space left"):
        Study(models, data, **{**SETTINGS, "sparsities": (0.3,)}).run(out=out)
    assert GeometryCube.open(out).equals(reference)
    assert debris(tmp_path) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["cube"]


def test_cli_resumes_its_own_folder_and_refuses_another(tmp_path, capsys) -> None:
    cache, out = tmp_path / "cache", tmp_path / "cube"
    args = ["study", "--models", "mlp-s0", "--samples", "40", "--sparsities", "0.5",
            "--quiet", "--cache-dir", str(cache), "--out", str(out)]
    assert main(args) == 0
    first = GeometryCube.open(out).load()
    # what a killed rerun leaves: its staging folder beside the cube, a unit being written
    pid = dead_pid()
    (tmp_path / f".cube.w{pid}@{HOST}.{'f' * 32}.staging" / "parts").mkdir(parents=True)
    (cache / "ab").mkdir(exist_ok=True)
    (cache / "ab" / f"y.gwu.w{pid}@{HOST}.{'f' * 32}.tmp").write_bytes(b"half")
    assert main(args) == 0
    assert "0 units computed" in capsys.readouterr().out  # all from the store
    assert GeometryCube.open(out).equals(first) and debris(tmp_path) == []
    # another study (other sparsities) into the same folder: refused, the cube untouched
    other = [a if a != "0.5" else "0.7" for a in args]
    with pytest.raises(SystemExit) as err:
        main(other)
    assert err.value.code == 2
    assert (f"--out {str(out)!r} holds the cube of another study (other models, data or "
            "settings); choose a new or empty folder") in capsys.readouterr().err
    assert GeometryCube.open(out).equals(first)
    # a folder of other files: refused by the option check
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("x")
    with pytest.raises(SystemExit):
        main([*args[:-1], str(tmp_path / "notes")])
    assert (f"or a new or empty writable folder path without a suffix (or the folder of this "
            f"study's cube). Got {str(tmp_path / 'notes')!r}") in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "notes").iterdir()] == ["a.txt"]
