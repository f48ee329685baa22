"""Weather: fog, snow and (mud) spatter."""

from __future__ import annotations

import torch

from geowidget.engine.corruptions.functional._blur import _clipped_zoom, _motion
from geowidget.engine.corruptions.functional._filters import _gaussian
from geowidget.engine.corruptions.functional._random import _Stream

__all__ = ["fog", "snow", "spatter"]


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
