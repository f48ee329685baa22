"""GeometryCube.from_arrays, geowidget.testing.random_cube, the optional-array registry and
the cube modules' import graph."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from geowidget.coords import Condition, Coords
from geowidget.cube import GeometryCube
from geowidget.cube_arrays import DatasetArrays, MemoryArrays
from geowidget.cube_schema import ARRAYS, OPTIONAL, optional
from geowidget.testing import random_cube

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------- from_arrays
def _coords() -> Coords:
    return Coords(["a", "b"], ["conv", "penultimate"],
                  [Condition(), Condition(0.5), Condition(0, "fog", 2)])


def test_from_arrays_fills_what_is_missing_and_derives_correct() -> None:
    labels = np.array([0, 1, 2, 1])
    pred = np.array([[[0, 1, 1, 1]] * 3, [[2, 2, 2, 2]] * 3])  # [M=2, K=3, N=4]
    margin = np.arange(2 * 2 * 3 * 4, dtype=np.float32).reshape(2, 2, 3, 4)
    cube = GeometryCube.from_arrays(_coords(), labels, ["x", "y", "z"], pred=pred, margin=margin)
    assert cube.shape == {"model": 2, "layer": 2, "condition": 3, "sample": 4}
    np.testing.assert_array_equal(cube.margin, margin)
    for name in ("angle", "angle_pred", "avh", "angle_gap", "norm"):
        values = getattr(cube, name)
        assert values.shape == (2, 2, 3, 4) and values.dtype == np.float32
        assert np.isnan(values).all(), name
    assert cube.logit_margin.shape == (2, 3, 4) and np.isnan(cube.logit_margin).all()
    want = np.array([[[p == lab for p, lab in zip(row, labels, strict=True)] for row in m]
                     for m in pred])  # a loop, not the vectorised comparison
    np.testing.assert_array_equal(cube.correct, want)
    assert cube.correct.dtype == np.bool_ and cube.pred.dtype == np.int32
    assert cube.layer_pred is None and cube.probe_accuracy is None
    assert cube.projections == {} and cube.adversarial == {} and cube.images is None


def test_from_arrays_takes_optional_arrays_and_descriptors() -> None:
    pred = np.zeros((2, 3, 4), int)
    cube = GeometryCube.from_arrays(
        _coords(), [0, 0, 1, 1], ["x", "y"], pred=pred, sample_ids=[10, 11, 12, 13],
        dataset="toy", adversarial={"l2": np.ones((2, 3, 4))},
        probe_accuracy=np.full((2, 2, 3), 0.5), images=np.zeros((4, 2, 2), np.uint8))
    assert cube.sample_ids.tolist() == [10, 11, 12, 13] and cube.dataset == "toy"
    assert cube.adversarial["l2"].dtype == np.float32 and cube.adversarial["l2"].sum() == 24
    assert cube.probe_accuracy.dtype == np.float64 and cube.images.shape == (4, 2, 2)


def test_from_arrays_errors_name_the_array_and_the_shape() -> None:
    labels, pred = [0, 1, 0, 1], np.zeros((2, 3, 4), int)
    with pytest.raises(ValueError, match=r"angle has shape \(2, 2, 3, 5\), expected "
                                         r"\(2, 2, 3, 4\) \(model, layer, condition, sample\)"):
        GeometryCube.from_arrays(_coords(), labels, ["x", "y"], pred=pred,
                                 angle=np.zeros((2, 2, 3, 5)))
    with pytest.raises(ValueError, match=r"pred has shape \(2, 4\), expected \(2, 3, 4\) "
                                         r"\(model, condition, sample\)"):
        GeometryCube.from_arrays(_coords(), labels, ["x", "y"], pred=np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"adversarial\['l2'\] has shape \(2, 4\), expected "
                                         r"\(2, 3, 4\) \(model, condition, sample\)"):
        GeometryCube.from_arrays(_coords(), labels, ["x", "y"], pred=pred,
                                 adversarial={"l2": np.zeros((2, 4))})
    with pytest.raises(TypeError, match=r"needs 'pred'"):
        GeometryCube.from_arrays(_coords(), labels, ["x", "y"], angle=np.zeros((2, 2, 3, 4)))
    with pytest.raises(TypeError, match=r"unknown array\(s\) \['angel'\]"):
        GeometryCube.from_arrays(_coords(), labels, ["x", "y"], pred=pred, angel=1)
    with pytest.raises(ValueError, match=r"'correct' disagrees with pred == labels at 12 "
                                         r"entries"):
        GeometryCube.from_arrays(_coords(), labels, ["x", "y"], pred=pred,
                                 correct=np.ones((2, 3, 4), bool))
    with pytest.raises(ValueError, match=r"'coords' parameter of GeometryCube.from_arrays must "
                                         r"be a geowidget.coords.Coords.*it is a list"):
        GeometryCube.from_arrays(["a"], labels, ["x", "y"], pred=pred)


# ---------------------------------------------------------------------------- random_cube
def test_random_cube_has_the_asked_coordinates() -> None:
    cube = random_cube(models=["p", "q", "r"], layers=2, sparsities=(0.9, 0.5),
                       corruptions=("fog", "blur"), severities=(1, 3), n=7, classes=4, seed=3)
    assert cube.models == ["p", "q", "r"] and cube.layers == ["layer0", "penultimate"]
    assert cube.sparsities == [0.0, 0.5, 0.9] and cube.corruptions == ["fog", "blur"]
    assert len(cube.conditions) == 3 + 2 * 2 * 3  # clean at 3 levels; 2 x 2 at each level
    assert cube.labels.tolist() == [0, 1, 2, 3, 0, 1, 2] and len(cube.class_names) == 4
    dense = random_cube(sparsities=(0.5,), corruptions=("fog",), grid="dense-corrupted")
    assert [c.label for c in dense.conditions] == ["clean@0", "clean@0.5", "fog-3@0"]
    assert random_cube(seed=1).equals(random_cube(seed=1))
    assert not random_cube(seed=1).equals(random_cube(seed=2))


def test_random_cube_arrays_are_consistent() -> None:
    cube = random_cube(models=3, layers=4, sparsities=(0, 0.5, 0.9), corruptions=("fog",),
                       n=300, probe=True, adversarial=True, seed=5)
    labels = cube.labels
    assert ((cube.angle >= 0) & (cube.angle <= np.pi)).all()
    assert ((cube.angle_pred >= 0) & (cube.angle_pred <= cube.angle)).all()
    assert (cube.norm > 0).all() and ((cube.avh > 0) & (cube.avh < 1)).all()
    np.testing.assert_array_equal(cube.correct, cube.pred == labels)
    np.testing.assert_array_equal(cube.logit_margin > 0, cube.correct)
    layer_right = cube.layer_pred == labels  # each layer's own prediction
    np.testing.assert_array_equal(cube.margin > 0, layer_right)
    np.testing.assert_array_equal(cube.angle_gap < 0, layer_right)
    np.testing.assert_array_equal(cube.angle_pred == cube.angle, layer_right)
    default = cube.coords.default_layer
    np.testing.assert_array_equal(cube.layer_pred[:, default], cube.pred)
    assert np.isnan(cube.probe_accuracy[:, default]).all()
    for mi in range(3):  # probe accuracy by a loop over the samples
        for li in range(4):
            if li != default:
                for ki in range(len(cube.conditions)):
                    hits = sum(int(p == y) for p, y in zip(cube.layer_pred[mi, li, ki], labels,
                                                           strict=True))
                    assert cube.probe_accuracy[mi, li, ki] == pytest.approx(hits / 300)
    d = cube.adversarial["l2"]
    for ki, c in enumerate(cube.conditions):
        if c.benchmark == "clean":
            assert (d[:, ki][~cube.correct[:, ki]] == 0).all()
            assert (d[:, ki][cube.correct[:, ki]] > 0).all()
        else:
            assert np.isnan(d[:, ki]).all()
    # plausible: accuracy falls with sparsity and with corruption, never to nothing
    acc = cube.correct.mean(axis=(0, 2))
    k0, k9, fog = (cube.condition_index(0.0), cube.condition_index(0.9),
                   cube.condition_index(0.0, "fog"))
    assert 0.6 < acc[k0] < 0.95 and acc[k9] < acc[k0] and acc[fog] < acc[k0]
    vulnerability = cube.scores()["vulnerability"]
    assert 0 < vulnerability.mean() < 0.5 and vulnerability.max() == 1


def test_random_cube_round_trips_and_refuses_bad_settings(tmp_path) -> None:
    cube = random_cube(corruptions=("fog",), probe=True, adversarial=True, projections=("pca",),
                       images=True, n=12)
    cube.save(tmp_path / "c")
    assert GeometryCube.open(tmp_path / "c").equals(cube)
    cube.to_parquet(str(tmp_path / "c.parquet"))
    assert GeometryCube.from_parquet(str(tmp_path / "c.parquet")).equals(cube)
    with pytest.raises(ValueError, match=r"grid must be one of \['full', 'dense-corrupted'\], "
                                         r"got 'some'"):
        random_cube(grid="some")
    with pytest.raises(ValueError, match=r"2 classes or more and n >= 1, got 1 classes"):
        random_cube(classes=1)
    with pytest.raises(ValueError, match=r"sparsities must lie in \[0, 1\) as a Study's do, "
                                         r"got \[1.0\]"):
        random_cube(sparsities=(0.5, 1.0))


# ---------------------------------------------------------------------------- the registry
def test_every_optional_array_survives_every_operation(tmp_path) -> None:
    cube = random_cube(corruptions=("fog",), probe=True, adversarial=True, projections=("pca",),
                       images=True, n=10)
    names = {spec.name for spec in OPTIONAL}
    assert names == {"layer_pred", "probe_accuracy", "projections", "adversarial", "images"}
    # sel: each optional array taken at the chosen positions, checked against indexing
    sub = cube.sel(model=1, layer=[2, 0], sparsity=0.5, sample=[3, 1])
    ki = cube.find_conditions(sparsity=0.5)
    np.testing.assert_array_equal(sub.layer_pred,
                                  cube.layer_pred[1][[2, 0]][:, ki][..., [3, 1]][None])
    np.testing.assert_array_equal(sub.probe_accuracy, cube.probe_accuracy[1][[2, 0]][:, ki][None])
    np.testing.assert_array_equal(sub.projections["pca"],
                                  cube.projections["pca"][1][[2, 0]][:, [3, 1]][None])
    np.testing.assert_array_equal(sub.adversarial["l2"],
                                  cube.adversarial["l2"][1][ki][:, [3, 1]][None])
    np.testing.assert_array_equal(sub.images, cube.images[[3, 1]])
    # replace keeps them; concat_models stacks them, filling a cube that lacks one
    assert cube.replace(dataset="x").equals(cube.replace(dataset="x").load())
    bare = random_cube(models=["c"], corruptions=("fog",), n=10, seed=9)
    both = GeometryCube.concat_models([cube, bare])
    assert np.isnan(both.adversarial["l2"][2]).all() and np.isnan(both.probe_accuracy[2]).all()
    assert np.isnan(both.projections["pca"][2]).all()
    np.testing.assert_array_equal(both.layer_pred[2], [bare.pred[0]] * 3)  # the head's
    np.testing.assert_array_equal(both.images, cube.images)
    # equals notices a change in any of them
    for spec in OPTIONAL:
        value = getattr(cube, spec.name)
        changed = ({k: v + 1 for k, v in value.items()} if spec.keyed else
                   (value + 1).astype(spec.dtype) if spec.name != "layer_pred" else
                   (value + 1) % 3)
        assert not cube.equals(cube.replace(**{spec.name: changed})), spec.name
    # the long table has a column per keyed array
    table = cube.to_pandas()
    for spec in OPTIONAL:
        if spec.keyed:
            for key in getattr(cube, spec.name):
                assert set(spec.columns(key)) <= set(table.columns)
    row = table.iloc[123]
    mi, li = cube.models.index(row["model"]), cube.layers.index(row["layer"])
    si = int(row["sample"])
    assert row["projection:pca:y"] == cube.projections["pca"][mi, li, si, 1]
    with pytest.raises(KeyError, match=r"unknown optional array 'x'; valid: \['layer_pred'"):
        optional("x")


def test_backends_read_the_same_cells(tmp_path) -> None:
    cube = random_cube(probe=True, n=6)
    cube.save(tmp_path / "c")
    opened = GeometryCube.open(tmp_path / "c")
    assert isinstance(cube._arrays, MemoryArrays) and isinstance(opened._arrays, DatasetArrays)
    names = [*ARRAYS, "layer_pred"]
    for backend in (cube._arrays, opened._arrays):
        assert list(backend.names) == names
        got = backend.cell(1, 2, 1, names)
        for name in names:
            full = cube.values(name)
            want = full[1, 2, 1] if full.ndim == 4 else full[1, 1]
            np.testing.assert_array_equal(got[name], want)
        np.testing.assert_array_equal(backend.block("angle", [1], [0, 2], [1]),
                                      cube.angle[1:2][:, [0, 2]][:, :, 1:2])


# ---------------------------------------------------------------------------- import graph
def _imports(module: str) -> set[str]:
    """The geowidget modules ``module`` imports anywhere but under ``if TYPE_CHECKING``."""
    tree = ast.parse((ROOT / (module.replace(".", "/") + ".py")).read_text(encoding="utf-8"))
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and getattr(node.test, "id", "") == "TYPE_CHECKING"
                   for n in ast.walk(node)}
    out = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("geowidget"):
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("geowidget"))
    return out


def test_the_cube_modules_import_no_circle() -> None:
    """cube_schema <- cube_arrays, cube_format <- cube: the file format and the backends never
    import the cube (it passes them what they need), so nothing imports in a circle."""
    cube_layer = ["geowidget.coords", "geowidget.cube_schema", "geowidget.cube_arrays",
                  "geowidget.cube_format", "geowidget.cube", "geowidget.testing"]
    graph = {m: _imports(m) & set(cube_layer) for m in cube_layer}
    assert "geowidget.cube" not in graph["geowidget.cube_format"] | graph["geowidget.cube_arrays"]
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import circle: {' -> '.join((*path, module))}"
        if module not in done:
            for dep in graph[module]:
                visit(dep, (*path, module))
            done.add(module)

    for module in cube_layer:
        visit(module, ())


def test_an_off_grid_pick_names_the_part_that_is_off_and_the_nearest_values() -> None:
    levels = [0.0, 0.25, 0.5, 0.75]
    coords = Coords(["a"], ["penultimate"],
                    [Condition(s, "clean", 0) for s in levels]
                    + [Condition(s, "fog", v) for s in levels[:2] for v in (1, 3)])
    # the nearer neighbour first, each as the views write it (a percent)
    with pytest.raises(KeyError, match=r"sparsity 0.6 is not on the grid of 'clean'; the nearest "
                                        r"levels are 0.5 \(shown as 50%\) and 0.75 \(shown as "
                                        r"75%\) \(grid: 0, 0.25, 0.5, 0.75\)"):
        coords.condition(0.6)
    with pytest.raises(KeyError, match=r"levels are 0.75 \(shown as 75%\) and 0.5 "):
        coords.condition(0.7)
    with pytest.raises(KeyError, match=r"sparsity 0.5 is not on the grid of 'fog'; the nearest "
                                        r"level is 0.25 \(shown as 25%\) \(grid: 0, 0.25\)"):
        coords.condition(0.5, "fog", 1)
    with pytest.raises(KeyError, match=r"'fog' at sparsity 0.25 has severities \[1, 3\]"):
        coords.condition(0.25, "fog", 2)
    with pytest.raises(KeyError, match=r"2 conditions match .*; pass severity, one of \[1, 3\]"):
        coords.condition(0.25, "fog")
    with pytest.raises(KeyError, match=r"no benchmark 'snow'; this cube has \['clean', 'fog'\]"):
        coords.condition(0.0, "snow", 1)
    want = [i for i, c in enumerate(coords.conditions)
            if (c.sparsity, c.benchmark, c.severity) == (0.25, "fog", 3)]
    assert [coords.condition(0.25, "fog", 3)] == want
