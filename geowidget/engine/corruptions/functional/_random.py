"""Counter-based random numbers: every draw a hash of (seed, corruption, image, draw, element)."""

from __future__ import annotations

import math
import zlib
from typing import Any

import torch

__all__ = ["_mix32", "_mix32_", "_as_u32", "_Stream"]


_M32 = 0xFFFFFFFF


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
