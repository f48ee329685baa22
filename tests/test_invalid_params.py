"""Bad input gets one clear error that names the parameter, generated from the declarations.

Like scikit-learn's ``generate_invalid_param_val`` common test: every public function and
command-line option declares its constraints once (``geowidget._validation``), and this file
derives invalid values from those declarations, calls the function (or the command) with
each, and checks the error: a ``ValueError``/``TypeError`` whose message names the parameter
in the one shape. A new declaration is tested as soon as it is written. The second half pins
the cases an adversarial pass found, as a new user would try them.
"""

from __future__ import annotations

import inspect
import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from torch import nn

import geowidget as gw
from geowidget import _validation as v
from geowidget.analysis.scores import correlations
from geowidget.cli import OPTIONS, _engine_options, build_parser, main
from geowidget.cube import LAYER_METRICS, Condition, GeometryCube
from geowidget.datasets import ImageData
from geowidget.engine import pruning

# ---------------------------------------------------------------------------- valid calls
X = torch.rand(6, 1, 2, 2)
Y = torch.tensor([0, 1, 2, 0, 1, 2])
H = torch.randn(6, 4)


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))


def tiny_cube(n: int = 8) -> GeometryCube:
    rng = np.random.default_rng(0)
    conds = [Condition(0.0, "clean", 0), Condition(0.5, "clean", 0), Condition(0.0, "fog", 1)]
    labels = rng.integers(0, 3, n)
    pred = rng.integers(0, 3, (2, 3, n))
    arrays = {name: rng.normal(size=(2, 1, 3, n)).astype(np.float32) for name in LAYER_METRICS}
    return GeometryCube(models=["a", "b"], layers=["penultimate"], conditions=conds,
                        labels=labels, class_names=["x", "y", "z"], pred=pred,
                        correct=pred == labels, logit_margin=rng.normal(size=(2, 3, n)),
                        **arrays)


IMAGES = ImageData(X, Y, ["x", "y", "z"], "toy")

# function -> (positional arguments, keyword arguments) of one valid call
VALID = {
    gw.extract_features: lambda: ((net(), X, "1"), {"progress": False}),
    gw.get_layer_names: lambda: ((net(),), {}),
    gw.geometry: lambda: ((H, Y, torch.randn(3, 4)), {}),
    gw.geometry_from_model: lambda: ((net(), (X, Y)), {"progress": False}),
    gw.find_head: lambda: ((net(),), {}),
    gw.layer_margin: lambda: ((net(), (X, Y), "1"), {"progress": False}),
    gw.adversarial_distance: lambda: ((net(), X), {"steps": 2, "check": 0, "progress": False}),
    gw.linear_probe: lambda: ((H, Y), {}),
    gw.prune_masks: lambda: ((net(), 0.5), {}),
    pruning.prune_scores: lambda: ((net(),), {}),
    pruning.pruning_sweep: lambda: ((net(), [0.5]), {}),
    pruning.PruningPlan.from_model: lambda: ((net(),), {}),
    gw.pruned: lambda: ((net(), {"1.weight": torch.ones(5, 4, dtype=torch.bool)}), {}),
    gw.corrupt: lambda: ((torch.rand(2, 1, 8, 8), "fog"), {}),
    gw.occlusion: lambda: ((net(), X[0], 1), {"patch": 1}),
    gw.Study: lambda: (({"net": net()}, (X, Y)), {"progress": False}),
    correlations: lambda: ((tiny_cube(),), {}),
    GeometryCube.sel: lambda: ((tiny_cube(),), {}),
    gw.model_embedding: lambda: ((tiny_cube(),), {}),
    gw.distances: lambda: ((np.random.default_rng(0).normal(size=(4, 3)),), {}),
    gw.layout: lambda: ((np.ones((3, 3)) - np.eye(3),), {}),
    gw.mst: lambda: ((np.ones((3, 3)) - np.eye(3),), {}),
    gw.benchmark_similarity: lambda: ((tiny_cube(),), {}),
    gw.evaluation_grid: lambda: ((tiny_cube(),), {}),
    gw.project: lambda: ((np.random.default_rng(0).normal(size=(10, 3)),), {}),
    gw.distortion: lambda: ((np.random.default_rng(0).normal(size=(10, 3)),
                             np.random.default_rng(1).normal(size=(10, 2))), {"k": 3}),
    gw.Checkpoints: lambda: ((net(), [net().state_dict()]), {}),
    gw.GeometryTracker: lambda: ((net(), (X, Y)), {}),
    gw.PolarPlot: lambda: ((tiny_cube(),), {}),
    gw.MarginHistogram: lambda: ((tiny_cube(),), {}),
    gw.ParallelCoordinates: lambda: ((tiny_cube(),), {}),
    gw.ModelMap: lambda: ((tiny_cube(),), {}),
    ImageData.split: lambda: ((IMAGES,), {}),
    ImageData.subset: lambda: ((IMAGES, [0, 1]), {}),
}

# Public functions of the package that take no user parameters to check.
NO_PARAMETERS = {"load_mnist", "load_digits"}
# Public names validated another way: widgets whose parameters are traits (checked when set,
# from Python or the browser: tests/test_widgets_input.py), result records built by the
# package itself, and a constant.
NOT_DECLARED_HERE = {
    "Explorer", "AttributionView", "SideBySide", "EvaluationTable", "LayerProfile",
    "ProjectionView", "link", "GeometryCube", "Geometry", "Embedding", "Distortion",
    "CORRUPTIONS", "AdversarialDistance",
}


def constraints_of(func) -> dict[str, list[v.Constraint]]:
    return getattr(func.__init__ if inspect.isclass(func) else func, "parameter_constraints", {})


def call_with(func, name: str, value):
    """Call ``func`` with its valid arguments, all by keyword, but ``name`` set to ``value``."""
    args, kwargs = VALID[func]()
    signature = inspect.signature(func.__init__ if inspect.isclass(func) else func)
    names = [p for p in signature.parameters if not (inspect.isclass(func) and p == "self")]
    call = {**dict(zip(names, args, strict=False)), **kwargs, name: value}
    result = func(**call)
    if inspect.isgenerator(result):
        next(result)


def invalid_values(constraints: list[v.Constraint]) -> list:
    """Examples from every constraint that break all of them (as a value must, to be bad)."""
    out = []
    constraints = [v.make_constraint(c) for c in constraints]
    for c in constraints:
        for value in c.invalid_examples():
            try:
                v.check("f", "p", value, constraints)
            except v.InvalidParameterError:
                out.append(value)
    return out


def caller_name(func) -> str:
    return func.__name__ if inspect.isclass(func) else func.__qualname__


def generated_cases() -> list[tuple]:
    cases = []
    for func in VALID:
        for name, constraints in constraints_of(func).items():
            for i, value in enumerate(invalid_values(constraints)):
                cases.append(pytest.param(func, name, value, id=f"{caller_name(func)}-{name}-{i}"))
    return cases


CASES = generated_cases()


@pytest.mark.parametrize(("func", "name", "value"), CASES)
def test_invalid_value_names_the_parameter(func, name, value) -> None:
    with pytest.raises((ValueError, TypeError)) as err:
        call_with(func, name, value)
    assert isinstance(err.value, v.InvalidParameterError), err.value
    assert str(err.value).startswith(f"The {name!r} parameter of {caller_name(func)} must be "), \
        str(err.value)
    assert " Got " in str(err.value)


def test_valid_calls_are_valid() -> None:
    """The base calls above pass validation, so each generated case tests only its value."""
    for func, make in VALID.items():
        args, kwargs = make()
        signature = inspect.signature(func.__init__ if inspect.isclass(func) else func)
        names = [p for p in signature.parameters if not (inspect.isclass(func) and p == "self")]
        given = {**dict(zip(names, args, strict=False)), **kwargs}
        declared = constraints_of(func)
        for name, value in given.items():
            if name in declared:
                v.check(caller_name(func), name, value, declared[name])


def test_every_public_function_declares_its_parameters() -> None:
    for name in gw.__all__:
        if name in NO_PARAMETERS | NOT_DECLARED_HERE:
            continue
        obj = getattr(gw, name)
        assert obj in VALID and constraints_of(obj), f"{name} has no declared constraints"
        if inspect.isclass(obj):
            continue  # widgets also take traits and plain arrays, checked as traits
        declared = set(constraints_of(obj))
        signature = inspect.signature(obj)
        params = {p for p, q in signature.parameters.items() if q.kind != q.VAR_KEYWORD}
        assert params == declared, (name, params - declared)


def test_there_are_at_least_300_generated_cases() -> None:
    assert len(CASES) + len(CLI_CASES) >= 300, (len(CASES), len(CLI_CASES))


# ---------------------------------------------------------------------------- CLI options
REQUIRED = {"study": ["--models", "mlp-s0", "--out", "{tmp}/c.parquet"],
            "report": ["--out", "{tmp}/r.html"], "demo": ["--no-lab"], "summary": []}


def cli_cases() -> list:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    cases = []
    for command, declared in OPTIONS.items():
        actions = {a.dest: a for a in sub.choices[command]._actions}
        for dest, constraints in {**declared, **_engine_options(command)}.items():
            parse = actions[dest].type or str
            for i, value in enumerate(invalid_values(constraints)):
                if value is None or isinstance(value, float) and math.isnan(value):
                    continue  # not something a shell passes
                text = str(value)
                try:
                    parsed = parse(text)
                except ValueError:
                    parsed = None  # argparse itself refuses it, naming the option
                if parsed is not None:
                    try:
                        v.check("f", "p", parsed, constraints)
                        continue  # the text form is valid (e.g. "none" as a folder name)
                    except v.InvalidParameterError:
                        pass
                cases.append(pytest.param(command, dest, text, id=f"{command}-{dest}-{i}"))
    return cases


CLI_CASES = cli_cases()


@pytest.mark.parametrize(("command", "dest", "text"), CLI_CASES)
def test_invalid_option_exits_2_naming_it(command, dest, text, tmp_path, monkeypatch, capsys):
    def no_work(*args, **kwargs):
        raise AssertionError("work began before the options were checked")

    for name in ("load_model", "load_data"):
        monkeypatch.setattr(f"geowidget.cli.{name}", no_work)
    monkeypatch.setattr("geowidget.demo.demo_cube", no_work)
    option = "--" + dest.replace("_", "-")
    argv = [command] + [a.format(tmp=tmp_path) for a in REQUIRED[command]] + [f"{option}={text}"]
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert err.value.code == 2
    message = capsys.readouterr().err
    assert (f"The {option!r} option of geowidget {command} must be " in message
            or f"argument {option}: invalid" in message), message


# ---------------------------------------------------------------------------- the constraints
def test_numpy_and_torch_scalars_are_numbers() -> None:
    half = v.Interval(float, 0, 1, closed="left")
    for value in (np.float32(0.5), np.float64(0.5), torch.tensor(0.5), np.array(0.5)):
        got = v.check("f", "p", value, [half])
        assert type(got) is float and got == 0.5
    for value in (np.int64(3), torch.tensor(3), np.uint8(3)):
        got = v.check("f", "p", value, [v.Interval(int, 1, 5)])
        assert type(got) is int and got == 3
    for bad in (True, np.bool_(True), 3.0, torch.tensor(3.0), "3", torch.tensor([3])):
        with pytest.raises(v.InvalidParameterError, match=r"must be an int in \[1, 5\]"):
            v.check("f", "p", bad, [v.Interval(int, 1, 5)])


def test_one_error_shape_with_the_detail_that_failed() -> None:
    with pytest.raises(ValueError, match=r"^The 'x' parameter of f must be None or a non-empty "
                                         r"list, each a float in \[0, 1\)\. Got \[0\.5, 2\] "
                                         r"instead \(item 1 \(2\) is not a float in \[0, 1\)\)\.$"):
        v.check("f", "x", [0.5, 2], [None, v.ListOf(v.Interval(float, 0, 1, closed="left"))])
    long = "a" * 500
    with pytest.raises(ValueError, match=r"Got 'aaaa.*\.\.\. \(500 characters\) instead"):
        v.check("f", "x", long, [v.Options("a")])


def test_declarations_name_real_parameters() -> None:
    with pytest.raises(TypeError, match=r"constraints for unknown parameters \['nope'\]"):
        v.validate_params({"nope": [int]})(lambda x: x)


# ---------------------------------------------------------------------------- cube and tables
def test_sel_reads_a_boolean_mask_as_a_mask() -> None:
    cube = tiny_cube()
    mask = np.zeros(8, bool)
    mask[[1, 6]] = True
    sub = cube.sel(sample=mask)
    np.testing.assert_array_equal(sub.sample_ids, [1, 6])
    np.testing.assert_array_equal(sub.margin, cube.margin[..., [1, 6]])
    assert cube.sel(sample=list(mask)).equals(sub)
    with pytest.raises(ValueError, match=r"'sample' .* a boolean mask of length 8.*length 3"):
        cube.sel(sample=np.array([True, False, True]))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"sample": [1.5]}, r"'sample' parameter of GeometryCube.sel must be .*Got \[1.5\] instead"),
    ({"sample": np.array([0.0, 1.0])}, r"'sample' .*Got a numpy.ndarray of shape \(2,\) and "
                                       r"dtype float64"),
    ({"sample": [0, 8]}, r"'sample' .* positions in \[-8, 8\).*span \[0, 8\]"),
    ({"sample": []}, r"'sample' .*Got \[\] instead"),
    ({"layer": []}, r"'layer' parameter of GeometryCube.sel must be None, a str, an int or a "
                    r"non-empty list, each a str or an int\. Got \[\] instead"),
    ({"model": []}, r"'model' .*Got \[\] instead"),
    ({"severity": 2.5}, r"'severity' .*Got 2.5 instead"),
])
def test_sel_refuses_selections_it_would_get_wrong(kwargs, message) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        tiny_cube().sel(**kwargs)


def test_correlations_refuse_a_bootstrap_of_nothing() -> None:
    cube = tiny_cube(40)
    with pytest.raises(ValueError, match=r"'n_boot' parameter of correlations must be at least 1 "
                                         r"when ci is given \(ci=None skips the bootstrap\)\. "
                                         r"Got 0 instead"):
        correlations(cube, n_boot=0)
    table = correlations(cube, n_boot=0, ci=None)
    assert np.isfinite(table["rc-angle"]).all() and np.isnan(table["rc-angle lo"]).all()
    with pytest.raises(ValueError, match=r"'target' .* Got 'robust' instead"):
        cube.correlations(target="robust")


def test_pruning_robustness_is_the_last_level_a_sample_stays_correct_up_to() -> None:
    from geowidget.analysis.scores import pruning_robustness

    cube = tiny_cube(40)
    got = pruning_robustness(cube)
    levels = [(0.0, 0), (0.5, 1)]  # (sparsity, condition) on clean data, ascending
    for mi in range(2):
        for s in range(40):
            want = 0.0
            for level, k in levels:  # brute force: walk up while correct
                if not cube.correct[mi, k, s]:
                    break
                want = level
            assert got[mi, s] == want
    table = correlations(cube, target="pruning_robustness", ci=None)
    assert table.attrs["target"] == "pruning_robustness"


# ---------------------------------------------------------------------------- cube files
def _write(table: pa.Table, meta: bytes | None, path: Path) -> str:
    md = dict(table.schema.metadata or {})
    if meta is None:
        md.pop(b"geowidget", None)
    else:
        md[b"geowidget"] = meta
    pq.write_table(table.replace_schema_metadata(md), path)
    return str(path)


@pytest.fixture
def cube_file(tmp_path) -> tuple[Path, pa.Table, dict]:
    path = tmp_path / "cube.parquet"
    tiny_cube().to_parquet(str(path))
    table = pq.read_table(path)
    return path, table, json.loads(table.schema.metadata[b"geowidget"])


def test_truncated_cube_file_is_named(cube_file) -> None:
    path, _, _ = cube_file
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=f"cube file '{path}' is not a readable Parquet file"):
        GeometryCube.from_parquet(str(path))


@pytest.mark.parametrize(("change", "message"), [
    (lambda t, m: (t, b"{not json"), "its geowidget metadata is not valid JSON"),
    (lambda t, m: (t, b"\xff\xfe"), "its geowidget metadata is not valid JSON"),
    (lambda t, m: (t, b"[1, 2]"), "its geowidget metadata is a list, not an object"),
    (lambda t, m: (t, json.dumps({**m, "labels": m["labels"][:-1],
                                  "sample_ids": m["sample_ids"][:-1]}).encode()),
     r"has 48 rows but its metadata describes 2 models x 1 layers x 3 conditions x 7 samples"),
    (lambda t, m: (t, json.dumps({**m, "models": "ab"}).encode()),
     "its metadata field 'models' should be a list, got str"),
    (lambda t, m: (t, json.dumps({**m, "sample_ids": m["sample_ids"][::-1]}).encode()),
     "its 'sample' column disagrees with the sample_ids of its metadata"),
    (lambda t, m: (t, json.dumps({**m, "conditions": [[0, "clean"]] * 3}).encode()),
     r"conditions must be \[sparsity, benchmark, severity\] triples"),
    (lambda t, m: (t, json.dumps({**m, "class_names": ["x"]}).encode()),
     r"holds an inconsistent cube: labels must lie in \[0, 1\)"),
    (lambda t, m: (t.set_column(t.column_names.index("margin"), "margin",
                                pa.array(["a"] * t.num_rows)), json.dumps(m).encode()),
     "its column 'margin' holds string, expected floating values"),
    (lambda t, m: (t.drop_columns(["pred"]), json.dumps(m).encode()), "has no column 'pred'"),
])
def test_broken_cube_files_get_an_error_naming_the_file(cube_file, change, message) -> None:
    path, table, meta = cube_file
    table, raw = change(table, meta)
    _write(table, raw, path)
    with pytest.raises(ValueError, match=f"^cube file '{path}'.*{message}"):
        GeometryCube.from_parquet(str(path))


def test_checkpoint_files_that_are_not_plain_tensors_are_named(tmp_path) -> None:
    import os

    class Payload:  # unpickling it would run a command
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "step1.pt"
    torch.save({"weight": torch.zeros(2), "x": Payload()}, path)
    (tmp_path / "noise.pt").write_bytes(np.random.default_rng(0).bytes(256))
    run = gw.Checkpoints(net(), [net().state_dict(), path, tmp_path / "noise.pt"])
    with pytest.raises(ValueError, match=f"checkpoint 1: '{path}' is not a plain tensor or "
                                         "state dict") as err:
        run.state_dict(1)
    assert "weights_only=False" not in str(err.value)
    with pytest.raises(ValueError, match="checkpoint 2: '.*noise.pt' is not a file written by "
                                         "torch.save"):
        run.state_dict(2)
