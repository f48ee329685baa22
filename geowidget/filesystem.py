"""Where geowidget writes: a local path or any ``pyarrow.fs`` URI, with atomic writes.

Studies keep their unit store, and cubes their partitioned datasets, on the local disk or on
shared storage (``s3://bucket/prefix``, ``gs://...``, ``hdfs://...``; whatever
:meth:`pyarrow.fs.FileSystem.from_uri` accepts). Every file is written to a temporary name
first and then moved into place, so a reader never sees half a file, and a writer killed
mid-way leaves only a ``*.tmp`` file, which :func:`remove_orphans` deletes later.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

TMP_SUFFIX = ".tmp"


def resolve(location: str | os.PathLike) -> tuple[pafs.FileSystem, str]:
    """``(filesystem, path)`` of a local path (relative or absolute) or a URI.

    Examples
    --------
    >>> fs, path = resolve("runs/study")
    >>> type(fs).__name__, path.endswith("runs/study")
    ('LocalFileSystem', True)
    """
    if not isinstance(location, str | os.PathLike):
        raise TypeError(f"a location must be a path or a URI string, got {type(location).__name__}")
    text = os.fspath(location)
    if not text:
        raise ValueError("a location must not be empty")
    if "://" in text:
        try:
            return pafs.FileSystem.from_uri(text)
        except Exception as err:  # noqa: BLE001 -- pyarrow raises several types for bad URIs
            raise ValueError(f"cannot open {text!r} as a pyarrow.fs URI: {err}") from None
    return pafs.LocalFileSystem(), Path(text).expanduser().resolve().as_posix()


def join(*parts: str) -> str:
    """Join path parts with ``/`` (the separator of every pyarrow filesystem)."""
    return "/".join(p.rstrip("/") for p in parts if p)


def ensure_writable_dir(fs: pafs.FileSystem, path: str, what: str) -> None:
    """Create ``path`` as a directory and prove it writable, or raise naming it.

    Raises
    ------
    NotADirectoryError
        ``path`` exists and is a file.
    PermissionError
        The directory cannot be created or written to.
    """
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.File:
        raise NotADirectoryError(f"{what} {path!r} is a file; expected a directory (or a path "
                                 "that does not exist yet)")
    probe = join(path, f".write-test-{uuid.uuid4().hex}{TMP_SUFFIX}")
    try:
        fs.create_dir(path, recursive=True)
        with fs.open_output_stream(probe) as f:
            f.write(b"ok")
        fs.delete_file(probe)
    except OSError as err:
        raise PermissionError(f"{what} {path!r} is not writable: {err}") from None


@contextlib.contextmanager
def open_atomic(fs: pafs.FileSystem, path: str) -> Iterator[Any]:
    """A stream to write ``path`` through: a temporary file, moved into place on success."""
    tmp = f"{path}.{uuid.uuid4().hex}{TMP_SUFFIX}"
    fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    try:
        with fs.open_output_stream(tmp) as f:
            yield f
        fs.move(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            fs.delete_file(tmp)
        raise


def write_atomic(fs: pafs.FileSystem, path: str, payload: bytes) -> None:
    """Write ``payload`` to ``path``: to a temporary name first, then moved into place."""
    with open_atomic(fs, path) as f:
        f.write(payload)


def read_bytes(fs: pafs.FileSystem, path: str) -> bytes | None:
    """The file's bytes, or None when it does not exist."""
    try:
        with fs.open_input_stream(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


def remove_orphans(fs: pafs.FileSystem, path: str, older_than: float = 60.0) -> list[str]:
    """Delete ``*.tmp`` files under ``path`` not modified for ``older_than`` seconds.

    A live writer finishes a file in far less than a minute, so the temporary files that are
    older belong to writers that were killed. Returns the deleted paths.
    """
    selector = pafs.FileSelector(path, recursive=True, allow_not_found=True)
    now = time.time()
    removed = []
    for info in fs.get_file_info(selector):
        if info.type != pafs.FileType.File or not info.path.endswith(TMP_SUFFIX):
            continue
        mtime = info.mtime.timestamp() if info.mtime is not None else 0.0
        if now - mtime >= older_than:
            try:
                fs.delete_file(info.path)
                removed.append(info.path)
            except FileNotFoundError:
                pass  # removed by someone else meanwhile
    return removed
