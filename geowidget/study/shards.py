"""Reading a study's data shard by shard, so that the whole input is never held at once.

A :class:`ShardReader` makes one pass over any data that
:func:`geowidget.engine.batches.iter_batches` accepts (tensors, an ``ImageData``, a Dataset
or a DataLoader) in its own order, and cuts the stream into shards of ``shard_size``
samples, whatever the loader's batch size. Only the current shard (and one loader batch) is
in memory. In-memory tensors are cut into views, with no copy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler

from geowidget.engine.batches import count_samples, iter_batches

__all__ = ["Shard", "ShardReader", "thumbnails"]

_THUMBNAIL_MAX = 64  # pixels; larger images get no thumbnails


@dataclass(frozen=True)
class Shard:
    """Samples ``[start, stop)`` of the data: inputs on the CPU and int64 labels (-1: none)."""

    start: int
    stop: int
    inputs: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return self.stop - self.start


class ShardReader:
    """One ordered pass over ``data``, in shards of ``shard_size`` samples (the last may be short).

    Parameters
    ----------
    data : Tensor pair, ImageData, Dataset or DataLoader
        Must carry labels and report its length (``len(dataset)``), and must be read in a
        fixed order (a DataLoader with ``shuffle=True`` is refused: corrupted copies, resumed
        runs and the cube's sample order all rely on the order).
    shard_size : int
        Samples per shard.
    what : str
        How errors name the data (``"data"``, ``"corruption 'fog'"``).
    labelled : bool
        The data must carry labels; otherwise unlabelled samples get the label -1.
    """

    def __init__(self, data: Any, shard_size: int, what: str = "data",
                 labelled: bool = True) -> None:
        if isinstance(data, DataLoader) and isinstance(data.sampler, RandomSampler):
            raise ValueError(f"{what} is a DataLoader with shuffle=True; a Study reads samples in "
                             "a fixed order: pass shuffle=False")
        n = count_samples(data)
        if n is None:
            raise ValueError(f"{what} does not report its length; pass a Dataset or DataLoader "
                             "whose dataset defines __len__, or tensors")
        if n == 0:
            raise ValueError(f"{what} is empty: it has 0 samples")
        self.data, self.shard_size, self.what, self.n = data, int(shard_size), what, int(n)
        self.labelled = labelled

    def __len__(self) -> int:
        return self.n

    @property
    def bounds(self) -> list[tuple[int, int]]:
        """``[(start, stop)]`` of every shard."""
        s = self.shard_size
        return [(a, min(a + s, self.n)) for a in range(0, self.n, s)]

    def __iter__(self) -> Iterator[Shard]:
        start = filled = 0
        bx = by = None  # the shard being filled from loader batches
        for xb, yb in iter_batches(self.data, batch_size=self.shard_size, device="cpu"):
            if yb is None and self.labelled:
                raise ValueError(f"{self.what} has no labels; a Study needs (inputs, labels), an "
                                 "ImageData, or a Dataset/DataLoader yielding (x, y)")
            yb = torch.full((len(xb),), -1) if yb is None else yb.long()
            pos = 0
            while pos < len(xb):
                if start >= self.n:
                    raise ValueError(f"{self.what} yields more than the {self.n} samples its "
                                     "len() reports")
                size = min(self.shard_size, self.n - start)
                take = min(size - filled, len(xb) - pos)
                shard = None
                if filled == 0 and take == size:  # one batch holds the whole shard: a view
                    shard = Shard(start, start + size, xb[pos : pos + size], yb[pos : pos + size])
                else:  # copy batch by batch into the shard, so each batch is freed at once
                    if bx is None:
                        bx = torch.empty((size, *xb.shape[1:]), dtype=xb.dtype)
                        by = torch.empty(size, dtype=torch.long)
                    bx[filled : filled + take] = xb[pos : pos + take]
                    by[filled : filled + take] = yb[pos : pos + take]
                    filled += take
                    if filled == size:
                        shard, bx, by, filled = Shard(start, start + size, bx, by), None, None, 0
                pos += take
                if shard is not None:
                    yield shard
                    start += size
                    shard = None
            del xb, yb  # a loader batch is not kept alive while the next one is made
        if start != self.n:
            raise ValueError(f"{self.what} yielded {start + filled} samples but reports "
                             f"len() = {self.n}; it must yield each of its samples once (no "
                             "drop_last, no sampler over a subset)")

    def head(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first ``min(size, len)`` samples, reading only the loader batches that hold them."""
        xs, ys, got = [], [], 0
        for xb, yb in iter_batches(self.data, batch_size=min(size, self.shard_size), device="cpu"):
            if yb is None and self.labelled:
                raise ValueError(f"{self.what} has no labels; a Study needs (inputs, labels), an "
                                 "ImageData, or a Dataset/DataLoader yielding (x, y)")
            xs.append(xb[: size - got])
            ys.append(torch.full((len(xs[-1]),), -1) if yb is None else yb[: size - got].long())
            got += len(xs[-1])
            if got >= size:
                break
        return torch.cat(xs), torch.cat(ys)


def thumbnails(x: torch.Tensor, chunk: int = 1024) -> np.ndarray | None:
    """uint8 thumbnails ``[n, H, W]`` or ``[n, H, W, 3]`` of images ``[n, 1 or 3, H, W]``.

    Images in [0, 1] map to 0..255 (rounded half up); an image with values outside [0, 1]
    (normalised inputs) is scaled by its own range. None for inputs that are not small images
    (over 64 pixels). Converted ``chunk`` images at a time, so the float temporaries stay small.
    """
    if x.ndim != 4 or x.shape[1] not in (1, 3) or max(x.shape[-2:]) > _THUMBNAIL_MAX:
        return None
    n, c, h, w = x.shape
    out = np.empty((n, h, w, c), np.uint8)
    lo, hi = torch.aminmax(x) if n else (torch.zeros(()), torch.zeros(()))
    in_range = bool(lo >= 0) and bool(hi <= 1)
    for a in range(0, n, chunk):
        xc = x[a : a + chunk].float()
        if not in_range:  # each image by its own range
            lo = xc.amin(dim=(1, 2, 3), keepdim=True)
            hi = xc.amax(dim=(1, 2, 3), keepdim=True)
            outside = (lo < 0) | (hi > 1)
            xc = torch.where(outside, (xc - lo) / (hi - lo).clamp_min(1e-12), xc)
        img = (xc * 255).add_(0.5).to(torch.uint8)  # in [0.5, 255.5]: truncation rounds
        out[a : a + chunk] = img.permute(0, 2, 3, 1).numpy()
    return out[..., 0] if c == 1 else out
