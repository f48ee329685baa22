"""Affine (MNIST-C): rotation, shear, scale and translation about the image centre."""

from __future__ import annotations

import torch

from geowidget.engine.corruptions.functional._filters import _affine_sample, _centred, _signs
from geowidget.engine.corruptions.functional._random import _Stream

__all__ = ["rotate", "shear", "scale", "translate"]


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
