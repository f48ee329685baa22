"""Adversarial distance: checked against a closed form, a brute-force search and the guards."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from torch import nn

import geowidget as gw
from geowidget.analysis.scores import correlation
from geowidget.engine.adversarial import (
    TIE,
    _bisect,
    _by_class,
    _distinct,
    _plane,
    _project,
    _to_edge,
    adversarial_distance,
)

pytest.importorskip("foolbox")


def linear(d: int = 12, c: int = 4) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(d, c)).eval()


def relu_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3)).eval()


def relu_draw(entropy: int, nets: int = 2, points: int = 40) -> list[tuple[nn.Module, torch.Tensor]]:
    """``nets`` small ReLU nets with ``points`` inputs each, all drawn from ``entropy``."""
    seeds = np.random.SeedSequence(entropy).generate_state(2 * nets).tolist()
    return [(relu_net(a), torch.rand(points, 5, generator=torch.Generator().manual_seed(b)))
            for a, b in zip(seeds[::2], seeds[1::2], strict=True)]


def closed_form_l2(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """min_j (z_y - z_j) / ||w_y - w_j||, y the prediction: the exact L2 distance, no clipping."""
    lin = model[1]
    with torch.no_grad():
        z = lin(x)
        y = z.argmax(1)
        gap = z.gather(1, y[:, None]) - z
        wd = (lin.weight[y][:, None, :] - lin.weight[None]).norm(dim=2)
        return torch.where(wd > 0, gap / wd, torch.inf).amin(1)


def test_linear_l2_matches_the_closed_form_margin():
    model, x = linear(), torch.rand(80, 12)
    # wide bounds: no clipping, so the closed form is the true minimum
    r = adversarial_distance(model, x, "l2", bounds=(-50, 50), steps=50, check=80,
                             progress=False)
    exact = closed_form_l2(model, x)
    # the engine's geometry margin at the input layer is the same closed form
    geo = gw.geometry(x, model(x).argmax(1), model[1].weight.detach(), model[1].bias.detach())
    np.testing.assert_allclose(geo.margin.numpy(), exact.numpy(), rtol=1e-4, atol=1e-6)
    rel = (r.distance - exact).abs() / exact
    assert bool(r.success.all()) and bool(r.verified.all())
    assert float((rel <= 0.01).float().mean()) >= 0.95, rel
    # never below the exact minimum: every distance is a verified adversarial
    assert bool((r.distance >= exact * (1 - 1e-4)).all())
    # DDN follows the cross-entropy gradient, biased on a linear model with several close
    # classes (7-12% above the exact distance); the projection rounds correct most of it, so
    # DeepFool (exact on linear models) beats the first attack on few samples (measured 1/8)
    assert r.first_not_smallest <= 0.3, r.first_not_smallest


def test_first_order_layer_margin_at_the_input_is_exact_for_linear_models():
    model, x = linear(), torch.rand(60, 12)
    y = model(x).argmax(1)
    lm = gw.layer_margin(model, (x, y), "1:input", k=3, progress=False, eps=0.0)
    np.testing.assert_allclose(lm.numpy(), closed_form_l2(model, x).numpy(), rtol=1e-4)


def brute_force(model: nn.Module, x: torch.Tensor, directions: int = 2000,
                reach: float = 8.0) -> torch.Tensor:
    """Per sample, the smallest flip along random unit directions (bisection on each)."""
    g = torch.Generator().manual_seed(1)
    u = torch.randn(directions, x.shape[1], generator=g)
    u /= u.norm(dim=1, keepdim=True)
    out = torch.full((len(x),), torch.inf)
    with torch.no_grad():
        y = model(x).argmax(1)
        for i in range(len(x)):
            hi = torch.full((directions,), reach)
            lo = torch.zeros(directions)
            flips = model(x[i] + hi[:, None] * u).argmax(1) != y[i]
            for _ in range(20):
                mid = (lo + hi) / 2
                f = model(x[i] + mid[:, None] * u).argmax(1) != y[i]
                hi, lo = torch.where(f, mid, hi), torch.where(f, lo, mid)
            out[i] = torch.where(flips, hi, torch.inf).min()
    return out


ABOVE = 1e-4  # relative float tolerance: both bisections resolve finer (2**-16, 8 * 2**-20)


def attack_above_brute_force(entropy: int) -> list[str]:
    """Points of ``relu_draw(entropy)`` where the attack's distance exceeds the brute-force
    search's by more than ``ABOVE``, each as "net k point i: +x"."""
    found = []
    for k, (model, x) in enumerate(relu_draw(entropy)):
        r = adversarial_distance(model, x, "l2", bounds=(-10, 10), check=len(x), progress=False)
        brute = brute_force(model, x)
        assert bool(r.success.all()) and bool(torch.isfinite(brute).all()), entropy
        ratio = (r.distance / brute).numpy()
        print(f"entropy {entropy}, net {k}: attack / brute force median {np.median(ratio):.4f}, "
              f"max {ratio.max():.5f}")
        assert np.median(ratio) <= 1.0, (entropy, ratio)
        found += [f"net {k} point {i}: +{ratio[i] - 1:.4f}"
                  for i in np.flatnonzero(ratio > 1 + ABOVE)]
    return found


# Fixed draws, so the suite is deterministic: entropy 22 and 2888... were measured to pass;
# the others are fresh draws the attack failed before its restarts went by class, its rays
# kept their direction to the box edge and its finalists were probed (9932...: two points
# 18% and 45% above the search; 8646...: seven points up to 29% above) and, the last, before
# its finalists came from distinct directions (2534...: one point 1.8% above). Over fresh
# draws see benchmarks/bench_adversarial_search.py --draws and the design notes.
@pytest.mark.parametrize("entropy", [22, 2888102551302883767488435409952664376,
                                     99325628822326816188838211290896984281,
                                     86467622889882418142328046934739909757,
                                     253449922807925961766020088054121391423])
def test_relu_net_attack_never_above_brute_force(entropy):
    assert attack_above_brute_force(entropy) == [], f"relu_draw({entropy})"


def test_restarts_take_the_best_start_of_every_class_first():
    rank = torch.tensor([[0.5, 0.1, 0.3, torch.inf, 0.2, 0.9],
                         [0.4, 0.2, torch.inf, 0.3, 0.1, 0.6]])
    label = torch.tensor([[1, 1, 2, 2, 1, 3], [0, 0, 2, 0, 0, 0]])
    order = _by_class(rank, label).tolist()
    # by hand: the best of each label by rank, then the rest by rank, inf last
    assert order == [[1, 2, 5, 4, 0, 3], [4, 1, 3, 0, 5, 2]]
    # and against a direct loop on random rows
    g = torch.Generator().manual_seed(3)
    rank = torch.rand(20, 12, generator=g)
    rank[rank < 0.1] = torch.inf
    label = torch.randint(0, 4, (20, 12), generator=g)
    for r, lab, got in zip(rank.tolist(), label.tolist(), _by_class(rank, label).tolist(),
                           strict=True):
        by_rank = sorted(range(12), key=lambda j: r[j])
        firsts = [j for j in by_rank if np.isfinite(r[j])
                  and all(r[j] <= r[i] for i in range(12) if lab[i] == lab[j])]
        finite = [j for j in by_rank if np.isfinite(r[j]) and j not in firsts]
        assert got[:len(firsts) + len(finite)] == firsts + finite
        assert sorted(got) == list(range(12))


def test_finalists_come_from_distinct_directions():
    deg = np.radians
    # four starts in the plane, preferred in the order 0, 1, 2, 3: 1 is 5 degrees from 0,
    # 2 is 30, 3 is 90; with 20 degrees apart the finalists are 0, 2, 3, else 0, 1 fill in
    angles = [0.0, deg(5), deg(30), deg(90)]
    delta = torch.tensor([[np.cos(a), np.sin(a)] for a in angles], dtype=torch.float32)
    delta = torch.stack([delta, 2 * delta], 1)  # [k, n=2, 2]: the length does not matter
    order = torch.tensor([[0, 1, 2, 3], [1, 0, 2, 3]])
    assert _distinct(order, delta, 3).tolist() == [[0, 2, 3], [1, 2, 3]]
    assert _distinct(order, delta, 4).tolist() == [[0, 2, 3, 1], [1, 2, 3, 0]]
    # all in one direction: the order itself
    same = torch.ones(4, 2, 2)
    assert _distinct(order, same, 3).tolist() == [[0, 1, 2], [1, 0, 2]]


def test_the_restarts_plane_distance_is_exact_on_a_linear_model():
    model, x = linear(), torch.rand(40, 12)
    lin = model[1]
    with torch.no_grad():
        y = model(x).argmax(1)
        delta = torch.randn(40, 12, generator=torch.Generator().manual_seed(5))
        z = lin(x + delta)
        rival = z.scatter(1, y[:, None], -torch.inf).argmax(1)  # strongest other class there
        gap = (lin(x).gather(1, y[:, None]) - lin(x).gather(1, rival[:, None])).flatten()
        w = lin.weight[y] - lin.weight[rival]
    for norm, dual in (("l2", w.norm(dim=1)), ("linf", w.abs().sum(1))):
        dist, u = _plane(model, x, y, delta, norm)
        # the plane z_rival = z_y of a linear model is the boundary itself: gap / ||w||_dual
        np.testing.assert_allclose(dist.numpy(), (gap / dual).numpy(), rtol=1e-4)
        with torch.no_grad():  # and x + dist * u lies on it
            on = lin(x + dist[:, None] * u)
            np.testing.assert_allclose(on.gather(1, y[:, None]).numpy(),
                                       on.gather(1, rival[:, None]).numpy(), atol=1e-4)


def test_random_rays_keep_their_direction_to_the_edge_of_the_box():
    x = torch.rand(50, 5)
    u = torch.randn(50, 5, generator=torch.Generator().manual_seed(4))
    ray = _to_edge(x, u, (-10.0, 10.0))
    cos = torch.nn.functional.cosine_similarity(ray, u, dim=1)
    assert bool((cos > 1 - 1e-6).all())  # the direction kept (clamping bends it)
    end = x + ray
    assert float(end.abs().max()) <= 10 + 1e-4  # inside the box, and on its edge:
    np.testing.assert_allclose(end.abs().amax(1).numpy(), 10.0, rtol=1e-5)


def test_first_order_margin_at_the_input_estimates_the_distance():
    model, x = relu_net(), torch.rand(24, 5)
    r = adversarial_distance(model, x, "l2", bounds=(-10, 10), check=24, progress=False)
    # the first-order margin (Elsayed et al. 2018) at the input: a local estimate
    y = model(x).argmax(1)
    lm = gw.layer_margin(model, (x, y), "0:input", k=2, progress=False).numpy()
    est = lm / r.distance.numpy()
    rho = correlation(lm, r.distance.numpy(), method="spearman", ci=None)[0]
    print("first-order margin / attack: median", np.median(est), "Spearman", rho)
    assert 0.7 <= np.median(est) <= 1.3 and rho > 0.8, (est, rho)


def test_projection_rounds_only_shorten_and_stay_in_bounds():
    model, x = relu_net(), torch.rand(300, 5)
    y = model(x).argmax(1)
    u = torch.randn(300, 5, generator=torch.Generator().manual_seed(2))
    delta = (x + 4 * u / u.norm(dim=1, keepdim=True)).clamp(-1, 2) - x
    with torch.no_grad():
        flips = model(x + delta).argmax(1) != y
        x, y, delta = x[flips], y[flips], _bisect(model, x[flips], y[flips], delta[flips])
    assert len(x) >= 10  # the start: random rays bisected back to the boundary
    start = delta.norm(dim=1)
    before = start
    for _ in range(3):
        delta = _project(model, x, y, delta, "l2", (-1.0, 2.0))
        after = delta.norm(dim=1)
        assert bool((after <= before).all())  # a round never lengthens
        before = after
    with torch.no_grad():
        assert bool((model(x + delta).argmax(1) != y).all())  # still adversarial
    assert float((x + delta).min()) >= -1.0 and float((x + delta).max()) <= 2.0
    # and it does shorten: a random ray is far from the nearest boundary point
    assert float((after / start).median()) < 0.9, after / start


def test_misclassified_get_zero_failures_get_nan():
    model, x = linear(), torch.rand(30, 12)
    pred = model(x).argmax(1)
    labels = pred.clone()
    labels[:5] = (pred[:5] + 1) % 4  # these five are now misclassified
    r = adversarial_distance(model, (x, labels), "linf", steps=30, check=10, progress=False)
    assert torch.equal(r.correct, labels == pred)
    assert bool((r.distance[:5] == 0).all()) and bool(r.success[:5].all())
    assert bool((r.distance[5:] > 0).all())
    assert int(r.checked.sum()) == 10 and not bool(r.checked[:5].any())
    # a model no perturbation can flip: every attack fails, reported as NaN, not 0 or inf
    flat = nn.Sequential(nn.Flatten(), nn.Linear(12, 3)).eval()
    with torch.no_grad():
        flat[1].weight.zero_()
        flat[1].bias.copy_(torch.tensor([1.0, 0.0, 0.0]))
    f = adversarial_distance(flat, x[:6], "l2", steps=10, check=3, progress=False)
    assert bool(torch.isnan(f.distance).all()) and not bool(f.success.any())
    assert f.failed == 6 and not bool(f.verified.any())


def test_batches_give_the_same_distances():
    model, x = linear(), torch.rand(20, 12)
    a = adversarial_distance(model, x, "l2", steps=30, batch_size=7, check=0, progress=False)
    b = adversarial_distance(model, x, "l2", steps=30, batch_size=64, check=0, progress=False)
    np.testing.assert_allclose(a.distance.numpy(), b.distance.numpy(), rtol=1e-4)
    assert np.isnan(a.first_not_smallest) and not bool(a.checked.any())
    assert TIE < 0.01


def test_bad_input_names_the_value(monkeypatch):
    model, x = linear(), torch.rand(4, 12)
    with pytest.raises(ValueError, match="'norm' parameter.*'l1'"):
        adversarial_distance(model, x, "l1", progress=False)
    bright = x.clone()
    bright[1, 3] = 2.0
    with pytest.raises(ValueError, match=r"'data' parameter.*bounds=\(0, 1\).*span \[[\d.e-]+, 2\]"):
        adversarial_distance(model, bright, progress=False)
    with pytest.raises(ValueError, match="'bounds' parameter.*low < high"):
        adversarial_distance(model, x, bounds=(1, 0), progress=False)

    class Pixels(nn.Module):  # a segmentation-like output, not [N, C]
        def forward(self, t):
            return t.view(len(t), 3, 2, 2)

    with pytest.raises(ValueError, match=r"'model' parameter.*\[N, C\] logits.*\(4, 3, 2, 2\)"):
        adversarial_distance(Pixels(), x, progress=False)
    monkeypatch.setitem(sys.modules, "foolbox", None)
    with pytest.raises(ImportError, match=r'pip install "geowidget\[adversarial\]"'):
        adversarial_distance(model, x, progress=False)


# ---------------------------------------------------------------------------- in studies
def small_study_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 3)).eval()


def test_study_stores_distances_per_model_and_sparsity(tmp_path):
    from geowidget.analysis.scores import side_by_side

    torch.manual_seed(1)
    x = torch.rand(24, 1, 4, 4)
    models = {"a": small_study_net(), "b": nn.Sequential(*small_study_net()).eval()}
    y = models["a"](x).argmax(1)
    y[::4] = (y[::4] + 1) % 3  # some misclassified
    with torch.no_grad():
        models["b"][3].weight.mul_(-1)
    settings = {"norm": "l2", "samples": 16, "steps": 20, "check": 4}
    cube = gw.Study(models, (x, y), sparsities=(0.5,), corruptions=["fog"], severities=(1,),
                    adversarial=settings, progress=False).run()
    d = cube.adversarial["l2"]
    assert d.shape == (2, 4, 24)  # clean and fog at both sparsities (the full grid)
    fog = cube.condition_index(0.0, "fog", 1)
    assert np.isnan(d[:, fog]).all() and np.isnan(d[:, :, 16:]).all()  # not measured
    # the dense model's distances are the engine's on the same samples
    direct = adversarial_distance(models["a"], (x[:16], y[:16]), "l2", steps=20, check=4,
                                  progress=False)
    np.testing.assert_allclose(d[0, cube.condition_index(0.0), :16], direct.distance.numpy(),
                               rtol=1e-4)
    report = cube.model_info[0]["adversarial"]
    assert report["norm"] == "l2" and [lv["sparsity"] for lv in report["levels"]] == [0.0, 0.5]
    for lv in report["levels"]:  # the second attack saw 4 correctly classified samples
        right = int(cube.correct[0, cube.condition_index(lv["sparsity"]), :16].sum())
        assert lv["checked"] == min(4, right) and lv["failed"] == 0
    # the paper's table against it, checked against a direct Spearman r
    table = cube.correlations(target="adversarial", method="spearman", ci=None)
    margin = cube.margin[0, 0, cube.condition_index(0.0)]
    r = correlation(margin, d[0, cube.condition_index(0.0)], method="spearman", ci=None)[0]
    assert table.loc[("a", 0.0), "rc-margin"] == pytest.approx(r) and table.loc[("a", 0.0), "n"] == 16
    both = side_by_side(cube, method="spearman", ci=None)
    assert list(dict.fromkeys(both.columns.get_level_values(0))) == ["robustness", "adversarial"]
    assert both[("adversarial", "rc-margin")][("a", 0.0)] == pytest.approx(r)
    # persisted by save / open and by to_parquet / from_parquet
    cube.save(tmp_path / "cube")
    assert cube.equals(gw.GeometryCube.open(tmp_path / "cube"))
    cube.to_parquet(str(tmp_path / "cube.parquet"))
    assert cube.equals(gw.GeometryCube.from_parquet(str(tmp_path / "cube.parquet")))
    assert cube.sel(model="b", sparsity=0.5).adversarial["l2"].shape == (1, 2, 24)  # clean, fog


def test_study_refuses_bad_adversarial_settings():
    x, y = torch.rand(6, 1, 4, 4), torch.tensor([0, 1, 2, 0, 1, 2])
    with pytest.raises(ValueError, match="'adversarial' parameter of Study.*'l3'"):
        gw.Study(small_study_net(), (x, y), adversarial={"norm": "l3"}, progress=False)
    with pytest.raises(ValueError, match="'adversarial' parameter of Study.*unknown keys"):
        gw.Study(small_study_net(), (x, y), adversarial={"nrom": "l2"}, progress=False)
    with pytest.raises(ValueError, match="samples must be an integer >= 1, got 0"):
        gw.Study(small_study_net(), (x, y), adversarial={"samples": 0}, progress=False)


# ---------------------------------------------------------------------------- in the views
def test_views_colour_and_brush_by_adversarial_distance():
    from geowidget.testing import random_cube

    rng = np.random.default_rng(0)
    m, k, n = 2, 2, 10
    dist = rng.uniform(0.1, 2.0, (m, k, n)).astype(np.float32)
    dist[:, :, -2:] = np.nan  # not measured
    cube = random_cube(["a", "b"], ["penultimate"], sparsities=(0.5,), n=n).replace(
        adversarial={"l2": dist})
    polar = gw.PolarPlot(cube, color="adversarial", model="b", sparsity=0.5)
    assert "adversarial" in polar._meta["color_fields"] and polar.color_by == "adversarial"
    np.testing.assert_array_equal(polar.cell()["adversarial"], dist[1, 1])
    par = gw.ParallelCoordinates(cube, model="b", sparsity=0.5)
    assert [a["name"] for a in par._meta["axes"]][-1] == "adv l2"
    np.testing.assert_array_equal(par.columns()["adv l2"], dist[1, 1])
    picked = par.select_ranges({"adv l2": [0.0, 1.0]})
    expected = cube.sample_ids[(dist[1, 1] >= 0) & (dist[1, 1] <= 1.0)]
    np.testing.assert_array_equal(np.sort(picked), np.sort(expected))
    # a cube without distances offers neither
    plain = cube.replace(adversarial={})
    assert "adversarial" not in gw.PolarPlot(plain)._meta["color_fields"]
    assert "adv l2" not in [a["name"] for a in gw.ParallelCoordinates(plain)._meta["axes"]]


def test_stored_distances_are_keyed_by_the_attacks_version(tmp_path, monkeypatch):
    """A unit store keeps distances across runs; an attack that finds other distances (a new
    VERSION) must measure again, never reuse an older attack's."""
    from geowidget.engine import adversarial as attack

    torch.manual_seed(2)
    x = torch.rand(8, 1, 4, 4)
    net = small_study_net()
    y = net(x).argmax(1)
    kw = {"adversarial": {"norm": "l2", "samples": 8, "steps": 10, "check": 0},
          "progress": False, "cache_dir": tmp_path / "store"}
    first = gw.Study({"a": net}, (x, y), **kw).run()
    calls = []
    real = attack.adversarial_distance
    monkeypatch.setattr(attack, "adversarial_distance",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    again = gw.Study({"a": net}, (x, y), **kw).run()
    assert calls == [] and again.equals(first)  # read from the store
    monkeypatch.setattr(attack, "VERSION", attack.VERSION + 1)
    gw.Study({"a": net}, (x, y), **kw).run()
    assert len(calls) == len(first.sparsities) > 1  # every level measured again by the "new" one
