"""Where geowidget writes: a local path or any ``pyarrow.fs`` URI, with atomic writes.

Studies keep their unit store, and cubes their partitioned datasets, on the local disk or on
shared storage (``s3://bucket/prefix``, ``gs://...``, ``hdfs://...``; whatever
:meth:`pyarrow.fs.FileSystem.from_uri` accepts). Every file is written to a temporary name
first and then moved into place, so a reader never sees half a file. The temporary name
carries its writer's process id and host (``<file>.w<pid>@<host>.<hex>.tmp``), so a writer
killed mid-way leaves a file that :func:`remove_orphans` recognises as dead at once, while
the file of a live writer is never touched. A folder is replaced by staging the new one
beside it and swapping the two (:func:`swap_in`); nothing is deleted before that.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import shutil
import socket
import stat
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from geowidget._validation import invalid

TMP_SUFFIX = ".tmp"
STAGING_SUFFIX = ".staging"
HOST = socket.gethostname()
# <name>.w<pid>@<host>.<32 hex><suffix>: who wrote a temporary file or folder
_WRITER = re.compile(r"\.w(\d+)@([^/@]+)\.[0-9a-f]{32}(\.[a-z]+)$")


def location(value: Any, caller: str, name: str) -> str:
    """``value`` as a location string, or an error naming ``caller``'s parameter ``name``.

    Examples
    --------
    >>> location("runs/cube", "GeometryCube.save", "path")
    'runs/cube'
    """
    if not isinstance(value, str | os.PathLike) or not os.fspath(value):
        raise invalid(caller, name, "a local path or a pyarrow.fs URI (a non-empty str or "
                      "PathLike)", value)
    text = os.fspath(value)
    if not isinstance(text, str):
        raise invalid(caller, name, "a str path, not bytes", value)
    return text


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


def is_local(fs: pafs.FileSystem) -> bool:
    """Whether ``fs`` is this machine's disk (where folders can be swapped atomically)."""
    return isinstance(fs, pafs.LocalFileSystem)


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
    probe = writer_name(join(path, ".write-test"), TMP_SUFFIX)
    try:
        fs.create_dir(path, recursive=True)
        with fs.open_output_stream(probe) as f:
            f.write(b"ok")
        fs.delete_file(probe)
    except OSError as err:
        raise PermissionError(f"{what} {path!r} is not writable: {err}") from None


def writer_name(path: str, suffix: str) -> str:
    """A temporary name beside ``path`` that names this process as its writer."""
    return f"{path}.w{os.getpid()}@{HOST}.{uuid.uuid4().hex}{suffix}"


def writer_alive(name: str) -> bool | None:
    """Whether the writer of a temporary file or folder ``name`` still runs; None when that
    cannot be told (another host, or a name without a writer).

    A dead writer's process id taken by a new process reads as alive: its file then waits for
    that process to end. The error is always on the side of keeping a file.
    """
    found = _WRITER.search(name)
    if found is None or found.group(2) != HOST:
        return None
    pid = int(found.group(1))
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def is_orphan(name: str, mtime: float | None, older_than: float) -> bool:
    """A temporary file or folder whose writer is dead: known dead on this host, or, when its
    writer cannot be checked (another host), not modified for ``older_than`` seconds."""
    alive = writer_alive(name)
    if alive is not None:
        return not alive
    return time.time() - (mtime or 0.0) >= older_than


def write_error(err: OSError, path: str) -> OSError:
    """``err`` again, its message naming the file that was being written (errno kept)."""
    reason = os.strerror(err.errno) if err.errno else str(err)
    if err.errno:
        return OSError(err.errno, f"cannot write {path!r}: {reason}")
    return OSError(f"cannot write {path!r}: {reason}")


@contextlib.contextmanager
def open_atomic(fs: pafs.FileSystem, path: str) -> Iterator[Any]:
    """A stream to write ``path`` through: a temporary file, moved into place on success.

    On any failure the temporary file is removed and an ``OSError`` (a full disk, say)
    names ``path``.
    """
    tmp = writer_name(path, TMP_SUFFIX)
    try:
        fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        with fs.open_output_stream(tmp) as f:
            yield f
        fs.move(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            fs.delete_file(tmp)
        if isinstance(err, OSError) and not str(err).startswith("cannot write"):
            raise write_error(err, path) from err
        raise


def write_atomic(fs: pafs.FileSystem, path: str, payload: bytes) -> None:
    """Write ``payload`` to ``path``: to a temporary name first, then moved into place."""
    with open_atomic(fs, path) as f:
        f.write(payload)


def check_regular_file(fs: pafs.FileSystem | None, path: str, what: str = "file",
                       folder_hint: str = "") -> None:
    """Raise at once when the local ``path`` (``fs`` None or local) is a FIFO, a device, a
    socket or a folder: reading one could block forever or never end. ``folder_hint`` says
    what reads a folder, for the callers that users give one by mistake."""
    if fs is not None and not is_local(fs):
        return
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return  # the reader reports a missing file in its own words
    if not stat.S_ISREG(mode):
        kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
        if folder_hint and stat.S_ISDIR(mode):
            raise ValueError(f"{what} {path!r} is a folder; {folder_hint}")
        raise ValueError(f"{what} {path!r} is {kind}, not a regular file")


def read_bytes(fs: pafs.FileSystem, path: str) -> bytes | None:
    """The file's bytes, or None when it does not exist."""
    check_regular_file(fs, path)
    try:
        with fs.open_input_stream(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


def remove_orphans(fs: pafs.FileSystem, path: str, older_than: float = 3600.0) -> list[str]:
    """Delete the ``*.tmp`` files under ``path`` whose writers are dead; returns their paths.

    A file written by a process of this host is removed as soon as that process is gone, and
    never while it runs. A file from another host (whose process cannot be checked) is
    removed once it has not been modified for ``older_than`` seconds.
    """
    selector = pafs.FileSelector(path, recursive=True, allow_not_found=True)
    removed = []
    for info in fs.get_file_info(selector):
        if info.type != pafs.FileType.File or not info.path.endswith(TMP_SUFFIX):
            continue
        mtime = info.mtime.timestamp() if info.mtime is not None else None
        if is_orphan(info.path, mtime, older_than):
            try:
                fs.delete_file(info.path)
                removed.append(info.path)
            except FileNotFoundError:
                pass  # removed by someone else meanwhile
    return removed


def swap_in(fs: pafs.FileSystem, staging: str, target: str) -> None:
    """Put the finished folder ``staging`` at ``target``; an old ``target`` is removed only
    after the new one is in place.

    On a local disk the two folders are exchanged in one atomic step (Linux
    ``renameat2(RENAME_EXCHANGE)``), else the old folder is first renamed aside. Other
    filesystems cannot rename folders atomically: there ``target`` must not exist.
    """
    if not is_local(fs):
        if fs.get_file_info(target).type != pafs.FileType.NotFound:
            raise FileExistsError(f"cannot replace {target!r} atomically on {fs.type_name}")
        fs.move(staging, target)
        return
    try:
        os.rename(staging, target)  # no target, or an empty folder: one atomic step
        return
    except OSError as err:
        if err.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
    if not _exchange(staging, target):
        aside = writer_name(target, ".old")
        os.rename(target, aside)
        os.rename(staging, target)
        staging = aside
    shutil.rmtree(staging, ignore_errors=True)  # the old folder


def _exchange(a: str, b: str) -> bool:
    """Swap two local paths atomically; False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    if ctypes.get_errno() in (errno.EINVAL, errno.ENOSYS, errno.EPERM):
        return False
    raise OSError(ctypes.get_errno(), f"cannot swap {a!r} and {b!r}: "
                  f"{os.strerror(ctypes.get_errno())}")


def remove_dir(fs: pafs.FileSystem, path: str) -> None:
    """Delete a folder and everything in it (nothing when it is gone already)."""
    with contextlib.suppress(FileNotFoundError):
        fs.delete_dir(path)


__all__ = [
    "HOST", "STAGING_SUFFIX", "TMP_SUFFIX", "check_regular_file", "ensure_writable_dir",
    "is_local", "is_orphan", "join", "location", "open_atomic", "read_bytes", "remove_dir",
    "remove_orphans", "resolve", "swap_in", "write_atomic", "write_error", "writer_alive",
    "writer_name",
]
