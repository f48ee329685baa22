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

import torch
from torch.utils.data import DataLoader, RandomSampler

from geowidget.engine.batches import count_samples, iter_batches


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
        xs: list[torch.Tensor] = []
        ys: list[torch.Tensor] = []
        have = start = 0
        for xb, yb in iter_batches(self.data, batch_size=self.shard_size, device="cpu"):
            if yb is None and self.labelled:
                raise ValueError(f"{self.what} has no labels; a Study needs (inputs, labels), an "
                                 "ImageData, or a Dataset/DataLoader yielding (x, y)")
            xs.append(xb)
            ys.append(torch.full((len(xb),), -1) if yb is None else yb.long())
            have += len(xb)
            if start + have > self.n:
                break
            while have >= self.shard_size:
                yield Shard(start, start + self.shard_size, _first(xs, self.shard_size),
                            _first(ys, self.shard_size))
                start, have = start + self.shard_size, have - self.shard_size
        if start + have != self.n:
            raise ValueError(f"{self.what} yielded {'more than ' if have else ''}{start + have} "
                             f"samples but reports len() = {self.n}; it must yield each of its "
                             "samples once (no drop_last, no sampler over a subset)")
        if have:
            yield Shard(start, self.n, _first(xs, have), _first(ys, have))

    def head(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first ``min(size, len)`` samples, reading only the shards that hold them."""
        xs, ys, got = [], [], 0
        for shard in self:
            xs.append(shard.inputs)
            ys.append(shard.labels)
            got += len(shard)
            if got >= size:
                break
        return torch.cat(xs)[:size], torch.cat(ys)[:size]


def _first(parts: list[torch.Tensor], take: int) -> torch.Tensor:
    """Pop the first ``take`` rows off a list of tensors (no copy when one tensor covers them)."""
    if len(parts[0]) >= take:
        out = parts[0][:take]
        rest = parts[0][take:]
        if len(rest):
            parts[0] = rest
        else:
            parts.pop(0)
        return out
    out = torch.cat(parts)
    parts.clear()
    if len(out) > take:
        parts.append(out[take:])
    return out[:take]
