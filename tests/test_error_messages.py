"""Errors that name the parameter (or axis) and the bad value, and say what is valid.

One test per case an adversarial pass found unclear (issue 18, section 5): each was a bare
IndexError, an AttributeError, a dtype error from inside torch, or an error that blamed
another function's parameter or a file.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
import torch
from torch import nn

import geowidget as gw
from geowidget import _validation as v
from geowidget.analysis.training import training_scores
from geowidget.cli import main
from geowidget.cube import GeometryCube
from geowidget.testing import random_cube
from tests.optional import needs
from tests.test_invalid_params import X, Y, net, tiny_cube


def refused(match: str, call, *, error=v.InvalidParameterError) -> str:
    with pytest.raises(error) as err:
        call()
    message = str(err.value)
    assert re.search(match, message), message
    return message


@pytest.fixture(scope="module")
def cubes(tmp_path_factory):
    """The tiny cube in memory, and saved then opened (read from its partitions)."""
    cube = tiny_cube()
    path = tmp_path_factory.mktemp("cube") / "c"
    cube.save(path)
    return {"memory": cube, "opened": GeometryCube.open(path)}


# ---------------------------------------------------------------------------- cube
@pytest.mark.parametrize("where", ["memory", "opened"])
@pytest.mark.parametrize(("kwargs", "match"), [
    ({"model": [99]}, r"'model' parameter of GeometryCube.values must be a list of int "
                      r"positions in \[-2, 2\) \(the cube has 2 models\)\. Got \[99\] instead"),
    ({"layer": [5]}, r"'layer' .* in \[-1, 1\) \(the cube has 1 layers\)\. Got \[5\]"),
    ({"condition": [-99]}, r"'condition' .* in \[-3, 3\) .*Got \[-99\]"),
    ({"sample": [10**6]}, r"'sample' .* in \[-8, 8\) .*Got \[1000000\]"),
    ({"model": ["a"]}, r"'model' .*Got \['a'\] instead \('a' is not an int\)"),
    ({"sample": np.array([0, 9])}, r"'sample' .*they span \[0, 9\]"),
])
def test_values_names_the_axis_and_position(cubes, where, kwargs, match) -> None:
    message = refused(match, lambda: cubes[where].values("angle", **kwargs))
    assert ".parquet" not in message  # an opened cube blames no partition file


@pytest.mark.parametrize("where", ["memory", "opened"])
def test_cell_names_the_axis_and_position(cubes, where) -> None:
    cube = cubes[where]
    for args, match in (((99, 0, 0), r"'model' parameter of GeometryCube.cell must be an int "
                                      r"position in \[-2, 2\) .*Got 99 instead"),
                        (("a", 0, 0), r"'model' .*Got 'a' instead"),
                        ((0, 0, 3), r"'condition' .*in \[-3, 3\).*Got 3 instead")):
        message = refused(match, lambda a=args: cube.cell(*a))
        assert ".parquet" not in message
    # negative positions count from the end, in memory and on disk alike
    last = cube.cell(-1, 0, -1)
    np.testing.assert_array_equal(last.angle, cubes["memory"].angle[1, 0, 2])
    assert last.condition == cubes["memory"].conditions[2]


def test_values_takes_negative_positions_on_an_opened_cube(cubes) -> None:
    got = cubes["opened"].values("norm", model=[-1], condition=[-1], sample=[-1, 0])
    np.testing.assert_array_equal(got, cubes["memory"].norm[[1]][:, :, [2]][..., [7, 0]])


def test_replace_names_the_per_sample_field() -> None:
    refused(r"'labels' parameter of GeometryCube.replace must be one entry per sample of the "
            r"cube \(8\).*Got \[0, 1, 2\] instead \(it has 3\)",
            lambda: tiny_cube().replace(labels=[0, 1, 2]))


def test_concat_models_and_training_scores_name_the_cube() -> None:
    cube = tiny_cube()
    refused(r"'cubes' parameter of GeometryCube.concat_models must be a list of GeometryCube.*"
            r"item 1 \('x'\) is a str", lambda: GeometryCube.concat_models([cube, "x"]))
    refused(r"'cube' parameter of training_scores must be a geowidget.cube.GeometryCube\. "
            r"Got 'x' instead", lambda: training_scores("x"))


def test_to_pandas_takes_one_column_name_as_one_column() -> None:
    cube = tiny_cube()
    df = cube.to_pandas(columns="angle")
    assert list(df.columns)[-1] == "angle"
    np.testing.assert_array_equal(df["angle"].to_numpy(), cube.angle.ravel())
    refused(r"unknown column\(s\) \['theta'\] in the 'columns' parameter of "
            r"GeometryCube.to_pandas", lambda: cube.to_pandas(columns="theta"), error=KeyError)


def test_find_conditions_and_sel_name_the_value() -> None:
    cube = tiny_cube()
    refused(r"'sparsity' parameter of GeometryCube.find_conditions must be None, a float in "
            r"\[0, 1\).*Got 'x' instead", lambda: cube.find_conditions(sparsity="x"))
    refused(r"'sample' parameter of GeometryCube.sel .*shape \(0,\) and dtype int64 instead "
            r"\(it is empty\)", lambda: cube.sel(sample=np.array([], int)))


# ---------------------------------------------------------------------------- engine
def test_checkpoints_load_names_the_position() -> None:
    run = gw.Checkpoints(net(), [net().state_dict()], steps=[5])
    refused(r"'i' parameter of Checkpoints.load must be a checkpoint position in \[-1, 1\) "
            r"\(this run has 1, at steps \[5\]\)\. Got 5 instead \(a position, not a step\)",
            lambda: run.load(5))
    refused(r"'i' parameter of Checkpoints.state_dict .*Got '0' instead",
            lambda: run.state_dict("0"))
    assert torch.equal(run.load(-1)[1].weight, net()[1].weight)


@pytest.mark.parametrize(("model", "image", "want", "have"), [
    (net, lambda: X[0].half(), "torch.float32", "torch.float16"),
    (lambda: net().to(torch.bfloat16), lambda: X[0], "torch.bfloat16", "torch.float32"),
])
def test_dtype_mismatches_name_both_dtypes(model, image, want, have) -> None:
    m, x = model(), image()
    before = {k: t.clone() for k, t in m.state_dict().items()}
    refused(rf"'image' parameter of occlusion must be inputs of the model's dtype {want}\. "
            rf"Got a torch.Tensor of shape \(1, 2, 2\) and dtype {have} instead .*model's "
            rf"parameters are {want}", lambda: gw.occlusion(m, x, 0, patch=1))
    refused(rf"'data' parameter of extract_features .*dtype {want}.*dtype {have}",
            lambda: gw.extract_features(m, x[None], "1", progress=False))
    assert all(torch.equal(before[k], t) for k, t in m.state_dict().items())


class Casting(nn.Module):
    """A model that casts its inputs itself: any floating dtype is fine for it."""

    def __init__(self) -> None:
        super().__init__()
        self.body = net()

    def forward(self, x):
        return self.body(x.to(torch.float32))


def test_a_model_that_casts_its_inputs_is_not_refused() -> None:
    model = Casting()
    feats = gw.extract_features(model, X.half(), "body.1", progress=False)
    want = model.body[1](model.body[0](X.half().float()))
    torch.testing.assert_close(feats["body.1"], want, rtol=0, atol=0)
    refused(r"'data' parameter of Study must be inputs of the model's dtype torch.float32.*"
            r"dtype torch.float16", lambda: gw.Study(net(), (X.half(), Y), progress=False).run())


def test_weight_normed_layers_are_named_before_pruning() -> None:
    model = net()
    nn.utils.parametrizations.weight_norm(model[1])
    refused(r"'model' parameter of prune_masks must be a model whose pruned layers hold their "
            r"weight as a parameter.*layer '1' computes its weight from .*original0",
            lambda: gw.prune_masks(model, 0.5))
    refused(r"'models' parameter of Study .*layer '1'",
            lambda: gw.Study({"n": model}, (X, Y), sparsities=[0.5], progress=False).run())
    gw.Study({"n": model}, (X, Y), sparsities=[], progress=False).run()  # no pruning: fine


def test_occlusion_names_an_unknown_layer_before_asking_for_weights() -> None:
    refused(r"'layer' parameter of occlusion must be a layer name of this Sequential\. "
            r"Got 'nope' instead .*valid names", lambda: gw.occlusion(net(), X[0], 0, patch=1,
                                                                        layer="nope"))
    refused(r"'layer' parameter of occlusion .*Got 'nope'",
            lambda: gw.AttributionView(net(), X, Y, patch=1, layer="nope"))


# ---------------------------------------------------------------------------- Study
class DictOut(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = net()

    def forward(self, x):
        return {"scores": self.body(x)}


def test_study_names_the_model_that_returns_no_logits() -> None:
    refused(r"'models' parameter of Study must be a classifier whose output is a logits "
            r"tensor.*model 'd': its forward returns a dict with keys \['scores'\]",
            lambda: gw.Study({"d": DictOut()}, (X, Y), progress=False).run())
    one = nn.Sequential(nn.Flatten(), nn.Linear(4, 1))
    refused(r"'models' parameter of Study must be classifiers whose logits are \[N, C\] with "
            r"C >= 2 classes\. Got \{'one': 'Sequential'\} instead \(model 'one' returns "
            r"logits of shape \(1, 1\)\)",
            lambda: gw.Study({"one": one}, (X, Y), progress=False).run())


def test_study_names_sparsities_equal_within_the_tolerance() -> None:
    refused(r"'sparsities' parameter of Study must be distinct levels, more than the tolerance "
            r"SPARSITY_TOL=1e-06 apart\. Got \[0.5, 0.5000000001\] instead \(0.5 and "
            r"0.5000000001 are equal within the tolerance\)",
            lambda: gw.Study(net(), (X, Y), sparsities=[0.5, 0.5000000001], progress=False))


def test_study_names_nan_inputs_and_nan_weights() -> None:
    x = X.clone()
    x[4, 0, 1, 1] = float("nan")
    study = gw.Study({"n": net()}, (x, Y), sparsities=[], progress=False)
    refused(r"'data' parameter of Study must be finite inputs\..*\(samples \[4\] hold NaN or "
            r"infinite values\)", study.run)
    for name in ("1.weight", "3.bias"):
        model = net()
        with torch.no_grad():
            model.get_parameter(name).view(-1)[0] = float("inf")
        refused(rf"'models' parameter of Study must be models with finite weights.*model 'n': "
                rf"its parameter '{re.escape(name)}' holds 1 NaN or infinite values",
                lambda m=model: gw.Study({"n": m}, (X, Y), progress=False).run())


# ---------------------------------------------------------------------------- tracker
def test_tracker_names_a_head_swapped_mid_training() -> None:
    model = net()
    tracker = gw.GeometryTracker(model, (X, Y))
    tracker.step(0)
    model[3] = nn.Linear(5, 2)
    refused(r"GeometryTracker.step: the model now outputs 2 classes, but the tracker was made "
            r"for 3", lambda: tracker.step(1), error=ValueError)
    assert tracker.steps == [0]


def test_tracker_tracks_a_vit_block_with_tokens() -> None:
    from torchvision.models.vision_transformer import VisionTransformer

    torch.manual_seed(0)
    vit = VisionTransformer(image_size=16, patch_size=8, num_layers=2, num_heads=2,
                            hidden_dim=16, mlp_dim=32, num_classes=3)
    x = torch.rand(9, 3, 16, 16)
    y = torch.arange(9) % 3
    block = "encoder.layers.encoder_layer_1"
    refused(r"'tokens' parameter of GeometryTracker .*Got 'first' instead",
            lambda: gw.GeometryTracker(vit, (x, y), layers=[block], tokens="first"))
    tracker = gw.GeometryTracker(vit, (x, y), layers=[block], tokens="cls")
    tracker.step(0)
    seen = []  # the block's class token, read by a hook of our own
    handle = vit.get_submodule(block).register_forward_hook(
        lambda m, i, out: seen.append(out[:, 0].detach()))
    with torch.no_grad():
        vit.eval()(x)
    handle.remove()
    want = seen[0].double().norm(dim=1).numpy()
    np.testing.assert_allclose(tracker.cube().norm[0, 0, 0], want, rtol=1e-5)


# ---------------------------------------------------------------------------- views, analyses
def test_polar_selected_shows_the_bad_ids() -> None:
    plot = gw.PolarPlot(tiny_cube())
    for value, shown in (([1.5], r"\[1.5\]"), ([float("nan")], r"\[nan\]"),
                         (["a"], r"dtype <U1: \['a'\]")):
        with pytest.raises(ValueError, match=rf"'selected' trait of PolarPlot .*{shown}"):
            plot.selected = value


def test_parallel_axes_and_distortion_name_non_numeric_values() -> None:
    strings = np.array(["x"] * 8)
    refused(r"'axes' parameter of ParallelCoordinates must be a dict of numeric arrays \[8\].*"
            r"axis 'a' holds <U1 values, e.g. \['x', 'x', 'x'\]",
            lambda: gw.ParallelCoordinates(tiny_cube(), axes={"a": strings}))
    rng = np.random.default_rng(0)
    refused(r"'margin' parameter of distortion must be None or a numeric tensor or array \[N\]."
            r" Got a numpy.ndarray of shape \(10,\) and dtype <U1 instead",
            lambda: gw.distortion(rng.normal(size=(10, 3)), rng.normal(size=(10, 2)), k=3,
                                  margin=np.array(["x"] * 10)))


@needs("umap", "umap")
def test_project_umap_names_too_few_points() -> None:
    d = np.ones((3, 3)) - np.eye(3)
    refused(r"'method' parameter of project must be 'pca', 'mds' or 'tsne' for fewer than 4 "
            r"points\. Got 'umap' instead \(the distances hold 3 points\)",
            lambda: gw.project(distances=d, method="umap"))


@needs("umap", "umap")
def test_project_names_bad_backend_options() -> None:
    x = np.random.default_rng(0).normal(size=(20, 3))
    refused(r"""'options\["n_neighbors"\]' parameter of project must be an int in \[2, inf\)\."""
            r" Got -3 instead", lambda: gw.project(x, "umap", options={"n_neighbors": -3}))
    refused(r"'options' parameter of project must be keyword arguments of umap.UMAP.*"
            r"\['perplexity'\] are not among them",
            lambda: gw.project(x, "umap", options={"perplexity": 5}))


def test_benchmark_similarity_names_the_sparsity() -> None:
    refused(r"'sparsity' parameter of benchmark_similarity must be a sparsity at which the cube "
            r"has corrupted conditions \(\[0.0\]; run the Study with grid='full' to corrupt "
            r"every sparsity\)\. Got 0.9 instead",
            lambda: gw.benchmark_similarity(tiny_cube(), sparsity=0.9))
    refused(r"'benchmarks' parameter of benchmark_similarity must be at least 2 benchmarks "
            r"\(the cube's corrupted ones: \['fog'\]\)", lambda: gw.benchmark_similarity(
                tiny_cube()))


def test_a_bootstrap_too_large_for_memory_is_refused_up_front() -> None:
    from geowidget.analysis.scores import _free_memory, correlation

    if _free_memory() is None:
        pytest.skip("this system does not say how much memory it has")

    x = np.arange(50.0)
    refused(r"'n_boot' parameter of correlation must be at most \d+ for 50 samples \(the "
            r"bootstrap would need about \d+\.\d GiB", lambda: correlation(
                x, x, n_boot=10**12))


# ---------------------------------------------------------------------------- command line
def cli_error(argv, capsys) -> str:
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert err.value.code == 2
    return capsys.readouterr().err


def test_cli_names_an_unreachable_ray_address_quickly(tmp_path, capsys) -> None:
    start = time.perf_counter()
    message = cli_error(["study", "--models", "mlp-s0", "--out", str(tmp_path / "c.parquet"),
                         "--backend", "ray", "--ray-address", "127.0.0.1:1",
                         "--cache-dir", str(tmp_path / "store")], capsys)
    assert time.perf_counter() - start < 30  # the probe times out; no Ray retries
    assert "--ray-address '127.0.0.1:1': cannot reach the Ray cluster" in message, message


@pytest.mark.parametrize(("spec", "said"), [
    ("torch.nn:Linear", "torch.nn:Linear() raised TypeError: Linear.__init__() missing 2"),
    ("json:loads", "json:loads() raised TypeError: loads() missing 1 required"),
])
def test_cli_names_the_models_factory_that_fails(spec, said, tmp_path, capsys) -> None:
    message = cli_error(["study", "--models", spec, "--out", str(tmp_path / "c.parquet")],
                        capsys)
    assert f"--models {spec!r}: {said}" in message, message


def test_cli_report_refuses_a_bootstrap_that_does_not_fit(tmp_path, capsys) -> None:
    from geowidget.analysis.scores import _free_memory

    if _free_memory() is None:
        pytest.skip("this system does not say how much memory it has")
    path = tmp_path / "c.parquet"
    tiny_cube().to_parquet(str(path))
    message = cli_error(["report", "--study", str(path), "--out", str(tmp_path / "r.html"),
                         "--n-boot", str(10**12)], capsys)  # 800 TB
    assert re.search(r"The '--n-boot' option of geowidget report must be at most \d+ for 8 "
                     r"samples .*Got 1000000000000 instead", message), message
    assert not (tmp_path / "r.html").exists()


def test_the_common_guesses_for_reopening_a_cube_say_to_use_open(tmp_path) -> None:
    cube = random_cube(models=1, layers=1, n=6)
    folder = tmp_path / "cube"
    cube.save(folder)
    refused(r"GeometryCube\.load\(\) reads an opened cube into memory and takes no path .*"
            r"GeometryCube\.open\(path\)", lambda: GeometryCube.load(str(folder)),
            error=TypeError)
    refused(r"is a folder; from_parquet reads the single file that to_parquet writes\. Open a "
            r"cube folder .* with GeometryCube\.open\(", lambda: GeometryCube.from_parquet(
                str(folder)), error=ValueError)
    assert GeometryCube.open(folder).equals(cube)
