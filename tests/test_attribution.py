"""Occlusion attribution: batched pass against a loop of single forwards, maps, edge cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geowidget import zoo
from geowidget.engine.attribution import occlusion, patch_positions, pixel_map


@pytest.fixture(scope="module")
def probe():
    return zoo.probe_data()


def _reference(model, image, label, patch, stride, fill):
    """Loop: occlude by slicing, one forward per position, geometry by brute force (float64)."""
    seen = {}
    hook = model.fc.register_forward_pre_hook(lambda m, i: seen.__setitem__("h", i[0].clone()))
    w = model.fc.weight.detach().double()
    b = model.fc.bias.detach().double()

    def geo(x):
        with torch.no_grad():
            model(x[None])
        h = seen["h"][0].double()
        cos = (h @ w[label]) / (h.norm() * w[label].norm())
        z = w @ h + b
        margins = [(z[label] - z[j]) / (w[label] - w[j]).norm() for j in range(len(z)) if j != label]
        return float(torch.arccos(cos.clamp(-1, 1))), float(min(margins))

    base = geo(image)
    _, hgt, wid = image.shape
    tops = list(range(0, hgt - patch + 1, stride))
    lefts = list(range(0, wid - patch + 1, stride))
    d_angle = np.zeros((len(tops), len(lefts)))
    d_margin = np.zeros_like(d_angle)
    for i, t in enumerate(tops):
        for j, left in enumerate(lefts):
            x = image.clone()
            x[:, t : t + patch, left : left + patch] = fill
            a, m = geo(x)
            d_angle[i, j], d_margin[i, j] = a - base[0], m - base[1]
    hook.remove()
    return base, d_angle, d_margin


@pytest.mark.parametrize(("name", "stride", "side"), [("lenet-s0", 3, 9), ("mlp-s0", 2, 13)])
def test_batched_occlusion_matches_a_loop_of_forwards(probe, name, stride, side):
    model = zoo.load(name)
    image, label = probe.images[37], int(probe.labels[37])
    occ = occlusion(model, image, label, patch=4, stride=stride, fill=0.5)
    base, d_angle, d_margin = _reference(model, image, label, 4, stride, 0.5)
    assert occ.delta_angle.shape == (side, side) and occ.delta_angle_map.shape == (28, 28)
    assert occ.base_angle == pytest.approx(base[0], abs=1e-4)
    assert occ.base_margin == pytest.approx(base[1], rel=1e-4, abs=1e-4)
    np.testing.assert_allclose(occ.delta_angle.numpy(), d_angle, atol=2e-4)
    np.testing.assert_allclose(occ.delta_margin.numpy(), d_margin, rtol=1e-3, atol=2e-4)
    assert np.abs(d_angle).max() > 0.02  # occluding the digit does move the features
    assert occ.layer == "fc:input" and occ.label == label


def test_patch_that_covers_nothing_changes_nothing(probe):
    model = zoo.load("lenet-s0")
    image, label = probe.images[5], int(probe.labels[5])
    occ = occlusion(model, image, label, patch=4, stride=2, fill=0.0)
    # MNIST borders are exactly 0, so a black patch there leaves the image unchanged
    blank = np.array([[bool((image[:, t : t + 4, c : c + 4] == 0).all()) for c in occ.lefts]
                      for t in occ.tops])
    assert blank.sum() >= 20 and (~blank).sum() >= 20
    np.testing.assert_allclose(occ.delta_angle.numpy()[blank], 0.0, atol=1e-6)
    np.testing.assert_allclose(occ.delta_margin.numpy()[blank], 0.0, atol=1e-5)
    assert (occ.pred.numpy()[blank] == occ.base_pred).all()
    # and a fill equal to a constant image changes nothing anywhere
    flat = torch.full((1, 28, 28), 0.25)
    same = occlusion(model, flat, 3, patch=6, stride=3, fill=0.25)
    np.testing.assert_allclose(same.delta_angle.numpy(), 0.0, atol=1e-6)


def test_chunked_batches_give_the_same_maps(probe):
    model = zoo.load("mlp-s0")
    image, label = probe.images[100], int(probe.labels[100])
    one = occlusion(model, image, label, patch=5, stride=3)
    many = occlusion(model, image, label, patch=5, stride=3, batch_size=7)
    torch.testing.assert_close(one.delta_margin, many.delta_margin, atol=1e-5, rtol=1e-5)
    assert one.delta_angle.shape == (9, 9)  # 0, 3, ..., 21 and the flush 23


def test_pixel_map_is_the_mean_over_covering_patches():
    rng = np.random.default_rng(0)
    tops, lefts = patch_positions(10, 4, 3), patch_positions(9, 4, 2)
    values = torch.tensor(rng.normal(size=(len(tops), len(lefts))))
    values[1, 2] = torch.nan
    got = pixel_map(values, tops, lefts, 4, (10, 9)).numpy()
    for r in range(10):
        for c in range(9):
            cover = [float(values[i, j]) for i, t in enumerate(tops) for j, left in enumerate(lefts)
                     if t <= r < t + 4 and left <= c < left + 4 and torch.isfinite(values[i, j])]
            assert got[r, c] == pytest.approx(np.mean(cover), abs=1e-12)


def test_patch_positions_cover_every_pixel():
    for size, patch, stride in [(28, 4, 2), (28, 5, 3), (10, 10, 1), (9, 3, 3)]:
        starts = patch_positions(size, patch, stride).numpy()
        covered = np.zeros(size, bool)
        for s in starts:
            covered[s : s + patch] = True
        assert covered.all() and starts[-1] == size - patch and starts[0] == 0


def test_intermediate_layer_needs_directions(probe):
    model = zoo.load("lenet-s0")
    image, label = probe.images[0], int(probe.labels[0])
    with pytest.raises(ValueError, match="'weight' .* layer='relu3', which is not the head's "
                                         "input.*pass weight="):
        occlusion(model, image, label, layer="relu3")
    w = torch.randn(10, 120, generator=torch.Generator().manual_seed(0))
    occ = occlusion(model, image, label, layer="relu3", weight=w)
    assert occ.delta_angle.shape == (13, 13) and occ.layer == "relu3"


def test_occlusion_errors(probe):
    model = zoo.load("mlp-s0")
    image = probe.images[0]
    with pytest.raises(ValueError, match="'patch' .* must be at most the image side 28. Got 30"):
        occlusion(model, image, 0, patch=30)
    with pytest.raises(ValueError, match=r"'stride' .* must be an int in \[1, inf\). Got 0"):
        occlusion(model, image, 0, stride=0)
    with pytest.raises(ValueError, match=r"'label' .* must be a class in \[0, 10\). Got 12"):
        occlusion(model, image, 12)
    with pytest.raises(ValueError, match=r"'image' .* \[C, H, W\] or \[1, C, H, W\]\. Got a "
                                         r"torch.Tensor of shape \(28, 28\)"):
        occlusion(model, image[0], 0)
