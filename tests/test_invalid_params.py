"""Bad input gets one clear error that names the parameter, generated from the declarations.

Like scikit-learn's ``generate_invalid_param_val`` common test: every public function and
command-line option declares its constraints once (``geowidget._validation``), and this file
derives invalid values from those declarations, calls the function (or the command) with
each, and checks the error: a ``ValueError``/``TypeError`` whose message names the parameter
in the one shape. A new declaration is tested as soon as it is written.

Values derived from a declaration are refused by that declaration by construction, so they
cannot catch a declaration that is wrong. ``KNOWN_BAD`` is therefore written by hand, per
kind of parameter: each value must be refused with the one error, the message must show the
value, and the model and inputs must be left as they were. The mutation check loosens each
declaration in turn (to "anything", or one constraint widened) and asserts that some known-bad
value then gets through. The last part pins the cases an adversarial pass found, as a new
user would try them.
"""

from __future__ import annotations

import inspect
import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from torch import nn

import geowidget as gw
from geowidget import _validation as v
from geowidget.analysis.embedding import distances, layout, mst
from geowidget.analysis.evaluation import evaluation_grid
from geowidget.analysis.scores import correlations
from geowidget.cli import OPTIONS, _engine_options, build_parser, main
from geowidget.cube import Condition, GeometryCube
from geowidget.datasets import ImageData
from geowidget.demo import DemoConfig
from geowidget.engine import pruning
from geowidget.engine.head import find_head
from geowidget.engine.probe import cross_fit, fit_probe, linear_probe
from geowidget.testing import random_cube
from geowidget.widgets.view import GeoView

# ---------------------------------------------------------------------------- valid calls
X = torch.rand(6, 1, 2, 2)
Y = torch.tensor([0, 1, 2, 0, 1, 2])
H = torch.randn(6, 4)


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))


def tiny_cube(n: int = 8) -> GeometryCube:
    conds = [Condition(0.0, "clean", 0), Condition(0.5, "clean", 0), Condition(0.0, "fog", 1)]
    return random_cube(["a", "b"], ["penultimate"], n=n, classes=["x", "y", "z"],
                       conditions=conds)


IMAGES = ImageData(X, Y, ["x", "y", "z"], "toy")

# function -> (positional arguments, keyword arguments) of one valid call
VALID = {
    gw.extract_features: lambda: ((net(), X, "1"), {"progress": False}),
    gw.get_layer_names: lambda: ((net(),), {}),
    gw.geometry: lambda: ((H, Y, torch.randn(3, 4)), {}),
    gw.geometry_from_model: lambda: ((net(), (X, Y)), {"progress": False}),
    find_head: lambda: ((net(),), {}),
    gw.layer_margin: lambda: ((net(), (X, Y), "1"), {"progress": False}),
    gw.adversarial_distance: lambda: ((net(), X), {"steps": 2, "check": 0, "progress": False}),
    linear_probe: lambda: ((H, Y), {}),
    cross_fit: lambda: ((H, Y), {"folds": 2}),
    fit_probe: lambda: ((H, Y), {}),
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
    distances: lambda: ((np.random.default_rng(0).normal(size=(4, 3)),), {}),
    layout: lambda: ((np.ones((3, 3)) - np.eye(3),), {}),
    mst: lambda: ((np.ones((3, 3)) - np.eye(3),), {}),
    gw.benchmark_similarity: lambda: ((tiny_cube(),), {}),
    evaluation_grid: lambda: ((tiny_cube(),), {}),
    gw.project: lambda: ((np.random.default_rng(0).normal(size=(10, 3)),), {}),
    gw.distortion: lambda: ((np.random.default_rng(0).normal(size=(10, 3)),
                             np.random.default_rng(1).normal(size=(10, 2))), {"k": 3}),
    gw.Checkpoints: lambda: ((net(), [net().state_dict()]), {}),
    gw.GeometryTracker: lambda: ((net(), (X, Y)), {}),
    gw.RayRunner: lambda: ((), {}),
    gw.PolarPlot: lambda: ((tiny_cube(),), {}),
    gw.MarginHistogram: lambda: ((tiny_cube(),), {}),
    gw.ParallelCoordinates: lambda: ((tiny_cube(),), {}),
    gw.ModelMap: lambda: ((tiny_cube(),), {}),
    # no browser shows the view: a value let through stops the body at once, before any file
    GeoView.to_png: lambda: ((gw.PolarPlot(tiny_cube()),
                              Path(tempfile.gettempdir()) / "geowidget-view.png"),
                             {"via": "browser"}),
    # an unknown zoo model: a value let through stops the body at once, not a demo study
    gw.demo_cube: lambda: ((DemoConfig(models=("none",)),), {"progress": False}),
    ImageData.split: lambda: ((IMAGES,), {}),
    ImageData.subset: lambda: ((IMAGES, [0, 1]), {}),
}

# Public functions of the package that take no user parameters to check.
NO_PARAMETERS = {"load_mnist", "load_digits", "LocalRunner"}
# Public names validated another way: widgets whose parameters are traits (checked when set,
# from Python or the browser: tests/test_widgets_input.py), result records built by the
# package itself, a constant, and the error itself.
NOT_DECLARED_HERE = {
    "Explorer", "AttributionView", "SideBySide", "EvaluationTable", "LayerProfile",
    "ProjectionView", "link", "GeometryCube", "Geometry", "Embedding", "Distortion",
    "CORRUPTIONS", "AdversarialDistance", "Coords", "Condition", "InvalidParameterError",
}


def constraints_of(func) -> dict[str, list[v.Constraint]]:
    return getattr(func.__init__ if inspect.isclass(func) else func, "parameter_constraints", {})


def valid_call(func) -> dict:
    """The valid arguments of ``func`` (VALID), all by keyword."""
    args, kwargs = VALID[func]()
    signature = inspect.signature(func.__init__ if inspect.isclass(func) else func)
    names = [p for p in signature.parameters if not (inspect.isclass(func) and p == "self")]
    return {**dict(zip(names, args, strict=False)), **kwargs}


def call_with(func, name: str, value, call: dict | None = None):
    """Call ``func`` with its valid arguments, all by keyword, but ``name`` set to ``value``."""
    result = func(**{**(valid_call(func) if call is None else call), name: value})
    if inspect.isgenerator(result):
        next(result)


def snapshot(objects) -> list:
    """Copies of every model's weights and train flags and of every input tensor or array
    among ``objects`` (and one level inside tuples, lists, dicts and ImageData)."""
    out = []
    for obj in objects:
        if isinstance(obj, tuple | list):
            out += snapshot(obj)
        elif isinstance(obj, dict):
            out += snapshot(list(obj.values()))
        elif isinstance(obj, ImageData):
            out += snapshot([obj.images, obj.labels])
        elif isinstance(obj, nn.Module):
            out.append({k: t.detach().clone() for k, t in obj.state_dict().items()})
            out.append([m.training for m in obj.modules()])
        elif isinstance(obj, torch.Tensor):
            out.append(obj.detach().clone())
        elif isinstance(obj, np.ndarray):
            out.append(obj.copy())
    return out


def same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, torch.Tensor):  # bit for bit, NaN included
        return a.shape == b.shape and a.dtype == b.dtype and bool(
            (a == b).logical_or(a.isnan() & b.isnan()).all()
            if a.is_floating_point() else (a == b).all())
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and bool(
            np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    return a == b


def shown(value) -> list[str]:
    """How a message may show ``value``: its repr or str, or an array's shape and dtype."""
    if isinstance(value, torch.Tensor | np.ndarray) and value.ndim > 0:
        return [f"shape {tuple(value.shape)} and dtype {value.dtype}"]
    if isinstance(value, dict) and ("\n" in repr(value) or len(repr(value)) > 80):  # by keys
        return [f"keys [{', '.join(map(repr, value))}]"]
    return [repr(value), str(value)]


def refusal_problem(func, name: str, value, extra: dict | None = None) -> str | None:
    """What is wrong with how ``func`` refuses ``name=value`` (None: nothing). It must raise
    the one error, naming the parameter, showing the value, leaving model and inputs as they
    were. ``extra`` overrides other arguments of the valid call."""
    call = {**valid_call(func), **(extra or {})}
    before = snapshot([*call.values(), value])
    try:
        call_with(func, name, value, call)
    except Exception as err:  # noqa: BLE001 -- any other error is the problem to report
        message = str(err)
        if not isinstance(err, v.InvalidParameterError):
            return f"{type(err).__name__} instead of InvalidParameterError: {message[:200]}"
        if not message.startswith(f"The {name!r} parameter of {called_name(func, call)} "
                                  "must be "):
            return f"the message does not name the parameter first: {message[:200]}"
        if not any(text in message for text in shown(value)):
            return f"the message does not show the value: {message[:200]}"
    else:
        return "no error"
    after = snapshot([*call.values(), value])
    if len(before) != len(after) or not all(map(same, before, after)):
        return "the model or an input changed"
    return None


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


def called_name(func, call: dict) -> str:
    """The name the error gives: a method names the class of the object it was called on
    (``PolarPlot.to_png``, though ``GeoView`` defines it)."""
    if "self" in call and not inspect.isclass(func):
        return f"{type(call['self']).__name__}.{func.__name__}"
    return caller_name(func)


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
    assert refusal_problem(func, name, value) is None


def signature_of(func) -> inspect.Signature:
    return inspect.signature(func.__init__ if inspect.isclass(func) else func)


# the functions whose every keyword is declared (the views take traits as **kwargs: their own
# refusal, naming the valid ones, is tested in test_widgets_coords)
def optional_keywords(func) -> list[str]:
    params = signature_of(func).parameters
    return [n for n in constraints_of(func)
            if len(n) > 3 and params[n].default is not inspect.Parameter.empty]


TYPO_CASES = [f for f in VALID if optional_keywords(f) and not any(
    p.kind is p.VAR_KEYWORD for p in signature_of(f).parameters.values())]


@pytest.mark.parametrize("func", TYPO_CASES, ids=caller_name)
def test_a_misspelt_keyword_names_the_call_and_the_nearest_keyword(func) -> None:
    params = signature_of(func).parameters
    # an optional keyword, its last two letters swapped ("sparsitise"), or its last dropped
    name = optional_keywords(func)[0]
    typo = name[:-2] + name[-1] + name[-2]
    typo = typo if typo != name else name[:-1]
    with pytest.raises(TypeError) as err:
        call_with(func, typo, params[name].default)
    said = str(err.value)
    assert said.startswith(f"{func.__qualname__.removesuffix('.__init__')}: got an unexpected "
                           f"keyword argument {typo!r}; did you mean {name!r}? Valid keywords: ["
                           ), said


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


# ---------------------------------------------------------------------------- known bad values
# Written by hand, per kind of parameter, from what each parameter means, never from its
# declaration: so that a declaration loosened by mistake (a SPARSITY interval without
# bounds) lets one of them through, and a test fails (see the mutation check below).
NAN = math.nan
NOT_MODULE = ["net", 3, None, nn.Linear]
NOT_DATA = ["data", 3, 2.5, None]
NOT_POSITIVE_INT = [0, -1, 1.5, "8", None, True]
NOT_NONNEGATIVE_INT = [-1, 1.5, "1", None, True]
NOT_INT = [1.5, "1", None, True]
NOT_BOOL = ["yes", 1, None]
NOT_DEVICE = ["gpu", "cuda:x", 0, None]
NOT_DTYPE = ["float32", 32, np.float32]
NOT_TOKENS = ["CLS", 3, ["cls"], {"1": "nope"}]
NOT_SPARSITY = [1.0, 1.5, -0.1, NAN, "0.5", True, [1.5], []]
NOT_SPARSITIES = [[1.0], [1.5], [-0.1], [NAN], ["0.5"], 0.5, "0.5"]
NOT_PRUNING_METHOD = ["magnitude", 3, None]
NOT_LAYER_NAMES = [[], [3], 3, "1"]  # "1" is a module name, but not a list of them
NOT_CUBE = ["cube", 3, None]
NOT_CUBE_LAYER = [1.5, True, [0], b"penultimate"]
NOT_CUBE_MODELS = [1.5, True, [], [1.5]]
NOT_CONDITION_SPARSITY = [1.0, 1.5, -0.1, NAN, "0.5", [], [1.5]]
NOT_CONDITION_BENCHMARK = [3, [], [3], b"fog"]
NOT_CONDITION_SEVERITY = [-1, 6, 1.5, "1", [], [6]]
NOT_VIEW_PICK = [-1, 1.5, True, ["a"]]  # a view's model or layer: None, a name or a position
NOT_VIEW_SPARSITY = [1.5, -0.1, NAN, "0.5"]
NOT_FEATURE_NAMES = ["theta", 3, [], ["theta"]]
NOT_TRANSFORM = ["log", 3, None]
NOT_EMBEDDING_BY = ["sample", 3, None]
NOT_LAYOUT_METHOD = ["isomap", 3, None]
F64 = np.float64


def features(*shape, dtype=torch.float32, fill=0.5):
    return torch.full(shape, fill, dtype=dtype)


NOT_PROBE_FEATURES = ["H", features(6, 4, fill=NAN), features(6), H.numpy(),
                      features(6, 4, dtype=torch.int64), features(0, 4)]
NOT_PROBE_LABELS = ["Y", Y.float(), Y.numpy(), Y[None], Y[:0]]
NOT_CLASS_COUNT = [1, 0, 1.5, 3.5, "3", True]
NOT_FOLDS = [1, 0, 1.5, 2.5, "2", None, True]
NOT_PROBE_DATA = ["data", 3, 2.5]  # None is valid: the probe is fitted on data itself


class With:
    """A bad value that needs other arguments of the valid call changed to reach its check."""

    def __init__(self, value, **extra) -> None:
        self.value, self.extra = value, extra

    def __repr__(self) -> str:
        return f"{self.value!r} with {self.extra}"


KNOWN_BAD = {
    gw.adversarial_distance: {
        "model": NOT_MODULE, "data": NOT_DATA, "norm": ["l3", "L2", 2, None],
        # "01" and a dict iterate as two numbers: only the declaration refuses them
        "bounds": ["01", {0: 0.0, 1: 1.0}, 1, None], "steps": NOT_POSITIVE_INT,
        "check": [-1, 1.5, "1", None, True], "batch_size": NOT_POSITIVE_INT,
        "device": NOT_DEVICE, "seed": NOT_INT, "progress": NOT_BOOL},
    gw.extract_features: {
        "model": NOT_MODULE, "data": NOT_DATA, "layers": [3, [], [3], None],
        "batch_size": NOT_POSITIVE_INT, "device": NOT_DEVICE, "progress": NOT_BOOL,
        "return_outputs": ["yes", 1], "dtype": NOT_DTYPE, "tokens": NOT_TOKENS,
        "stop_early": NOT_BOOL},
    gw.get_layer_names: {"model": NOT_MODULE, "blocks": NOT_BOOL},
    gw.geometry: {
        "features": ["H", H.numpy(), features(6), features(6, 4, dtype=torch.int64),
                     features(0, 4), features(6, 4, 1)],
        "labels": ["Y", Y.numpy(), Y.float(), Y[None], Y[:0]],
        "weight": ["W", features(3, 4, fill=NAN), features(3, 4, dtype=torch.int64),
                   features(3), features(3, 4).numpy(), features(0, 4)],
        "bias": ["b", features(3, fill=NAN), features(3, dtype=torch.int64), features(3, 1),
                 features(0), features(3).numpy()],
        "direction": ["cosine", 3, None],
        "class_directions": [features(3, 4, fill=NAN), features(3), "W", features(0, 4),
                             features(3, 4).numpy(), features(3, 4, dtype=torch.int64)],
        "normalize_norm": NOT_BOOL, "chunk_size": [0, -1, 1.5, "8", True], "extras": NOT_BOOL,
        "probe_folds": NOT_FOLDS, "probe_seed": NOT_INT},
    gw.geometry_from_model: {
        "model": NOT_MODULE, "data": NOT_DATA, "layer": [3, 1.5, ["1"]],
        "direction": ["cosine", 3], "batch_size": NOT_POSITIVE_INT, "device": NOT_DEVICE,
        "progress": NOT_BOOL, "dtype": NOT_DTYPE, "tokens": NOT_TOKENS,
        # without a probe the body refuses any probe_data: a probe shows the declaration
        "probe_data": [*NOT_PROBE_DATA, *(With(x, layer="1") for x in NOT_PROBE_DATA)],
        "probe_folds": NOT_FOLDS},
    find_head: {"model": NOT_MODULE},
    gw.layer_margin: {
        "model": NOT_MODULE, "data": NOT_DATA, "layer": [3, None, ["1"]],
        "k": NOT_POSITIVE_INT, "eps": [-1.0, NAN, "0.1", None, True],
        "batch_size": NOT_POSITIVE_INT, "device": NOT_DEVICE, "progress": NOT_BOOL},
    linear_probe: {
        "features": NOT_PROBE_FEATURES, "labels": NOT_PROBE_LABELS,
        "num_classes": NOT_CLASS_COUNT, "l2": [-1.0, NAN, "0", None],
        "max_iter": NOT_POSITIVE_INT, "tol": [-1.0, NAN, "0", None]},
    cross_fit: {
        "features": NOT_PROBE_FEATURES, "labels": NOT_PROBE_LABELS, "folds": NOT_FOLDS,
        "seed": NOT_INT, "num_classes": NOT_CLASS_COUNT},
    fit_probe: {
        "features": NOT_PROBE_FEATURES, "labels": NOT_PROBE_LABELS,
        "num_classes": NOT_CLASS_COUNT},
    gw.prune_masks: {
        "model": NOT_MODULE, "method": NOT_PRUNING_METHOD, "data": ["data", 3, 2.5],
        "layers": NOT_LAYER_NAMES, "seed": NOT_INT, "calibration_size": NOT_POSITIVE_INT,
        "sparsities": NOT_SPARSITY},
    pruning.prune_scores: {
        "model": NOT_MODULE, "method": NOT_PRUNING_METHOD,
        "data": [With("data", method="snip"), With(3, method="snip")],
        "layers": NOT_LAYER_NAMES, "seed": [With(x, method="random") for x in NOT_INT],
        "calibration_size": [With(x, method="snip", data=(X, Y)) for x in NOT_POSITIVE_INT]},
    pruning.pruning_sweep: {
        "model": NOT_MODULE, "method": NOT_PRUNING_METHOD, "data": ["data", 3, 2.5],
        "layers": NOT_LAYER_NAMES, "seed": NOT_INT, "calibration_size": NOT_POSITIVE_INT,
        "sparsities": NOT_SPARSITIES},
    pruning.PruningPlan.from_model: {
        "model": NOT_MODULE, "method": NOT_PRUNING_METHOD,
        "data": [With("data", method="snip"), With(3, method="snip")],
        "layers": NOT_LAYER_NAMES, "seed": [With(x, method="random") for x in NOT_INT],
        "calibration_size": [With(x, method="snip", data=(X, Y)) for x in NOT_POSITIVE_INT]},
    gw.pruned: {
        "model": NOT_MODULE,
        "masks": [["1.weight"], {"1.weight": torch.ones(5, 4)}, {3: torch.ones(5, 4, dtype=bool)},
                  {"1.weight": [[True] * 4] * 5}, "1.weight"]},
    gw.corrupt: {
        "images": [features(2, 1, 8, 8, fill=2.0), features(2, 1, 8, 8, fill=-1.0),
                   features(2, 1, 8, 8, fill=NAN), features(2, 1, 8, 8, dtype=torch.uint8),
                   features(8, 8), features(2, 1, 8, 8).numpy(), "images",
                   features(1, 2, 1, 8, 8)],
        "name": ["snow-storm", 3, None], "severity": [0, 6, 1.5, "3", None, True],
        "seed": NOT_INT,
        "index": [[-1, 0], [1.5, 0], "01", torch.tensor([0.0, 1.0]), torch.tensor([[0, 1]])],
        "preset": ["mnist", 3, None]},
    gw.occlusion: {
        "model": NOT_MODULE,
        "image": [features(1, 2, 2, fill=NAN), features(2, 2), X[0].numpy(), "image",
                  features(2, 1, 2, 2), features(0, 2, 2)],
        "label": [-1, 1.5, "1", None, True], "patch": NOT_POSITIVE_INT,
        "stride": NOT_POSITIVE_INT, "layer": [3, 1.5, ["1"]], "fill": [NAN, "0", None, True],
        "weight": [With(features(3, 5, fill=NAN), layer="2"),
                   With(features(3, 5, dtype=torch.int64), layer="2"),
                   With(features(5), layer="2"), "W", With(features(0, 5), layer="2"),
                   With(features(3, 5).numpy(), layer="2")],
        "bias": [features(3, fill=NAN), features(3, dtype=torch.int64), features(3, 1), "b",
                 features(0), features(3).numpy()],
        "batch_size": NOT_POSITIVE_INT, "device": NOT_DEVICE},
    gw.Study: {
        "models": ["net", 3, {}, [], {"a": 3}, [3]], "data": NOT_DATA,
        "layers": [[], [3], 3], "sparsities": NOT_SPARSITIES, "pruning": NOT_PRUNING_METHOD,
        "severities": [[0], [6], [1.5], [], 3, "1"], "batch_size": NOT_POSITIVE_INT,
        "device": NOT_DEVICE, "seed": NOT_INT, "shard_size": NOT_POSITIVE_INT,
        "progress": NOT_BOOL, "calibration_size": NOT_POSITIVE_INT,
        "probe_samples": NOT_POSITIVE_INT, "projections": [["mds"], "pca", 3, [3]],
        # with backend="local" the body refuses any address itself: Ray shows the declaration
        "probe_data": NOT_PROBE_DATA, "probe_folds": NOT_FOLDS,
        "grid": ["everything", 3, None, [], [1.5], [-0.1], ["0.5"]],
        "adversarial": ["l2", 3, {3: 1}, {"norm": "l3"}, {"nrom": "l2"}, {"samples": 0}],
        "runner": ["ray", "local", 3, gw.RayRunner, {"address": "auto"}],
        "backend": ["dask", 3, None],
        "ray_address": [3, ["auto"], b"auto", With(3, backend="ray")],
        "ray_remote_args": [["num_gpus"], {3: 1}, "num_gpus=1", With({3: 1}, backend="ray")]},
    correlations: {
        "cube": NOT_CUBE, "target": ["robust", 3, None], "method": ["kendall", 3, None],
        "ci": [0.0, 1.0, 95, NAN, "0.95", True], "layer": NOT_CUBE_LAYER,
        "n_boot": [-1, 1.5, "10", None, True], "seed": NOT_INT, "correct_only": NOT_BOOL,
        "sparsity": [1.0, 1.5, -0.1, NAN, "0.5", True, [], [1.5], ["0.5"]]},
    GeometryCube.sel: {
        "model": NOT_CUBE_MODELS, "layer": NOT_CUBE_MODELS,
        "sample": [[1.5], np.array([0.0, 1.0]), [], "01", np.array([], int), [True, 0],
                   np.ones((8, 1), bool), np.ones((2, 1), int), torch.ones(8, dtype=torch.bool)],
        "sparsity": NOT_CONDITION_SPARSITY, "benchmark": NOT_CONDITION_BENCHMARK,
        "severity": NOT_CONDITION_SEVERITY},
    gw.model_embedding: {
        "cube": NOT_CUBE, "metrics": NOT_FEATURE_NAMES, "features": NOT_FEATURE_NAMES, "transform": NOT_TRANSFORM,
        "layer": NOT_CUBE_LAYER, "models": NOT_CUBE_MODELS, "delta": NOT_BOOL,
        "sparsity": NOT_CONDITION_SPARSITY, "benchmark": NOT_CONDITION_BENCHMARK,
        "severity": NOT_CONDITION_SEVERITY, "by": NOT_EMBEDDING_BY},
    distances: {
        "embedding": [np.full((4, 3), NAN), np.ones((4, 3), int), np.ones(4), "x",
                      torch.ones(4, 3), np.ones((0, 3))],
        "metric": ["cosine", 3, None], "max_points": [1, 0, 1.5, 2.5, "10", True]},
    layout: {
        "distances": [np.full((3, 3), NAN), np.ones((3, 3), int), np.ones(3), "D",
                      torch.ones(3, 3), np.ones((0, 0))],
        # two points take the exact MDS path, whatever the method
        "method": [*NOT_LAYOUT_METHOD, With("isomap", distances=np.ones((2, 2)) - np.eye(2))],
        "seed": NOT_INT, "perplexity": [0.0, -1.0, NAN, "5"],
        "max_points": [1, 0, 1.5, 2.5, "10", True]},
    mst: {"distances": [np.full((3, 3), NAN), np.ones((3, 3), int), np.ones((3, 2)), "D",
                           torch.ones(3, 3), np.ones((0, 0))]},
    gw.benchmark_similarity: {
        "cube": NOT_CUBE, "metrics": NOT_FEATURE_NAMES, "features": NOT_FEATURE_NAMES, "transform": NOT_TRANSFORM,
        "layer": NOT_CUBE_LAYER, "models": NOT_CUBE_MODELS, "delta": NOT_BOOL,
        "sparsity": NOT_SPARSITY, "benchmarks": [["fog"], "fog", 3, [3, 4]]},
    evaluation_grid: {
        "cube": NOT_CUBE, "quantity": ["accuracy", 3, None], "layer": NOT_CUBE_LAYER,
        "bins": [0, 256, 1.5, "10", True]},
    gw.project: {
        "features": [np.ones(10), np.ones((10, 3, 1)), "x", np.ones((0, 3))],
        "method": ["isomap", 3, None], "seed": NOT_NONNEGATIVE_INT,
        "options": [["perplexity"], {3: 1}, "perplexity=5"],
        # the body checks a matrix the declaration lets through, once features are None
        "distances": [np.ones((4, 4), int), np.ones((4, 3)), "D", torch.ones(4, 4),
                      np.ones((0, 0)), *(With(d, features=None) for d in (
                          np.full((4, 4), NAN), np.ones((4, 4)), -np.ones((4, 4)) + np.eye(4),
                          np.array([[0.0, 1.0], [2.0, 0.0]])))]},
    gw.distortion: {
        "features": [np.ones(10), "x", np.ones((10, 3, 1)), np.ones((0, 3))],
        "xy": [np.ones((10, 3)), np.ones(10), "xy", np.ones((0, 2))],
        "k": NOT_POSITIVE_INT,
        "angle": [np.array(["x"] * 10), np.ones((10, 2)), "x", np.ones(0)],
        "margin": [np.array(["x"] * 10), np.ones((10, 2)), "x", np.ones(0)]},
    gw.Checkpoints: {
        "model": NOT_MODULE, "checkpoints": [[], {}, "ckpt.pt", [3], {"a": {}}, {1.5: {}}],
        "steps": [[1.5], ["1"], [], 3, [True]]},
    gw.GeometryTracker: {
        "model": NOT_MODULE, "data": NOT_DATA, "probe_data": NOT_DATA,
        "layers": [[], [3], "1"],
        "every": NOT_POSITIVE_INT, "run": ["a/b", "", 3], "batch_size": NOT_POSITIVE_INT,
        "tokens": NOT_TOKENS},
    gw.RayRunner: {
        "address": [3, ["auto"], b"auto"], "remote_args": [["num_gpus"], {3: 1}, "num_gpus=1"],
        "max_workers": [0, -1, 1.5, "8", True], "max_restarts": [-1, 1.5, "3", None, True]},
    ImageData.split: {"test_fraction": [0.0, 1.0, 1.5, NAN, "0.3", None],
                         "seed": NOT_NONNEGATIVE_INT},
    ImageData.subset: {"index": [[1.5], np.array([0.5]), "01", np.array([True, False]),
                                 [True, False], np.array([[0]])],
                          "part": [3, None, ["train"]]},
}
for _view in (gw.PolarPlot, gw.MarginHistogram, gw.ParallelCoordinates):
    KNOWN_BAD[_view] = {"model": NOT_VIEW_PICK, "layer": NOT_VIEW_PICK,
                        "sparsity": NOT_VIEW_SPARSITY, "benchmark": [3, ["fog"]],
                        "severity": NOT_CONDITION_SEVERITY, "budget": NOT_POSITIVE_INT}
KNOWN_BAD[gw.ParallelCoordinates]["axes"] = [["a"], "a", 3]
KNOWN_BAD[gw.ModelMap] = {"by": NOT_EMBEDDING_BY, "method": NOT_LAYOUT_METHOD}
KNOWN_BAD[GeoView.to_png] = {
    "path": [3, None, b"view.png", "missing-folder-for-geowidget-tests/view.png", ".",
             Path("missing-folder-for-geowidget-tests") / "view.png"],
    "scale": [0, -1.0, 10.5, NAN, math.inf, True, "3", None],
    "via": ["svg", "Chromium", 3, None],
    "timeout": [0, -1.0, NAN, math.inf, True, "60", None]}
KNOWN_BAD[gw.demo_cube] = {"config": ["default", None, {"samples": 100}, DemoConfig],
                           "progress": NOT_BOOL, "refresh": NOT_BOOL}


def known_bad_cases() -> list:
    cases = []
    for func, params in KNOWN_BAD.items():
        for name, values in params.items():
            for i, value in enumerate(values):
                cases.append(pytest.param(func, name, value,
                                          id=f"{caller_name(func)}-{name}-{i}"))
    return cases


def problem(func, name: str, value) -> str | None:
    if isinstance(value, With):
        return refusal_problem(func, name, value.value, value.extra)
    return refusal_problem(func, name, value)


@pytest.mark.parametrize(("func", "name", "value"), known_bad_cases())
def test_known_bad_value_is_refused_by_name(func, name, value) -> None:
    assert problem(func, name, value) is None


def test_every_declared_parameter_has_known_bad_values() -> None:
    declared = {(caller_name(f), n) for f in VALID for n in constraints_of(f)}
    listed = {(caller_name(f), n) for f, params in KNOWN_BAD.items() for n in params}
    assert declared == listed, (sorted(declared - listed), sorted(listed - declared))


# ---------------------------------------------------------------------------- mutation check
class Anything(v.Constraint):
    def convert(self, value):
        return value

    def __str__(self) -> str:
        return "anything"


def loosenings(constraint: v.Constraint):
    """``(what, looser constraint)`` pairs: each accepts everything ``constraint`` accepts,
    and more."""
    import copy

    def changed(**fields):
        c = copy.copy(constraint)
        c.__dict__.update(fields)
        return c

    if isinstance(constraint, v.Interval):
        if constraint.left is not None or constraint.right is not None:
            yield "without bounds", changed(left=None, right=None)
        if constraint.kind is int:
            yield "any real", changed(kind=float)
    if isinstance(constraint, v.Array):
        if constraint.finite or constraint.low is not None or constraint.high is not None:
            yield "any values", changed(finite=False, low=None, high=None)
        if constraint.dtype is not None:
            yield "any dtype", changed(dtype=None)
        if constraint.shapes:
            yield "any shape", changed(shapes=())
        if constraint.nonempty:
            yield "may be empty", changed(nonempty=False)
        if constraint.library is not None:
            yield "numpy or torch", changed(library=None)
    if isinstance(constraint, v.ListOf):
        if constraint.min_len:
            yield "may be empty", changed(min_len=0)
        yield "any items", changed(item=Anything())
    if isinstance(constraint, v.DictOf):
        yield "any entries", changed(key=Anything(), value=Anything())


def mutants(constraints: list):
    yield "anything", [Anything()]
    for i, c in enumerate(constraints):
        for what, looser in loosenings(c):
            yield f"constraint {i} ({c}) {what}", [*constraints[:i], looser, *constraints[i + 1:]]


# Widenings of one constraint that no value can tell apart, because the body checks the
# same thing against another argument and refuses in the same shape, naming the parameter
# and the value. Loosening a whole declaration ("anything") is never among them.
_AGAINST_OTHERS = "the body checks it against another argument, naming this parameter"
EQUIVALENT = {
    **dict.fromkeys([
        "geometry(labels): constraint 0 (an integer torch.Tensor [N]) any shape",
        "geometry(labels): constraint 0 (an integer torch.Tensor [N]) may be empty",
        "geometry(weight): constraint 1 (a finite floating-point torch.Tensor [C, D]) any dtype",
        "geometry(weight): constraint 1 (a finite floating-point torch.Tensor [C, D]) may be "
        "empty",
        "geometry(bias): constraint 1 (a finite floating-point torch.Tensor [C]) any dtype",
        "geometry(bias): constraint 1 (a finite floating-point torch.Tensor [C]) any shape",
        "geometry(bias): constraint 1 (a finite floating-point torch.Tensor [C]) may be empty",
        "geometry(class_directions): constraint 1 (a finite floating-point torch.Tensor "
        "[C, D]) any shape",
        "geometry(class_directions): constraint 1 (a finite floating-point torch.Tensor "
        "[C, D]) may be empty",
        "linear_probe(labels): constraint 0 (an integer torch.Tensor [N]) any shape",
        "linear_probe(labels): constraint 0 (an integer torch.Tensor [N]) may be empty",
        "cross_fit(labels): constraint 0 (an integer torch.Tensor [N]) any shape",
        "cross_fit(labels): constraint 0 (an integer torch.Tensor [N]) may be empty",
        "corrupt(images): constraint 0 (a floating-point torch.Tensor [N, C, H, W] or [N, H, W] "
        "with values in [0, 1]) any shape",
        "corrupt(index): constraint 1 (an integer tensor or array [N]) any shape",
        "distortion(xy): constraint 0 (a tensor or array [N, 2]) may be empty",
        "distortion(angle): constraint 1 (a numeric tensor or array [N]) may be empty",
        "distortion(margin): constraint 1 (a numeric tensor or array [N]) may be empty",
        "Checkpoints(steps): constraint 1 (a non-empty list, each an int) may be empty",
    ], _AGAINST_OTHERS),
    "GeometryCube.sel(sample): constraint 1 (a boolean numpy array [N]) any shape":
        "the body checks a mask's length against the samples",
    "GeometryCube.sel(sample): constraint 2 (an integer numpy array [K]) numpy or torch":
        "a torch int tensor is already taken as a list of positions",
    "benchmark_similarity(sparsity): constraint 0 (a float in [0, 1)) without bounds":
        "the body refuses a sparsity the cube has no corrupted condition at",
    "benchmark_similarity(benchmarks): constraint 1 (a list of at least 2 items, each a str) "
    "may be empty": "the body refuses fewer than 2 benchmarks",
    **{f"{f}(distances): constraint 0 (a finite floating-point numpy array [P, P]) {w}":
       "the body checks every distance matrix (reducer.check_distances), naming it"
       for f in ("layout", "mst")
       for w in ("any dtype", "any shape", "any values", "may be empty", "numpy or torch")},
    "Study(adversarial): constraint 1 (a dict mapping a str to an object) any entries":
        "the body refuses keys that are not the names of its settings",
    "project(options): constraint 1 (a dict mapping a str to an object) any entries":
        "the body refuses options for PCA, and keys that are not the backend's arguments",
}


def test_loosening_any_declaration_fails_a_test(monkeypatch) -> None:
    """Mutation check: with any one declaration loosened (made to accept anything, or one
    of its constraints widened), at least one known-bad value is no longer refused the
    right way. Cheap: the functions are called directly, stopping at the first value that
    gets through. The widenings that survive are exactly the listed equivalent ones."""
    # Study(backend="ray") only imports Ray when built (its actors start in run()), and the
    # import alone takes seconds
    monkeypatch.setattr("geowidget.study.runners.import_ray", lambda: None)
    survivors = []
    for func, params in KNOWN_BAD.items():
        declared = constraints_of(func)
        for name, values in params.items():
            original = declared[name]
            for what, mutant in mutants(original):
                declared[name] = mutant  # the wrapper reads this very dict
                try:
                    killed = any(problem(func, name, value) is not None for value in values)
                finally:
                    declared[name] = original
                if not killed:
                    survivors.append(f"{caller_name(func)}({name}): {what}")
    assert not [m for m in survivors if m.endswith(": anything")], survivors
    assert sorted(survivors) == sorted(EQUIVALENT), (
        "survived: " + "\n".join(sorted(set(survivors) - set(EQUIVALENT)))
        + "\nno longer equivalent: " + "\n".join(sorted(set(EQUIVALENT) - set(survivors))))


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


def option_problem(command: str, dest: str, text: str, tmp_path, monkeypatch, capsys
                   ) -> str | None:
    """What is wrong with how ``geowidget command`` refuses ``--dest=text`` (None: nothing):
    exit status 2 before any work, with a message naming the option and showing the text."""
    def no_work(*args, **kwargs):
        raise AssertionError("work began before the options were checked")

    for name in ("load_model", "load_data"):
        monkeypatch.setattr(f"geowidget.cli.{name}", no_work)
    monkeypatch.setattr("geowidget.demo.demo_cube", no_work)
    option = "--" + dest.replace("_", "-")
    text = text.format(tmp=tmp_path)
    argv = [command] + [a.format(tmp=tmp_path) for a in REQUIRED[command]] + [f"{option}={text}"]
    try:
        main(argv)
    except SystemExit as err:
        message = capsys.readouterr().err
        if err.code != 2:
            return f"exit status {err.code}: {message[-200:]}"
    except Exception as err:  # noqa: BLE001 -- any escape is the problem to report
        return f"{type(err).__name__}: {str(err)[:200]}"
    else:
        return "no error"
    if not (f"The {option!r} option of geowidget {command} must be " in message
            or f"argument {option}: invalid" in message):
        return f"the message does not name the option: {message[-200:]}"
    if text not in message:
        return f"the message does not show {text!r}: {message[-200:]}"
    return None


@pytest.mark.parametrize(("command", "dest", "text"), CLI_CASES)
def test_invalid_option_exits_2_naming_it(command, dest, text, tmp_path, monkeypatch, capsys):
    assert option_problem(command, dest, text, tmp_path, monkeypatch, capsys) is None


# Written by hand, like KNOWN_BAD: texts a shell passes that each option must refuse.
# "{tmp}" is a fresh folder, holding a file "afile".
KNOWN_BAD_OPTIONS = {
    "demo": {"port": ["-1", "65536", "x"]},
    "report": {"out": ["{tmp}/r.txt", "{tmp}", "{tmp}/missing/r.html"],
               "study": ["{tmp}/missing.parquet", "{tmp}/afile", "{tmp}/missing"],
               "zoo": ["cifar", ""], "n_boot": ["0", "-5", "1.5"]},
    "study": {"out": ["{tmp}/c.csv", "{tmp}/missing/c.parquet", "{tmp}/afile"],
              "cache_dir": ["{tmp}/afile", "{tmp}/afile/store"],
              "data": ["cifar10", "{tmp}/missing.pt", "{tmp}/afile"],
              "probe_data": ["cifar10", "{tmp}/missing.npz", "{tmp}/afile"],
              "probe_folds": ["1", "0", "x"],
              "samples": ["0", "-1", "1.5"], "batch_size": ["0", "-1", "x"],
              "device": ["gpu", "cuda:x"], "severities": ["0", "6", "1.5"],
              "sparsities": ["1.0", "1.5", "-0.1", "nan"], "tokens": ["first", "CLS"],
              "pruning": ["magnitude", ""], "corruptions": ["snowstorm", "fog,blur"],
              "adversarial": ["l3", "L2"], "adversarial_samples": ["0", "-1", "x"]},
    "summary": {"model": ["resnet50", ""]},
}


def declared_options(command: str) -> dict:
    return {**OPTIONS[command], **_engine_options(command)}


def test_every_option_has_known_bad_texts() -> None:
    assert {c: set(declared_options(c)) for c in OPTIONS} == {
        c: set(d) for c, d in KNOWN_BAD_OPTIONS.items()}


@pytest.mark.parametrize(("command", "dest", "text"), [
    pytest.param(c, d, t, id=f"{c}-{d}-{i}")
    for c, options in KNOWN_BAD_OPTIONS.items() for d, texts in options.items()
    for i, t in enumerate(texts)])
def test_known_bad_option_is_refused_by_name(command, dest, text, tmp_path, monkeypatch,
                                             capsys) -> None:
    (tmp_path / "afile").write_text("")
    assert option_problem(command, dest, text, tmp_path, monkeypatch, capsys) is None


# argparse parses these options as numbers itself: a declaration widened to any real, or
# one whose only bad texts are not numbers, cannot let a non-integer through.
EQUIVALENT_OPTIONS = {
    "demo --port: constraint 0 (an int in [0, 65535]) any real",
    "report --n-boot: constraint 0 (an int in [1, inf)) any real",
    "study --samples: constraint 1 (an int in [1, inf)) any real",
    "study --batch-size: constraint 0 (an int in [1, inf)) any real",
    "study --probe-folds: constraint 1 (an int in [2, inf)) any real",
    "study --severities: constraint 0 (an int in [1, 5]) any real",
    "study --adversarial-samples: constraint 0 (an int in [1, inf)) any real",
}


def test_loosening_any_option_declaration_fails_a_test(tmp_path, monkeypatch, capsys) -> None:
    """The mutation check of the command line, as for the functions above."""
    import geowidget.cli as cli

    (tmp_path / "afile").write_text("")
    engine_options = cli._engine_options
    survivors = []
    for command, options in KNOWN_BAD_OPTIONS.items():
        for dest, texts in options.items():
            original = declared_options(command)[dest]
            for what, mutant in mutants(original):
                def mutated(c, command=command, dest=dest, mutant=mutant):
                    got = engine_options(c)
                    return {**got, dest: mutant} if c == command and dest in got else got

                monkeypatch.setattr(cli, "_engine_options", mutated)
                if dest in OPTIONS[command]:
                    monkeypatch.setitem(OPTIONS[command], dest, mutant)
                try:
                    killed = any(option_problem(command, dest, t, tmp_path, monkeypatch,
                                                capsys) is not None for t in texts)
                finally:
                    monkeypatch.undo()
                if not killed:
                    survivors.append(f"{command} --{dest.replace('_', '-')}: {what}")
    assert not [m for m in survivors if m.endswith(": anything")], survivors
    assert sorted(survivors) == sorted(EQUIVALENT_OPTIONS), "\n".join(survivors)


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


def test_a_bad_argument_and_a_bad_trait_are_one_error() -> None:
    import traitlets

    view = gw.PolarPlot(tiny_cube())
    size = view.point_size
    with pytest.raises(gw.InvalidParameterError, match=r"^The 'point_size' trait of PolarPlot "
                                                      r"must be a finite number in \[0.5, 64\]"):
        view.point_size = -3.0
    with pytest.raises(traitlets.TraitError):  # so traitlets rolls the change back
        view.point_size = math.nan
    assert view.point_size == size
    with pytest.raises(gw.InvalidParameterError,  # named by the class it was called on
                       match=r"^The 'scale' parameter of PolarPlot.to_png must be a float in "
                             r"\(0, 10\]. Got 0 instead"):
        view.to_png("view.png", scale=0)


def test_file_paths_expand_the_home_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "in.npz").write_bytes(b"")
    assert v.check("f", "p", "~/out.png", [v.OutputFile()]) == str(tmp_path / "out.png")
    assert v.check("f", "p", Path("~/in.npz"), [v.InputFile(".npz")]) == tmp_path / "in.npz"
    (tmp_path / "file").write_text("")
    with pytest.raises(v.InvalidParameterError, match=r"'p' parameter of f must be a writable "
                       r"file path in an existing folder. Got .* \('.*file' is a file, not a "
                       r"folder\)"):
        v.check("f", "p", tmp_path / "file" / "x.png", [v.OutputFile()])


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
     r"its column 'pred' holds \d+; predictions must lie in \[0, 1\) for its 1 class names"),
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


def test_a_misspelt_option_suggests_the_nearest_one() -> None:
    names = ["gaussian_noise", "shot_noise", "fog"]
    for value, hint in [("gausian_noise", "gaussian_noise"), ("foog", "fog")]:
        with pytest.raises(ValueError, match=rf"\(did you mean '{hint}'\?\)"):
            v.check("f", "corruptions", value, [v.Options(*names)])
        # inside a list, the item names itself and the hint replaces the list of options
        with pytest.raises(ValueError, match=rf"\(item 1 \('{value}'\): did you mean '{hint}'\?\)"):
            v.check("f", "corruptions", ["fog", value], [v.ListOf(v.Options(*names))])
    for far in ("zzz", "isomap"):  # nothing near: no suggestion, the options are listed
        with pytest.raises(ValueError) as err:
            v.check("f", "method", far, [v.Options("pca", "mds", "tsne", "umap")])
        assert "did you mean" not in str(err.value) and "one of ['pca'" in str(err.value)
