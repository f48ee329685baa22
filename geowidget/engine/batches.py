"""Turning the many shapes of ``data`` into batches, and choosing a device.

Every engine function that runs a model accepts ``data`` as any of:

- a ``torch.Tensor`` (or numpy array) of inputs, with no labels;
- an ``(inputs, labels)`` pair of tensors or arrays;
- an object with ``.images`` and ``.labels`` (such as :class:`geowidget.datasets.ImageData`);
- a ``torch.utils.data.Dataset`` whose items are ``(x, y)`` or ``x``;
- a ``torch.utils.data.DataLoader`` whose batches are ``(x, y, ...)`` or ``x``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

__all__ = ["count_samples", "iter_batches", "resolve_device"]


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` picks CUDA when available, else the CPU; anything else is checked and used."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was requested but CUDA is not available; use 'cpu'")
    return dev


def _as_tensor(x: Any, what: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, np.ndarray):
        return torch.from_numpy(x)
    raise TypeError(f"{what} must be a torch.Tensor or numpy array, got {type(x).__name__}")


def _pair(data: Any) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    """The in-memory forms, or None for Dataset/DataLoader."""
    if hasattr(data, "images") and hasattr(data, "labels"):
        data = (data.images, data.labels)
    if isinstance(data, torch.Tensor | np.ndarray):
        return _as_tensor(data, "data"), None
    if isinstance(data, tuple | list):
        if len(data) != 2:
            raise TypeError(
                f"data given as a sequence must be an (inputs, labels) pair, got {len(data)} items"
            )
        x, y = _as_tensor(data[0], "inputs"), _as_tensor(data[1], "labels")
        if y.ndim != 1 or len(y) != len(x):
            raise ValueError(
                f"labels must have shape ({len(x)},) to match inputs {tuple(x.shape)}, "
                f"got {tuple(y.shape)}"
            )
        return x, y
    return None


def count_samples(data: Any) -> int | None:
    """Number of samples, or None when the data cannot tell (an iterable dataset)."""
    pair = _pair(data)
    if pair is not None:
        return len(pair[0])
    if isinstance(data, DataLoader):
        data = data.dataset
    try:
        return len(data)
    except TypeError:
        return None


def iter_batches(
    data: Any, batch_size: int = 256, device: torch.device | str = "cpu"
) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """Yield ``(inputs, labels_or_None)`` batches on ``device``, in the data's order."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    device = torch.device(device)
    pair = _pair(data)
    if pair is not None:
        x, y = pair
        if len(x) == 0:
            raise ValueError("data is empty: it has 0 samples")
        for start in range(0, len(x), batch_size):
            xb = x[start : start + batch_size].to(device, non_blocking=True)
            yb = None if y is None else y[start : start + batch_size].to(device)
            yield xb, yb
        return
    if isinstance(data, Dataset):
        data = DataLoader(data, batch_size=batch_size, shuffle=False)
    if not isinstance(data, DataLoader):
        raise TypeError(
            "data must be a Tensor, an (inputs, labels) pair, a Dataset or a DataLoader, "
            f"got {type(data).__name__}"
        )
    seen = 0
    for batch in data:
        if isinstance(batch, dict):
            raise TypeError("dict batches are not supported; yield (inputs, labels) tuples")
        if isinstance(batch, tuple | list):
            xb = _as_tensor(batch[0], "inputs")
            yb = _as_tensor(batch[1], "labels") if len(batch) > 1 else None
        else:
            xb, yb = _as_tensor(batch, "inputs"), None
        seen += len(xb)
        yield xb.to(device, non_blocking=True), None if yb is None else yb.to(device)
    if seen == 0:
        raise ValueError("data is empty: the DataLoader yielded 0 samples")
