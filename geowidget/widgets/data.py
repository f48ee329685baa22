"""Sample ids and thumbnails of the sample views.

:class:`IdIndex` checks a selection of millions of ids against a view's ids in linear time;
:func:`sprite_atlas` packs the thumbnails into the one image the browser gets. The slab
(:class:`~geowidget.widgets.slab.Slab` and how it is built) moved to
:mod:`geowidget.widgets.slab`; its old names here still work for one release, with a
``DeprecationWarning``.
"""

from __future__ import annotations

import numpy as np

from geowidget.widgets.deprecation import moved

__all__ = ["MAX_POINTS", "IdIndex", "check_points", "check_sample_ids", "sorted_unique",
           "sprite_atlas"]

MAX_POINTS = 2**24
# names that moved to geowidget.widgets.slab (kept here for one release)
__getattr__ = moved(__name__, dict.fromkeys(("ADVERSARIAL", "DIMS", "SLAB_METRICS", "Slab",
                                             "slab_from_arrays", "slab_from_cube"),
                                            "geowidget.widgets.slab"))


class IdIndex:
    """Sample ids of a view, indexed so a selection of millions is checked in linear time.

    When the ids span a range no wider than a few times their count (the usual case: a range
    or a subsample of one), a boolean table over ``[min, max]`` answers membership and sorts a
    selection without a comparison sort; otherwise a sorted copy and ``searchsorted`` do.
    """

    def __init__(self, ids: np.ndarray) -> None:
        ids = np.asarray(ids, np.int64).ravel()
        self.n = ids.size
        self.lo = int(ids.min()) if ids.size else 0
        span = int(ids.max()) - self.lo + 1 if ids.size else 0
        self._table: np.ndarray | None = None
        self._sorted: np.ndarray | None = None
        self._full = False
        if span <= max(4 * ids.size, 1 << 16):
            table = np.zeros(span, bool)
            table[ids - self.lo] = True
            unique = int(np.count_nonzero(table))
            self._table = table
            self._full = unique == span  # the ids are a whole range: inside it, all are known
        else:
            self._sorted = np.sort(ids)
            unique = self._sorted.size - int(np.count_nonzero(np.diff(self._sorted) == 0))
        self.duplicates = ids.size - unique

    def canonical(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``values`` (int32 or int64 ``[k]``) as sorted unique known ids (int64), and the
        unknown ones."""
        if self._table is not None:
            table = self._table
            pos = values - np.asarray(self.lo, values.dtype)  # same width: no int64 copy
            # negative positions wrap to huge unsigned ones: one comparison checks both ends
            inside = pos.view(pos.dtype.str.replace("i", "u")) < table.size
            unknown = values[:0]
            if not inside.all():
                unknown, pos = values[~inside], pos[inside]
            if not self._full:
                known = table[pos]
                if not known.all():
                    unknown = np.concatenate([unknown, pos[~known] + self.lo])
                    pos = pos[known]
            mark = np.zeros(table.size, bool)
            mark[pos] = True
            out = np.flatnonzero(mark)
            out += self.lo
            return out, unknown.astype(np.int64)
        uniq = sorted_unique(values.astype(np.int64))
        srt = self._sorted
        assert srt is not None
        at = np.minimum(np.searchsorted(srt, uniq), max(srt.size - 1, 0))
        known = srt[at] == uniq if srt.size else np.zeros(uniq.size, bool)
        return uniq[known], uniq[~known]


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)`` for a 1-D int array, by one sort (numpy 2's ``np.unique`` hashes,
    which takes tens of seconds on ten million distinct ids)."""
    out = np.sort(values)
    if out.size > 1:
        out = out[np.concatenate(([True], out[1:] != out[:-1]))]
    return out


def check_points(n: int) -> None:
    """Raise when a view would draw more points than the renderer can index (2**24)."""
    if n > MAX_POINTS:
        raise ValueError(
            f"{n:,} points is more than the {MAX_POINTS:,} (2**24) a view can draw; "
            "subsample first, e.g. cube.sel(sample=np.random.default_rng(0).choice(N, 1_000_000, "
            "replace=False)), or pass fewer samples"
        )


def check_sample_ids(ids: np.ndarray) -> IdIndex:
    """The index of ``ids``; raises when an id repeats (a selection could not tell them apart)."""
    index = IdIndex(ids)
    if index.duplicates:
        srt = np.sort(ids)
        dup = sorted_unique(srt[1:][srt[1:] == srt[:-1]])[:5].tolist()
        raise ValueError(f"sample_ids must be unique, got {index.duplicates} repeated id(s), "
                         f"e.g. {dup}")
    return index


def sprite_atlas(images: np.ndarray) -> tuple[np.ndarray, dict[str, int]]:
    """Pack thumbnails ``[N, H, W(, 3)]`` into one grid image, sent once to the browser.

    Returns
    -------
    atlas : uint8 array [rows * H, cols * W, C] with C = 1 or 3
    info : dict with ``cols``, ``h``, ``w``, ``channels``
        Thumbnail ``i`` sits at row ``i // cols``, column ``i % cols``.
    """
    img = np.asarray(images, dtype=np.uint8)
    if img.ndim == 3:
        img = img[..., None]
    n, h, w, c = img.shape
    cols = max(1, int(np.ceil(np.sqrt(n))))
    rows = max(1, -(-n // cols))
    atlas = np.zeros((rows * h, cols * w, c), np.uint8)
    for i in range(n):
        r, q = divmod(i, cols)
        atlas[r * h:(r + 1) * h, q * w:(q + 1) * w] = img[i]
    return atlas, {"cols": cols, "h": h, "w": w, "channels": c}
