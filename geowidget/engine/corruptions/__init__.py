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

Layout (after torchvision's ``transforms.v2``): the kernels live in
:mod:`geowidget.engine.corruptions.functional`, one module per kind (noise, blur, colour,
digital, weather, geometry, occlusion); this package holds the registry (every
corruption's parameters at every severity, the suites) and the entry point :func:`corrupt`.
Every kernel is also importable from here, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

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
from geowidget.engine.corruptions.functional import (
    brightness,
    canny_edges,
    contrast,
    defocus_blur,
    dotted_line,
    elastic_transform,
    fog,
    gaussian_blur,
    gaussian_noise,
    glass_blur,
    impulse_noise,
    jpeg_compression,
    motion_blur,
    pixelate,
    rotate,
    saturate,
    scale,
    shear,
    shot_noise,
    snow,
    spatter,
    stripe,
    translate,
    zigzag,
    zoom_blur,
)
from geowidget.engine.corruptions.functional._random import _Stream

__all__ = [
    "CORRUPTIONS", "IMAGENET_C", "MNIST_C", "SEVERITIES", "SUITES", "Corruption", "corrupt",
    "resolve_corruptions",
    # the kernels, re-exported from .functional (their import path before the split)
    "brightness", "canny_edges", "contrast", "defocus_blur", "dotted_line",
    "elastic_transform", "fog", "gaussian_blur", "gaussian_noise", "glass_blur",
    "impulse_noise", "jpeg_compression", "motion_blur", "pixelate", "rotate", "saturate",
    "scale", "shear", "shot_noise", "snow", "spatter", "stripe", "translate", "zigzag",
    "zoom_blur",
]

SEVERITIES = (1, 2, 3, 4, 5)


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
