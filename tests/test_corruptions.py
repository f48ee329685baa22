"""Corruptions, checked against numpy/scipy/PIL/colorsys versions and closed forms."""

from __future__ import annotations

import colorsys
import io

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage, stats

from geowidget.datasets import load_mnist
from geowidget.engine.corruptions import (
    CORRUPTIONS,
    IMAGENET_C,
    MNIST_C,
    corrupt,
    resolve_corruptions,
)
from geowidget.engine.corruptions.functional._blur import _displace, _glass_offsets
from geowidget.engine.corruptions.functional._random import _mix32, _Stream


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    return load_mnist().images[:6]


def test_hash_matches_uint32_reference() -> None:
    gen = np.random.default_rng(0)
    values = gen.integers(0, 2**32, size=200, dtype=np.uint64)

    def ref(x: int) -> int:
        x ^= x >> 16
        x = (x * 0x7FEB352D) & 0xFFFFFFFF
        x ^= x >> 15
        x = (x * 0x846CA68B) & 0xFFFFFFFF
        return x ^ (x >> 16)

    as_i32 = torch.tensor(values.astype(np.int64)).where(
        torch.tensor(values < 2**31), torch.tensor(values.astype(np.int64) - 2**32)
    ).to(torch.int32)
    got = _mix32(as_i32).to(torch.int64) & 0xFFFFFFFF
    assert got.tolist() == [ref(int(v)) for v in values]


def test_uniform_and_normal_moments() -> None:
    s = _Stream(0, "t", torch.arange(50))
    u = s.uniform((2000,), 0).double()
    z = s.normal((2000,), 2).double()
    assert abs(float(u.mean()) - 0.5) < 0.003 and abs(float(u.var()) - 1 / 12) < 0.001
    assert abs(float(z.mean())) < 0.01 and abs(float(z.std()) - 1) < 0.01
    assert stats.kstest(z.flatten()[:20000].numpy(), "norm").pvalue > 0.001


@pytest.mark.parametrize("lam", [0.7, 3.0, 9.5, 10.0, 40.0, 300.0])
def test_poisson_matches_scipy_distribution(lam: float) -> None:
    s = _Stream(1, "p", torch.arange(40))
    k = s.poisson(torch.full((40, 1000), lam), 0).flatten().numpy()
    assert abs(k.mean() - lam) < 4 * np.sqrt(lam / k.size)
    assert abs(k.var() / lam - 1) < 0.05
    # chi-square against the exact pmf on bins with enough mass
    lo, hi = int(stats.poisson.ppf(0.01, lam)), int(stats.poisson.ppf(0.99, lam))
    edges = np.arange(lo, hi + 2)
    observed = np.histogram(k, bins=edges - 0.5)[0]
    expected = stats.poisson.pmf(edges[:-1], lam) * k.size
    keep = expected > 20
    chi2 = ((observed[keep] - expected[keep]) ** 2 / expected[keep]).sum()
    assert stats.chi2.sf(chi2, keep.sum() - 1) > 1e-4


@pytest.mark.parametrize("name", sorted(n for n, c in CORRUPTIONS.items() if not c.colour_only))
def test_every_corruption_is_per_image_and_in_range(name: str, digits: torch.Tensor) -> None:
    full = corrupt(digits, name, 4, seed=5)
    part = corrupt(digits[3:5], name, 4, seed=5, index=[3, 4])
    assert full.shape == digits.shape and full.dtype == torch.float32
    assert float(full.min()) >= 0 and float(full.max()) <= 1
    torch.testing.assert_close(full[3:5], part, rtol=0, atol=1e-5)
    assert float((full - digits).abs().mean()) > 1e-4
    again = corrupt(digits, name, 4, seed=5)
    assert torch.equal(full, again)


def test_randomness_depends_on_seed_and_image(digits: torch.Tensor) -> None:
    same = digits[:1].expand(4, 1, 28, 28)
    a = corrupt(same, "gaussian_noise", 3, seed=0)
    b = corrupt(same, "gaussian_noise", 3, seed=1)
    assert not torch.equal(a[0], a[1])  # different images, different noise
    assert not torch.equal(a, b)


def test_gaussian_noise_std() -> None:
    x = torch.full((20, 1, 32, 32), 0.5)
    y = corrupt(x, "gaussian_noise", 2, preset="imagenet")  # c = .12, clipping negligible
    assert abs(float((y - x).std()) - 0.12) < 0.12 * 0.02
    assert abs(float((y - x).mean())) < 0.003


def test_shot_noise_is_poisson_over_c() -> None:
    x = torch.full((10, 1, 40, 40), 0.4)
    y = corrupt(x, "shot_noise", 3, preset="imagenet")  # c = 12 photons
    counts = (y * 12).round()
    assert torch.allclose(y * 12, counts, atol=1e-4)
    assert abs(float(counts.mean()) - 4.8) < 0.15 and abs(float(counts.var()) - 4.8) < 0.4


def test_impulse_noise_fraction() -> None:
    x = torch.full((10, 3, 40, 40), 0.5)
    y = corrupt(x, "impulse_noise", 5, preset="imagenet")  # amount .27
    hit = y != 0.5
    assert abs(float(hit.float().mean()) - 0.27) < 0.01
    assert abs(float((y[hit] == 1).float().mean()) - 0.5) < 0.02


def test_gaussian_blur_matches_scipy(digits: torch.Tensor) -> None:
    y = corrupt(digits, "gaussian_blur", 5, preset="cifar")  # sigma 1
    ref = np.stack([ndimage.gaussian_filter(im[0], 1.0, mode="nearest", truncate=4.0)
                    for im in digits.numpy()])
    np.testing.assert_allclose(y[:, 0].numpy(), ref, atol=1e-5)


def test_defocus_matches_scipy_convolution(digits: torch.Tensor) -> None:
    radius, alias = 1.5, 0.1  # CIFAR-10-C severity 5
    yy, xx = np.mgrid[-8:9, -8:9]
    disk = ((xx**2 + yy**2) <= radius**2).astype(np.float64)
    disk /= disk.sum()
    g = np.exp(-0.5 * np.arange(-1, 2) ** 2 / alias**2)
    g /= g.sum()
    disk = ndimage.convolve1d(ndimage.convolve1d(disk, g, axis=0, mode="mirror"), g, axis=1,
                              mode="mirror")
    ref = np.stack([ndimage.convolve(im[0].astype(np.float64), disk, mode="mirror")
                    for im in digits.numpy()])
    y = corrupt(digits, "defocus_blur", 5)
    np.testing.assert_allclose(y[:, 0].numpy(), np.clip(ref, 0, 1), atol=1e-5)


def test_contrast_brightness_closed_form(digits: torch.Tensor) -> None:
    mean = digits.mean(dim=(2, 3), keepdim=True)
    torch.testing.assert_close(corrupt(digits, "contrast", 2), (digits - mean) * 0.5 + mean)
    torch.testing.assert_close(
        corrupt(digits, "brightness", 5, preset="imagenet"), (digits + 0.5).clamp(0, 1)
    )


def test_brightness_and_saturate_match_colorsys() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 5, 5, generator=gen)
    x[0, :, 0, 0] = 0.3  # a grey pixel: hue 0 (red) when saturated
    x[0, :, 0, 1] = 0.0  # black
    for name, sev, fn in [
        ("saturate", 5, lambda h, s, v: (h, min(max(s * 20 + 0.2, 0), 1), v)),
        ("saturate", 1, lambda h, s, v: (h, s * 0.3, v)),
        ("brightness", 3, lambda h, s, v: (h, s, min(v + 0.3, 1))),
    ]:
        y = corrupt(x, name, sev, preset="imagenet")
        for n in range(2):
            for i in range(5):
                for j in range(5):
                    hsv = fn(*colorsys.rgb_to_hsv(*x[n, :, i, j].tolist()))
                    ref = colorsys.hsv_to_rgb(*hsv)
                    np.testing.assert_allclose(y[n, :, i, j].numpy(), ref, atol=1e-5)


def test_pixelate_matches_pil_box(digits: torch.Tensor) -> None:
    y = corrupt(digits, "pixelate", 5)  # c = .65 -> 18 pixels
    for im, out in zip(digits.numpy(), y.numpy(), strict=True):
        pil = Image.fromarray(im[0], mode="F").resize((18, 18), Image.BOX).resize((28, 28),
                                                                                 Image.BOX)
        np.testing.assert_allclose(out[0], np.asarray(pil), atol=1e-5)


def test_jpeg_close_to_pil(digits: torch.Tensor) -> None:
    y = corrupt(digits, "jpeg_compression", 5, preset="imagenet")  # quality 7
    errs = []
    for im, out in zip(digits.numpy(), y.numpy(), strict=True):
        buf = io.BytesIO()
        Image.fromarray(np.round(im[0] * 255).astype(np.uint8)).save(buf, "JPEG", quality=7)
        ref = np.asarray(Image.open(buf), dtype=np.float32) / 255
        errs.append(np.abs(out[0] - ref).mean())
        assert np.abs(out[0] - im[0]).mean() > 0.02  # it really compresses
    assert max(errs) < 0.01  # libjpeg's integer DCT and rounding differ slightly


def test_rotate_matches_scipy(digits: torch.Tensor) -> None:
    y = corrupt(digits, "rotate", 5).numpy()  # 1 radian, random direction per image
    c = 13.5
    for im, out in zip(digits.numpy(), y, strict=True):
        best = np.inf
        for a in (1.0, -1.0):
            # output (row, col) reads input at R(a) about the centre, in (col, row) order
            rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])  # (row, col)
            ref = ndimage.affine_transform(im[0].astype(np.float64), rot,
                                           offset=np.array([c, c]) - rot @ np.array([c, c]),
                                           order=1, cval=0.0)
            best = min(best, np.abs(out[0] - ref).max())
        assert best < 1e-5


def test_translate_and_stripe(digits: torch.Tensor) -> None:
    y = corrupt(digits, "translate", 5)
    shifts = [ndimage.shift(digits[i, 0].numpy(), (-dy, -dx), order=0, cval=0)
              for i in range(6) for dy in (-5, 5) for dx in (-5, 5)]
    for i in range(6):
        assert min(np.abs(y[i, 0].numpy() - shifts[4 * i + k]).max() for k in range(4)) < 1e-6
    s = corrupt(digits, "stripe", 3)
    torch.testing.assert_close(s[..., :7], 1 - digits[..., :7])
    torch.testing.assert_close(s[..., 7:21], digits[..., 7:21])


def test_suites_and_listing() -> None:
    assert {"rotate", "shear", "scale", "translate", "stripe", "dotted_line", "zigzag",
            "canny_edges", "spatter"} <= set(MNIST_C)
    assert "saturate" in IMAGENET_C and "saturate" not in resolve_corruptions("imagenet-c", 1)
    assert resolve_corruptions(["fog", "zigzag"], 1) == ["fog", "zigzag"]


def test_bad_input_messages(digits: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="'name' parameter of corrupt must be one of "
                                         r"\[.*'gaussian_noise'.*Got 'frost' instead"):
        corrupt(digits, "frost", 1)
    with pytest.raises(ValueError, match=r"'severity' .* must be an int in \[1, 5\]\. Got 6"):
        corrupt(digits, "fog", 6)
    with pytest.raises(TypeError, match=r"'severity' .* must be an int in \[1, 5\]\. Got 3.0"):
        corrupt(digits, "fog", 3.0)
    assert torch.equal(corrupt(digits, "fog", np.int64(3)), corrupt(digits, "fog", 3))
    with pytest.raises(ValueError, match="colour images .* for 'saturate'"):
        corrupt(digits, "saturate", 1)
    with pytest.raises(ValueError, match="'corruptions' parameter of Study .*'saturate' needs "
                                         "colour images"):
        resolve_corruptions(["saturate"], 1)
    with pytest.raises(ValueError, match=r"C = 1 or 3"):
        corrupt(torch.zeros(2, 2, 8, 8), "fog", 1)
    with pytest.raises(ValueError, match=r"'index' .* of shape \(6,\)"):
        corrupt(digits, "fog", 1, index=[1, 2])
    # other ranges than [0, 1] would give garbage: 8-bit images, [0, 255] floats, NaN pixels
    hint = r"8-bit images become floats in \[0, 1\] with images.float\(\) / 255"
    with pytest.raises(TypeError, match=r"'images' .* floating-point torch.Tensor .* with values "
                                        r"in \[0, 1\]\..*dtype torch.uint8 is not floating-point; "
                                        + hint):
        corrupt((digits * 255).to(torch.uint8), "fog", 1)
    with pytest.raises(ValueError, match=r"its values span \[0, 255\]; " + hint):
        corrupt(digits * 255, "fog", 1)
    nan = digits.clone()
    nan[0, 0, 3, :3] = float("nan")
    with pytest.raises(ValueError, match="'images' .* holds 3 NaN or infinite values"):
        corrupt(nan, "fog", 1)


@pytest.mark.slow
def test_accuracy_falls_as_severity_rises() -> None:
    from geowidget.zoo.models import mlp
    from geowidget.zoo.training import accuracy, train_classifier

    train, test = load_mnist().split(0.2, seed=0)
    model = train_classifier(mlp(32, seed=0), train.images, train.labels, epochs=3, lr=3e-3)
    x, y = test.images[::2], test.labels[::2]
    clean = accuracy(model, x, y)
    assert clean > 0.85
    for name, preset in [("gaussian_noise", "imagenet"), ("rotate", "auto"),
                         ("contrast", "imagenet"), ("translate", "auto")]:
        accs = [accuracy(model, corrupt(x, name, s, preset=preset), y) for s in range(1, 6)]
        assert accs[0] <= clean + 0.01, (name, clean, accs)
        assert all(b <= a + 0.015 for a, b in zip(accs, accs[1:], strict=False)), (name, accs)
        assert accs[-1] < accs[0] - 0.1, (name, accs)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_gpu_matches_cpu(name: str) -> None:
    x = load_mnist().images[:8].expand(8, 3, 28, 28).contiguous()
    cpu = corrupt(x, name, 3, seed=1)
    gpu = corrupt(x.cuda(), name, 3, seed=1)
    assert gpu.device.type == "cuda"
    # the counter-based generator gives the same random numbers on both devices
    assert float((gpu.cpu() - cpu).abs().mean()) < 1e-3


def _scipy_affine(img: np.ndarray, mat_xy: np.ndarray) -> np.ndarray:
    """Output pixel (col, row) reads input at ``mat_xy @ (col, row)`` about the centre."""
    c = (np.array(img.shape, dtype=float) - 1) / 2  # (row, col) centre
    mat_rc = mat_xy[::-1, ::-1]  # the same map in (row, col) order
    return ndimage.affine_transform(img.astype(np.float64), mat_rc, offset=c - mat_rc @ c,
                                    order=1, cval=0.0)


def test_shear_and_scale_match_scipy(digits: torch.Tensor) -> None:
    sheared = corrupt(digits, "shear", 4).numpy()  # 0.8 rad, random sign
    scaled = corrupt(digits, "scale", 5).numpy()  # 1 / 0.5
    for im, sh, sc in zip(digits.numpy(), sheared, scaled, strict=True):
        refs = [_scipy_affine(im[0], np.array([[1, -np.sin(a)], [0, np.cos(a)]]))
                for a in (0.8, -0.8)]
        assert min(np.abs(sh[0] - r).max() for r in refs) < 1e-5
        np.testing.assert_allclose(sc[0], _scipy_affine(im[0], np.eye(2) * 2.0), atol=1e-5)


def test_zoom_blur_matches_scipy_zoom(digits: torch.Tensor) -> None:
    y = corrupt(digits, "zoom_blur", 2)  # CIFAR-10-C: arange(1, 1.11, .01)
    for im, out in zip(digits.numpy()[:, 0].astype(np.float64), y.numpy(), strict=True):
        acc = im.copy()
        factors = np.arange(1, 1.11, 0.01)
        for z in factors:  # ImageNet-C's clipped_zoom
            ch = int(np.ceil(28 / z))
            top = (28 - ch) // 2
            big = ndimage.zoom(im[top : top + ch, top : top + ch], (z, z), order=1)
            trim = (big.shape[0] - 28) // 2
            acc += big[trim : trim + 28, trim : trim + 28]
        np.testing.assert_allclose(out[0], np.clip(acc / (len(factors) + 1), 0, 1), atol=1e-5)


def test_motion_blur_matches_loop(digits: torch.Tensor) -> None:
    y = corrupt(digits[:2], "motion_blur", 5)  # CIFAR-10-C (9, 2.5)
    angles = _Stream(0, "motion_blur", torch.arange(2)).per_image(0)[:, 0].double() * 90 - 45
    taps = 2 * 9 + 1
    w = np.exp(-np.arange(taps) ** 2 / (2 * 2.5**2))
    w /= w.sum()
    for n in range(2):
        a = np.deg2rad(float(angles[n]))  # ImageMagick: 0 degrees is along the rows
        img = digits[n, 0].double().numpy()
        ref = np.zeros_like(img)
        for r in range(28):
            for c in range(28):
                for i in range(taps):
                    rr = min(max(r + int(np.ceil(i * np.sin(a) - 0.5)), 0), 27)
                    cc = min(max(c + int(np.ceil(i * np.cos(a) - 0.5)), 0), 27)
                    ref[r, c] += w[i] * img[rr, cc]
        np.testing.assert_allclose(y[n, 0].numpy(), ref, atol=1e-5)


def test_dotted_line_leaves_gaps_and_canny_finds_square_edges(digits: torch.Tensor) -> None:
    y = corrupt(digits, "dotted_line", 5)
    gaps = (torch.arange(28) // 2) % 2 == 0
    torch.testing.assert_close(y[..., gaps], digits[..., gaps])
    assert float((y[..., ~gaps] - digits[..., ~gaps]).abs().sum()) > 1.0
    square = torch.zeros(1, 1, 28, 28)
    square[..., 8:20, 8:20] = 1.0
    edges = corrupt(square, "canny_edges", 5)[0, 0]
    assert set(edges.unique().tolist()) == {0.0, 1.0}
    ring = torch.zeros(28, 28, dtype=torch.bool)
    ring[6:22, 6:22] = True
    ring[10:18, 10:18] = False
    assert not bool(edges[~ring].any())  # nothing far from the border
    assert int(edges[ring].sum()) >= 4 * 10  # and the four sides are found


def _motion_numpy(img: np.ndarray, radius: int, sigma: float, angle_deg: float) -> np.ndarray:
    """ImageMagick's motion blur of one ``[H, W]`` plane, tap by tap in numpy."""
    taps = 2 * radius + 1
    w = np.exp(-np.arange(taps) ** 2 / (2 * sigma**2))
    w /= w.sum()
    a = np.deg2rad(angle_deg)
    rows, cols = np.mgrid[: img.shape[0], : img.shape[1]]
    out = np.zeros_like(img)
    for i in range(taps):
        rr = np.clip(rows + int(np.ceil(i * np.sin(a) - 0.5)), 0, img.shape[0] - 1)
        cc = np.clip(cols + int(np.ceil(i * np.cos(a) - 0.5)), 0, img.shape[1] - 1)
        out += w[i] * img[rr, cc]
    return out


def test_glass_blur_shuffles_within_max_delta_between_two_blurs(digits: torch.Tensor) -> None:
    x = digits[:2] * torch.tensor([1.0, 0.6, 0.3]).view(1, 3, 1, 1)  # colour: pixels move whole
    s = _Stream(0, "glass_blur", torch.arange(2))
    # the swap step: each pixel reads the one at its offset, offsets uniform in [-2, 2]
    off = _glass_offsets(s, 2, (28, 28), 0)
    assert set(off.unique().tolist()) == {-2.0, -1.0, 0.0, 1.0, 2.0}
    cells = ((off[:, 0] + 2) * 5 + off[:, 1] + 2).long().flatten().numpy()
    assert stats.chisquare(np.bincount(cells, minlength=25)).pvalue > 1e-4  # jointly uniform
    moved = _displace(x, off).numpy()
    xn, o = x.numpy(), off.long().numpy()
    for n in range(2):
        for r in range(28):
            for c in range(28):
                rr, cc = min(max(r + o[n, 0, r, c], 0), 27), min(max(c + o[n, 1, r, c], 0), 27)
                np.testing.assert_allclose(moved[n, :, r, c], xn[n, :, rr, cc], atol=1e-5)
    # the whole corruption: blur, two gathers per round, blur (CIFAR-10-C severity 5)
    sigma, max_delta, rounds = 0.4, 1, 2
    y = corrupt(x, "glass_blur", 5, preset="cifar").numpy()
    rows, cols = np.mgrid[:28, :28]
    for n in range(2):
        img = np.stack([ndimage.gaussian_filter(p, sigma, mode="nearest") for p in xn[n]])
        for hop in range(2 * rounds):
            o = _glass_offsets(s, max_delta, (28, 28), hop).long().numpy()[n]
            img = img[:, np.clip(rows + o[0], 0, 27), np.clip(cols + o[1], 0, 27)]
        ref = np.stack([ndimage.gaussian_filter(p, sigma, mode="nearest") for p in img])
        np.testing.assert_allclose(y[n], np.clip(ref, 0, 1), atol=1e-5)



@pytest.mark.parametrize("max_delta", [1, 3])
def test_glass_blur_round_spreads_pixels_like_sequential_swaps(max_delta: int) -> None:
    """ImageNet-C's Python loop (swaps in reverse raster order, offsets randint(-d, d)) and
    our round of two gathers move pixels by the same spread, within 15 %."""
    size, rounds = 96, 2
    gen = np.random.default_rng(0)
    src = np.arange(size * size).reshape(size, size)
    for _ in range(rounds):
        for h in range(size - max_delta, max_delta, -1):
            for w in range(size - max_delta, max_delta, -1):
                dx, dy = gen.integers(-max_delta, max_delta, size=2)
                src[h, w], src[h + dy, w + dx] = src[h + dy, w + dx], src[h, w]
    rows, cols = np.mgrid[:size, :size]
    inner = (slice(16, -16), slice(16, -16))
    theirs = np.concatenate([(src // size - rows)[inner].ravel(), (src % size - cols)[inner].ravel()])
    coords = torch.from_numpy(np.stack([rows, cols])[None].astype(np.float32))
    s = _Stream(0, "glass_blur", torch.arange(1))
    moved = coords
    for hop in range(2 * rounds):
        moved = _displace(moved, _glass_offsets(s, max_delta, (size, size), hop))
    ours = (moved - coords).round()[0].numpy()[(slice(None), *inner)].ravel()
    assert abs(ours.mean()) < 0.1 and abs(theirs.mean()) < 0.1  # neither drifts
    assert abs(ours.std() / theirs.std() - 1) < 0.15, (ours.std(), theirs.std())

def test_snow_matches_numpy_layer_and_blend(digits: torch.Tensor) -> None:
    x = digits[:2] * torch.tensor([0.9, 0.5, 0.2]).view(1, 3, 1, 1)
    loc, scale, zoom, threshold, radius, sigma, blend = .15, .3, 1.75, .55, 10, 4, .9
    y = corrupt(x, "snow", 3, preset="cifar").numpy()  # the parameters above
    s = _Stream(0, "snow", torch.arange(2))
    noise = (loc + scale * s.normal((1, 28, 28), 0)).double().numpy()[:, 0]
    angles = s.per_image(2)[:, 0].double().numpy() * 90 - 135
    xn = x.double().numpy()
    for n in range(2):
        crop = noise[n, 6:22, 6:22]  # ceil(28 / 1.75) = 16 pixels about the centre
        layer = ndimage.zoom(crop, zoom, order=1)  # back to 28
        layer = np.clip(np.where(layer < threshold, 0, layer), 0, 1)
        layer = _motion_numpy(layer, radius, sigma, float(angles[n]))
        grey = 0.299 * xn[n, 0] + 0.587 * xn[n, 1] + 0.114 * xn[n, 2]
        whitened = blend * xn[n] + (1 - blend) * np.maximum(xn[n], grey * 1.5 + 0.5)
        ref = np.clip(whitened + layer + layer[::-1, ::-1], 0, 1)
        np.testing.assert_allclose(y[n], ref, atol=1e-5)
        # where the layer and its half-turn are empty, only the whitening remains
        empty = (layer + layer[::-1, ::-1]) == 0
        assert 0.05 < empty.mean() < 0.95
        np.testing.assert_allclose(y[n][:, empty], whitened[:, empty], atol=1e-6)
