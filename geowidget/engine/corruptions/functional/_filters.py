"""Separable filters with border modes, bilinear resampling and affine maps in pixel coordinates."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from geowidget.engine.corruptions.functional._random import _Stream

__all__ = ["_reflect_index", "_filter_matrix", "_gauss1d", "_gaussian", "_affine_sample", "_sample", "_centred", "_signs"]


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
