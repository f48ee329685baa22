"""The unit store: finished work units, checksummed, written atomically, on any filesystem.

Each unit's arrays are one file ``<root>/<key[:2]>/<key>.gwu``: the magic ``GWU1``, the
SHA-256 (hex) of the payload, then the payload (numpy ``.npz``). The key is a fingerprint of
everything the unit depends on (model weights, the shard's inputs, the settings), so a
re-run, on this machine or on any worker of a cluster, reuses exactly the units whose inputs
did not change. A file that fails its checksum is reported and recomputed. Files are written
under a temporary name that names their writer (process id and host) and moved into place
(see :mod:`geowidget.filesystem`), so a killed writer leaves at most a ``*.tmp`` file, which
:meth:`UnitStore.remove_orphans` deletes as soon as its writer is gone.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from typing import Any

import numpy as np

import geowidget.filesystem as fsys

__all__ = ["MAGIC", "SUFFIX", "UnitStore"]

MAGIC = b"GWU1"
SUFFIX = ".gwu"


class UnitStore:
    """Checksummed unit files under ``root``: a local directory or a ``pyarrow.fs`` URI.

    Parameters
    ----------
    root : str or PathLike
        A directory (created when missing) or a URI such as ``s3://bucket/study``. Every
        worker of a cluster must reach it.

    Examples
    --------
    >>> store = UnitStore(tmp_dir)                                    # doctest: +SKIP
    >>> store.save("ab12...", {"angle": np.zeros(3)})                  # doctest: +SKIP
    >>> store.load("ab12...")["angle"]                                 # doctest: +SKIP
    array([0., 0., 0.])
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = os.fspath(root)
        self._fs, self._path = fsys.resolve(self.root)
        self.corrupt = 0  # files that failed their checksum, since this object was made

    def __reduce__(self) -> tuple[Any, tuple[str]]:  # workers re-open the store by its root
        return (UnitStore, (self.root,))

    def __repr__(self) -> str:
        return f"UnitStore({self.root!r})"

    def path(self, key: str) -> str:
        return fsys.join(self._path, key[:2], key + SUFFIX)

    def check_writable(self) -> None:
        """Raise before any work starts when the root is a file or cannot be written."""
        fsys.ensure_writable_dir(self._fs, self._path, "the study store (cache_dir)")

    def remove_orphans(self, older_than: float = 3600.0) -> list[str]:
        """Delete temporary files that killed writers left behind; returns their paths.

        A writer of this host is known dead at once; ``older_than`` (seconds) applies only to
        files of other hosts, whose processes cannot be checked from here.
        """
        return fsys.remove_orphans(self._fs, self._path, older_than)

    def save(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        """Write one unit atomically (a concurrent writer of the same key writes the same bytes)."""
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        payload = buf.getvalue()
        fsys.write_atomic(self._fs, self.path(key), MAGIC + _digest(payload) + payload)

    def load(self, key: str) -> dict[str, np.ndarray] | None:
        """The unit's arrays; None when it is missing or fails its checksum (with a warning)."""
        raw = fsys.read_bytes(self._fs, self.path(key))
        if raw is None:
            return None
        payload = raw[4 + 64 :]
        if raw[:4] == MAGIC and raw[4 : 4 + 64] == _digest(payload):
            try:
                with np.load(io.BytesIO(payload), allow_pickle=False) as z:
                    return {k: z[k] for k in z.files}
            except (OSError, ValueError, KeyError):
                pass
        self.corrupt += 1
        warnings.warn(f"unit file {self.path(key)} is corrupt (checksum mismatch); recomputing",
                      RuntimeWarning, stacklevel=2)
        return None

    def exists(self, key: str) -> bool:
        import pyarrow.fs as pafs

        return self._fs.get_file_info(self.path(key)).type == pafs.FileType.File


def _digest(payload: bytes) -> bytes:
    return hashlib.sha256(payload).hexdigest().encode()
