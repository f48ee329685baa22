"""Out-of-sample probes: against the Bayes error of two Gaussian classes, and in a Study, where
every sample must be measured by a probe whose recorded fitting set left it out."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from geowidget.cube import GeometryCube
from geowidget.datasets import load_mnist
from geowidget.engine.geometry import geometry
from geowidget.engine.head import geometry_from_model
from geowidget.engine.probe import cross_fit, fit_probe, linear_probe, stratified_folds
from geowidget.engine.pruning import prune_masks
from geowidget.study import Study

Z = 3.9  # two-sided 99.99 % normal quantile: a correct probe leaves the interval 1 time in 10^4
BAYES = 0.2
DELTA = 2 * 0.8416212335729143  # distance of the class means: Phi(-DELTA / 2) = 0.2


def gaussians(n: int, d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two balanced classes N(-+DELTA/2 e_1, I) in d dims: Bayes error Phi(-DELTA/2) = 0.2."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    x[:, 0] += (y.double() - 0.5) * DELTA
    return x, y


def bayes_margin(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Signed distance to the Bayes boundary x_1 = 0, positive on the true class's side."""
    return (2 * y.double() - 1) * x[:, 0]


def test_the_closed_form_is_the_bayes_error():
    assert 0.5 * math.erfc(DELTA / 2 / math.sqrt(2)) == pytest.approx(BAYES, abs=1e-12)


@pytest.mark.parametrize("how", ["cross_fit", "probe_data"])
def test_a_held_out_probe_errs_as_often_as_the_bayes_classifier(how):
    # n >> d: a probe fitted on 3200 samples in 5 dims is the Bayes rule up to O(d/n), far
    # inside the interval (half width 3.9 * 0.0063 = 0.025)
    n, d = 4000, 5
    x, y = gaussians(n, d, seed=1)
    if how == "cross_fit":
        g = geometry(x, y, direction="probe")
    else:
        g = fit_probe(*gaussians(n, d, seed=2)).geometry(x, y)
    se = math.sqrt(BAYES * (1 - BAYES) / n)
    error = 1 - g.correct.double().mean().item()
    assert abs(error - BAYES) < Z * se, (error, se)
    # a margin is negative exactly when the probe errs, and on the Bayes rule's side
    assert torch.equal(g.margin < 0, ~g.correct)
    star = bayes_margin(x, y)
    assert ((g.margin > 0) == (star > 0)).double().mean() > 0.97
    # and the margins themselves: the Bayes margin of a sample is N(DELTA/2, 1)
    assert abs(g.margin.mean().item() - DELTA / 2) < Z / math.sqrt(n)
    assert (g.margin - star).abs().max() < 0.5


def test_an_in_sample_probe_is_optimistic_where_it_can_overfit():
    # d comparable to n: 300 samples in 200 dims are linearly separable, so a probe measured
    # on its own fitting samples errs on none (the Bayes rule errs on 20 %: 8.7 standard
    # errors away), while the cross-fitted one does not beat the Bayes error
    n, d = 300, 200
    x, y = gaussians(n, d, seed=3)
    se = math.sqrt(BAYES * (1 - BAYES) / n)
    w, b = linear_probe(x, y)
    in_sample = geometry(x, y, w, b)
    assert 1 - in_sample.correct.double().mean().item() < BAYES - Z * se
    assert (in_sample.margin > 0).all()
    held_out = geometry(x, y, direction="probe")
    assert 1 - held_out.correct.double().mean().item() > BAYES - Z * se


def test_cross_fit_folds_are_stratified_seeded_and_left_out():
    y = torch.tensor([0] * 23 + [1] * 11 + [2] * 6)
    folds = stratified_folds(y, 4, seed=0)
    counts = np.array([[np.sum((folds == f) & (y.numpy() == c)) for f in range(4)]
                       for c in range(3)])
    assert (counts.max(1) - counts.min(1) <= 1).all()  # each class spread evenly
    sizes = counts.sum(0)
    assert sizes.max() - sizes.min() <= 1 and sizes.sum() == 40
    assert np.array_equal(folds, stratified_folds(y, 4, seed=0))
    assert not np.array_equal(folds, stratified_folds(y, 4, seed=1))
    x = torch.randn(40, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    fit = cross_fit(x, y, folds=4, seed=0)
    for j, rows in enumerate(fit.fitted_on):
        assert np.array_equal(rows, np.flatnonzero(folds != j))
        w, b = linear_probe(x[rows], y[rows], num_classes=3)
        torch.testing.assert_close(fit.weight[j], w)
        torch.testing.assert_close(fit.bias[j], b)
    # every sample is measured by a probe that left it out; a later sample by any probe
    by = fit.measured_by(np.arange(50))
    assert all(i not in fit.fitted_on[by[i]] for i in range(40))
    assert np.array_equal(by[40:], np.arange(40, 50) % 4)
    g = fit.geometry(x, y)
    for i in range(40):
        one = geometry(x[i : i + 1], y[i : i + 1], fit.weight[by[i]], fit.bias[by[i]])
        assert g.margin[i].item() == pytest.approx(one.margin.item(), rel=1e-9, abs=1e-12)


def test_bad_probe_parameters_are_named():
    x, y = torch.randn(6, 3), torch.arange(6) % 2
    with pytest.raises(ValueError, match="The 'folds' parameter of cross_fit must be at most "
                       "the 6 samples"):
        cross_fit(x, y, folds=7)
    with pytest.raises(ValueError, match="'probe_folds' parameter of geometry"):
        geometry(x, y, direction="probe", probe_folds=1)


# ------------------------------------------------------------------ in a Study
class TinyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(784, 24), nn.ReLU(),
                                  nn.Linear(24, 12), nn.ReLU())
        self.fc = nn.Linear(12, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x))


@pytest.fixture(scope="module")
def digits() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    data = load_mnist()
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:400]
    return TinyNet().eval(), data.images[order], data.labels[order]


def brute(h: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: torch.Tensor
          ) -> tuple[float, int]:
    """Margin and prediction of one sample against one head, by a loop over competitors."""
    h, w, b = h.double(), w.double(), b.double()
    z = w @ h + b
    yi = int(y)
    margin = min(float((z[yi] - z[j]) / (w[yi] - w[j]).norm()) for j in range(len(z)) if j != yi)
    return margin, int(z.argmax())


def features(net: nn.Module, x: torch.Tensor, sparsity: float = 0.0) -> torch.Tensor:
    """The output of body.2, of the dense net or of a pruned copy."""
    import copy

    net = copy.deepcopy(net)
    with torch.no_grad():
        if sparsity:
            for name, keep in prune_masks(net, sparsity).items():
                net.get_parameter(name).mul_(keep)
        return net.body[:3](x)


def test_each_sample_is_measured_by_a_probe_that_left_it_out(digits, tmp_path):
    net, x, y = digits
    x, y = x[:150], y[:150]
    kw = dict(layers=["body.2", "penultimate"], sparsities=(0.5,), probe_samples=120,
              probe_folds=4, seed=3, shard_size=64, progress=False, cache_dir=tmp_path / "units")
    study = Study({"net": net}, (x, y), **kw)
    cube = study.run()
    fit = study.probe_fits["net"]["body.2"]
    assert list(study.probe_fits["net"]) == ["body.2"]  # the penultimate layer uses the head
    assert fit.weight.shape == (4, 10, 24) and len(fit.fitted_on) == 4
    # the record: probe j was fitted on exactly fitted_on[j], clean dense features of data
    dense = features(net, x)
    for j, rows in enumerate(fit.fitted_on):
        assert rows.max() < 120 and len(rows) == 120 - np.sum(fit.folds == j)
        w, b = linear_probe(dense[rows].float(), y[rows], num_classes=10)
        torch.testing.assert_close(fit.weight[j], w, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(fit.bias[j], b, rtol=1e-4, atol=1e-5)
    by = fit.measured_by(np.arange(150))
    assert all(i not in fit.fitted_on[by[i]] for i in range(150))
    # each of the cube's margins and predictions is that probe's, dense and pruned
    for k, sparsity in enumerate((0.0, 0.5)):
        h = features(net, x, sparsity)
        want = [brute(h[i], y[i], fit.weight[by[i]], fit.bias[by[i]]) for i in range(150)]
        np.testing.assert_allclose(cube.margin[0, 0, k], [m for m, _ in want],
                                   rtol=1e-4, atol=1e-5)
        layer_pred = np.array([p for _, p in want])
        assert np.array_equal(cube.layer_pred[0, 0, k], layer_pred)
        assert cube.probe_accuracy[0, 0, k] == pytest.approx(np.mean(layer_pred == y.numpy()))
        assert np.isnan(cube.probe_accuracy[0, 1, k])  # the penultimate layer: the head's
        # at the probe layer, "correct" is the probe's; the model's stays its own quantity
        s = cube.slice(layer="body.2", sparsity=sparsity)
        assert np.array_equal(s.pred, layer_pred)
        assert np.array_equal(s.correct, layer_pred == y.numpy())
        with torch.no_grad():
            model_pred = (net if not sparsity else _pruned(net, sparsity))(x).argmax(1).numpy()
        assert np.array_equal(s.correct_model, model_pred == y.numpy())
        assert np.array_equal(cube.slice(layer="penultimate", sparsity=sparsity).pred,
                              model_pred)
    # an unseen sample (beyond the 120 fitted on) errs as often as a seen one would; and the
    # probe is no longer perfect on the samples it is measured on, as an in-sample one is
    w, b = linear_probe(dense[:120].float(), y[:120], num_classes=10)
    in_sample = np.mean([brute(dense[i], y[i], w, b)[0] > 0 for i in range(120)])
    assert in_sample == 1.0 and cube.probe_accuracy[0, 0, 0] < 0.9
    # resumed from the store: the same probes and folds, nothing recomputed
    again = Study({"net": net}, (x, y), **kw)
    assert again.run().equals(cube) and again.stats["computed"] == 0
    fit2 = again.probe_fits["net"]["body.2"]
    assert torch.equal(fit2.weight, fit.weight) and np.array_equal(fit2.folds, fit.folds)
    assert all(np.array_equal(a, b) for a, b in zip(fit2.fitted_on, fit.fitted_on, strict=True))
    # written as a dataset by the study, and saved and opened: the same cube
    written = Study({"net": net}, (x, y), **kw).run(out=tmp_path / "written")
    assert written.equals(cube)
    cube.save(tmp_path / "saved")
    opened = GeometryCube.open(tmp_path / "saved")
    assert opened.equals(cube)
    np.testing.assert_array_equal(opened.probe_accuracy, cube.probe_accuracy)
    assert np.array_equal(opened.slice(layer="body.2").correct, cube.slice(layer="body.2").correct)
    sub = cube.sel(layer="body.2", sparsity=0.5)
    assert sub.probe_accuracy.shape == (1, 1, 1)
    assert sub.probe_accuracy[0, 0, 0] == cube.probe_accuracy[0, 0, 1]


def _pruned(net: nn.Module, sparsity: float) -> nn.Module:
    import copy

    out = copy.deepcopy(net)
    with torch.no_grad():
        for name, keep in prune_masks(net, sparsity).items():
            out.get_parameter(name).mul_(keep)
    return out


def test_probe_data_fits_the_probe_on_other_samples(digits):
    net, x, y = digits
    data, other = (x[:100], y[:100]), (x[100:400], y[100:400])
    study = Study({"net": net}, data, layers=["body.2"], sparsities=(), probe_data=other,
                  progress=False)
    cube = study.run()
    fit = study.probe_fits["net"]["body.2"]
    assert fit.folds is None and np.array_equal(fit.fitted_on[0], np.arange(300))
    w, b = linear_probe(features(net, other[0]).float(), other[1], num_classes=10)
    torch.testing.assert_close(fit.weight[0], w, rtol=1e-4, atol=1e-5)
    h = features(net, data[0])
    want = [brute(h[i], data[1][i], w, b) for i in range(100)]
    np.testing.assert_allclose(cube.margin[0, 0, 0], [m for m, _ in want], rtol=1e-4, atol=1e-5)
    assert cube.probe_accuracy[0, 0, 0] == pytest.approx(
        np.mean([p for _, p in want] == data[1].numpy()))
    assert "probe_data" in cube.model_info[0]["probes"]
    # the engine function measures the same way
    g = geometry_from_model(net, data, "body.2", probe_data=other, progress=False)
    np.testing.assert_allclose(g.margin.numpy(), cube.margin[0, 0, 0], rtol=1e-4, atol=1e-5)
    cross = geometry_from_model(net, data, "body.2", progress=False)
    h_fit = features(net, data[0])
    ref = cross_fit(h_fit, data[1], num_classes=10).geometry(h_fit, data[1])
    np.testing.assert_allclose(cross.margin.numpy(), ref.margin.numpy(), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="The 'probe_data' parameter of geometry_from_model "
                       "must be None unless a probe is fitted"):
        geometry_from_model(net, data, probe_data=other, progress=False)
    with pytest.raises(ValueError, match="The 'probe_folds' parameter of Study must be at "
                       "most the 3 samples"):
        Study({"net": net}, (x[:3], y[:3]), layers=["body.2"], sparsities=(),
              probe_folds=4, progress=False).run()


def test_views_label_layers_with_the_probe_accuracy(digits):
    from geowidget.widgets import PolarPlot

    net, x, y = digits
    cube = Study({"net": net}, (x[:80], y[:80]), layers=["body.2", "penultimate"],
                 sparsities=(0.5,), progress=False).run()
    view = PolarPlot(cube, layer="body.2")
    acc = view._meta["probe_accuracy"]
    assert acc[0][1] == [None, None]
    np.testing.assert_allclose(acc[0][0], cube.probe_accuracy[0, 0], atol=1e-4)
    # the colour "correct" at a probe layer is the probe's: pred is sent per layer
    assert view._meta["slab"]["pred"] == "mlkn"
    assert np.array_equal(view.current()["pred"], cube.layer_pred[0, 0, 0])
    # the model's own correctness stays a colour, as the docstring shows
    model_colour = PolarPlot(cube, layer="body.2",
                             color_by=cube.correct[:, None].repeat(len(cube.layers), 1))
    assert model_colour._meta["color_kinds"]["custom"] == "categorical"
    assert np.array_equal(model_colour.cell()["custom"], cube.correct[0, 0])
    plain = Study({"net": net}, (x[:80], y[:80]), sparsities=(), progress=False).run()
    assert PolarPlot(plain)._meta["probe_accuracy"] is None
    assert PolarPlot(plain)._meta["slab"]["pred"] == "mkn"


def test_a_probe_cube_survives_the_single_parquet_file(digits, tmp_path):
    net, x, y = digits
    cube = Study({"net": net}, (x[:60], y[:60]), layers=["body.2", "penultimate"],
                 sparsities=(), progress=False).run()
    cube.to_parquet(str(tmp_path / "cube.parquet"))
    back = GeometryCube.from_parquet(str(tmp_path / "cube.parquet"))
    assert back.equals(cube)
    np.testing.assert_array_equal(back.layer_pred, cube.layer_pred)
    np.testing.assert_array_equal(back.probe_accuracy, cube.probe_accuracy)
    assert np.isnan(back.probe_accuracy[0, 1, 0]) and not np.isnan(back.probe_accuracy[0, 0, 0])


def test_a_saved_probe_cube_checks_its_probe_files(digits, tmp_path):
    import json

    net, x, y = digits
    cube = Study({"net": net}, (x[:40], y[:40]), layers=["body.2"], sparsities=(),
                 progress=False).run()
    cube.save(tmp_path / "c")
    meta = json.loads((tmp_path / "c" / "cube.json").read_text())
    assert meta["layer_pred"] is True and meta["probe_accuracy"] is True
    meta["probe_accuracy"] = "yes"
    (tmp_path / "c" / "cube.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="its field 'probe_accuracy' must be true or false"):
        GeometryCube.open(tmp_path / "c")
    cube.save(tmp_path / "d")
    path = tmp_path / "d" / "probe_accuracy.npy"
    np.save(path, np.load(path) * 0.5)  # another accuracy: the checksum no longer matches
    with pytest.raises(ValueError, match="probe_accuracy.npy.*checksum does not match"):
        GeometryCube.open(tmp_path / "d").probe_accuracy  # noqa: B018
