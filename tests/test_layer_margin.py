"""layer_margin against closed forms and a line search; linear_probe against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from torch import nn

from geowidget.engine.geometry import geometry
from geowidget.engine.layer_margin import layer_margin
from geowidget.engine.probe import linear_probe


def test_linear_model_matches_closed_form():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(8, 5)).double()
    x, y = torch.randn(40, 8, dtype=torch.float64), torch.randint(0, 5, (40,))
    got = layer_margin(model, (x, y), "1:input", k=4, eps=0.0, progress=False)
    w, b = model[1].weight.detach(), model[1].bias.detach()
    z = x @ w.T + b
    want = torch.stack([
        min((z[i, y[i]] - z[i, j]) / (w[y[i]] - w[j]).norm() for j in range(5) if j != y[i])
        for i in range(40)
    ])
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


class SmallNet(nn.Module):
    def __init__(self, c: int = 6) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 16), nn.ReLU(inplace=True))
        self.fc = nn.Linear(16, c)

    def forward(self, x):
        return self.fc(self.body(x))


def test_penultimate_layer_with_all_competitors_equals_exact_head_margin():
    torch.manual_seed(1)
    model = SmallNet().double()
    x, y = torch.randn(64, 10, dtype=torch.float64), torch.randint(0, 6, (64,))
    got = layer_margin(model, (x, y), "body", k=5, eps=0.0, progress=False)
    with torch.no_grad():
        h = model.body(x)
    exact = geometry(h, y, model.fc.weight.detach(), model.fc.bias.detach()).margin
    torch.testing.assert_close(got, exact, rtol=1e-10, atol=1e-12)


def test_intermediate_layer_margin_matches_line_search_along_the_gradient():
    """Walk from h_l along the gradient of z_y - z_j until the two logits tie (bisection).

    Above layer body.1 the net is Linear-ReLU-Linear, so it is exactly linear within one ReLU
    activation region: where the walk stays in one region, the step length must equal the
    first-order margin to high precision; elsewhere it must agree in sign.
    """
    torch.manual_seed(2)
    model = SmallNet(c=3).double().eval()
    x, y = torch.randn(60, 10, dtype=torch.float64), torch.randint(0, 3, (60,))
    got = layer_margin(model, (x, y), "body.1", k=2, eps=0.0, progress=False)
    lin1, fc = model.body[2], model.fc
    with torch.no_grad():
        h = model.body[1](model.body[0](x))

    def logits(v):
        return fc(torch.relu(lin1(v)))

    checked = 0
    for i in range(60):
        steps, same_region = [], True
        for j in range(3):
            if j == y[i]:
                continue
            hi = h[i].clone().requires_grad_(True)
            z = logits(hi)
            diff = z[y[i]] - z[j]
            (g,) = torch.autograd.grad(diff, hi)
            direction = -torch.sign(diff).detach() * g / g.norm()

            def gap(t, hi=hi, direction=direction, j=j, i=i):
                with torch.no_grad():
                    zz = logits(hi + t * direction)
                return (zz[y[i]] - zz[j]).item()

            sign0, up = np.sign(gap(0.0)), 1e-3
            while np.sign(gap(up)) == sign0 and up < 1e4:
                up *= 2
            lo = 0.0
            for _ in range(64):
                mid = 0.5 * (lo + up)
                lo, up = (mid, up) if np.sign(gap(mid)) == sign0 else (lo, mid)
            with torch.no_grad():
                end = hi + up * direction
                same_region &= bool(torch.equal(lin1(hi) > 0, lin1(end) > 0))
            steps.append(sign0 * up)
        line_search = min(steps)
        assert np.sign(got[i].item()) == np.sign(line_search)
        if same_region:
            assert got[i].item() == pytest.approx(line_search, rel=1e-9)
            checked += 1
    assert checked >= 5, checked


def test_k_is_clamped_and_bad_input_raises():
    model = SmallNet(c=3)
    x, y = torch.randn(5, 10), torch.tensor([0, 1, 2, 0, 1])
    a = layer_margin(model, (x, y), "body", k=50, progress=False)
    b = layer_margin(model, (x, y), "body", k=2, progress=False)
    torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match=r"'k' parameter of layer_margin must be an int in "
                                         r"\[1, inf\)\. Got 0 instead"):
        layer_margin(model, (x, y), "body", k=0)
    with pytest.raises(ValueError, match="'layer' .* Got 'bodyy' instead.*closest valid names"):
        layer_margin(model, (x, y), "bodyy")
    with pytest.raises(TypeError, match="'layer' parameter of layer_margin must be a str. Got 1"):
        layer_margin(model, (x, y), 1)
    with pytest.raises(TypeError, match=r"'eps' .* must be a float in \[0, inf\)\. Got 'a'"):
        layer_margin(model, (x, y), "body", eps="a")
    with pytest.raises(ValueError, match=r"'batch_size' .* Got 0 instead"):
        layer_margin(model, (x, y), "body", batch_size=0)
    with pytest.raises(ValueError, match="'data' .* must be labelled.*carries no labels"):
        layer_margin(model, x, "body", progress=False)
    with pytest.raises(ValueError, match=r"labelled with classes in \[0, 3\).*span \[0, 7\]"):
        layer_margin(model, (x, torch.tensor([0, 1, 7, 0, 1])), "body", progress=False)
    with pytest.raises(ValueError, match=r"labelled with integer classes.*torch.float32"):
        layer_margin(model, (x, y.float() + 0.4), "body", progress=False)


def test_linear_probe_matches_sklearn_logistic_regression():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((300, 5)) * [1, 10, 0.1, 1, 3] + [0, 5, 0, 0, 0]
    y = (x[:, 0] + 0.3 * x[:, 1] + rng.standard_normal(300) * 0.5 > 1.5).astype(int)
    y[x[:, 3] > 1.2] = 2
    l2 = 1e-2
    w, b = linear_probe(torch.tensor(x), torch.tensor(y), l2=l2)
    # the same objective in sklearn: standardised features, C = 1 / (n * l2)
    mean, std = x.mean(0), x.std(0)
    sk = LogisticRegression(C=1.0 / (300 * l2), tol=1e-10, max_iter=10000).fit((x - mean) / std, y)
    z_ours = x @ w.numpy().T + b.numpy()
    z_sk = ((x - mean) / std) @ sk.coef_.T + sk.intercept_
    p_ours = np.exp(z_ours - z_ours.max(1, keepdims=True))
    p_ours /= p_ours.sum(1, keepdims=True)
    np.testing.assert_allclose(p_ours, sk.predict_proba((x - mean) / std), atol=1e-4)
    np.testing.assert_array_equal(z_ours.argmax(1), z_sk.argmax(1))
    assert w.dtype == torch.float64 and w.shape == (3, 5)


def test_wide_features_use_the_dual_form_and_reach_the_same_optimum():
    """D > N: the probe solves over the samples' span; sklearn solves the primal problem."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((60, 400))
    y = np.repeat([0, 1, 2], 20)
    x[:, :3] += 2.0 * np.eye(3)[y]
    l2 = 0.1
    w, b = linear_probe(torch.tensor(x), torch.tensor(y), l2=l2)
    mean, std = x.mean(0), x.std(0)
    xs = (x - mean) / std
    sk = LogisticRegression(C=1.0 / (60 * l2), tol=1e-10, max_iter=10000).fit(xs, y)
    z = x @ w.numpy().T + b.numpy()
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(p, sk.predict_proba(xs), atol=1e-4)
    # and the weights themselves, mapped to standardised units
    np.testing.assert_allclose(w.numpy() * std, sk.coef_, atol=1e-3 * np.abs(sk.coef_).max())
