"""GeometryCube: selection, long tables, Parquet round trip and validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from geowidget.cube import LAYER_METRICS, OUTPUTS, Condition, GeometryCube
from geowidget.testing import random_cube

CONDS = [Condition(0.0, "clean", 0), Condition(0.5, "clean", 0), Condition(0.9, "clean", 0),
         Condition(0.0, "fog", 1), Condition(0.0, "fog", 3), Condition(0.0, "rotate", 2)]


def make_cube(m: int = 2, n: int = 30, seed: int = 0, images: bool = True) -> GeometryCube:
    cube = random_cube([f"net{i}" for i in range(m)], ["conv1", "penultimate"], n=n, seed=seed,
                       classes=["cat", "dog", "eel"],
                       conditions=CONDS, sample_ids=np.arange(n) * 7 + 3)
    angle = cube.angle.copy()
    angle[0, 1, 2, :3] = np.nan  # undefined angles survive every path
    thumbs = np.random.default_rng(seed).integers(0, 256, (n, 4, 4), dtype=np.uint8)
    return cube.replace(angle=angle, dataset="toy", images=thumbs if images else None, model_info=[
        {"architecture": "MLP", "width": 8 * (i + 1)} for i in range(m)])


def test_coordinates_and_slice() -> None:
    cube = make_cube()
    assert cube.shape == {"model": 2, "layer": 2, "condition": 6, "sample": 30}
    assert cube.sparsities == [0.0, 0.5, 0.9]
    assert cube.benchmarks == ["clean", "fog", "rotate"]
    s = cube.slice(model="net1", layer="penultimate", benchmark="fog", severity=3)
    np.testing.assert_array_equal(s.margin, cube.margin[1, 1, 4])
    np.testing.assert_array_equal(s.pred, cube.pred[1, 4])
    with pytest.raises(KeyError, match="2 conditions match.*pass severity"):
        cube.slice(benchmark="fog")
    with pytest.raises(KeyError, match=r"unknown model 'x'; valid: \['net0', 'net1'\]"):
        cube.slice(model="x")


def test_sel_keeps_layout_and_values() -> None:
    cube = make_cube()
    sub = cube.sel(model="net1", sparsity=[0.0, 0.9], benchmark="clean", sample=[4, 2])
    assert sub.shape == {"model": 1, "layer": 2, "condition": 2, "sample": 2}
    assert sub.conditions == [CONDS[0], CONDS[2]]
    np.testing.assert_array_equal(sub.norm[0, :, 1, :], cube.norm[1][:, 2][:, [4, 2]])
    np.testing.assert_array_equal(sub.sample_ids, [31, 17])
    np.testing.assert_array_equal(sub.images, cube.images[[4, 2]])
    assert sub.model_info == [cube.model_info[1]]
    with pytest.raises(KeyError, match=r"unknown sparsity \[0.7\]"):
        cube.sel(sparsity=0.7)
    with pytest.raises(KeyError, match=r"unknown benchmark\(s\) \['snow'\]"):
        cube.sel(benchmark="snow")


def test_to_pandas_long_format() -> None:
    cube = make_cube()
    df = cube.to_pandas()
    assert len(df) == 2 * 2 * 6 * 30
    assert list(df.columns[:7]) == ["model", "layer", "sparsity", "benchmark", "severity",
                                    "sample", "label"]
    rng = np.random.default_rng(3)
    for row in rng.integers(0, len(df), 25):  # brute-force lookup of random rows
        r = df.iloc[row]
        mi, li = cube.models.index(r["model"]), cube.layers.index(r["layer"])
        ki = CONDS.index(Condition(r["sparsity"], r["benchmark"], r["severity"]))
        si = list(cube.sample_ids).index(r["sample"])
        for name in LAYER_METRICS:
            np.testing.assert_array_equal(r[name], getattr(cube, name)[mi, li, ki, si])
        for name in OUTPUTS:
            assert r[name] == getattr(cube, name)[mi, ki, si]


def test_parquet_round_trip_is_lossless(tmp_path) -> None:
    cube = make_cube()
    path = tmp_path / "cube.parquet"
    cube.to_parquet(str(path))
    back = GeometryCube.from_parquet(str(path))
    assert back.equals(cube)
    assert np.isnan(back.angle[0, 1, 2, :3]).all()
    assert back.model_info[1] == {"architecture": "MLP", "width": 16}
    assert back.dataset == "toy" and back.class_names == ["cat", "dog", "eel"]
    # a real Parquet table readable by other tools
    table = pq.read_table(str(path))
    assert table.num_rows == 720 and table.schema.field("angle").type == pa.float32()
    no_img = make_cube(images=False)
    no_img.to_parquet(str(tmp_path / "b.parquet"))
    assert GeometryCube.from_parquet(str(tmp_path / "b.parquet")).equals(no_img)
    assert not cube.equals(make_cube(seed=1))


def test_parquet_rejects_foreign_files(tmp_path) -> None:
    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), str(path))
    with pytest.raises(ValueError, match="not a geowidget cube"):
        GeometryCube.from_parquet(str(path))


def test_concat_models() -> None:
    a, b = make_cube(m=1, seed=0), make_cube(m=2, seed=1)
    b.models = ["x0", "x1"]
    both = GeometryCube.concat_models([a, b])
    assert both.models == ["net0", "x0", "x1"]
    np.testing.assert_array_equal(both.margin[1:], b.margin)
    with pytest.raises(ValueError, match="differ in layers or conditions"):
        GeometryCube.concat_models([a, a.sel(benchmark="clean")])


def test_scores_table() -> None:
    cube = make_cube()
    df = cube.scores()
    assert len(df) == 60
    assert {"robustness", "robustness:fog", "robustness:rotate", "vulnerability",
            "breakdown_sparsity", "pie"} <= set(df.columns)
    # brute force for one row
    r = df.iloc[37]  # model 1, sample 7
    correct = cube.correct[1, 3:, 7]
    assert r["robustness"] == pytest.approx(correct.mean())
    assert r["robustness:fog"] == pytest.approx(correct[:2].mean())
    flips = cube.pred[1, 1:3, 7] != cube.pred[1, 0, 7]
    assert r["vulnerability"] == pytest.approx(flips.mean())
    assert isinstance(df, pd.DataFrame)


def test_validation_messages() -> None:
    cube = make_cube()
    kw = {name: getattr(cube, name) for name in (
        "models", "layers", "conditions", "labels", "class_names", *LAYER_METRICS, *OUTPUTS,
        "sample_ids", "model_info", "dataset", "images")}
    with pytest.raises(ValueError, match=r"margin has shape \(2, 2, 6, 29\), expected"):
        GeometryCube(**{**kw, "margin": cube.margin[..., :29]})
    with pytest.raises(ValueError, match=r"models must be unique, got duplicates \['a'\]"):
        GeometryCube(**{**kw, "models": ["a", "a"]})
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        GeometryCube(**{**kw, "class_names": ["a", "b"]})
    with pytest.raises(ValueError, match="images must be uint8 with 30 rows"):
        GeometryCube(**{**kw, "images": np.zeros((30, 4, 4))})
