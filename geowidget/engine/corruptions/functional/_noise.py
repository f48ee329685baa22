"""Noise: Gaussian, shot (Poisson) and impulse (salt and pepper)."""

from __future__ import annotations

import torch

from geowidget.engine.corruptions.functional._random import _Stream

__all__ = ["gaussian_noise", "shot_noise", "impulse_noise"]


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
