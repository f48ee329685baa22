"""Cube folders at rest: saved without loss, checked on read, never trusted.

Saving swaps a complete new folder in (the old cube stays whole until then); every file is
verified against the checksum in ``cube.json`` (salted with the cube's id); every value
against the manifest; paths stay inside the cube; files that are not regular are refused at
once. Each error names the file (and the column).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

import geowidget.cube_format as cf
from geowidget._validation import InvalidParameterError
from geowidget.cube import GeometryCube
from geowidget.cube_format import CubeWriter, column, partition_name
from geowidget.engine.checkpoints import Checkpoints
from geowidget.study import Study
from tests.test_cube import make_cube

PART = partition_name(1, 2)


@pytest.fixture
def saved(tmp_path) -> tuple[GeometryCube, Path]:
    cube = make_cube(m=2, n=40)
    rng = np.random.default_rng(5)
    cube = cube.replace(projections={"pca": rng.normal(size=(2, 2, 40, 2)).astype(np.float32)})
    cube.save(tmp_path / "cube")
    return cube, tmp_path / "cube"


def reseal(root: Path, name: str) -> None:
    """Record the checksum of a file we changed on purpose, to reach the checks behind it."""
    meta = json.loads((root / "cube.json").read_text())
    digest = hashlib.sha256(f"geowidget-cube:{meta['id']}\n".encode())
    digest.update((root / name).read_bytes())
    meta["checksums"][name] = digest.hexdigest()
    (root / "cube.json").write_text(json.dumps(meta))


def edit_meta(root: Path, **fields) -> None:
    meta = json.loads((root / "cube.json").read_text())
    (root / "cube.json").write_text(json.dumps({**meta, **fields}))


def siblings(root: Path) -> list[str]:
    return sorted(p.name for p in root.parent.iterdir())


def read_all(cube: GeometryCube) -> None:
    cube.values("angle"), cube.values("pred"), cube.values("correct"), cube.images


# ------------------------------------------------------------------ saving loses nothing
def test_an_opened_cube_saved_onto_its_own_source_keeps_every_value(saved) -> None:
    cube, root = saved
    opened = GeometryCube.open(root)
    opened.save(root)
    assert GeometryCube.open(root).equals(cube)  # compared with the cube in memory
    assert opened.equals(cube)  # the opened cube reads on from the new files
    assert siblings(root) == ["cube"]  # no staging folder left beside it
    opened.save(root)  # and again, now that its images are memory-mapped
    assert GeometryCube.open(root).equals(cube)


@pytest.mark.parametrize("source", ["itself", "another"])
def test_a_save_that_fails_midway_leaves_the_old_cube_whole(saved, monkeypatch, source) -> None:
    cube, root = saved
    before = {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    calls = []
    original = CubeWriter.write_partition

    def fail_on_third(self, *args, **kwargs):
        calls.append(args[:2])
        if len(calls) == 3:
            raise RuntimeError("killed in the middle")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(CubeWriter, "write_partition", fail_on_third)
    new = GeometryCube.open(root) if source == "itself" else make_cube(m=1, n=40, seed=9)
    with pytest.raises(RuntimeError, match="killed in the middle"):
        new.save(root)
    assert len(calls) == 3
    after = {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert after == before  # every file byte for byte
    assert GeometryCube.open(root).equals(cube)
    assert siblings(root) == ["cube"]


def test_another_cube_replaces_the_old_one_whole(saved) -> None:
    _, root = saved
    other = make_cube(m=1, n=40, seed=9)
    other.save(root)
    assert GeometryCube.open(root).equals(other)
    assert len(list((root / "parts").iterdir())) == 6  # no stale partition of the old cube
    assert siblings(root) == ["cube"]


def test_a_full_disk_names_the_file_and_leaves_nothing(saved, monkeypatch, tmp_path) -> None:
    cube, root = saved
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    writes = []
    original = cf._Hashing.write

    def full(self, data):
        writes.append(len(data))
        if len(writes) == 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(self, data)

    monkeypatch.setattr(cf._Hashing, "write", full)
    with pytest.raises(OSError, match=r"cannot write '.*/cube/parts/m00000-c00000\.parquet': "
                                      r"No space left on device") as err:
        make_cube(m=1, n=40, seed=9).save(root)
    assert err.value.errno == errno.ENOSPC
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    assert siblings(root) == ["cube"] and GeometryCube.open(root).equals(cube)
    # a single-file cube too: no partial file, and no temporary one
    monkeypatch.setattr(pq, "write_table",
                        lambda *a, **k: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    with pytest.raises(OSError, match=r"cannot write '.*/one\.parquet': No space left"):
        cube.to_parquet(str(tmp_path / "one.parquet"))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("one.parquet")]


# ------------------------------------------------------------------ checksums
@pytest.mark.parametrize("name", [PART, "samples.parquet", "images.npy", "projections/pca.npy"])
def test_64_flipped_bytes_are_caught_and_the_file_named(saved, name) -> None:
    _, root = saved
    raw = bytearray((root / name).read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 64] = bytes(b ^ 0x5A for b in raw[middle : middle + 64])
    (root / name).write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=rf"cannot read '.*/cube/{name}': its checksum does "
                                         r"not match cube.json \(the file is damaged"):
        read_all(GeometryCube.open(root))


@pytest.mark.parametrize("how", ["copy", "symlink"])
def test_a_partition_of_another_cube_is_refused(saved, tmp_path, how) -> None:
    cube, root = saved
    cube.save(tmp_path / "twin")  # the same values, another id
    twin_part = tmp_path / "twin" / PART
    assert pq.read_table(twin_part).equals(pq.read_table(root / PART))
    (root / PART).unlink()
    if how == "copy":
        shutil.copy(twin_part, root / PART)
    else:
        (root / PART).symlink_to(twin_part)
    opened = GeometryCube.open(root)
    opened.values("angle", model=[0])  # the other partitions are this cube's own
    with pytest.raises(ValueError, match=rf"'.*/cube/{PART}': its checksum does not match.*"
                                         "belongs to another cube"):
        opened.values("angle", model=[1])


# ------------------------------------------------------------------ values against the manifest
def _rewrite(root: Path, name: str, change) -> None:
    table = pq.read_table(root / name)
    pq.write_table(change(table), root / name)
    reseal(root, name)


def _set(table: pa.Table, name: str, array: pa.Array) -> pa.Table:
    return table.set_column(table.column_names.index(name), name, array)


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: _set(t, "pred", pa.array(np.full(t.num_rows, 2.7))),
     r"its column 'pred' holds double, expected int32"),
    (lambda t: _set(t, "pred", pa.array([None] + [1] * (t.num_rows - 1), pa.int32())),
     r"its column 'pred' has 1 missing values"),
    (lambda t: _set(t, "pred", pa.array(np.full(t.num_rows, 3, np.int32))),
     r"its column 'pred' holds 3; predictions must lie in \[0, 3\) for the 3 class names"),
    (lambda t: _set(t, "correct", pa.array(np.full(t.num_rows, 7, np.int8))),
     r"its column 'correct' holds int8, expected bool"),
    (lambda t: _set(t, column("angle", "conv1"), pa.array(["x"] * t.num_rows)),
     r"its column 'angle/conv1' holds string, expected float"),
    (lambda t: t.slice(0, 39), r"has 39 rows, expected 40"),
])
def test_partition_values_are_checked_and_the_file_and_column_named(saved, change,
                                                                     message) -> None:
    _, root = saved
    _rewrite(root, PART, change)
    opened = GeometryCube.open(root)
    with pytest.raises(ValueError, match=rf"'.*/cube/{PART}'.*{message}"):
        for name in ("angle", "pred", "correct"):
            opened.values(name)


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: _set(t, "label", pa.array(np.r_[99, np.zeros(39)].astype(np.int32))),
     r"its column 'label' holds 99; labels must lie in \[0, 3\)"),
    (lambda t: _set(t, "sample_id", pa.array(np.r_[3, 3, np.arange(10, 48)].astype(np.int64))),
     r"its column 'sample_id' repeats ids \[3\]; sample ids must be unique"),
    (lambda t: _set(t, "label", pa.array(["cat"] * 40)),
     r"its column 'label' holds string, expected int32"),
])
def test_samples_are_checked_and_the_file_and_column_named(saved, change, message) -> None:
    _, root = saved
    _rewrite(root, "samples.parquet", change)
    with pytest.raises(ValueError, match=rf"'.*/cube/samples.parquet'.*{message}"):
        GeometryCube.open(root)


@pytest.mark.parametrize(("fields", "message"), [
    (dict(conditions=[[0.0, "clean"]] * 6), r"field 'conditions' must be a list of "
                                           r"\[sparsity in \[0, 1\), benchmark, severity"),
    (dict(conditions=[[0.0, "fog", "x"]] * 6), r"field 'conditions' must be"),
    (dict(model_info="x"), r"field 'model_info' must be a list of 2 objects"),
    (dict(projections=["../../outside"]), r"field 'projections' must be a list of method "
                                          r"names .*no path"),
    (dict(images={"shape": [41, 4, 4], "dtype": "uint8"}), r"field 'images' must be null or"),
    (dict(models=["a", "a"]), r"field 'models' must be a list of unique strings"),
    (dict(checksums={"x": "0"}), r"field 'checksums' must be an object of SHA-256"),
])
def test_manifest_fields_are_checked_and_named(saved, fields, message) -> None:
    _, root = saved
    edit_meta(root, **fields)
    with pytest.raises(ValueError, match=rf"'.*/cube/cube.json': its {message}"):
        GeometryCube.open(root)


def test_the_manifest_is_blamed_when_it_disagrees_with_good_files(saved) -> None:
    _, root = saved
    edit_meta(root, layers=["conv1", "renamed"])
    with pytest.raises(ValueError, match=r"'.*/cube/cube.json' disagrees with its partitions: "
                                         r"'.*/cube/parts/m00000-c00000.parquet' \(whose "
                                         r"checksum is good\) has no column 'angle/renamed'"):
        GeometryCube.open(root).values("angle")
    edit_meta(root, layers=["conv1", "penultimate"], class_names=["cat", "dog"])
    with pytest.raises(ValueError, match=r"samples.parquet': its column 'label' holds 2; labels "
                                         r"must lie in \[0, 2\) for the 2 class names of "
                                         r"cube.json"):
        GeometryCube.open(root)


@pytest.mark.parametrize(("name", "array", "message"), [
    ("images.npy", np.zeros((39, 4, 4), np.uint8), r"holds uint8 \(39, 4, 4\); cube.json "
                                                   r"declares uint8 \(40, 4, 4\)"),
    ("images.npy", np.zeros((40, 4, 4)), r"holds float64 \(40, 4, 4\)"),
    ("projections/pca.npy", np.zeros((2, 2, 40, 3), np.float32),
     r"holds float32 \(2, 2, 40, 3\); expected float32 \(2, 2, 40, 2\)"),
])
def test_arrays_are_checked_against_the_manifest(saved, name, array, message) -> None:
    _, root = saved
    np.save(root / name, array)
    reseal(root, name)
    with pytest.raises(ValueError, match=rf"'.*/cube/{name}' {message}"):
        read_all(GeometryCube.open(root))


def test_writing_checks_values_and_names(tmp_path) -> None:
    cube = make_cube(m=1, n=10)
    with pytest.raises(ValueError, match=r"parts/m00000-c00000.parquet': its column 'pred' "
                                         r"holds 5; predictions must lie in \[0, 3\)"):
        cube.replace(pred=np.full((1, 6, 10), 5)).save(tmp_path / "bad")
    assert list(tmp_path.iterdir()) == []  # nothing staged is left
    with pytest.raises(ValueError, match=r"a projection method's name must be .*'\.\./x'"):
        cube.replace(projections={"../x": np.zeros((1, 2, 10, 2))}).save(tmp_path / "bad")


def test_a_single_file_cube_checks_predictions_and_ids(tmp_path) -> None:
    cube = make_cube(m=1, n=10)
    cube.to_parquet(str(tmp_path / "c.parquet"))
    table = pq.read_table(tmp_path / "c.parquet")
    pred = table.column("pred").to_numpy().copy()
    pred[7] = 3
    pq.write_table(_set(table, "pred", pa.array(pred)), tmp_path / "pred.parquet")
    with pytest.raises(ValueError, match=r"cube file '.*pred.parquet': its column 'pred' holds "
                                         r"3; predictions must lie in \[0, 3\)"):
        GeometryCube.from_parquet(str(tmp_path / "pred.parquet"))
    meta = json.loads(table.schema.metadata[b"geowidget"])
    meta["sample_ids"][1] = meta["sample_ids"][0]
    pq.write_table(table.replace_schema_metadata({b"geowidget": json.dumps(meta)}),
                   tmp_path / "ids.parquet")
    with pytest.raises(ValueError, match=r"cube file '.*ids.parquet': its metadata 'sample_ids' "
                                         r"repeats ids"):
        GeometryCube.from_parquet(str(tmp_path / "ids.parquet"))


# ------------------------------------------------------------------ files that are not files
@pytest.mark.timeout(20)
def test_fifos_devices_and_folders_are_refused_at_once(saved, tmp_path) -> None:
    _, root = saved
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r"the cube '.*fifo' is a FIFO, not a regular file"):
        GeometryCube.open(fifo)
    with pytest.raises(ValueError, match=r"cube file '/dev/zero' is a device, not a regular"):
        GeometryCube.from_parquet("/dev/zero")
    with pytest.raises(ValueError, match=r"cube file '.*fifo' is a FIFO"):
        GeometryCube.from_parquet(str(fifo))
    (root / PART).unlink()
    (root / PART).symlink_to("/dev/zero")
    with pytest.raises(ValueError, match=rf"'.*/cube/{PART}' is a device, not a regular file"):
        GeometryCube.open(root).values("angle")
    (root / PART).unlink()
    (root / PART).mkdir()
    with pytest.raises(ValueError, match=rf"'.*/cube/{PART}' is a folder, not a regular file"):
        GeometryCube.open(root).values("angle")
    (root / "cube.json").unlink()
    os.mkfifo(root / "cube.json")
    with pytest.raises(ValueError, match=r"the cube's manifest '.*/cube.json' is a FIFO"):
        GeometryCube.open(root)


@pytest.mark.timeout(20)
def test_checkpoints_that_are_not_files_are_refused_at_once(tmp_path) -> None:
    net = torch.nn.Linear(3, 2)
    fifo = tmp_path / "ckpt.pt"
    os.mkfifo(fifo)
    run = Checkpoints(net, ["/dev/zero", fifo, tmp_path])
    with pytest.raises(ValueError, match=r"checkpoint 0 '/dev/zero' is a device, not a regular"):
        run.load(0)
    with pytest.raises(ValueError, match=r"checkpoint 1 '.*ckpt.pt' is a FIFO, not a regular"):
        run.load(1)
    with pytest.raises(ValueError, match=r"checkpoint 2 '.*' is a folder, not a regular file"):
        run.load(2)


# ------------------------------------------------------------------ path parameters
def test_path_parameters_name_the_parameter_and_the_value(tmp_path) -> None:
    cube = make_cube(m=1, n=10)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    data = (torch.rand(12, 1, 2, 2), torch.arange(12) % 3)
    expected = r"must be a local path or a pyarrow.fs URI \(a non-empty str or PathLike\)"
    cases = [
        (lambda: GeometryCube.open(123), rf"'path' parameter of GeometryCube.open {expected}"
                                         r"\. Got 123"),
        (lambda: cube.save(None), rf"'path' parameter of GeometryCube.save {expected}\. Got None"),
        (lambda: cube.to_parquet(""), r"'path' parameter of GeometryCube.to_parquet .*Got ''"),
        (lambda: GeometryCube.from_parquet(7), r"'path' parameter of GeometryCube.from_parquet"),
        (lambda: Study({"n": net}, data, cache_dir=5, progress=False),
         rf"'cache_dir' parameter of Study {expected}\. Got 5"),
        (lambda: Study({"n": net}, data, cache_dir="", progress=False),
         r"'cache_dir' parameter of Study .*Got ''"),
        (lambda: Study({"n": net}, data, sparsities=(), progress=False).run(out=5),
         rf"'out' parameter of Study.run {expected}\. Got 5"),
    ]
    for call, message in cases:
        with pytest.raises(InvalidParameterError, match=message):
            call()
    assert list(tmp_path.iterdir()) == []
