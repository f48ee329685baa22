"""Digital: JPEG, pixelation, elastic transform and Canny edges."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from geowidget.engine.corruptions.functional._filters import _affine_sample, _gaussian, _sample
from geowidget.engine.corruptions.functional._random import _Stream

__all__ = ["jpeg_compression", "pixelate", "elastic_transform", "canny_edges"]


_LUMA = torch.tensor([
    [16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55],
    [14, 13, 16, 24, 40, 57, 69, 56], [14, 17, 22, 29, 51, 87, 80, 62],
    [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99],
], dtype=torch.float32)


_CHROMA = torch.tensor([
    [17, 18, 24, 47, 99, 99, 99, 99], [18, 21, 26, 66, 99, 99, 99, 99],
    [24, 26, 56, 99, 99, 99, 99, 99], [47, 66, 99, 99, 99, 99, 99, 99],
] + [[99] * 8] * 4, dtype=torch.float32)


def _quant_table(base: torch.Tensor, quality: int) -> torch.Tensor:
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return torch.floor((base * scale + 50) / 100).clamp(1, 255)


def _dct_matrix(device: Any) -> torch.Tensor:
    k = torch.arange(8, dtype=torch.float32, device=device)
    mat = torch.cos((2 * k[None, :] + 1) * k[:, None] * math.pi / 16) * math.sqrt(2 / 8)
    mat[0] /= math.sqrt(2)
    return mat


def _jpeg_plane(p: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Quantise one plane ``[N, H, W]`` (values 0-255) through 8x8 DCT blocks."""
    n, h, w = p.shape
    hp, wp = -(-h // 8) * 8, -(-w // 8) * 8
    p = F.pad(p[:, None], (0, wp - w, 0, hp - h), mode="replicate")[:, 0] - 128
    blocks = p.reshape(n, hp // 8, 8, wp // 8, 8).permute(0, 1, 3, 2, 4)
    d = _dct_matrix(p.device)
    coef = d @ blocks @ d.T
    table = table.to(p.device)
    coef = torch.round(coef / table) * table
    back = (d.T @ coef @ d).permute(0, 1, 3, 2, 4).reshape(n, hp, wp) + 128
    return back[:, :h, :w]


def jpeg_compression(x: torch.Tensor, c: int, s: _Stream) -> torch.Tensor:
    """Baseline JPEG at quality ``c`` (libjpeg's scaled Annex K tables).

    Pixels are rounded to 8 bits; colour images go through JFIF YCbCr with 4:2:0 chroma
    subsampling (2x2 means, nearest-neighbour upsampling); each plane is coded in 8x8 DCT blocks.
    ImageNet-C: quality 25, 18, 15, 10, 7. CIFAR-10-C: 80, 65, 58, 50, 40.
    """
    px = torch.round(x.clamp(0, 1) * 255)
    n, ch, h, w = px.shape
    luma, chroma = _quant_table(_LUMA, c), _quant_table(_CHROMA, c)
    if ch == 1:
        out = _jpeg_plane(px[:, 0], luma)[:, None]
    elif ch == 3:
        r, g, b = px[:, 0], px[:, 1], px[:, 2]
        y = 0.299 * r + 0.587 * g + 0.114 * b
        cb = -0.168736 * r - 0.331264 * g + 0.5 * b + 128
        cr = 0.5 * r - 0.418688 * g - 0.081312 * b + 128
        y = _jpeg_plane(y, luma)
        planes = []
        for plane in (cb, cr):
            small = F.avg_pool2d(
                F.pad(plane[:, None], (0, w % 2, 0, h % 2), mode="replicate"), 2
            )[:, 0]
            coded = _jpeg_plane(small, chroma)
            planes.append(coded.repeat_interleave(2, 1).repeat_interleave(2, 2)[:, :h, :w])
        cb, cr = (p - 128 for p in planes)
        out = torch.stack(
            [y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], dim=1
        )
    else:
        raise ValueError(f"jpeg_compression needs 1 or 3 channels, got {ch}")
    return torch.round(out).clamp(0, 255) / 255


def _box_matrix(n_in: int, n_out: int, device: Any) -> torch.Tensor:
    """PIL's BOX resampling as an ``[n_out, n_in]`` matrix (``Image.resize(..., BOX)``)."""
    scale = n_in / n_out
    filterscale = max(scale, 1.0)
    support = 0.5 * filterscale
    mat = torch.zeros(n_out, n_in, dtype=torch.float64)
    for i in range(n_out):
        centre = (i + 0.5) * scale
        lo = max(int(centre - support + 0.5), 0)
        hi = min(int(centre + support + 0.5), n_in)
        for j in range(lo, hi):
            t = (j - centre + 0.5) / filterscale
            mat[i, j] = 1.0 if -0.5 <= t < 0.5 else 0.0
        total = mat[i].sum()
        if total > 0:
            mat[i] /= total
    return mat.float().to(device)


def pixelate(x: torch.Tensor, c: float, s: _Stream) -> torch.Tensor:
    """Box-downsample to ``int(size * c)`` pixels a side, then box-upsample back (PIL BOX).

    ImageNet-C: c = .6, .5, .4, .3, .25. CIFAR-10-C: c = .95, .9, .85, .75, .65.
    """
    h, w = x.shape[-2:]
    sh, sw = max(int(h * c), 1), max(int(w * c), 1)
    down = _box_matrix(h, sh, x.device) @ x @ _box_matrix(w, sw, x.device).T
    return _box_matrix(sh, h, x.device) @ down @ _box_matrix(sw, w, x.device).T


def elastic_transform(x: torch.Tensor, c: tuple[float, float, float], s: _Stream) -> torch.Tensor:
    """Random affine jitter (when ``jitter > 0``), then an elastic displacement field.

    c = (alpha, sigma, jitter) as fractions of the image size: three points at the centre
    +- size // 3 move by uniform(-jitter, jitter) pixels and define the affine map (reflect-101
    border); then each pixel moves by ``alpha * gaussian(uniform(-1, 1), sigma)`` in x and y
    (reflect border, truncate 3), bilinear.

    ImageNet preset: the ``imagecorruptions`` package's (Michaelis et al. 2019) field, which
    scales with the image and has no affine part: ``250 a * gaussian(uniform(-.005 size,
    .005 size), .01 size)`` for a = .05, .065, .085, .1, .12, i.e. alpha = 1.25 a, sigma = .01,
    jitter = 0. (``make_imagenet_c.py`` instead uses (2, .7, .1), (2, .08, .2), (.05, .01, .02),
    (.07, .01, .02), (.12, .01, .02) of 244 pixels; its affine jitter of up to 24 and 49 pixels
    at severities 1-2 changes an image 3 times as much as the package does.)
    CIFAR-10-C (of 32): (0, 0, .08), (.05, .2, .07), (.08, .06, .06), (.1, .04, .05),
    (.1, .03, .03).
    """
    n, _, h, w = x.shape
    size = float(min(h, w))
    alpha, sigma, jitter = c[0] * size, c[1] * size, c[2] * size
    if jitter > 0:
        x = _jitter_affine(x, jitter, s)
    if alpha == 0:
        return x
    dx = _gaussian(s.uniform((h, w), 1) * 2 - 1, sigma, "reflect", truncate=3.0) * alpha
    dy = _gaussian(s.uniform((h, w), 2) * 2 - 1, sigma, "reflect", truncate=3.0) * alpha
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=x.dtype, device=x.device),
        torch.arange(w, dtype=x.dtype, device=x.device),
        indexing="ij",
    )
    return _sample(x, xs + dx, ys + dy, "reflection")


def _jitter_affine(x: torch.Tensor, jitter: float, s: _Stream) -> torch.Tensor:
    """The affine map moving three points around the centre by uniform(-jitter, jitter) px."""
    n, _, h, w = x.shape
    cx, cy = float(w // 2), float(h // 2)
    sq = min(h, w) // 3
    pts1 = torch.tensor(
        [[cx + sq, cy + sq], [cx + sq, cy - sq], [cx - sq, cy - sq]],
        dtype=torch.float64, device=x.device,
    )
    pts2 = pts1[None] + (s.uniform((3, 2), 0).double() * 2 - 1) * jitter  # [N, 3, 2]
    src = torch.cat([pts1, torch.ones(3, 1, dtype=torch.float64, device=x.device)], dim=1)
    fwd = torch.linalg.solve(src[None].expand(n, 3, 3), pts2).transpose(1, 2)  # [N, 2, 3]
    lin_inv = torch.linalg.inv(fwd[:, :, :2])
    inv = torch.cat([lin_inv, -(lin_inv @ fwd[:, :, 2:])], dim=2)
    return _affine_sample(x, inv.float(), "reflection")


def canny_edges(x: torch.Tensor, c: float, s: _Stream) -> torch.Tensor:
    """Blend towards the Canny edge map: ``(1 - c) * x + c * edges``, per channel.

    Edges as ``skimage.feature.canny`` defaults (Gaussian sigma 1, unnormalised Sobel
    gradients, thresholds 0.1 and 0.2, hysteresis with 8-connectivity), with gradient
    directions quantised to four for non-maximum suppression. MNIST-C replaces the digit by
    its edges (c = 1, severity 5 here); c = .2, .4, .6, .8, 1.
    """
    n, ch, h, w = x.shape
    img = x.reshape(n * ch, 1, h, w)
    sm = _gaussian(img, 1.0, "nearest")
    sm_p = F.pad(sm, (1, 1, 1, 1), mode="replicate")
    kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]], device=x.device)
    gx = F.conv2d(sm_p, kx[None, None])
    gy = F.conv2d(sm_p, kx.T.contiguous()[None, None])
    mag = torch.hypot(gx, gy)
    ang = torch.rad2deg(torch.atan2(gy, gx)).remainder(180.0)
    sector = torch.round(ang / 45.0).long() % 4  # 0: horizontal gradient, 1: 45, 2: 90, 3: 135
    mp = F.pad(mag, (1, 1, 1, 1))
    neighbours = {
        0: (mp[..., 1:-1, 2:], mp[..., 1:-1, :-2]),
        1: (mp[..., 2:, 2:], mp[..., :-2, :-2]),
        2: (mp[..., 2:, 1:-1], mp[..., :-2, 1:-1]),
        3: (mp[..., 2:, :-2], mp[..., :-2, 2:]),
    }
    peak = torch.zeros_like(mag, dtype=torch.bool)
    for k, (na, nb) in neighbours.items():
        peak |= (sector == k) & (mag >= na) & (mag >= nb)
    border = torch.zeros(h, w, dtype=torch.bool, device=x.device)
    border[1:-1, 1:-1] = True
    peak &= border
    low, high = peak & (mag >= 0.1), peak & (mag >= 0.2)
    edges = high
    for _ in range(h * w):
        grown = (F.max_pool2d(edges.float(), 3, stride=1, padding=1) > 0) & low
        if torch.equal(grown, edges):
            break
        edges = grown
    edges = edges.float().reshape(n, ch, h, w)
    return (1 - c) * x + c * edges
