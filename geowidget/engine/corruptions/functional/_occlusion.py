"""Occlusion (MNIST-C): inverted stripes, dotted lines and zigzags."""

from __future__ import annotations

import torch

from geowidget.engine.corruptions.functional._random import _Stream

__all__ = ["stripe", "dotted_line", "zigzag"]


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
