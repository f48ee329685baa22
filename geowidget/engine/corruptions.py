"""Batched, seeded image corruptions after ImageNet-C, CIFAR-10-C and MNIST-C.

:func:`corrupt` applies one corruption at one severity (1-5) to a batch ``[N, C, H, W]`` of
float images in [0, 1], on the batch's device, and returns float32 images in [0, 1].

Randomness is per image: every random number is a hash of ``(seed, corruption, image index,
draw, element)`` (a counter-based generator, so it is the same on CPU and GPU). An image gets
the same corruption whatever batch it sits in, so results do not depend on batch size or
sharding. Pass ``index=`` with the images' positions in the full dataset when corrupting a
part of it.

Parameters come from the original benchmarks' code (Hendrycks & Dietterich, ICLR 2019:
``make_imagenet_c.py`` and ``make_cifar_c.py``; Mu & Gilmer 2019: MNIST-C ``corruptions.py``).
The ImageNet-C families have two tables: ``"imagenet"`` (tuned for 224-pixel images) and
``"cifar"`` (CIFAR-10-C, tuned for 32-pixel images). ``preset="auto"`` picks ``"cifar"`` for
images of at most 64 pixels a side and ``"imagenet"`` otherwise. The MNIST-C transforms have
one table, for 28-pixel digits; their pixel counts scale with the image size.

Known simplifications, documented per function: JPEG uses nearest-neighbour chroma upsampling;
motion blur builds ImageMagick's one-sided Gaussian line kernel directly; glass blur shuffles
pixels with independent random offsets (two gathers a round) instead of ImageNet-C's
sequential swaps, matching their spread and the mean change; snow keeps its layer in floats;
canny edges quantise gradient directions to four before non-maximum suppression. ImageNet-C's
frost is left out: it blends in crops of the benchmark's frost photographs, which are not
shipped here.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from geowidget._validation import (
    SEED,
    Array,
    Interval,
    ListOf,
    Options,
    check,
    invalid,
    validate_params,
)

SEVERITIES = (1, 2, 3, 4, 5)
_M32 = 0xFFFFFFFF


# ---------------------------------------------------------------------------- random numbers
def _mix32(x: torch.Tensor) -> torch.Tensor:
    """The lowbias32 integer hash on int32 tensors holding uint32 bit patterns.

    int32 arithmetic wraps, and the shifts are masked to act as logical shifts, so this
    equals the uint32 reference ``x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15;
    x *= 0x846ca68b; x ^= x >> 16`` bit for bit (checked in the tests).
    """
    return _mix32_(x.clone())


def _mix32_(x: torch.Tensor) -> torch.Tensor:
    """In-place :func:`_mix32`."""
    t = x >> 16
    x ^= t.bitwise_and_(0xFFFF)
    x *= 0x7FEB352D
    t = x >> 15
    x ^= t.bitwise_and_(0x1FFFF)
    x *= 0x846CA68B - (1 << 32)
    t = x >> 16
    x ^= t.bitwise_and_(0xFFFF)
    return x


def _as_u32(x: torch.Tensor | int, device: Any = None) -> torch.Tensor:
    """int32 tensor with the bit pattern of ``x mod 2**32``."""
    t = torch.as_tensor(x, dtype=torch.int64, device=device) & _M32
    return torch.where(t >= (1 << 31), t - (1 << 32), t).to(torch.int32)


class _Stream:
    """Counter-based uniforms keyed by (seed, corruption name, image index, draw, element)."""

    def __init__(self, seed: int, name: str, index: torch.Tensor) -> None:
        base = (int(seed) * 0x9E3779B1 + zlib.crc32(name.encode())) & _M32
        self.device = index.device
        self.image = _mix32(_mix32(_as_u32(index, self.device)) ^ _as_u32(base, self.device))

    def _elem_key(self, elem: torch.Tensor, draw: int) -> torch.Tensor:
        salt = _as_u32((draw * 0x85EBCA6B + 0x27D4EB2F) & _M32, self.device)
        return _mix32_(elem.to(torch.int32) * 0x3C6EF372 + salt)

    def uniform(self, shape: tuple[int, ...], draw: int) -> torch.Tensor:
        """Uniform [0, 1) float32 of shape ``[N, *shape]``."""
        elem = torch.arange(math.prod(shape), dtype=torch.int32, device=self.device)
        k = self._elem_key(elem, draw)
        return self._finish(self.image[:, None], k[None, :]).reshape(-1, *shape)

    def uniform_at(self, image_pos: torch.Tensor, elem: torch.Tensor, draw: int) -> torch.Tensor:
        """Uniforms for chosen (image position, element) pairs; equal to :meth:`uniform`'s."""
        return self._finish(self.image[image_pos], self._elem_key(elem, draw))

    @staticmethod
    def _finish(img: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        h = _mix32_(img + k)
        h >>= 8
        return h.bitwise_and_(0xFFFFFF).to(torch.float32).mul_(1.0 / (1 << 24))

    def normal(self, shape: tuple[int, ...], draw: int) -> torch.Tensor:
        """Standard normal of shape ``[N, *shape]`` (Box-Muller, both outputs of each pair)."""
        size = math.prod(shape)
        half = (size + 1) // 2
        u1 = 1.0 - self.uniform((half,), draw)
        u2 = self.uniform((half,), draw + 1).mul_(2.0 * math.pi)
        r = torch.log(u1).mul_(-2.0).sqrt_()
        z = torch.cat([r * torch.cos(u2), r.mul_(torch.sin(u2))], dim=1)[:, :size]
        return z.reshape(-1, *shape)

    def per_image(self, draw: int, k: int = 1) -> torch.Tensor:
        """``[N, k]`` uniforms, one row per image."""
        return self.uniform((k,), draw)

    def poisson(self, lam: torch.Tensor, draw: int) -> torch.Tensor:
        """Poisson draws with rates ``lam`` ``[N, ...]`` (numpy's algorithms: inversion by
        multiplication for rates below 10, Hormann's PTRS for larger rates). Only the
        elements still undecided are computed in each round."""
        n = lam.shape[0]
        flat = lam.reshape(n, -1).double()
        width = flat.shape[1]
        out = torch.zeros(flat.numel(), dtype=torch.float64, device=flat.device)
        lam_all = flat.reshape(-1)
        where_small = torch.nonzero((lam_all > 0) & (lam_all < 10)).flatten()  # Poisson(0) = 0
        where_big = torch.nonzero(lam_all >= 10).flatten()
        # inversion by multiplication: count uniforms until their product drops to exp(-lam)
        pos, enlam = where_small, torch.exp(-lam_all[where_small])
        prod = torch.ones_like(enlam)
        for t in range(400):
            if pos.numel() == 0:
                break
            prod = prod * self.uniform_at(pos // width, pos % width, draw + t).double()
            more = prod > enlam
            out[pos[more]] += 1
            pos, prod, enlam = pos[more], prod[more], enlam[more]
        # PTRS (transformed rejection with squeeze)
        pos = where_big
        for t in range(400):
            if pos.numel() == 0:
                break
            lam_b = lam_all[pos]
            slam, loglam = torch.sqrt(lam_b), torch.log(lam_b)
            b = 0.931 + 2.53 * slam
            a = -0.059 + 0.02483 * b
            invalpha = 1.1239 + 1.1328 / (b - 3.4)
            vr = 0.9277 - 3.6224 / (b - 2)
            img, elem = pos // width, pos % width
            u = self.uniform_at(img, elem, draw + 1000 + 2 * t).double() - 0.5
            v = self.uniform_at(img, elem, draw + 1001 + 2 * t).double()
            us = 0.5 - u.abs()
            k = torch.floor((2 * a / us + b) * u + lam_b + 0.43)
            fast = (us >= 0.07) & (v <= vr)
            reject = (k < 0) | ((us < 0.013) & (v > us))
            lhs = torch.log(v) + torch.log(invalpha) - torch.log(a / (us * us) + b)
            rhs = -lam_b + k * loglam - torch.lgamma(k + 1)
            accept = fast | (~reject & (lhs <= rhs))
            out[pos[accept]] = k[accept]
            pos = pos[~accept]
        return out.reshape(lam.shape).to(lam.dtype)


# ---------------------------------------------------------------------------- filters
def _reflect_index(idx: torch.Tensor, n: int, mode: str) -> torch.Tensor:
    if mode == "nearest":  # a a a | a b c d | d d d
        return idx.clamp(0, n - 1)
    if mode == "reflect":  # b a | a b c d | d c  (scipy "reflect", skimage default)
        period = 2 * n
        m = idx.remainder(period)
        return torch.where(m >= n, period - 1 - m, m)
    if mode == "reflect101":  # c b | a b c d | c b  (OpenCV BORDER_REFLECT_101)
        if n == 1:
            return torch.zeros_like(idx)
        period = 2 * n - 2
        m = idx.remainder(period)
        return torch.where(m >= n, period - m, m)
    raise AssertionError(mode)


def _filter_matrix(n: int, kernel: torch.Tensor, mode: str) -> torch.Tensor:
    """``[n, n]`` matrix applying a centred 1-D kernel with the given border mode."""
    r = (len(kernel) - 1) // 2
    rows = torch.arange(n, device=kernel.device)[:, None].expand(n, len(kernel))
    taps = torch.arange(-r, r + 1, device=kernel.device)[None, :]
    cols = _reflect_index(rows + taps, n, mode)
    mat = torch.zeros(n, n, dtype=kernel.dtype, device=kernel.device)
    mat.scatter_add_(1, cols, kernel[None, :].expand(n, -1).contiguous())
    return mat


def _gauss1d(sigma: float, truncate: float, device: Any) -> torch.Tensor:
    radius = int(truncate * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float32, device=device)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _gaussian(x: torch.Tensor, sigma: float, mode: str = "nearest", truncate: float = 4.0):
    """Separable Gaussian blur of ``[..., H, W]`` (``skimage.filters.gaussian`` semantics)."""
    if sigma <= 0:
        return x
    k = _gauss1d(sigma, truncate, x.device)
    mh = _filter_matrix(x.shape[-2], k, mode)
    mw = _filter_matrix(x.shape[-1], k, mode)
    return mh @ x @ mw.T


def _affine_sample(x: torch.Tensor, theta: torch.Tensor, padding: str) -> torch.Tensor:
    """Bilinear sampling: output pixel (col, row) reads input at ``theta @ [col, row, 1]``.

    ``theta`` is ``[N, 2, 3]`` in pixel coordinates. Pixel centres sit at integers.
    """
    n, _, h, w = x.shape
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=x.dtype, device=x.device),
        torch.arange(w, dtype=x.dtype, device=x.device),
        indexing="ij",
    )
    ones = torch.ones_like(xs)
    grid = torch.stack([xs, ys, ones], dim=-1).reshape(1, h * w, 3)
    src = grid @ theta.to(x.dtype).transpose(1, 2)  # [N, HW, 2] (col, row)
    return _sample(x, src[..., 0].reshape(n, h, w), src[..., 1].reshape(n, h, w), padding)


def _sample(x: torch.Tensor, col: torch.Tensor, row: torch.Tensor, padding: str) -> torch.Tensor:
    h, w = x.shape[-2:]
    gx = 2 * col / max(w - 1, 1) - 1
    gy = 2 * row / max(h - 1, 1) - 1
    grid = torch.stack([gx, gy], dim=-1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=True)


def _centred(mat: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """``[N, 2, 3]`` affine map with linear part ``mat`` ``[N, 2, 2]`` fixing the image centre."""
    centre = torch.tensor([(w - 1) / 2, (h - 1) / 2], dtype=mat.dtype, device=mat.device)
    shift = centre - mat @ centre
    return torch.cat([mat, shift[..., None]], dim=-1)


def _signs(stream: _Stream, draw: int, k: int = 1) -> torch.Tensor:
    return torch.where(stream.per_image(draw, k) < 0.5, -1.0, 1.0)


# ---------------------------------------------------------------------------- noise
def gaussian_noise(x: torch.Tensor, c: float, s: _Stream) -> torch.Tensor:
    """Additive Gaussian noise of standard deviation ``c``.

    ImageNet-C: c = .08, .12, .18, .26, .38. CIFAR-10-C: c = .04, .06, .08, .09, .10.
    """
    return x + c * s.normal(tuple(x.shape[1:]), 0)


def shot_noise(x: torch.Tensor, c: float, s: _Stream) -> torch.Tensor:
    """Poisson noise: ``poisson(x * c) / c`` (c photons at full intensity).

    ImageNet-C: c = 60, 25, 12, 5, 3. CIFAR-10-C: c = 500, 250, 100, 75, 50.
    """
    return s.poisson(x.clamp(0, 1) * c, 0) / c


def impulse_noise(x: torch.Tensor, c: float, s: _Stream) -> torch.Tensor:
    """Salt-and-pepper noise on a fraction ``c`` of the values, half salt, half pepper
    (``skimage.util.random_noise(mode="s&p", amount=c)``).

    ImageNet-C: c = .03, .06, .09, .17, .27. CIFAR-10-C: c = .01, .02, .03, .05, .07.
    """
    shape = tuple(x.shape[1:])
    hit = s.uniform(shape, 0) < c
    salt = s.uniform(shape, 1) < 0.5
    return torch.where(hit, salt.to(x.dtype), x)


# ---------------------------------------------------------------------------- blur
def defocus_blur(x: torch.Tensor, c: tuple[float, float], s: _Stream) -> torch.Tensor:
    """Convolution with an anti-aliased disk: c = (radius, alias_blur).

    The disk ``X**2 + Y**2 <= radius**2`` on ``[-max(8, radius), max(8, radius)]**2`` is
    normalised and smoothed by a 3x3 (radius <= 8) or 5x5 Gaussian of sigma ``alias_blur``,
    then applied with OpenCV's reflect-101 border.
    ImageNet-C: (3, .1), (4, .5), (6, .5), (8, .5), (10, .5).
    CIFAR-10-C: (.3, .4), (.4, .5), (.5, .6), (1, .2), (1.5, .1).
    """
    radius, alias = c
    half = 8 if radius <= 8 else int(radius)
    span = torch.arange(-half, half + 1, dtype=torch.float32, device=x.device)
    yy, xx = torch.meshgrid(span, span, indexing="ij")
    disk = ((xx**2 + yy**2) <= radius**2).float()
    disk = disk / disk.sum()
    ks = 3 if radius <= 8 else 5
    g = torch.exp(-0.5 * (torch.arange(ks, device=x.device) - ks // 2) ** 2 / alias**2)
    g = (g / g.sum()).float()
    disk = _filter_matrix(len(span), g, "reflect101") @ disk @ _filter_matrix(len(span), g,
                                                                              "reflect101").T
    n, ch, h, w = x.shape
    pad_mode = "reflect" if half < min(h, w) else "replicate"
    xp = F.pad(x.reshape(n * ch, 1, h, w), (half, half, half, half), mode=pad_mode)
    return F.conv2d(xp, disk[None, None]).reshape(n, ch, h, w)


def gaussian_blur(x: torch.Tensor, c: float, s: _Stream) -> torch.Tensor:
    """Gaussian blur of standard deviation ``c`` pixels (skimage, truncate 4, nearest border).

    ImageNet-C: c = 1, 2, 3, 4, 6. CIFAR-10-C: c = .4, .6, .7, .8, 1.
    """
    return _gaussian(x, c, "nearest")


def motion_blur(x: torch.Tensor, c: tuple[float, float], s: _Stream) -> torch.Tensor:
    """One-sided motion blur: c = (radius, sigma), direction uniform in [-45, 45] degrees.

    As ImageMagick's ``MotionBlurImage``: ``2 * ceil(radius) + 1`` taps ``i`` with weights
    ``exp(-i**2 / (2 sigma**2))``, tap ``i`` reading the pixel ``i`` steps along the direction
    (rounded to the pixel grid), edge pixels repeated.
    ImageNet-C: (10, 3), (15, 5), (15, 8), (15, 12), (20, 15).
    CIFAR-10-C: (6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5).
    """
    return _motion(x, *c, s.per_image(0)[:, 0] * 90.0 - 45.0)  # 0 degrees: along the rows


def _motion(x: torch.Tensor, radius: float, sigma: float, angle: torch.Tensor) -> torch.Tensor:
    """ImageMagick's motion blur of ``[N, C, H, W]`` at per-image ``angle`` ``[N]`` (degrees):
    tap ``i`` reads the pixel ``(ceil(i sin a - .5), ceil(i cos a - .5))`` rows and columns away.
    """
    n, ch, h, w = x.shape
    taps = 2 * math.ceil(radius) + 1
    i = torch.arange(taps, dtype=torch.float32, device=x.device)
    weight = torch.exp(-(i**2) / (2 * sigma**2))
    weight = weight / weight.sum()
    angle = torch.deg2rad(angle)  # [N]
    off_x = torch.ceil(i[None, :] * torch.cos(angle)[:, None] - 0.5).long()  # [N, taps]
    off_y = torch.ceil(i[None, :] * torch.sin(angle)[:, None] - 0.5).long()
    rows = torch.arange(h, device=x.device)
    cols = torch.arange(w, device=x.device)
    flat = x.reshape(n, ch, h * w)
    out = torch.zeros_like(flat)
    for t in range(taps):
        r = (rows[None, :] + off_y[:, t : t + 1]).clamp(0, h - 1)  # [N, H]
        cc = (cols[None, :] + off_x[:, t : t + 1]).clamp(0, w - 1)  # [N, W]
        idx = (r[:, :, None] * w + cc[:, None, :]).reshape(n, 1, h * w).expand(n, ch, h * w)
        out += weight[t] * torch.gather(flat, 2, idx)
    return out.reshape(n, ch, h, w)


def zoom_blur(x: torch.Tensor, c: np.ndarray, s: _Stream) -> torch.Tensor:
    """Average of the image and centre zooms of it by each factor in ``c`` (bilinear).

    ImageNet-C: arange(1, 1.11, .01), arange(1, 1.16, .01), arange(1, 1.21, .02),
    arange(1, 1.26, .02), arange(1, 1.31, .03). CIFAR-10-C: arange(1, e, .01) for
    e = 1.06, 1.11, 1.16, 1.21, 1.26.
    """
    out = x.clone()
    for z in c:
        out = out + _clipped_zoom(x, z)
    return out / (len(c) + 1)


def _clipped_zoom(x: torch.Tensor, z: float) -> torch.Tensor:
    """ImageNet-C's ``clipped_zoom`` of ``[N, C, H, W]``: the centre ``ceil(H / z)`` crop,
    zoomed by ``z`` (bilinear, corners to corners as ``scipy.ndimage.zoom``), centre-trimmed."""
    h, w = x.shape[-2:]
    ch_, cw_ = math.ceil(h / z), math.ceil(w / z)
    top, left = (h - ch_) // 2, (w - cw_) // 2
    crop = x[..., top : top + ch_, left : left + cw_]
    size = (int(round(ch_ * z)), int(round(cw_ * z)))
    big = F.interpolate(crop, size=size, mode="bilinear", align_corners=True)
    th, tw = (big.shape[-2] - h) // 2, (big.shape[-1] - w) // 2
    return big[..., th : th + h, tw : tw + w]


def glass_blur(x: torch.Tensor, c: tuple[float, int, int], s: _Stream) -> torch.Tensor:
    """Gaussian blur, local pixel shuffling, Gaussian blur: c = (sigma, max_delta, rounds).

    Both blurs have standard deviation ``sigma`` pixels (skimage, truncate 4, nearest
    border). ImageNet-C swaps each pixel, in reverse raster order, with one displaced by
    ``randint(-max_delta, max_delta)`` (``max_delta - 1`` at most), ``rounds`` times over,
    sequentially in Python. Here a round is two gathers, each pixel reading the one at an
    offset uniform in ``[-max_delta, max_delta]`` in rows and in columns (edge pixels
    repeated): a swap moves the scanned pixel by the drawn offset and its partner by the
    opposite one, and each pixel takes part in two swaps per round on average. The
    sequential swaps also carry some pixels on along the scan; the per-axis spread of a
    pixel's displacement per round is 1.25, 1.8, 2.6, 3.3 pixels there for ``max_delta`` 1-4,
    1.15, 2.0, 2.8, 3.7 here, and the mean change of an image matches (checked against the
    reference). ImageNet-C also rounds the first blur down to 8 bits.
    ImageNet-C: (.7, 1, 2), (.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2).
    CIFAR-10-C: (.05, 1, 1), (.25, 1, 1), (.4, 1, 1), (.25, 1, 2), (.4, 1, 2).
    """
    sigma, max_delta, rounds = c
    x = _gaussian(x, sigma, "nearest")
    for hop in range(2 * rounds):
        x = _displace(x, _glass_offsets(s, max_delta, x.shape[-2:], hop))
    return _gaussian(x, sigma, "nearest")


def _glass_offsets(s: _Stream, max_delta: int, size: torch.Size, hop: int) -> torch.Tensor:
    """``[N, 2, H, W]`` integer (row, column) offsets uniform in ``[-max_delta, max_delta]``,
    both from one uniform per pixel (one of ``(2 max_delta + 1)**2`` cells)."""
    k = 2 * max_delta + 1
    cell = torch.floor(s.uniform(tuple(size), hop) * (k * k))
    return torch.stack([torch.div(cell, k, rounding_mode="floor"), cell.remainder(k)],
                       dim=1) - max_delta


def _displace(x: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Pixel ``(r, c)`` of ``x`` ``[N, C, H, W]`` takes the pixel at ``(r, c) + offsets[:, :,
    r, c]``, clamped to the image (whole-pixel offsets: bilinear sampling reads one pixel)."""
    h, w = x.shape[-2:]
    rows = torch.arange(h, dtype=x.dtype, device=x.device)[:, None]
    cols = torch.arange(w, dtype=x.dtype, device=x.device)[None, :]
    return _sample(x, cols + offsets[:, 1], rows + offsets[:, 0], "border")


# ---------------------------------------------------------------------------- colour and tone
def contrast(x: torch.Tensor, c: float, s: _Stream) -> torch.Tensor:
    """Contrast reduction towards each image's per-channel mean: ``(x - mean) * c + mean``.

    ImageNet-C: c = .4, .3, .2, .1, .05. CIFAR-10-C: c = .75, .5, .4, .3, .15.
    """
    mean = x.mean(dim=(-2, -1), keepdim=True)
    return (x - mean) * c + mean


def brightness(x: torch.Tensor, c: float, s: _Stream) -> torch.Tensor:
    """Add ``c`` to the HSV value channel (clipped to 1), keeping hue and saturation.

    For grey images this is ``x + c``. ImageNet-C: c = .1, .2, .3, .4, .5.
    CIFAR-10-C: c = .05, .1, .15, .2, .3.
    """
    x = x.clamp(0, 1)
    v = x.amax(dim=1, keepdim=True)
    v_new = (v + c).clamp(max=1.0)
    scaled = x * (v_new / v.clamp(min=1e-12))
    return torch.where(v > 0, scaled, v_new.expand_as(x))


def saturate(x: torch.Tensor, c: tuple[float, float], s: _Stream) -> torch.Tensor:
    """HSV saturation ``s * c[0] + c[1]`` (clipped to [0, 1]); colour images only.

    Hue and value are kept; grey pixels have hue 0 (red), as in ``skimage.color.rgb2hsv``.
    ImageNet-C: (.3, 0), (.1, 0), (2, 0), (5, .1), (20, .2).
    CIFAR-10-C: (.3, 0), (.1, 0), (1.5, 0), (2, .1), (2.5, .2).
    """
    x = x.clamp(0, 1)
    v = x.amax(dim=1, keepdim=True)
    mn = x.amin(dim=1, keepdim=True)
    sat = torch.where(v > 0, (v - mn) / v.clamp(min=1e-12), torch.zeros_like(v))
    sat_new = (sat * c[0] + c[1]).clamp(0, 1)
    grey = (v - mn) <= 0
    # fraction of the chroma each channel is below the max; red hue for grey pixels
    g = torch.where(grey, torch.tensor([0.0, 1.0, 1.0], device=x.device).view(1, 3, 1, 1),
                    (v - x) / (v - mn).clamp(min=1e-12))
    return v - sat_new * v * g


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


def _plasma(s: _Stream, n: int, mapsize: int, decay: float, draw: int) -> torch.Tensor:
    """Diamond-square height maps ``[N, mapsize, mapsize]`` in [0, 1] (ImageNet-C's fog)."""
    m = torch.zeros(n, mapsize, mapsize, dtype=torch.float32, device=s.device)
    step, wibble, level = mapsize, 100.0, 0

    def wibbled(arr: torch.Tensor, d: int) -> torch.Tensor:
        u = s.uniform(tuple(arr.shape[1:]), d) * 2 - 1
        return arr / 4 + wibble * wibble * u

    while step >= 2:
        half = step // 2
        corner = m[:, 0::step, 0::step]
        acc = corner + torch.roll(corner, -1, dims=1)
        acc = acc + torch.roll(acc, -1, dims=2)
        m[:, half::step, half::step] = wibbled(acc, draw + 3 * level)
        dr = m[:, half::step, half::step]
        ul = m[:, 0::step, 0::step]
        lt = dr + torch.roll(dr, 1, dims=1) + ul + torch.roll(ul, -1, dims=2)
        m[:, 0::step, half::step] = wibbled(lt, draw + 3 * level + 1)
        tt = dr + torch.roll(dr, 1, dims=2) + ul + torch.roll(ul, -1, dims=1)
        m[:, half::step, 0::step] = wibbled(tt, draw + 3 * level + 2)
        step, wibble, level = half, wibble / decay, level + 1
    m = m - m.amin(dim=(1, 2), keepdim=True)
    return m / m.amax(dim=(1, 2), keepdim=True).clamp(min=1e-12)


def fog(x: torch.Tensor, c: tuple[float, float], s: _Stream) -> torch.Tensor:
    """Add ``c[0]`` times a plasma fractal (diamond-square, wibble decay ``c[1]``), rescale.

    The fractal has the next power of two of the image size a side (ImageNet-C: 256 for its
    224-pixel images) and is cropped;
    the result is ``(x + c0 * plasma) * max(x) / (max(x) + c0)`` per image.
    ImageNet-C: (1.5, 2), (2, 2), (2.5, 1.7), (2.5, 1.5), (3, 1.4).
    CIFAR-10-C: (.2, 3), (.5, 3), (.75, 2.5), (1, 2), (1.5, 1.75).
    """
    n, _, h, w = x.shape
    size = 1 << (max(h, w) - 1).bit_length()
    plasma = _plasma(s, n, size, c[1], 0)[:, None, :h, :w]
    top = x.amax(dim=(1, 2, 3), keepdim=True)
    return (x + c[0] * plasma) * top / (top + c[0])


def snow(x: torch.Tensor, c: tuple[float, ...], s: _Stream) -> torch.Tensor:
    """Snow: a thresholded, zoomed, motion-blurred noise layer over a whitened image.

    c = (loc, scale, zoom, threshold, radius, sigma, blend): a layer ``normal(loc, scale)``
    (one per image, shared by its channels) is zoomed by ``zoom`` about its centre
    (ImageNet-C's ``clipped_zoom``), values below ``threshold`` set to 0, clipped to [0, 1],
    and motion-blurred (as :func:`motion_blur`, with ``radius`` and ``sigma``) at an angle
    uniform in [-135, -45] degrees. The image becomes ``blend * x + (1 - blend) *
    max(x, 1.5 * grey + .5)`` (grey: ``.299 R + .587 G + .114 B``, or the image itself for
    one channel), and the result ``x + snow + rot180(snow)``. ImageNet-C stores the layer in
    8 bits before and after the blur; here it stays in floats.
    ImageNet-C: (.1, .3, 3, .5, 10, 4, .8), (.2, .3, 2, .5, 12, 4, .7),
    (.55, .3, 4, .9, 12, 8, .7), (.55, .3, 4.5, .85, 12, 8, .65),
    (.55, .3, 2.5, .85, 12, 12, .55).
    CIFAR-10-C: (.1, .2, 1, .6, 8, 3, .95), (.1, .2, 1, .5, 10, 4, .9),
    (.15, .3, 1.75, .55, 10, 4, .9), (.25, .3, 2.25, .6, 12, 6, .85),
    (.3, .3, 1.25, .65, 14, 12, .8).
    """
    loc, sc, zoom, threshold, radius, sigma, blend = c
    h, w = x.shape[-2:]
    layer = _clipped_zoom(loc + sc * s.normal((1, h, w), 0), zoom)
    layer = torch.where(layer < threshold, 0.0, layer).clamp(0, 1)
    layer = _motion(layer, radius, sigma, s.per_image(2)[:, 0] * 90.0 - 135.0)
    return _whiten(x, blend) + layer + torch.rot90(layer, 2, dims=(-2, -1))


def _whiten(x: torch.Tensor, blend: float) -> torch.Tensor:
    """``blend * x + (1 - blend) * max(x, 1.5 * grey + .5)``, grey as OpenCV's RGB2GRAY."""
    if x.shape[1] == 3:
        luma = torch.tensor([0.299, 0.587, 0.114], device=x.device).view(1, 3, 1, 1)
        grey = (x * luma).sum(dim=1, keepdim=True)
    else:
        grey = x
    return blend * x + (1 - blend) * torch.maximum(x, grey * 1.5 + 0.5)


# ---------------------------------------------------------------------------- MNIST-C
def rotate(x: torch.Tensor, c: float, s: _Stream) -> torch.Tensor:
    """Rotation by ``c`` radians about the centre, direction random per image (zero fill).

    MNIST-C: c = .2, .4, .6, .8, 1 (its published images use one of these levels).
    """
    a = c * _signs(s, 0)[:, 0]
    cos, sin = torch.cos(a), torch.sin(a)
    mat = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    return _affine_sample(x, _centred(mat, *x.shape[-2:]), "zeros")


def shear(x: torch.Tensor, c: float, s: _Stream) -> torch.Tensor:
    """Horizontal shear by angle ``c`` radians about the centre, sign random per image.

    As ``skimage.transform.AffineTransform(shear=c)``: ``[[1, -sin c], [0, cos c]]``.
    MNIST-C: c = .2, .4, .6, .8, 1.
    """
    a = c * _signs(s, 0)[:, 0]
    one, zero = torch.ones_like(a), torch.zeros_like(a)
    mat = torch.stack(
        [torch.stack([one, -torch.sin(a)], -1), torch.stack([zero, torch.cos(a)], -1)], -2
    )
    return _affine_sample(x, _centred(mat, *x.shape[-2:]), "zeros")


def scale(x: torch.Tensor, c: float, s: _Stream) -> torch.Tensor:
    """Shrink about the centre: output pixel p reads input ``centre + c * (p - centre)``.

    MNIST-C: c = 1/.9, 1/.8, 1/.7, 1/.6, 1/.5.
    """
    mat = torch.eye(2, device=x.device)[None].expand(x.shape[0], 2, 2) * c
    return _affine_sample(x, _centred(mat, *x.shape[-2:]), "zeros")


def translate(x: torch.Tensor, c: float, s: _Stream) -> torch.Tensor:
    """Shift by ``c`` pixels (scaled by size / 28) in x and in y, signs random per image.

    MNIST-C: c = 1, 2, 3, 4, 5 pixels.
    """
    n, _, h, w = x.shape
    shift = c * _signs(s, 0, 2) * torch.tensor([w / 28, h / 28], device=x.device)
    eye = torch.eye(2, device=x.device)[None].expand(n, 2, 2)
    return _affine_sample(x, torch.cat([eye, shift[..., None]], dim=-1), "zeros")


def stripe(x: torch.Tensor, c: float, s: _Stream) -> torch.Tensor:
    """Invert the outer ``c * width`` columns on both sides (deterministic).

    MNIST-C inverts 7 of 28 columns on each side (c = 1/4, severity 3 here);
    c = 1/16, 1/8, 1/4, 5/16, 3/8.
    """
    w = x.shape[-1]
    k = int(round(c * w))
    cols = torch.arange(w, device=x.device)
    band = (cols < k) | (cols >= w - k)
    return torch.where(band, 1 - x, x)


def _lines(cols: torch.Tensor, rows: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """MNIST-C's ``line_from_points`` for segments ``[N, K, 2]`` (c0, c1) and (r0, r1).

    Each pixel gets ``log(1 - d / 2.3) + 1`` (clipped to [0, 1]) of its vertical distance d to
    the line, between columns ``floor(c0)`` and ``ceil(c1)``; summed over the K segments.
    """
    c0, c1 = cols[..., 0:1, None], cols[..., 1:2, None]
    r0, r1 = rows[..., 0:1, None], rows[..., 1:2, None]
    cc = torch.arange(w, dtype=torch.float32, device=cols.device).view(1, 1, 1, w)
    rr = torch.arange(h, dtype=torch.float32, device=cols.device).view(1, 1, h, 1)
    same = (c1 == c0)
    slope = (r1 - r0) / torch.where(same, torch.ones_like(c1), c1 - c0)
    dist = (rr - (slope * (cc - c0) + r0)).abs().clamp(0, 2.3 - 1e-6)
    val = (torch.log(1 - dist / 2.3) + 1).clamp(0, 1)
    inside = (cc >= torch.floor(c0)) & (cc < torch.ceil(c1)) & ~same
    return (val * inside).sum(dim=1, keepdim=True)  # [N, 1, H, W]


def dotted_line(x: torch.Tensor, c: int, s: _Stream) -> torch.Tensor:
    """``c`` dotted lines across the image, end rows uniform in [0, H-1), 2-pixel dashes.

    MNIST-C draws one line (severity 1); c = 1, 2, 3, 4, 5 lines.
    """
    n, _, h, w = x.shape
    ends = torch.floor(s.uniform((c, 2), 0) * (h - 1))
    cols = torch.tensor([0.0, w - 1.0], device=x.device).expand(n, c, 2)
    lines = _lines(cols, ends, h, w)
    on = (torch.arange(w, device=x.device) // 2) % 2 == 1
    return x + lines * on


def zigzag(x: torch.Tensor, c: int, s: _Stream) -> torch.Tensor:
    """``c`` zigzag lines of half-period 2 and amplitude 2 pixels, as MNIST-C's ``zigzag``.

    Each runs from column 2 to column W-3, starting at a random row r0 in [0, H-1) and ending
    near r0 + uniform{-5..4}. MNIST-C draws one (severity 1); c = 1, 2, 3, 4, 5.
    """
    n, _, h, w = x.shape
    a_len, b_amp = 2.0, 2.0
    c0, c1 = 2.0, w - 3.0
    r0 = torch.floor(s.uniform((c,), 0) * (h - 1)).double()  # [N, c]
    r1 = r0 + torch.floor(s.uniform((c,), 1) * 10).double() - 5
    theta = torch.atan((r1 - r0) / (c1 - c0))
    d = (c1 - c0) / torch.cos(theta)  # [N, c]
    count = int(((d.max() - a_len) // (2 * a_len)).item()) + 1
    i = torch.arange(count, dtype=torch.float64, device=x.device)
    ci = ((2 * i + 1) * a_len).expand(n, c, count)
    ri = ((-1.0) ** i * b_amp).expand(n, c, count)
    valid = i[None, None] < (((d - a_len) // (2 * a_len)) + 1)[..., None]
    last_r = torch.where(valid, ri, torch.zeros_like(ri)).gather(
        2, (valid.sum(-1, keepdim=True) - 1).clamp(min=0)
    )[..., 0]
    max_c = 2 * a_len * torch.floor(d / (2 * a_len))
    tail_r = torch.where(d != max_c, last_r / (2 * (d - max_c)).clamp(min=1e-12), last_r)
    # points: (0, 0), the valid (ci, ri), then (d, tail) -- invalid ones repeat the tail
    pc = torch.cat([torch.zeros(n, c, 1, dtype=torch.float64, device=x.device),
                    torch.where(valid, ci, d[..., None]), d[..., None]], dim=2)
    pr = torch.cat([torch.zeros(n, c, 1, dtype=torch.float64, device=x.device),
                    torch.where(valid, ri, tail_r[..., None]), tail_r[..., None]], dim=2)
    cos, sin = torch.cos(theta)[..., None], torch.sin(theta)[..., None]
    cs = cos * pc - sin * pr + c0
    rs = sin * pc + cos * pr + r0[..., None]
    seg_c = torch.stack([cs[..., :-1], cs[..., 1:]], dim=-1).reshape(n, -1, 2).float()
    seg_r = torch.stack([rs[..., :-1], rs[..., 1:]], dim=-1).reshape(n, -1, 2).float()
    return x + _lines(seg_c, seg_r, h, w)


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


def spatter(x: torch.Tensor, c: tuple[float, ...], s: _Stream) -> torch.Tensor:
    """Mud spatter: thresholded, smoothed Gaussian noise blobs pasted in mud colour.

    c = (loc, scale, sigma, threshold, sigma2): a layer ``normal(loc, scale)`` is blurred with
    ``sigma``, values below ``threshold`` dropped, the blob mask blurred with ``sigma2`` and
    kept where >= 0.8, then ``x * (1 - m) + colour * m`` with mud brown (63, 42, 20) / 255,
    or its luminance 0.19 for grey images (ImageNet-C's mud branch, used by MNIST-C).
    CIFAR-10-C values: (.62, .1, .7, .7, .5), (.65, .1, .8, .7, .5), (.65, .3, 1, .69, .5),
    (.65, .1, .7, .69, .6), (.65, .1, .5, .68, .6).
    """
    n, ch, h, w = x.shape
    loc, sc, sigma, thr, sigma2 = c
    liquid = _gaussian(loc + sc * s.normal((h, w), 0), sigma, "nearest")
    mask = (liquid > thr).float()
    m = _gaussian(mask, sigma2, "nearest")
    m = torch.where(m < 0.8, torch.zeros_like(m), m)[:, None]
    if ch == 3:
        colour = torch.tensor([63.0, 42.0, 20.0], device=x.device).view(1, 3, 1, 1) / 255
    else:
        colour = torch.full((1, ch, 1, 1), 0.299 * 63 / 255 + 0.587 * 42 / 255 + 0.114 * 20 / 255,
                            device=x.device)
    return x * (1 - m) + colour * m


# ---------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class Corruption:
    """One corruption: its function, family and per-severity parameters.

    ``params`` maps a preset (``"imagenet"``, ``"cifar"`` or ``"mnist"``) to the five
    parameters of severities 1-5.
    """

    name: str
    family: str
    fn: Callable[[torch.Tensor, Any, _Stream], torch.Tensor]
    params: dict[str, tuple[Any, ...]]
    colour_only: bool = False

    def parameter(self, severity: int, preset: str) -> Any:
        table = self.params.get(preset) or next(iter(self.params.values()))
        return table[severity - 1]


def _zoom(stops: list[tuple[float, float]]) -> tuple[np.ndarray, ...]:
    return tuple(np.arange(1, end, step) for end, step in stops)


CORRUPTIONS: dict[str, Corruption] = {
    c.name: c
    for c in [
        Corruption("gaussian_noise", "noise", gaussian_noise, {
            "imagenet": (.08, .12, .18, .26, .38), "cifar": (.04, .06, .08, .09, .10)}),
        Corruption("shot_noise", "noise", shot_noise, {
            "imagenet": (60, 25, 12, 5, 3), "cifar": (500, 250, 100, 75, 50)}),
        Corruption("impulse_noise", "noise", impulse_noise, {
            "imagenet": (.03, .06, .09, .17, .27), "cifar": (.01, .02, .03, .05, .07)}),
        Corruption("defocus_blur", "blur", defocus_blur, {
            "imagenet": ((3, .1), (4, .5), (6, .5), (8, .5), (10, .5)),
            "cifar": ((.3, .4), (.4, .5), (.5, .6), (1, .2), (1.5, .1))}),
        Corruption("gaussian_blur", "blur", gaussian_blur, {
            "imagenet": (1, 2, 3, 4, 6), "cifar": (.4, .6, .7, .8, 1)}),
        Corruption("glass_blur", "blur", glass_blur, {
            "imagenet": ((.7, 1, 2), (.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)),
            "cifar": ((.05, 1, 1), (.25, 1, 1), (.4, 1, 1), (.25, 1, 2), (.4, 1, 2))}),
        Corruption("motion_blur", "blur", motion_blur, {
            "imagenet": ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15)),
            "cifar": ((6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5))}),
        Corruption("zoom_blur", "blur", zoom_blur, {
            "imagenet": _zoom([(1.11, .01), (1.16, .01), (1.21, .02), (1.26, .02), (1.31, .03)]),
            "cifar": _zoom([(1.06, .01), (1.11, .01), (1.16, .01), (1.21, .01), (1.26, .01)])}),
        Corruption("contrast", "colour", contrast, {
            "imagenet": (.4, .3, .2, .1, .05), "cifar": (.75, .5, .4, .3, .15)}),
        Corruption("brightness", "colour", brightness, {
            "imagenet": (.1, .2, .3, .4, .5), "cifar": (.05, .1, .15, .2, .3)}),
        Corruption("saturate", "colour", saturate, {
            "imagenet": ((.3, 0), (.1, 0), (2, 0), (5, .1), (20, .2)),
            "cifar": ((.3, 0), (.1, 0), (1.5, 0), (2, .1), (2.5, .2))}, colour_only=True),
        Corruption("jpeg_compression", "digital", jpeg_compression, {
            "imagenet": (25, 18, 15, 10, 7), "cifar": (80, 65, 58, 50, 40)}),
        Corruption("pixelate", "digital", pixelate, {
            "imagenet": (.6, .5, .4, .3, .25), "cifar": (.95, .9, .85, .75, .65)}),
        Corruption("elastic_transform", "digital", elastic_transform, {
            "imagenet": tuple((1.25 * a, .01, 0) for a in (.05, .065, .085, .1, .12)),
            "cifar": ((0, 0, .08), (.05, .2, .07), (.08, .06, .06), (.1, .04, .05),
                      (.1, .03, .03))}),
        Corruption("snow", "weather", snow, {
            "imagenet": ((.1, .3, 3, .5, 10, 4, .8), (.2, .3, 2, .5, 12, 4, .7),
                         (.55, .3, 4, .9, 12, 8, .7), (.55, .3, 4.5, .85, 12, 8, .65),
                         (.55, .3, 2.5, .85, 12, 12, .55)),
            "cifar": ((.1, .2, 1, .6, 8, 3, .95), (.1, .2, 1, .5, 10, 4, .9),
                      (.15, .3, 1.75, .55, 10, 4, .9), (.25, .3, 2.25, .6, 12, 6, .85),
                      (.3, .3, 1.25, .65, 14, 12, .8))}),
        Corruption("fog", "weather", fog, {
            "imagenet": ((1.5, 2), (2, 2), (2.5, 1.7), (2.5, 1.5), (3, 1.4)),
            "cifar": ((.2, 3), (.5, 3), (.75, 2.5), (1, 2), (1.5, 1.75))}),
        Corruption("rotate", "affine", rotate, {"mnist": (.2, .4, .6, .8, 1.0)}),
        Corruption("shear", "affine", shear, {"mnist": (.2, .4, .6, .8, 1.0)}),
        Corruption("scale", "affine", scale, {"mnist": (1 / .9, 1 / .8, 1 / .7, 1 / .6, 1 / .5)}),
        Corruption("translate", "affine", translate, {"mnist": (1, 2, 3, 4, 5)}),
        Corruption("stripe", "occlusion", stripe, {"mnist": (1 / 16, 1 / 8, 1 / 4, 5 / 16, 3 / 8)}),
        Corruption("dotted_line", "occlusion", dotted_line, {"mnist": (1, 2, 3, 4, 5)}),
        Corruption("zigzag", "occlusion", zigzag, {"mnist": (1, 2, 3, 4, 5)}),
        Corruption("canny_edges", "digital", canny_edges, {"mnist": (.2, .4, .6, .8, 1.0)}),
        Corruption("spatter", "weather", spatter, {
            "mnist": ((.62, .1, .7, .7, .5), (.65, .1, .8, .7, .5), (.65, .3, 1, .69, .5),
                      (.65, .1, .7, .69, .6), (.65, .1, .5, .68, .6))}),
    ]
}
"""The corruptions by name (what ``corrupt`` and ``Study(corruptions=...)`` accept).

Examples
--------
>>> sorted(CORRUPTIONS)[:3]
['brightness', 'canny_edges', 'contrast']
"""

IMAGENET_C = (
    "gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "gaussian_blur",
    "glass_blur", "motion_blur", "zoom_blur", "snow", "contrast", "brightness", "saturate",
    "jpeg_compression", "pixelate", "elastic_transform", "fog",
)
MNIST_C = (
    "shot_noise", "impulse_noise", "motion_blur", "shear", "scale", "rotate", "brightness",
    "translate", "stripe", "fog", "spatter", "dotted_line", "zigzag", "canny_edges",
)
SUITES = {"imagenet-c": IMAGENET_C, "mnist-c": MNIST_C}


def resolve_corruptions(
    spec: str | list[str] | tuple[str, ...],
    channels: int = 3,
    *,
    caller: str = "Study",
    param: str = "corruptions",
) -> list[str]:
    """Corruption names for a suite name (``"mnist-c"``, ``"imagenet-c"``) or a list of names.

    Colour-only corruptions are dropped from suites when ``channels != 3``; naming one
    explicitly for grey images raises. Errors name ``param`` of ``caller``.
    """
    names = check(caller, param, spec, [Options(*SUITES), Options(*CORRUPTIONS),
                                        ListOf(Options(*CORRUPTIONS))])
    if isinstance(names, str):
        if names in SUITES:
            return [c for c in SUITES[names] if channels == 3 or not CORRUPTIONS[c].colour_only]
        names = [names]
    for name in names:
        if CORRUPTIONS[name].colour_only and channels != 3:
            raise invalid(caller, param, "corruptions for grey images", spec,
                          f"{name!r} needs colour images (3 channels), got {channels}")
    return names


_IMAGES = Array(
    ("N", "C", "H", "W"), ("N", "H", "W"), dtype="floating", low=0, high=1, nonempty=False,
    hint="8-bit images become floats in [0, 1] with images.float() / 255",
)


@validate_params({
    "images": [_IMAGES],
    "name": [Options(*CORRUPTIONS)],
    "severity": [Interval(int, 1, 5)],
    "seed": SEED,
    "index": [None, Array(("N",), dtype="integer", library=None, nonempty=False),
              ListOf(Interval(int, 0, None), min_len=0)],
    "preset": [Options("auto", "imagenet", "cifar")],
})
def corrupt(
    images: torch.Tensor,
    name: str,
    severity: int = 3,
    *,
    seed: int = 0,
    index: torch.Tensor | np.ndarray | None = None,
    preset: str = "auto",
) -> torch.Tensor:
    """Apply corruption ``name`` at ``severity`` to a batch of images.

    Parameters
    ----------
    images : Tensor
        ``[N, C, H, W]`` (or ``[N, H, W]``) floats in [0, 1], C = 1 or 3, on any device.
        Other ranges (8-bit images, normalised ones) and NaN are refused, since every
        corruption's parameters assume [0, 1].
    name : str
        A key of ``CORRUPTIONS``.
    severity : int
        1 (mildest) to 5.
    seed : int
        Seed of the per-image randomness.
    index : array of int, optional
        Each image's position in the whole dataset (default ``arange(N)``); the randomness of
        an image depends only on ``(seed, name, index)``.
    preset : str
        ``"auto"``, ``"imagenet"`` or ``"cifar"``: which parameter table the ImageNet-C
        families use (see the module doc). MNIST-C transforms have one table.

    Returns
    -------
    Tensor
        Float32 ``[N, C, H, W]`` (the input's shape) in [0, 1], on the input's device.

    Examples
    --------
    >>> import torch
    >>> x = torch.full((2, 1, 28, 28), 0.5)
    >>> y = corrupt(x, "contrast", 5)
    >>> float(y.std()), tuple(y.shape)
    (0.0, (2, 1, 28, 28))
    """
    spec = CORRUPTIONS[name]
    squeeze = images.ndim == 3
    x = images[:, None] if squeeze else images
    if x.shape[1] not in (1, 3):
        raise invalid("corrupt", "images", "[N, C, H, W] with C = 1 or 3 channels, or [N, H, W]",
                      images)
    if spec.colour_only and x.shape[1] != 3:
        raise invalid("corrupt", "images", f"colour images (3 channels) for {name!r}", images)
    n = x.shape[0]
    idx = torch.arange(n) if index is None else torch.as_tensor(np.asarray(index))
    if idx.shape != (n,):
        raise invalid("corrupt", "index", f"of shape ({n},), one position per image", index)
    if preset == "auto":
        preset = "cifar" if max(x.shape[-2:]) <= 64 else "imagenet"
    if n == 0:
        return images.float().clone()
    stream = _Stream(seed, name, idx.to(device=x.device, dtype=torch.int64))
    out = spec.fn(x.float(), spec.parameter(severity, preset), stream).clamp(0, 1)
    return (out[:, 0] if squeeze else out).contiguous()
