"""`geowidget study --probe-data ... --probe-folds N`: the CLI's probes are the Python API's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geowidget import zoo
from geowidget.cli import main
from geowidget.cube import GeometryCube
from geowidget.demo import probe_subset
from geowidget.study import Study

ARGS = ["--models", "mlp-s0", "--samples", "60", "--sparsities", "--layers", "fc1",
        "penultimate", "--quiet"]


def api(**kwargs) -> GeometryCube:
    """The same study through the Python API (named as the CLI names its data)."""
    cube = Study({"mlp-s0": zoo.load("mlp-s0")}, probe_subset(60), layers=["fc1", "penultimate"],
                 sparsities=(), progress=False, **kwargs).run()
    return cube.replace(dataset="mnist:test:first6perclass")


def run_cli(tmp_path, *extra: str) -> GeometryCube:
    out = tmp_path / f"c{len(list(tmp_path.iterdir()))}.parquet"
    assert main(["study", *ARGS, *extra, "--out", str(out)]) == 0
    return GeometryCube.from_parquet(str(out))


def test_probe_folds_and_probe_data_reach_the_study(tmp_path) -> None:
    three = run_cli(tmp_path, "--probe-folds", "3")
    assert three.equals(api(probe_folds=3), rtol=1e-5, atol=1e-6)
    default = api()  # 5 folds: other probes, so other margins at fc1 (the option took effect)
    assert not np.allclose(three.margin[0, 0], default.margin[0, 0])
    np.testing.assert_array_equal(three.margin[0, 1], default.margin[0, 1])  # the head's layer
    # a separate probe set, from a file: the first 500 of the held-out digits after the 60
    probe = zoo.probe_data().subset(np.arange(1000, 1500))
    np.savez(tmp_path / "probe.npz", images=(probe.images * 255).round().to(torch.uint8).numpy(),
             labels=probe.labels.numpy())
    got = run_cli(tmp_path, "--probe-data", str(tmp_path / "probe.npz"))
    stored = probe.images.mul(255).round().div(255)  # what the uint8 file holds
    want = api(probe_data=(stored, probe.labels))
    assert got.equals(want, rtol=1e-5, atol=1e-6)
    assert not np.allclose(got.margin[0, 0], default.margin[0, 0])


@pytest.mark.parametrize(("extra", "message"), [
    (["--probe-folds", "1"], "The '--probe-folds' option of geowidget study must be None or an "
                             "int in [2, inf). Got 1 instead."),
    (["--probe-data", "cifar"], "The '--probe-data' option of geowidget study must be None, one "
                                "of ['mnist-probe', 'mnist', 'digits'] or an existing file "
                                "ending in .pt or .npz. Got 'cifar' instead"),
    (["--probe-data", "mnist", "--probe-folds", "3"],
     "--probe-folds sets the cross-fitting of the probes on --data, and --probe-data 'mnist' "
     "replaces it (one probe fitted on that set); pass one of them"),
    (["--probe-data", "digits"], "--models 'mlp-s0' cannot run on --probe-data 'digits' images "
                                 "of shape [1, 8, 8]"),
])
def test_bad_probe_options_exit_2_with_a_message(extra, message, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as err:
        main(["study", *ARGS, *extra, "--out", str(tmp_path / "c.parquet")])
    assert err.value.code == 2
    assert message in capsys.readouterr().err


def test_probe_options_without_an_intermediate_layer_are_refused(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["study", "--models", "mlp-s0", "--probe-folds", "3", "--out",
              str(tmp_path / "c.parquet")])
    assert ("--probe-folds apply to no layer: linear probes measure the intermediate --layers, "
            "and the layers are only 'penultimate'") in capsys.readouterr().err
