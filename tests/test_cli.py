"""The command line, checked against direct computation."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from geowidget import zoo
from geowidget.cli import main
from geowidget.cube import GeometryCube
from geowidget.study import Study

ROOT = Path(__file__).resolve().parents[1]


def test_summary_prints_accuracy_and_mean_margin_of_the_bundled_model(capsys):
    assert main(["summary", "--quiet", "--model", "mlp-s0"]) == 0
    out = capsys.readouterr().out
    row = re.search(r"^\s+all\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(-?[\d.]+)", out, re.M)
    assert row, out
    model, data = zoo.load("mlp-s0"), zoo.probe_data()
    with torch.no_grad():
        logits = model(data.images)
    acc = (logits.argmax(1) == data.labels).double().mean().item()
    assert int(row.group(1)) == len(data.labels)
    assert float(row.group(2)) == round(acc, 3)
    # mean margin: z_y - z_j over |W_y - W_j|, by a loop over competitors
    head = model.fc
    with torch.no_grad():
        z = logits.double()
        w = head.weight.double()
    y = data.labels
    margins = np.full(len(y), np.inf)
    for j in range(10):
        dist = (w[y] - w[j]).norm(dim=1).numpy()
        ratio = (z[torch.arange(len(y)), y] - z[:, j]).numpy() / np.where(dist == 0, np.nan, dist)
        ratio[(y == j).numpy()] = np.inf
        margins = np.minimum(margins, ratio)
    assert float(row.group(5)) == round(margins.mean(), 3)


# ---------------------------------------------------------------------- study
STUDY_ARGS = ["--models", "mlp-s0", "lenet-s0", "--samples", "200", "--sparsities", "0.5", "0.8",
              "--corruptions", "rotate", "brightness", "--severities", "2", "4"]


@pytest.fixture(scope="module")
def cli_cube(tmp_path_factory):
    out = tmp_path_factory.mktemp("study") / "cube.parquet"
    assert main(["study", *STUDY_ARGS, "--out", str(out), "--quiet"]) == 0
    return out


def test_study_writes_a_partitioned_cube_to_a_folder(cli_cube, tmp_path, capsys):
    # the same study, written partition by partition: it opens to the cube of the .parquet
    out = tmp_path / "cube"
    assert main(["study", *STUDY_ARGS, "--out", str(out), "--quiet"]) == 0
    opened = GeometryCube.open(out)
    assert opened.equals(GeometryCube.from_parquet(str(cli_cube)))
    html = tmp_path / "r.html"
    assert main(["report", "--study", str(out), "--out", str(html), "--n-boot", "20"]) == 0
    assert "geowidget report: cube" in html.read_text()


def test_study_cube_matches_the_python_api(cli_cube):
    from geowidget.demo import probe_subset

    cube = GeometryCube.from_parquet(str(cli_cube))
    data = probe_subset(200)  # the first 20 held-out digits of each class
    api = Study({"mlp-s0": zoo.load("mlp-s0"), "lenet-s0": zoo.load("lenet-s0")}, data,
                sparsities=(0.5, 0.8), corruptions=["rotate", "brightness"], severities=(2, 4),
                progress=False).run()
    assert cube.shape == {"model": 2, "layer": 1, "condition": 3 * 5, "sample": 200}
    assert np.array_equal(cube.labels, data.labels.numpy())
    assert [c.label for c in cube.conditions] == [c.label for c in api.conditions]
    for target in ("robustness", "vulnerability"):
        for method in ("pearson", "spearman"):
            a = cube.correlations(target=target, method=method, n_boot=200)
            b = api.correlations(target=target, method=method, n_boot=200)
            assert list(a.index) == [("mlp-s0", 0.0), ("lenet-s0", 0.0)]
            np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=0, atol=1e-12)
    # and the numbers are the paper's quantities: Pearson r by hand for one model and metric
    rob = np.mean([api.correct[1, k] for k, c in enumerate(api.conditions)
                   if c.benchmark != "clean" and c.sparsity == 0], axis=0)
    r = np.corrcoef(api.margin[1, 0, 0], rob)[0, 1]
    assert np.isclose(cube.correlations(ci=None).loc[("lenet-s0", 0.0), "rc-margin"], r, atol=1e-10)


def test_study_prints_a_progress_bar_and_the_table(tmp_path, capsys):
    out = tmp_path / "c.parquet"
    assert main(["study", "--models", "m=mlp-s0", "--samples", "50", "--sparsities", "0.5",
                 "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert re.search(r"study: 100%.*2/2", captured.err), captured.err  # tqdm over 2 units
    assert "Pearson r with vulnerability" in captured.out
    cube = GeometryCube.from_parquet(str(out))
    assert cube.models == ["m"] and cube.shape["sample"] == 50
    row = re.search(r"^m\s+0\.0\s+(\S+)\s+(\S+)\s+(\S+)$", captured.out, re.M)
    got = [float(v) for v in row.groups()]
    want = cube.correlations(target="vulnerability", ci=None).loc[("m", 0.0)]
    assert got == [round(want[c], 3) for c in ("rc-angle", "rc-l2", "rc-margin")]


def test_study_reads_a_data_file_and_a_factory_with_weights(tmp_path, monkeypatch):
    data = zoo.probe_data().subset(np.arange(0, 1500, 50))
    torch.save({"images": data.images, "labels": data.labels}, tmp_path / "d.pt")
    torch.save(zoo.load("mlp-s0").state_dict(), tmp_path / "w.pt")
    (tmp_path / "mynets.py").write_text(
        "from geowidget.zoo.models import build_model\n\n"
        "def mlp():\n    return build_model('mlp', 128)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "c.parquet"
    assert main(["study", "--models", f"net=mynets:mlp@{tmp_path / 'w.pt'}", "--data",
                 str(tmp_path / "d.pt"), "--sparsities", "--out", str(out), "--quiet"]) == 0
    cube = GeometryCube.from_parquet(str(out))
    with torch.no_grad():
        pred = zoo.load("mlp-s0")(data.images).argmax(1).numpy()
    assert cube.models == ["net"] and cube.shape["condition"] == 1
    assert np.array_equal(cube.pred[0, 0], pred)


@pytest.mark.parametrize(("argv", "message"), [
    (["study", "--models", "resnet9000", "--out", "x.parquet"],
     "'resnet9000' is not a zoo model or module:factory[@weights.pt]"),
    (["study", "--models", "mlp-s0", "--data", "cifar", "--out", "x.parquet"],
     "The '--data' option of geowidget study must be one of ['mnist-probe', 'mnist', 'digits'] "
     "or an existing file ending in .pt or .npz. Got 'cifar' instead (it does not end in .pt "
     "or .npz)."),
    (["study", "--models", "mlp-s0", "--out", "x.csv"],
     "The '--out' option of geowidget study must be a writable file path ending in .parquet in "
     "an existing folder or a new or empty writable folder path without a suffix (or the "
     "folder of this study's cube). Got 'x.csv' "
     "instead "
     "(it does not end in .parquet)."),
    (["study", "--models", "mlp-s0", "--corruptions", "frost", "--out", "x.parquet"],
     "The '--corruptions' option of geowidget study must be one of ['imagenet-c', 'mnist-c', "
     "'gaussian_noise'"),
    (["study", "--models", "mlp-s0", "--samples", "5000", "--out", "x.parquet"],
     "The '--samples' option of geowidget study must be an int in [10, 1500] for --data "
     "'mnist-probe'. Got 5000 instead (10 classes, the smallest with 150 samples)."),
    (["study", "--models", "mlp-s0", "--batch-size", "0", "--out", "x.parquet"],
     "The '--batch-size' option of geowidget study must be an int in [1, inf). Got 0 instead."),
    (["report", "--study", "missing.parquet", "--out", "r.html"],
     "The '--study' option of geowidget report must be None, an existing file ending in "
     ".parquet or an existing folder. Got 'missing.parquet' instead (it does not exist)."),
    (["report", "--zoo", "imagenet", "--out", "r.html"],
     "The '--zoo' option of geowidget report must be one of ['demo']. Got 'imagenet' instead."),
])
def test_bad_input_exits_2_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert err.value.code == 2
    assert message in capsys.readouterr().err


def _fail_if_called(*args, **kwargs):
    raise AssertionError("work began before the options were checked")


@pytest.mark.parametrize(("option", "message"), [
    (["--cache-dir", "{file}"], "The '--cache-dir' option of geowidget study must be None or a "
                                "writable folder path (existing, or one that can be created). "
                                "Got '{file}' instead (it is a file, not a folder)."),
    (["--cache-dir", "{file}/sub"], "Got '{file}/sub' instead ('{file}' on its way is a file"),
    (["--out", "{tmp}/missing/c.parquet"], "The '--out' option of geowidget study must be a "
                                           "writable file path ending in .parquet in an existing "
                                           "folder or a new or empty writable folder path "
                                           "without a suffix (or the folder of this study's "
                                           "cube). Got '{tmp}/missing/c.parquet' "
                                           "instead (its folder '{tmp}/missing' does not exist)."),
    (["--out", "{tmp}"], "Got '{tmp}' instead (it does not end in .parquet"),  # not empty

])
def test_outputs_are_checked_before_any_work(option, message, tmp_path, monkeypatch, capsys):
    (tmp_path / "f").write_text("a file")
    fill = {"file": str(tmp_path / "f"), "tmp": str(tmp_path)}
    argv = ["study", "--models", "mlp-s0", "--out", str(tmp_path / "c.parquet")]
    argv += [o.format(**fill) for o in option]
    monkeypatch.setattr("geowidget.cli.load_model", _fail_if_called)
    monkeypatch.setattr("geowidget.cli.load_data", _fail_if_called)
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert err.value.code == 2
    assert message.format(**fill) in capsys.readouterr().err


def _hostile_pickle_file(path: Path) -> None:
    class Payload:  # unpickling it would run a command
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"images": torch.zeros(2, 1, 28, 28), "labels": torch.zeros(2), "x": Payload()},
               path)


def test_data_and_weights_files_that_are_not_plain_tensors_are_named(tmp_path, capsys):
    _hostile_pickle_file(tmp_path / "evil.pt")
    (tmp_path / "random.pt").write_bytes(np.random.default_rng(0).bytes(4096))
    (tmp_path / "random.npz").write_bytes(np.random.default_rng(1).bytes(4096))
    np.savez(tmp_path / "objects.npz", images=np.array([object()]), labels=np.arange(1))
    cases = {
        "evil.pt": "--data '{p}': '{p}' is not a plain tensor or state dict; it holds other "
                   "pickled Python objects, which geowidget does not load.",
        "random.pt": "--data '{p}': '{p}' is not a file written by torch.save",
        "random.npz": "--data '{p}' is not an .npz archive written by numpy.savez",
        "objects.npz": "--data '{p}' does not hold plain numeric arrays only",
    }
    for name, message in cases.items():
        path = str(tmp_path / name)
        with pytest.raises(SystemExit):
            main(["study", "--models", "mlp-s0", "--data", path, "--out", str(tmp_path / "c.parquet")])
        err = capsys.readouterr().err
        assert message.format(p=path) in err, err
        assert "weights_only=False" not in err and "allow_pickle" not in err
    weights = str(tmp_path / "evil.pt")
    with pytest.raises(SystemExit):
        main(["study", "--models", f"m=geowidget.zoo.models:lenet@{weights}",
              "--out", str(tmp_path / "c.parquet")])
    err = capsys.readouterr().err
    assert f"'{weights}' is not a plain tensor or state dict" in err
    assert "weights_only=False" not in err


@pytest.mark.parametrize(("entries", "message"), [
    ({"images": torch.rand(6, 784)},
     "The 'images' entry of the --data file '{p}' must be a floating-point torch.Tensor "
     "[N, C, H, W] or [N, H, W] with values in [0, 1]. Got a torch.Tensor of shape (6, 784) and "
     "dtype torch.float32 instead (it has 2 dimensions"),
    ({"images": torch.linspace(0, 255, 6 * 784).reshape(6, 1, 28, 28)},
     "instead (its values span [0, 255]; store 8-bit images as uint8, or floats in [0, 1])."),
    ({"labels": torch.tensor([0.0, 1.3, 2, 3, 4, 5])},
     "The 'labels' entry of the --data file '{p}' must be an integer torch.Tensor [N] with values "
     "in [0, inf). Got a torch.Tensor of shape (6,) and dtype torch.float32 instead (its dtype "
     "torch.float32 is not integer)."),
    ({"labels": torch.arange(5)}, "The 'labels' entry of the --data file '{p}' must be one label "
                                  "per image (6)."),
    ({"images": torch.rand(6, 1, 32, 32)},
     "--models 'mlp-s0' cannot run on --data '{p}' images of shape [1, 32, 32] (RuntimeError: "),
])
def test_data_file_entries_are_checked(entries, message, tmp_path, capsys):
    path = tmp_path / "d.pt"
    torch.save({"images": torch.rand(6, 1, 28, 28), "labels": torch.arange(6), **entries}, path)
    with pytest.raises(SystemExit):
        main(["study", "--models", "mlp-s0", "--data", str(path), "--out",
              str(tmp_path / "c.parquet"), "--quiet"])
    assert message.format(p=path) in capsys.readouterr().err


def test_grey_images_without_a_channel_axis_and_8_bit_images_are_read(tmp_path):
    data = zoo.probe_data().subset(np.arange(0, 1500, 100))
    torch.save({"images": data.images[:, 0], "labels": data.labels}, tmp_path / "nhw.pt")
    np.savez(tmp_path / "u8.npz", images=(data.images.numpy() * 255).round().astype(np.uint8),
             labels=data.labels.numpy())
    for name in ("nhw.pt", "u8.npz"):
        out = tmp_path / f"{name}.parquet"
        assert main(["study", "--models", "mlp-s0", "--data", str(tmp_path / name),
                     "--sparsities", "--out", str(out), "--quiet"]) == 0
        cube = GeometryCube.from_parquet(str(out))
        with torch.no_grad():
            pred = zoo.load("mlp-s0")(data.images).argmax(1).numpy()
        assert np.array_equal(cube.pred[0, 0], pred), name
        assert np.array_equal(cube.labels, data.labels.numpy())


# ---------------------------------------------------------------------- report
def test_report_of_a_saved_study_holds_its_tables_and_views(cli_cube, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["report", "--study", str(cli_cube), "--out", str(out), "--n-boot", "50"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    page = out.read_text()
    cube = GeometryCube.from_parquet(str(cli_cube))
    tables = re.findall(r'<table class="geowidget-correlations".*?</table>', page, re.S)
    assert len(tables) == 4  # robustness and vulnerability, Pearson and Spearman
    first = cube.correlations(target="robustness", method="pearson", n_boot=50)
    shown = [float(v) for v in re.findall(r"<b>([+-][\d.]+)</b>", tables[0])]
    want = [round(first.loc[(m, 0.0), c], 2) for m in cube.models
            for c in ("rc-angle", "rc-l2", "rc-margin")]
    assert shown == want
    acc = re.search(r'<table class="gw-accuracy">.*?</table>', page, re.S).group(0)
    cells = [float(v) for v in re.findall(r"<td>([\d.]+)</td>", acc)]
    assert cells == [round(v, 3) for v in cube.correct.mean(axis=2).ravel()]
    state = json.loads(re.search(r'id="geowidget-state">(.*?)</script>', page, re.S).group(1))
    kinds = [state["models"][v]["state"]["_kind"] for v in state["views"]]
    assert kinds == ["evaltable", "polar", "histogram", "parallel", "modelmap", "panel"]
    assert all(state["models"][v]["state"]["show_controls"] for v in state["views"])


def test_write_report_rejects_bad_input(tmp_path):
    from geowidget.report import write_report

    with pytest.raises(TypeError, match="cube must be a GeometryCube or the path"):
        write_report({"not": "a cube"}, tmp_path / "r.html")
    with pytest.raises(ValueError, match="report path must end in .html"):
        write_report(tmp_path / "c.parquet", tmp_path / "r.pdf")


def test_report_of_the_demo_zoo_uses_the_cached_study(demo_cache, tmp_path, capsys):
    _, cube = demo_cache
    out = tmp_path / "demo.html"
    assert main(["report", "--out", str(out), "--n-boot", "20", "--quiet"]) == 0
    assert repr(cube) in capsys.readouterr().out
    page = out.read_text()
    assert page.count('class="geowidget-correlations"') == 4
    for name in cube.models:
        assert f"<th>{name}</th>" in page


# ---------------------------------------------------------------------- demo
def test_demo_cube_is_cached_and_keyed_by_its_configuration(demo_cache):
    from dataclasses import replace

    from geowidget.demo import DEFAULT, cube_path, demo_cube

    root, cube = demo_cache
    assert cube_path().parent == root / "demo" and cube_path().exists()
    again = demo_cube(progress=False)
    assert again.equals(cube)
    assert cube.models == list(DEFAULT.models) and cube.shape["sample"] == DEFAULT.samples
    assert cube_path(replace(DEFAULT, samples=100)) != cube_path()
    assert np.bincount(cube.labels).tolist() == [DEFAULT.samples // 10] * 10
    # the cube's clean accuracy is that of the shipped weights on the same digits
    from geowidget.demo import probe_subset

    data = probe_subset(DEFAULT.samples)
    with torch.no_grad():
        pred = zoo.load("lenet-s0")(data.images).argmax(1).numpy()
    assert np.array_equal(cube.pred[cube.models.index("lenet-s0"), 0], pred)


def test_demo_config_is_validated():
    from dataclasses import replace

    from geowidget.demo import DEFAULT, check_config, probe_subset

    with pytest.raises(ValueError, match=r"unknown zoo model\(s\) \['vgg'\]; valid: \["):
        check_config(replace(DEFAULT, models=("vgg",)))
    with pytest.raises(ValueError, match="samples must be a multiple of 10 from 10 to 1500"):
        probe_subset(505)


def test_demo_no_lab_prints_the_loopback_url(demo_cache, capsys):
    assert main(["demo", "--no-lab", "--port", "8123", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^URL: http://127\.0\.0\.1:8123/lab/tree/quickstart\.ipynb\?token=[0-9a-f]{32}$",
                     out, re.M), out
    assert "--no-browser" in out and "--ip=127.0.0.1" in out


def test_demo_starts_jupyterlab_on_the_quickstart_notebook(demo_cache):
    root, _ = demo_cache
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GEOWIDGET_CACHE": str(root), "JUPYTER_RUNTIME_DIR": str(root / "rt"),
           "JUPYTER_CONFIG_DIR": str(root / "cfg")}
    proc = subprocess.Popen([sys.executable, "-m", "geowidget.cli", "demo", "--port", str(port),
                             "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env, cwd=ROOT, start_new_session=True)
    try:
        url = None
        for line in proc.stdout:
            if "/lab/tree/quickstart.ipynb?token=" in line:
                url = line.strip()
                break
        assert url and url.startswith(f"http://127.0.0.1:{port}/"), url
        token = url.rsplit("token=", 1)[1]
        api = f"http://127.0.0.1:{port}/api/contents/quickstart.ipynb?token={token}&content=0"
        deadline, reply = time.time() + 120, None
        while time.time() < deadline and reply is None:
            try:
                reply = json.loads(urllib.request.urlopen(api, timeout=5).read())
            except OSError:
                assert proc.poll() is None, "JupyterLab exited"
                time.sleep(0.5)
        assert reply is not None and reply["name"] == "quickstart.ipynb"
        assert reply["type"] == "notebook"
        # stopping `geowidget demo` stops its JupyterLab too
        proc.terminate()
        assert proc.wait(timeout=30) == 0
        deadline, alive = time.time() + 20, True
        while alive and time.time() < deadline:
            try:
                urllib.request.urlopen(api, timeout=2)
                time.sleep(0.5)
            except OSError:
                alive = False
        assert not alive, "JupyterLab still answers after geowidget demo was stopped"
    finally:
        if proc.poll() is None:
            proc.kill()
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # nothing of the session may outlive the test
        except ProcessLookupError:
            pass


def test_study_of_a_run_of_checkpoint_files(tmp_path, capsys):
    from geowidget.zoo.models import lenet

    for step in (0, 5, 12):  # numbered as a training script numbers them (12 after 5)
        torch.save(lenet(seed=step).state_dict(), tmp_path / f"ckpt_{step}.pt")
    out = tmp_path / "run.parquet"
    assert main(["study", "--models", f"net=geowidget.zoo.models:lenet@{tmp_path}/ckpt_*.pt",
                 "--samples", "30", "--sparsities", "--out", str(out), "--quiet"]) == 0
    cube = GeometryCube.from_parquet(str(out))
    assert cube.models == ["net/0", "net/5", "net/12"]
    assert [(i["run"], i["step"]) for i in cube.model_info] == [("net", 0), ("net", 5),
                                                                 ("net", 12)]
    data = zoo.probe_data()
    keep = np.concatenate([np.flatnonzero(data.labels.numpy() == c)[:3] for c in range(10)])
    for mi, step in enumerate((0, 5, 12)):
        with torch.no_grad():
            pred = lenet(seed=step).eval()(data.images[keep]).argmax(1).numpy()
        np.testing.assert_array_equal(cube.pred[mi, 0], pred)
    with pytest.raises(SystemExit):
        main(["study", "--models", f"geowidget.zoo.models:lenet@{tmp_path}/none_*.pt",
              "--out", str(out)])
    assert "no checkpoint file matches" in capsys.readouterr().err
    torch.save(lenet().state_dict(), tmp_path / "ckpt_final.pt")
    with pytest.raises(SystemExit):
        main(["study", "--models", f"geowidget.zoo.models:lenet@{tmp_path}/ckpt_*.pt",
              "--out", str(out)])
    assert "every checkpoint's file name must end in its step" in capsys.readouterr().err
