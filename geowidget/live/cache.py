"""A least-recently-used cache bounded in bytes: the computed cells of a live cube in memory."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping

import numpy as np

__all__ = ["ByteLRU", "default_bytes"]


def default_bytes() -> int:
    """A quarter of this machine's physical memory (1 GiB where it cannot be read)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 4
    except (AttributeError, ValueError, OSError):
        return 1 << 30


def _size(arrays: Mapping[str, np.ndarray]) -> int:
    return sum(int(a.nbytes) for a in arrays.values())


class ByteLRU:
    """Entries of named arrays, the least recently used dropped first once the arrays hold
    more than ``capacity`` bytes; an entry larger than the whole capacity is not kept.

    Thread safe: a view's worker thread and the notebook read and fill it at once.

    Parameters
    ----------
    capacity : int
        Bytes the cached arrays may hold (``>= 0``).
    """

    def __init__(self, capacity: int) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int | np.integer) \
                or capacity < 0:
            raise ValueError(f"cache_bytes must be an int >= 0 (bytes), got {capacity!r}")
        self.capacity = int(capacity)
        self.nbytes = 0
        self._items: OrderedDict[Hashable, dict[str, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def keys(self) -> list[Hashable]:
        """The cached keys, least recently used first."""
        with self._lock:
            return list(self._items)

    def get(self, key: Hashable) -> dict[str, np.ndarray] | None:
        """The entry (now the most recently used), or None."""
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: Hashable, arrays: Mapping[str, np.ndarray]) -> None:
        """Keep ``arrays`` under ``key``, dropping the least recently used entries to fit."""
        size = _size(arrays)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.nbytes -= _size(old)
            if size > self.capacity:
                return
            self._items[key] = dict(arrays)
            self.nbytes += size
            while self.nbytes > self.capacity:
                _, dropped = self._items.popitem(last=False)
                self.nbytes -= _size(dropped)
