"""Cubes on disk: save as a partitioned dataset, open lazily, read only what is needed."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

from geowidget.analysis.scores import correlations, robustness
from geowidget.cube import LAYER_METRICS, OUTPUTS, GeometryCube
from geowidget.cube_format import CubeReader, CubeWriter, column, partition_name
from geowidget.study import Study
from tests.fixtures.memory import peak_rss_mb
from tests.test_cube import CONDS, make_cube


@pytest.fixture
def saved(tmp_path) -> tuple[GeometryCube, Path]:
    cube = make_cube(m=3, n=40)
    cube.save(tmp_path / "cube")
    return cube, tmp_path / "cube"


@pytest.fixture
def reads(monkeypatch) -> list[tuple[int, int, tuple[str, ...]]]:
    """Every partition read, as (model, condition, columns)."""
    log: list[tuple[int, int, tuple[str, ...]]] = []
    original = CubeReader.read_partition

    def spy(self, model, condition, columns):
        log.append((model, condition, tuple(columns)))
        return original(self, model, condition, columns)

    monkeypatch.setattr(CubeReader, "read_partition", spy)
    return log


def test_save_writes_one_file_per_model_and_condition(saved) -> None:
    cube, root = saved
    parts = sorted(p.name for p in (root / "parts").iterdir())
    assert parts == [Path(partition_name(m, k)).name for m in range(3) for k in range(6)]
    meta = json.loads((root / "cube.json").read_text())
    assert meta["models"] == cube.models and meta["n"] == 40
    assert "sample_ids" not in meta and "labels" not in meta  # they have their own file
    samples = pq.read_table(root / "samples.parquet")
    np.testing.assert_array_equal(samples.column("sample_id").to_numpy(), cube.sample_ids)
    np.testing.assert_array_equal(np.load(root / "images.npy"), cube.images)
    # a partition is a plain Parquet table: N rows, one column per (metric, layer)
    part = pq.read_table(root / partition_name(2, 4))
    assert part.num_rows == 40
    np.testing.assert_array_equal(part.column(column("margin", "penultimate")).to_numpy(),
                                  cube.margin[2, 1, 4])
    np.testing.assert_array_equal(part.column("pred").to_numpy(), cube.pred[2, 4])


def test_open_reads_no_array_until_asked(saved, reads) -> None:
    cube, root = saved
    opened = GeometryCube.open(root)
    assert opened.shape == cube.shape and opened.models == cube.models
    np.testing.assert_array_equal(opened.labels, cube.labels)
    np.testing.assert_array_equal(opened.sample_ids, cube.sample_ids)
    assert opened.conditions == CONDS and opened.model_info == cube.model_info
    assert reads == []
    assert opened.location == str(root) and "opened from" in repr(opened)
    assert opened.equals(cube) and cube.equals(opened)
    assert opened.load().equals(cube) and opened.load().location is None


def test_slice_reads_one_partition_and_only_its_layer(saved, reads) -> None:
    cube, root = saved
    opened = GeometryCube.open(root)
    s = opened.slice(model="net1", layer="conv1", benchmark="fog", severity=3)
    assert reads == [(1, 4, tuple(column(n, "conv1") for n in LAYER_METRICS) + OUTPUTS)]
    ref = cube.slice(model="net1", layer="conv1", benchmark="fog", severity=3)
    for name in (*LAYER_METRICS, *OUTPUTS, "labels", "sample_ids"):
        np.testing.assert_array_equal(getattr(s, name), getattr(ref, name))
    assert s.condition == ref.condition
    np.testing.assert_array_equal(opened.cell(1, 0, 4).angle, cube.angle[1, 0, 4])


def test_sel_values_and_to_pandas_read_only_what_they_need(saved, reads) -> None:
    cube, root = saved
    opened = GeometryCube.open(root)
    sub = opened.sel(model="net2", benchmark="clean", sparsity=[0.0, 0.9], sample=[3, 1])
    assert {(m, k) for m, k, _ in reads} == {(2, 0), (2, 2)}
    assert sub.equals(cube.sel(model="net2", benchmark="clean", sparsity=[0.0, 0.9],
                               sample=[3, 1]))
    reads.clear()
    np.testing.assert_array_equal(opened.values("norm", [0], [1], [5]),
                                  cube.norm[np.ix_([0], [1], [5])])
    assert reads == [(0, 5, (column("norm", "penultimate"),))]
    reads.clear()
    df = opened.to_pandas(columns=["angle"])
    assert {c for _, _, cols in reads for c in cols} == {column("angle", v) for v in cube.layers}
    expect = cube.to_pandas()
    pd.testing.assert_frame_equal(df, expect[list(df.columns)])
    with pytest.raises(KeyError, match=r"unknown column\(s\) \['theta'\]"):
        opened.to_pandas(columns=["theta"])


def test_correlations_and_scores_read_only_their_partitions(saved, reads) -> None:
    cube, root = saved
    opened = GeometryCube.open(root)
    table = correlations(opened, n_boot=50)
    pd.testing.assert_frame_equal(table, correlations(cube, n_boot=50))
    # the geometry of the dense clean condition (3 metrics) and `correct` of the 3 corrupted
    touched = {(k, c) for _, k, cols in reads for c in cols}
    assert {k for k, _ in touched} == {0, 3, 4, 5}
    assert {c for k, c in touched if k == 0} == {column(n, "penultimate")
                                                  for n in ("angle", "norm", "margin")}
    assert {c for k, c in touched if k != 0} == {"correct"}
    np.testing.assert_array_equal(robustness(opened), robustness(cube))
    pd.testing.assert_frame_equal(opened.scores(), cube.scores())


def test_save_an_opened_cube_and_a_file_uri(saved, tmp_path) -> None:
    cube, root = saved
    again = tmp_path / "copy"
    GeometryCube.open(root).save(again.as_uri())  # file:// goes through pyarrow.fs
    assert GeometryCube.open(again).equals(cube)
    cube.sel(model="net0").save(again)  # replaces the old cube, stale partitions included
    assert len(list((again / "parts").iterdir())) == 6
    assert GeometryCube.open(again).equals(cube.sel(model="net0"))


def test_clear_errors_for_what_is_not_a_cube(saved, tmp_path) -> None:
    cube, root = saved
    with pytest.raises(FileNotFoundError, match="no cube at .*nowhere.*does not exist"):
        GeometryCube.open(tmp_path / "nowhere")
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match=r"is not a geowidget cube: it has no cube.json "
                                         r"\(found \['notes.txt'\]\)"):
        GeometryCube.open(other)
    with pytest.raises(FileExistsError, match="holds other files.*not a geowidget cube"):
        cube.save(other)
    with pytest.raises(ValueError, match="is a file; a saved cube is a directory"):
        GeometryCube.open(other / "notes.txt")
    (root / partition_name(1, 3)).unlink()
    (root / partition_name(2, 5)).unlink()
    with pytest.raises(ValueError, match=r"missing 2 of its 18 partitions: "
                                         r"parts/m00001-c00003.parquet \(net1, fog-1@0\), "
                                         r"parts/m00002-c00005.parquet \(net2, rotate-2@0\)"):
        GeometryCube.open(root)


def test_read_errors_name_the_file(saved) -> None:
    cube, root = saved
    opened = GeometryCube.open(root)
    bad = root / partition_name(0, 2)
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(ValueError, match=rf"cannot read '.*{partition_name(0, 2)}'"):
        opened.slice(model=0, sparsity=0.9)
    meta = json.loads((root / "cube.json").read_text())
    (root / "cube.json").write_text(json.dumps({**meta, "version": 99}))
    with pytest.raises(ValueError, match="cube.json' has cube format version 99; this "
                                         "geowidget reads version 3"):
        GeometryCube.open(root)
    (root / "cube.json").write_text("{")
    with pytest.raises(ValueError, match="cannot read '.*cube.json'"):
        GeometryCube.open(root)


def test_study_writes_its_cube_to_disk_partition_by_partition(tmp_path) -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 16), torch.nn.ReLU(),
                              torch.nn.Linear(16, 4))
    x, y = torch.rand(90, 1, 8, 8), torch.arange(90) % 4
    kw = dict(sparsities=(0.5,), corruptions=["fog"], severities=(1,), shard_size=40,
              progress=False)
    in_memory = Study({"n": net}, (x, y), **kw).run()
    study = Study({"n": net}, (x, y), **kw)
    opened = study.run(out=tmp_path / "cube")
    assert opened.location is not None and opened.equals(in_memory)
    assert study.stats == {"computed": 12, "cached": 0, "corrupt": 0}  # 3 shards x 4 conditions
    assert np.load(tmp_path / "cube" / "images.npy").shape == (90, 8, 8)


def test_open_and_one_slice_stay_within_300_mb(tmp_path) -> None:
    """A cube of about 400 MB on disk: opening it and reading one slice stays far below."""
    m, k, n, layers = 4, 24, 100_000, ["penultimate"]
    writer = CubeWriter(tmp_path / "big", {
        "models": [f"m{i}" for i in range(m)], "layers": layers,
        "conditions": [[0.0, "clean", 0]] + [[0.0, f"c{i}", 1] for i in range(k - 1)],
        "class_names": [str(c) for c in range(10)], "model_info": [{}] * m, "dataset": "big",
        "n": n,
    })
    rng = np.random.default_rng(0)
    writer.write_samples(rng.integers(0, 10, n), np.arange(n))
    metrics = {name: rng.random((1, n), np.float32) for name in LAYER_METRICS}
    outputs = {"pred": rng.integers(0, 10, n), "correct": rng.random(n) < 0.5,
               "logit_margin": rng.random(n, np.float32)}
    for mi in range(m):
        for ki in range(k):  # incompressible, so the files are as big as the arrays
            writer.write_partition(mi, ki, metrics, outputs)
    writer.finish()
    size = sum(p.stat().st_size for p in (tmp_path / "big").rglob("*") if p.is_file())
    assert size > 300 * 2**20
    code = textwrap.dedent(f"""
        from geowidget.cube import GeometryCube
        cube = GeometryCube.open({str(tmp_path / 'big')!r})
        s = cube.slice(model="m3", benchmark="c7", severity=1)
        assert s.angle.shape == ({n},)
    """)
    peak_mb = peak_rss_mb(code)
    assert peak_mb < 300, f"open + one slice peaked at {peak_mb:.0f} MB"



def test_views_of_an_opened_cube_read_cells_on_demand(saved, reads) -> None:
    import geowidget as gw
    from geowidget.widgets.codec import decode

    cube, root = saved
    opened = GeometryCube.open(root)
    w = gw.PolarPlot(opened, budget=1000)  # lazy: cells are fetched when the browser asks
    assert w._meta["lazy"] is True
    # building the view read the colour field (robustness: `correct` of the corrupted
    # conditions) and at most the first cell, never a whole array
    assert all(cols == ("correct",) or (m, k) == (0, 0) for m, k, cols in reads), reads
    reads.clear()
    content, bufs = w._slice({"m": 2, "l": 1, "k": 4}, [])
    assert [(m, k) for m, k, _ in reads] == [(2, 4)]  # one partition file
    got = {n: decode({**s, "buffer": bytes(b)}) for n, s, b in
           zip(content["names"], content["specs"], bufs, strict=True)}
    np.testing.assert_array_equal(got["margin"], cube.margin[2, 1, 4])
    np.testing.assert_array_equal(got["pred"], cube.pred[2, 4])
    reads.clear()
    mm = gw.ModelMap(opened)  # the embedding of the dense clean condition, and the colours
    assert mm._meta["names"] == cube.models
    assert {(k, c) for _, k, cols in reads for c in cols if k != 0} <= {
        (k, "correct") for k in range(6)}
    assert {c for _, k, cols in reads if k == 0 for c in cols} <= {
        *(column(n, "penultimate") for n in ("angle", "norm", "margin")), "correct"}
