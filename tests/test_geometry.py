"""geometry(): every field against an independent computation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from geowidget.engine.geometry import angle_between, geometry, pair_distances


def random_problem(n=200, d=16, c=5, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(n, d, generator=g, dtype=dtype)
    w = torch.randn(c, d, generator=g, dtype=dtype)
    b = torch.randn(c, generator=g, dtype=dtype)
    y = torch.randint(0, c, (n,), generator=g)
    return h, y, w, b


def numpy_angles(h, u):
    """float64 arccos of the normalised dot product, one pair at a time."""
    out = np.empty(len(h))
    for i in range(len(h)):
        cos = h[i] @ u[i] / (np.linalg.norm(h[i]) * np.linalg.norm(u[i]))
        out[i] = np.arccos(np.clip(cos, -1.0, 1.0))
    return out


def brute_force_margin(h, y, w, b):
    """Loop over every class pair: min_j (z_y - z_j) / |W_y - W_j|."""
    z = h @ w.T + b
    out = np.empty(len(h))
    for i in range(len(h)):
        best = np.inf
        for j in range(w.shape[0]):
            if j == y[i]:
                continue
            dist = np.linalg.norm(w[y[i]] - w[j])
            if dist == 0:
                continue
            best = min(best, (z[i, y[i]] - z[i, j]) / dist)
        out[i] = best
    return out


def test_angle_matches_numpy_arccos_on_random_data():
    h, y, w, b = random_problem()
    geo = geometry(h, y, w, b)
    hn, wn, yn = h.numpy(), w.numpy(), y.numpy()
    np.testing.assert_allclose(geo.angle.numpy(), numpy_angles(hn, wn[yn]), atol=1e-9)
    pred = (hn @ wn.T + b.numpy()).argmax(1)
    np.testing.assert_allclose(geo.angle_pred.numpy(), numpy_angles(hn, wn[pred]), atol=1e-9)
    np.testing.assert_array_equal(geo.pred.numpy(), pred)
    np.testing.assert_array_equal(geo.correct.numpy(), pred == yn)
    np.testing.assert_allclose(geo.norm.numpy(), np.linalg.norm(hn, axis=1), rtol=1e-12)


def test_avh_and_angle_gap_against_all_pairwise_angles():
    h, y, w, b = random_problem(n=50, c=7, seed=1)
    geo = geometry(h, y, w, b)
    hn, wn, yn = h.numpy(), w.numpy(), y.numpy()
    all_angles = np.stack([numpy_angles(hn, np.repeat(wn[c : c + 1], len(hn), 0)) for c in range(7)], 1)
    theta_y = all_angles[np.arange(50), yn]
    np.testing.assert_allclose(geo.avh.numpy(), theta_y / all_angles.sum(1), rtol=1e-7)
    others = all_angles.copy()
    others[np.arange(50), yn] = np.inf
    np.testing.assert_allclose(geo.angle_gap.numpy(), theta_y - others.min(1), atol=1e-7)


@pytest.mark.parametrize("direction", ["weight", "weight_aug", "mean"])
def test_extras_off_leaves_avh_and_angle_gap_nan_and_the_rest_equal(direction):
    """extras=False skips only the angle to every class; chunking changes no number."""
    h, y, w, b = random_problem(n=300, c=9, seed=4)
    full = geometry(h, y, w, b, direction=direction)
    lean = geometry(h, y, w, b, direction=direction, extras=False, chunk_size=7)
    assert torch.isnan(lean.avh).all() and torch.isnan(lean.angle_gap).all()
    for name in ("pred", "correct"):
        np.testing.assert_array_equal(getattr(lean, name).numpy(), getattr(full, name).numpy())
    for name in ("angle", "angle_pred", "norm", "margin", "logit_margin"):  # float64 here
        np.testing.assert_allclose(getattr(lean, name).numpy(), getattr(full, name).numpy(),
                                   rtol=1e-12, atol=1e-12, err_msg=name)
    small = geometry(h, y, w, b, direction=direction, chunk_size=7)
    np.testing.assert_allclose(small.avh.numpy(), full.avh.numpy(), rtol=1e-12)
    np.testing.assert_allclose(small.angle_gap.numpy(), full.angle_gap.numpy(), atol=1e-12)


@pytest.mark.parametrize("target", [0.0, np.pi])
def test_angles_near_zero_and_pi_are_accurate(target):
    # h = u rotated by a tiny known angle t in a plane: the exact answer is known in closed form.
    d = 64
    rng = np.random.default_rng(0)
    u = rng.standard_normal(d)
    u /= np.linalg.norm(u)
    v = rng.standard_normal(d)
    v -= (v @ u) * u
    v /= np.linalg.norm(v)
    tiny = np.array([1e-8, 1e-6, 1e-4, 3e-3])
    angles = target + np.where(target == 0, tiny, -tiny)
    h = np.cos(angles)[:, None] * u + np.sin(angles)[:, None] * v
    w = np.stack([u, -u + 0.5 * v])
    for dtype in (torch.float32, torch.float64):
        geo = geometry(
            torch.tensor(h * 3.0, dtype=dtype), torch.zeros(4, dtype=torch.long),
            torch.tensor(w, dtype=dtype),
        )
        np.testing.assert_allclose(geo.angle.double().numpy(), angles, atol=1e-6)
    # angle_between itself, in float64, to near machine precision
    got = angle_between(torch.tensor(h), torch.tensor(np.repeat(u[None], 4, 0)))
    np.testing.assert_allclose(got.numpy(), angles, atol=1e-12)


def test_margin_matches_brute_force_loop_over_class_pairs():
    h, y, w, b = random_problem(n=300, c=10, seed=2)
    geo = geometry(h, y, w, b)
    expected = brute_force_margin(h.numpy(), y.numpy(), w.numpy(), b.numpy())
    np.testing.assert_allclose(geo.margin.numpy(), expected, rtol=1e-10)
    wrong = ~geo.correct.numpy()
    assert wrong.any() and (geo.margin.numpy()[wrong] <= 0).all()
    assert (geo.margin.numpy()[~wrong] >= 0).all()


def test_margin_uses_every_competitor_not_only_the_runner_up():
    # class 1 is the runner-up, but class 2's weight differs hugely from W_0, so a small
    # step along W_2 - W_0 reaches its boundary first
    w = torch.tensor([[1.0, 0.0], [0.9, 0.0], [0.0, 20.0]], dtype=torch.float64)
    h = torch.tensor([[1.0, 0.5]], dtype=torch.float64)
    b = torch.tensor([0.0, 0.0, -9.5], dtype=torch.float64)
    geo = geometry(h, torch.tensor([0]), w, b)
    z = (h @ w.T + b)[0]
    runner_up_only = (z[0] - z[1]) / (w[0] - w[1]).norm()
    true_margin = (z[0] - z[2]) / (w[0] - w[2]).norm()
    assert z[1] > z[2] and true_margin < runner_up_only
    assert geo.margin.item() == pytest.approx(true_margin.item(), rel=1e-12)


def smallest_flip(h, y, w, b):
    """scipy: the smallest |delta| such that some class j != y scores at least z_y."""
    best = np.inf
    for j in range(w.shape[0]):
        if j == y:
            continue
        a = w[j] - w[y]
        c0 = b[j] - b[y]
        res = minimize(
            lambda d: d @ d, np.zeros_like(h), jac=lambda d: 2 * d, method="SLSQP",
            constraints=[{"type": "ineq", "fun": lambda d, a=a, c0=c0: a @ (h + d) + c0,
                          "jac": lambda d, a=a: a}],
            options={"ftol": 1e-13, "maxiter": 500},
        )
        # judge the answer, not the solver's stopping flag: the step must reach the boundary
        assert a @ (h + res.x) + c0 > -1e-9, res.message
        best = min(best, np.sqrt(res.fun))
    return best


def test_margin_equals_optimiser_smallest_perturbation_for_correct_samples():
    h, y, w, b = random_problem(n=40, d=6, c=4, seed=3)
    geo = geometry(h, y, w, b)
    correct = geo.correct.numpy()
    assert correct.sum() >= 5
    for i in np.flatnonzero(correct):
        want = smallest_flip(h[i].numpy(), int(y[i]), w.numpy(), b.numpy())
        assert geo.margin[i].item() == pytest.approx(want, rel=1e-5)


def test_weight_aug_identity():
    h, y, w, b = random_problem(n=100, c=6, seed=4)
    geo = geometry(h, y, w, b, direction="weight_aug")
    u_aug = torch.cat([w, b[:, None]], 1)
    z = h @ w.T + b
    h_aug_norm = torch.cat([h, torch.ones(100, 1, dtype=h.dtype)], 1).norm(dim=1)
    assert torch.allclose(geo.norm, h_aug_norm)
    rebuilt = u_aug[y].norm(dim=1) * geo.norm * torch.cos(geo.angle)
    assert torch.allclose(rebuilt, z[torch.arange(100), y], rtol=1e-10, atol=1e-10)


def test_mean_direction_is_class_mean_minus_global_mean():
    h, y, w, b = random_problem(n=120, c=3, seed=5)
    geo = geometry(h, y, w, b, direction="mean")
    means = np.stack([h.numpy()[y.numpy() == c].mean(0) for c in range(3)]) - h.numpy().mean(0)
    np.testing.assert_allclose(geo.angle.numpy(), numpy_angles(h.numpy(), means[y.numpy()]), atol=1e-9)
    # the margin still comes from the head, not from the directions
    np.testing.assert_allclose(geo.margin.numpy(), geometry(h, y, w, b).margin.numpy())


def test_probe_direction_fits_its_own_head():
    h, y, _, _ = random_problem(n=150, c=3, seed=6)
    h = h + 3.0 * torch.nn.functional.one_hot(y, 16).double()  # separable-ish classes
    geo = geometry(h, y, direction="probe")
    # held out (cross-fitted), so below the 0.97 a Bayes classifier gets here, well above chance
    assert 0.85 < geo.correct.double().mean() < 0.99
    with pytest.raises(ValueError, match="fits its own head"):
        geometry(h, y, torch.eye(3, 16, dtype=h.dtype), direction="probe")


def test_logit_margin_and_normalised_norm():
    h, y, w, b = random_problem(n=60, c=5, seed=7)
    geo = geometry(h, y, w, b, normalize_norm=True)
    z = (h @ w.T + b).numpy()
    other = z.copy()
    other[np.arange(60), y.numpy()] = -np.inf
    np.testing.assert_allclose(geo.logit_margin.numpy(), z[np.arange(60), y.numpy()] - other.max(1))
    scale = np.sqrt(np.trace(np.cov(h.numpy(), rowvar=False)))
    np.testing.assert_allclose(geo.norm.numpy(), np.linalg.norm(h.numpy(), axis=1) / scale)


def test_dtype_is_kept_and_chunking_changes_nothing():
    h, y, w, b = random_problem(n=257, c=4, seed=8, dtype=torch.float32)
    full = geometry(h, y, w, b)
    chunked = geometry(h, y, w, b, chunk_size=10)
    assert full.angle.dtype == torch.float32 and full.margin.dtype == torch.float32
    for name, a in full.to_numpy().items():
        np.testing.assert_allclose(getattr(chunked, name).numpy(), a, rtol=1e-5, atol=1e-6, err_msg=name)
    assert geometry(h.double(), y, w.double(), b.double()).angle.dtype == torch.float64


def test_zero_norm_feature_gives_nan_and_counts_it():
    h, y, w, b = random_problem(n=10, c=3, seed=9)
    h[[2, 5]] = 0
    with pytest.warns(RuntimeWarning, match="2 of 10 feature vectors have zero norm"):
        geo = geometry(h, y, w, b)
    assert torch.isnan(geo.angle[[2, 5]]).all() and torch.isnan(geo.avh[[2, 5]]).all()
    assert not torch.isnan(geo.angle[[0, 1, 3]]).any()
    assert torch.isfinite(geo.margin).all()  # the margin is still defined (h = 0 is a point)


def test_competitor_with_identical_weight_row_is_skipped():
    w = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    h = torch.tensor([[2.0, 1.0]], dtype=torch.float64)
    geo = geometry(h, torch.tensor([0]), w)
    assert pair_distances(w)[0, 1].item() == 0.0
    assert geo.margin.item() == pytest.approx((2.0 - 1.0) / np.sqrt(2))
    only_twin = torch.tensor([[1.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    assert torch.isnan(geometry(h, torch.tensor([0]), only_twin).margin).all()


def test_cuda_device_is_kept():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    h, y, w, b = random_problem(n=64, c=5)
    geo = geometry(h.cuda(), y.cuda(), w.cuda(), b.cuda())
    assert geo.margin.device.type == "cuda"
    np.testing.assert_allclose(geo.margin.cpu().numpy(), geometry(h, y, w, b).margin.numpy())


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"features": torch.randn(5, 3, 2)}, ValueError,
         r"'features' parameter of geometry must be a floating-point torch.Tensor \[N, D\]\. "
         r"Got a torch.Tensor of shape \(5, 3, 2\) .*\(it has 3 dimensions\)"),
        ({"labels": torch.tensor([0, 1, 9, 0, 1])}, ValueError,
         r"'labels' parameter of geometry must be class indices in \[0, 3\) .*span \[0, 9\]"),
        ({"labels": torch.tensor([0, 1, 2])}, ValueError,
         r"'labels' parameter of geometry must be of shape \(5,\) to match features"),
        ({"labels": torch.zeros(5)}, TypeError,
         r"'labels' .* must be an integer torch.Tensor \[N\]\..*torch.float32 is not integer"),
        ({"features": torch.tensor([[1.0, float("nan")]] * 5)}, ValueError,
         r"'features' .* must be finite\..*5 rows hold NaN or Inf"),
        ({"features": torch.ones(5, 2, dtype=torch.int64)}, TypeError,
         "floating-point.*dtype torch.int64 is not floating-point"),
        ({"weight": torch.randn(1, 2)}, ValueError, "at least 2 classes"),
        ({"weight": torch.randn(3, 4)}, ValueError, r"'weight' .* must be of shape \[C, 2\]"),
        ({"weight": torch.randn(3, 2, dtype=torch.float64)}, TypeError,
         r"'weight' .* must be of the features' dtype torch.float32.*dtype torch.float64"),
        ({"weight": torch.full((3, 2), float("inf"))}, ValueError,
         r"'weight' .* finite .*6 NaN or infinite values"),
        ({"features": torch.randn(0, 2), "labels": torch.zeros(0, dtype=torch.long)}, ValueError,
         r"'features' .*\(it is empty\)"),
        ({"direction": "cosine"}, ValueError,
         r"'direction' parameter of geometry must be one of \['weight', 'weight_aug', 'mean', "
         r"'probe'\]. Got 'cosine' instead"),
        ({"chunk_size": 0}, ValueError,
         r"^The 'chunk_size' parameter of geometry must be None or an int in \[1, inf\)\. "
         r"Got 0 instead\.$"),
        ({"chunk_size": -5}, ValueError, r"'chunk_size' .* Got -5 instead"),
        ({"normalize_norm": "yes"}, TypeError, r"'normalize_norm' .* must be a bool"),
    ],
)
def test_bad_input_names_the_value(kwargs, error, message):
    args = {"features": torch.randn(5, 2), "labels": torch.tensor([0, 1, 2, 0, 1]),
            "weight": torch.randn(3, 2)}
    args.update(kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error, match=message):
            geometry(**args)


def test_mismatched_devices_name_both_devices():
    h, y, w, b = random_problem(n=8, c=3, dtype=torch.float32)
    with pytest.raises(ValueError, match="'weight' .* on the features' device cpu.*it is on meta"):
        geometry(h, y, w.to("meta"), b)
    with pytest.raises(ValueError, match="'labels' .* on the features' device cpu.*it is on meta"):
        geometry(h, y.to("meta"), w, b)


def test_float32_angles_are_accurate_at_every_angle():
    """float32 angles against a float64 reference, mid-range and near 0 and pi alike.

    Mid-range angles come from arccos of the GEMM cosine (well conditioned there and more
    accurate in float32 than the atan2 form); near 0 and pi they come from the atan2 form.
    """
    h, y, w, b = random_problem(n=400, d=512, c=20, seed=10)
    # plant samples nearly parallel and anti-parallel to their class row
    h[:50] = w[y[:50]] * 2.0 + 1e-5 * h[:50]
    h[50:100] = -w[y[50:100]] * 0.5 + 1e-5 * h[50:100]
    want = geometry(h, y, w, b).angle.numpy()
    got = geometry(h.float(), y, w.float(), b.float()).angle.double().numpy()
    assert np.nanmax(np.abs(got - want)) < 1e-6
    assert want[:50].max() < 1e-3 and want[50:100].min() > np.pi - 1e-3


def test_outputs_never_require_grad_even_for_a_parameter_head():
    fc = torch.nn.Linear(4, 3)
    h = torch.randn(6, 4, requires_grad=True)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    for direction in ("weight", "weight_aug", "mean"):
        g = geometry(h, y, fc.weight, fc.bias, direction=direction)
        for name, value in g.to_numpy().items():
            assert not getattr(g, name).requires_grad, (direction, name)
            assert value.shape == (6,)
    assert fc.weight.grad is None and h.grad is None
