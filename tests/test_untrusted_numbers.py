"""Numbers that cannot be trusted are refused or flagged (issue 18, section 4).

Each case once gave a confident-looking wrong answer. Now it is either right (checked against
an independent float64 computation) or refused with an error naming the parameter and value,
or flagged: NaN where the quantity is undefined, and a warning that says so truly.
"""

from __future__ import annotations

import re
import types
import warnings

import numpy as np
import pytest
import torch

import geowidget as gw
from geowidget.engine.geometry import geometry
from tests.fixtures.synthetic import make_cube
from tests.optional import needs

F32_MAX = float(np.finfo(np.float32).max)


def caught(fn, *args, **kwargs):
    """``fn``'s result and the messages of the warnings it raised."""
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        out = fn(*args, **kwargs)
    return out, [str(w.message) for w in got]


def reference(h, y, w, b):
    """Angle to the true class row, norm, margin and logit margin, by brute force in float64
    (numpy; norms from the float64 vectors, margins over every competitor)."""
    h, w = np.asarray(h, np.float64), np.asarray(w, np.float64)
    b = np.zeros(len(w)) if b is None else np.asarray(b, np.float64)
    y = np.asarray(y)
    angle, norm, margin, logit_margin = [], [], [], []
    for i in range(len(h)):
        hn = h[i] / np.abs(h[i]).max()
        wn = w[y[i]] / np.abs(w[y[i]]).max()  # scale-free: angles do not depend on it
        cos = hn @ wn / np.linalg.norm(hn) / np.linalg.norm(wn)
        angle.append(np.arccos(np.clip(cos, -1, 1)))
        norm.append(np.linalg.norm(h[i]))
        z = w @ h[i] + b
        others = [j for j in range(len(w)) if j != y[i]]
        margin.append(min((z[y[i]] - z[j]) / np.linalg.norm(w[y[i]] - w[j]) for j in others))
        logit_margin.append(min(z[y[i]] - z[j] for j in others))
    return {"angle": np.array(angle), "norm": np.array(norm), "margin": np.array(margin),
            "logit_margin": np.array(logit_margin)}


@pytest.fixture
def head():
    rng = np.random.default_rng(0)
    h = rng.normal(size=(40, 16)).astype(np.float32)
    w = rng.normal(size=(5, 16)).astype(np.float32)
    b = rng.normal(size=5).astype(np.float32)
    y = rng.integers(0, 5, 40)
    return h, y, w, b


# ---------------------------------------------------------------------------- scale
@pytest.mark.parametrize(("h_scale", "w_scale"), [
    (1e-25, 1.0), (1e19, 1.0), (1.0, 1e19), (1.0, 1e-25), (1e-25, 1e19), (1e-12, 1e-12),
])
def test_angles_norms_and_margins_do_not_depend_on_the_scale(head, h_scale, w_scale):
    h, y, w, b = head
    hs = (h.astype(np.float64) * h_scale).astype(np.float32)
    ws = (w.astype(np.float64) * w_scale).astype(np.float32)
    bs = (b.astype(np.float64) * h_scale * w_scale).astype(np.float32)  # the same boundary
    g, messages = caught(geometry, torch.from_numpy(hs), torch.from_numpy(y),
                         torch.from_numpy(ws), torch.from_numpy(bs))
    ref = reference(hs, y, ws, bs)
    assert messages == []
    np.testing.assert_allclose(g.angle.numpy(), ref["angle"], atol=2e-6)
    np.testing.assert_allclose(g.norm.numpy(), ref["norm"], rtol=2e-6)
    np.testing.assert_allclose(g.margin.numpy(), ref["margin"], rtol=1e-4,
                               atol=1e-5 * h_scale)
    # the angles are those of the unscaled problem (up to float32 rounding)
    np.testing.assert_allclose(g.angle.numpy(), reference(h, y, w, b)["angle"], atol=2e-6)
    assert np.isfinite(g.avh.numpy()).all() and np.isfinite(g.angle_gap.numpy()).all()


def test_only_rows_that_are_zero_get_nan_angles_and_the_warning_counts_them(head):
    h, y, w, b = head
    hs = h * np.float32(1e-25)
    hs[[3, 7]] = 0.0
    g, messages = caught(geometry, torch.from_numpy(hs), torch.from_numpy(y),
                         torch.from_numpy(w), torch.from_numpy(b))
    nan = np.flatnonzero(np.isnan(g.angle.numpy()))
    assert nan.tolist() == [3, 7]
    assert g.norm.numpy()[[3, 7]].tolist() == [0.0, 0.0]
    keep = np.setdiff1d(np.arange(len(h)), [3, 7])
    np.testing.assert_allclose(g.angle.numpy()[keep], reference(h, y, w, b)["angle"][keep],
                               atol=2e-6)
    assert messages == ["2 of 40 feature vectors have zero norm (dead units or heavy pruning); "
                        "their angles and AVH are NaN"]


def test_features_too_small_for_the_head_are_flagged(head):
    h, y, w, b = head
    hs, ws = h * np.float32(1e-25), w * np.float32(1e-25)  # W h ~ 1e-50: below float32
    g, messages = caught(geometry, torch.from_numpy(hs), torch.from_numpy(y),
                         torch.from_numpy(ws))
    np.testing.assert_allclose(g.angle.numpy(), reference(h, y, w, b)["angle"], atol=2e-6)
    (message,) = messages
    assert message.startswith("40 of 40 samples have features too small for the head")
    assert "cannot resolve W h" in message


# ---------------------------------------------------------------------------- undefined
def test_constant_features_with_mean_directions_give_nan_angles_and_say_why(head):
    _, y, w, b = head
    h = torch.full((40, 16), 0.1)  # 0.1 is not exact in binary: the means must still agree
    g, messages = caught(geometry, h, torch.from_numpy(y), torch.from_numpy(w),
                         torch.from_numpy(b), direction="mean")
    assert np.isnan(g.angle.numpy()).all() and np.isnan(g.angle_pred.numpy()).all()
    assert messages == ["class directions [0, 1, 2, 3, 4] have zero norm (their class mean "
                        "equals the global mean: constant features, or a single class "
                        "present); angles to them are NaN"]


def test_a_single_class_with_mean_directions_gives_nan_angles_and_says_why(head):
    h, _, w, b = head
    y = torch.full((40,), 2)
    g, messages = caught(geometry, torch.from_numpy(h), y, torch.from_numpy(w),
                         torch.from_numpy(b), direction="mean")
    assert np.isnan(g.angle.numpy()).all()
    assert messages == ["classes [0, 1, 3, 4] have no samples; their mean directions are NaN",
                        "class directions [2] have zero norm (their class mean equals the "
                        "global mean: constant features, or a single class present); angles "
                        "to them are NaN"]


def test_mean_directions_still_match_numpy_on_ordinary_features(head):
    h, y, w, b = head
    g, messages = caught(geometry, torch.from_numpy(h), torch.from_numpy(y),
                         torch.from_numpy(w), torch.from_numpy(b), direction="mean")
    h64 = h.astype(np.float64)
    u = np.stack([h64[y == c].mean(0) for c in range(5)]) - h64.mean(0)
    cos = np.einsum("nd,nd->n", h64, u[y]) / np.linalg.norm(h64, axis=1) / np.linalg.norm(
        u[y], axis=1)
    np.testing.assert_allclose(g.angle.numpy(), np.arccos(cos), atol=2e-6)
    assert messages == []


def test_normalize_norm_on_constant_features_is_nan_with_a_warning(head):
    _, y, w, b = head
    h = torch.full((40, 16), 0.1)
    g, messages = caught(geometry, h, torch.from_numpy(y), torch.from_numpy(w),
                         torch.from_numpy(b), normalize_norm=True)
    assert np.isnan(g.norm.numpy()).all()
    assert messages == ["normalize_norm: the features are the same for every sample (trace "
                        "Cov(h) = 0), so the normalised norm is undefined; norm is NaN"]
    # with a spread: |h| / sqrt(trace Cov(h)), against numpy
    h2 = head[0]
    g2 = geometry(torch.from_numpy(h2), torch.from_numpy(y), torch.from_numpy(w),
                  normalize_norm=True)
    scale = np.sqrt(np.var(h2.astype(np.float64), axis=0, ddof=1).sum())
    np.testing.assert_allclose(g2.norm.numpy(), np.linalg.norm(h2, axis=1) / scale, rtol=1e-5)


def test_logits_beyond_float32_give_nan_margins_and_a_warning(head):
    h, y, w, b = head
    hs, w = h.copy(), w * np.float32(64)
    hs[:4] *= np.float32(1e37)  # these rows' logits overflow float32; the rest do not
    g, messages = caught(geometry, torch.from_numpy(hs), torch.from_numpy(y),
                         torch.from_numpy(w), torch.from_numpy(b))
    z = hs.astype(np.float64) @ w.T.astype(np.float64) + b
    beyond = np.flatnonzero((np.abs(z) > F32_MAX).any(axis=1))
    assert beyond.tolist() == [0, 1, 2, 3]  # the independent count
    assert np.flatnonzero(np.isnan(g.margin.numpy())).tolist() == beyond.tolist()
    assert np.flatnonzero(np.isnan(g.logit_margin.numpy())).tolist() == beyond.tolist()
    ref = reference(hs, y, w, b)
    np.testing.assert_allclose(g.margin.numpy()[4:], ref["margin"][4:], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(g.angle.numpy(), ref["angle"], atol=2e-6)  # still defined
    assert messages == ["4 of 40 samples have logits beyond torch.float32's range (first: "
                        "[0, 1, 2, 3]); their margins and logit margins are NaN and their "
                        "predictions unreliable: compute in float64 or rescale the features or "
                        "the head"]


def test_a_study_passes_the_logit_overflow_warning_on():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 8), torch.nn.ReLU(),
                              torch.nn.Linear(8, 3))
    with torch.no_grad():
        net[1].weight.mul_(1e10)
        net[3].weight.mul_(1e30)
    x, y = torch.randn(12, 1, 4, 4), torch.arange(12) % 3
    cube, messages = caught(lambda: gw.Study(net, (x, y), progress=False).run())
    assert np.isnan(cube.margin[0, :, 0]).all()  # the dense model on clean data
    assert any(re.match(r"12 of 12 samples have logits beyond torch.float32's range", m)
               for m in messages), messages


# ---------------------------------------------------------------------------- refused
@needs("openTSNE", "tsne")
def test_tsne_of_identical_rows_is_refused():
    with pytest.raises(ValueError, match=r"The 'features' parameter of project must be rows "
                       r"that are not all the same for method='tsne'.* \(all 20 rows are "
                       r"equal; PCA puts them at one point\)"):
        gw.project(np.ones((20, 4)), "tsne")
    # PCA of them is defined: every point at the origin
    assert np.array_equal(gw.project(np.ones((20, 4)), "pca"), np.zeros((20, 2), np.float32))


@pytest.mark.parametrize(("name", "values", "message"), [
    ("norm", [np.inf, 1.0, 2.0], r"norm must be finite \(NaN marks a missing value\), got "
                                 r"\[inf\] at positions \[0\] \(1 infinite\)"),
    ("norm", [1.0, 2.0, np.inf], r"got \[inf\] at positions \[2\]"),
    ("margin", [0.1, -np.inf, np.inf], r"margin must be finite .* got \[-inf, inf\] at "
                                       r"positions \[1, 2\] \(2 infinite\)"),
])
def test_infinite_norms_and_margins_are_refused(name, values, message):
    arrays = {"angle": [0.1, 0.2, 0.3], "norm": [1.0, 2.0, 3.0], name: values}
    with pytest.raises(ValueError, match=message):
        gw.PolarPlot(**arrays)
    with pytest.raises(ValueError, match=message):
        gw.MarginHistogram(**{**arrays, "margin": arrays.get("margin", [0.1, 0.2, 0.3])})


@pytest.mark.parametrize("color", [[1.0, np.inf, 2.0], np.array([1.0, 2.0, 1e300])])
def test_infinite_custom_colours_are_refused(color):
    with pytest.raises(ValueError, match=r"The 'color_by' parameter of PolarPlot must be finite in "
                       r"float32 \(NaN marks a missing value\). Got 1 infinite value\(s\), at "
                       r"flat positions \[\d\]."):
        gw.PolarPlot(angle=[0.1, 0.2, 0.3], norm=[1.0, 2.0, 3.0], color_by=color)
    view = gw.PolarPlot(angle=[0.1, 0.2, 0.3], norm=[1.0, 2.0, 3.0], color_by=[1.0, np.nan, 2.0])
    assert view.color_by == "custom"


def test_nan_norms_stay_missing_values():
    w = gw.PolarPlot(angle=[0.1, 0.2, 0.3], norm=[np.nan, 1.0, 2.0])
    assert w.current()["visible"].tolist() == [False, True, True]


def test_robustness_of_a_cube_without_corruptions_is_refused():
    clean = make_cube().sel(benchmark="clean")
    why = (r"cannot be 'robustness' for this cube: robustness is the fraction of corrupted "
           r"conditions a sample is classified right in, and the cube has none \(benchmarks "
           r"\['clean'\]\)")
    with pytest.raises(ValueError, match=r"The 'quantity' parameter of EvaluationTable " + why):
        gw.EvaluationTable(clean, quantity="robustness")
    table = gw.EvaluationTable(clean, quantity="angle")
    with pytest.raises(ValueError, match=r"The 'quantity' trait of EvaluationTable " + why):
        table.quantity = "robustness"
    assert table.quantity == "angle" and table.grid.quantity == "angle"
    # with corruptions, robustness is drawn: every sample of every corrupted cell counted
    cube = make_cube()
    full = gw.EvaluationTable(cube, quantity="robustness")
    counted = full.grid.counts.sum(axis=2)[full.grid.condition >= 0]
    # N: each sample once; 0: a sparsity without corrupted conditions
    assert set(counted.tolist()) == {0, len(cube.labels)}


def test_model_keys_that_name_the_same_model_are_refused():
    net_a = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    net_b = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    data = (torch.randn(6, 1, 4, 4), torch.arange(6) % 3)
    with pytest.raises(ValueError, match=r"The 'models' parameter of Study must be a dict "
                       r"whose keys are distinct as names \(str\). Got \[1, '1'\] instead"):
        gw.Study({1: net_a, "1": net_b, "c": net_a}, data)
    assert gw.Study({1: net_a, "2": net_b}, data).plan.models.keys() == {"1", "2"}


@pytest.mark.parametrize("value", ["yes", 1, None, [True]])
def test_link_selection_must_be_a_bool(value):
    a, b = gw.PolarPlot(make_cube()), gw.MarginHistogram(make_cube())
    with pytest.raises(TypeError, match=r"The 'selection' parameter of link must be a bool. "
                       r"Got .* instead."):
        gw.link(a, b, selection=value)
    assert a._link == "" and b._link == ""  # nothing linked
    assert gw.link(a, b, selection=np.bool_(False))._samples == []


@pytest.mark.parametrize("key", ["_meta", "_link", 3])
def test_link_keys_must_be_public_pickers(key):
    a, b = gw.PolarPlot(make_cube()), gw.MarginHistogram(make_cube())
    with pytest.raises(ValueError, match=r"keys are public picker traits such as "):
        gw.link(a, b, keys=(key,))


def test_cli_tokens_on_a_study_without_token_layers_is_an_error(capsys):
    from geowidget.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["study", "--models", "lenet-s0", "--samples", "20", "--tokens", "cls",
              "--out", "never.parquet", "--quiet"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "geowidget study: error: --tokens 'cls' applies to no layer" in err
    assert "add --layers or drop --tokens" in err


def test_cli_tokens_that_no_requested_layer_uses_is_an_error():
    from geowidget.cli import _check_tokens_apply

    class Tokens(torch.nn.Module):  # a layer of 4 tokens of width 6
        def __init__(self):
            super().__init__()
            self.embed, self.fc = torch.nn.Linear(4, 6), torch.nn.Linear(6, 3)

        def forward(self, x):
            return self.fc(self.embed(x.reshape(len(x), 4, 4)).mean(1))

    data = types.SimpleNamespace(images=torch.rand(2, 1, 4, 4), labels=torch.tensor([0, 1]))
    _check_tokens_apply({"tok": Tokens()}, data, ["embed", "penultimate"], "flatten")
    cnn = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 5), torch.nn.ReLU(),
                              torch.nn.Linear(5, 3))
    with pytest.raises(ValueError, match=r"^--tokens 'flatten' does not apply to --models 'cnn' "
                       r"--layers \['1'\]: .*none of the layers \['1'\] outputs tokens"):
        _check_tokens_apply({"cnn": cnn}, data, ["1", "penultimate"], "flatten")


def test_tracker_labels_out_of_range_are_refused_at_construction():
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    x, y = torch.randn(12, 1, 4, 4), torch.arange(12) % 3
    with pytest.raises(ValueError, match=r"The 'data' parameter of GeometryTracker must "
                       r"hold labels in \[0, 3\) for the model's 3 classes. Got labels in "
                       r"\[10, 12\] instead."):
        gw.GeometryTracker(net, (x, y + 10))
    tracker = gw.GeometryTracker(net, (x, y))
    assert tracker.step(0) and tracker.cube().labels.tolist() == y.tolist()
