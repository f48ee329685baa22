"""Colour and tone: contrast, brightness and saturation."""

from __future__ import annotations

import torch

from geowidget.engine.corruptions.functional._random import _Stream

__all__ = ["contrast", "brightness", "saturate"]


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
