"""The on-disk form of a GeometryCube: a partitioned Parquet dataset, read partition by partition.

A cube saved at ``<root>`` (a local directory or any ``pyarrow.fs`` URI) is::

    <root>/cube.json                        the manifest: names, conditions, class names,
                                            shapes, the cube's id and every file's checksum
    <root>/samples.parquet                  sample_id (int64), label (int32): one row per sample
    <root>/images.npy                       uint8 thumbnails [N, H, W(, 3)], when the cube has them
    <root>/projections/<method>.npy         float32 [M, L, N, 2], one per projection method
    <root>/probe_accuracy.npy               float64 [M, L, K], when the cube has probe layers
    <root>/adversarial/<norm>.npy           float32 [M, K, N], adversarial distances by norm
    <root>/parts/m00000-c00000.parquet      one file per (model, condition)

A partition holds N rows in sample order, with one column ``<metric>/<layer>`` per layer
metric and layer (float32) and the columns ``pred`` (int32), ``correct`` (bool) and
``logit_margin`` (float32); a cube with probe layers adds ``layer_pred/<layer>`` (int32) per
layer, each layer's own prediction. Reading one (model, layer, condition) cell reads 9 column
chunks of one file, once that file's checksum has been verified (the first time it is read).

Files at rest are checked, not trusted. ``cube.json`` names a SHA-256 of the cube's id and
each file's bytes, and every Parquet file holds the id too: a damaged file, or a file of
another cube (a copy, a symlink), is refused.
Every value read is checked against the manifest (types, ranges, shapes, unique ids), and a
path it names stays inside the cube. Every error names the file, and the column.

A cube is written into a staging folder beside ``<root>`` and swapped in when complete, so
a cube that is there stays whole until the new one replaces it (see
:func:`geowidget.filesystem.swap_in`); a writer that fails or is killed leaves no partial
cube at ``<root>``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from geowidget.coords import Condition
from geowidget.cube_schema import (
    ARRAYS,
    DIMS,
    DTYPES,
    LAYER_PRED,
    OPTIONAL,
    array_dims,
    optional,
)
from geowidget.filesystem import (
    STAGING_SUFFIX,
    check_regular_file,
    ensure_writable_dir,
    is_local,
    is_orphan,
    join,
    location,
    open_atomic,
    remove_dir,
    resolve,
    swap_in,
    write_atomic,
    write_error,
    writer_name,
)

__all__ = ["ADVERSARIAL", "FORMAT", "IMAGES", "META", "PARQUET_VERSION", "PARTS", "PROBE_ACCURACY",
           "PROJECTIONS", "SAMPLES", "VERSION", "CubeReader", "CubeWriter", "column",
           "partition_name", "read_parquet", "study_of", "write_parquet"]

FORMAT = "geowidget-cube"
VERSION = 3
META = "cube.json"
SAMPLES = "samples.parquet"
IMAGES = "images.npy"
PARTS = "parts"
PROJECTIONS = "projections"
PROBE_ACCURACY = "probe_accuracy.npy"
ADVERSARIAL = "adversarial"
# the files of the optional arrays stored whole: (name pattern, what a key names)
_FILES = {"images": (IMAGES, ""), "probe_accuracy": (PROBE_ACCURACY, ""),
          "projections": (f"{PROJECTIONS}/{{key}}.npy", "projection method"),
          "adversarial": (f"{ADVERSARIAL}/{{key}}.npy", "norm")}
_DIM_WORDS = {"model": "models", "layer": "layers", "condition": "conditions",
              "sample": "samples", "xy": "2"}


def partition_name(model: int, condition: int) -> str:
    """Path of the (model, condition) partition, relative to the cube's root.

    Examples
    --------
    >>> partition_name(2, 13)
    'parts/m00002-c00013.parquet'
    """
    return f"{PARTS}/m{model:05d}-c{condition:05d}.parquet"


def column(metric: str, layer: str) -> str:
    """Column of a layer metric in a partition (layer names may hold any character).

    Examples
    --------
    >>> column("margin", "features.3")
    'margin/features.3'
    """
    return f"{metric}/{layer}"


class CubeWriter:
    """Writes a cube dataset partition by partition; :meth:`finish` puts it in place.

    Use it as a context manager (or call :meth:`abort` on failure): a writer that fails
    removes what it staged, and the cube that was at ``location`` stays as it was.

    Parameters
    ----------
    location : str or PathLike
        A directory (created) or a URI. An existing cube there is replaced when the new one
        is complete; a directory that holds other files is refused.
    meta : dict
        ``models``, ``layers``, ``conditions`` (``[[sparsity, benchmark, severity], ...]``),
        ``class_names``, ``model_info``, ``dataset`` and ``n`` (samples); optionally
        ``study``, the fingerprint of the study that made the cube.

    Examples
    --------
    >>> with CubeWriter("runs/cube", meta) as writer:           # doctest: +SKIP
    ...     writer.write_samples(labels, sample_ids)
    ...     writer.write_partition(0, 0, metrics, outputs)
    ...     writer.finish()
    """

    def __init__(self, location: str | os.PathLike, meta: dict[str, Any]) -> None:
        self.location = os.fspath(location)
        self.fs, self.root = resolve(self.location)
        self.meta = dict(meta)
        self.meta.update(format=FORMAT, version=VERSION, id=uuid.uuid4().hex, images=None,
                         projections=[], checksums={}, layer_pred=False, probe_accuracy=False,
                         adversarial=[])
        self.staging = self._prepare()

    def __enter__(self) -> CubeWriter:
        return self

    def __exit__(self, kind: Any, *_: Any) -> None:
        if kind is not None:
            self.abort()

    def _prepare(self) -> str:
        """The folder to write into: a new one beside the root (the root itself where
        folders cannot be swapped), after removing what killed writers left there."""
        if self.fs.get_file_info(self.root).type == pafs.FileType.File:
            raise NotADirectoryError(f"the cube directory {self.root!r} is a file; expected a "
                                     "directory (or a path that does not exist yet)")
        names = _names(self.fs, self.root)
        if names and META not in names:
            raise FileExistsError(
                f"{self.location!r} holds other files ({sorted(names)[:5]}) and is not a "
                "geowidget cube; choose an empty or new directory"
            )
        parent, name = self.root.rsplit("/", 1)
        for entry in self.fs.get_file_info(pafs.FileSelector(parent or "/",
                                                             allow_not_found=True)):
            base = entry.path.rsplit("/", 1)[-1]
            if (entry.type == pafs.FileType.Directory and base.startswith(f".{name}.w")
                    and base.endswith(STAGING_SUFFIX)
                    and is_orphan(base, entry.mtime.timestamp() if entry.mtime else None,
                                  3600.0)):
                remove_dir(self.fs, entry.path)  # a killed writer's staging folder
        if is_local(self.fs):
            staging = writer_name(join(parent, f".{name}"), STAGING_SUFFIX)
        elif META in names:
            raise FileExistsError(f"cannot replace the cube at {self.location!r}: a "
                                  f"{self.fs.type_name} filesystem cannot swap folders "
                                  "atomically; save to a new location")
        else:
            staging = self.root  # written in place; cube.json, written last, makes it a cube
        try:
            ensure_writable_dir(self.fs, staging, "the cube directory")
        except PermissionError as err:
            raise PermissionError(f"cannot write the cube at {self.location!r}: {err}") from None
        return staging

    @contextlib.contextmanager
    def _open(self, name: str) -> Iterator[Any]:
        """A stream for the cube's file ``name``; its checksum goes into the manifest."""
        digest = _hasher(self.meta["id"])
        try:
            with open_atomic(self.fs, join(self.staging, name)) as f:
                yield _Hashing(f, digest)
        except OSError as err:
            raise write_error(err, join(self.root, name)) from err
        self.meta["checksums"][name] = digest.hexdigest()

    def _write_table(self, name: str, table: pa.Table) -> None:
        sink = pa.BufferOutputStream()
        # the cube's id inside the file: a byte-for-byte copy of another cube's file differs
        table = table.replace_schema_metadata({_ID_KEY: self.meta["id"]})
        pq.write_table(table, sink, compression="zstd")
        with self._open(name) as f:
            f.write(sink.getvalue())

    def write_samples(self, labels: np.ndarray, sample_ids: np.ndarray) -> None:
        table = pa.table({"sample_id": np.asarray(sample_ids, dtype=np.int64),
                          "label": np.asarray(labels, dtype=np.int32)})
        _check_samples(table, self.meta, join(self.root, SAMPLES))
        self._write_table(SAMPLES, table)

    def write_images(self, images: np.ndarray) -> None:
        images = np.asarray(images, dtype=np.uint8)
        with self.image_stream(images.shape) as f:
            f.write(np.ascontiguousarray(images).tobytes())

    @contextlib.contextmanager
    def image_stream(self, shape: Sequence[int]) -> Iterator[Any]:
        """A stream for uint8 thumbnails of ``shape``, written in sample order (C order)."""
        header = {"descr": "|u1", "fortran_order": False, "shape": tuple(int(d) for d in shape)}
        with self._open(IMAGES) as f:
            np.lib.format.write_array_header_1_0(f, header)
            yield f
        self.meta["images"] = {"shape": list(header["shape"]), "dtype": "uint8"}

    def write_array(self, name: str, value: np.ndarray, key: str | None = None) -> None:
        """One optional array of the registry (:data:`geowidget.cube_schema.OPTIONAL`), or
        one key of a keyed one; ``layer_pred`` goes with the partitions instead."""
        spec = optional(name)
        pattern, what = _FILES[name]
        if spec.keyed:
            self._write_npy(pattern.format(key=_safe_name(what, key)), value, spec.dtype)
            self.meta[name].append(key)
        elif name == "images":
            self.write_images(value)
        else:
            self._write_npy(pattern, value, spec.dtype)
            self.meta[name] = True

    def write_projection(self, method: str, xy: np.ndarray) -> None:
        """2-D positions float32 ``[M, L, N, 2]`` of one projection method."""
        self.write_array(PROJECTIONS, xy, method)

    def write_probe_accuracy(self, accuracy: np.ndarray) -> None:
        """Held-out accuracy of each layer's probe, float64 ``[M, L, K]`` (NaN: no probe)."""
        self.write_array("probe_accuracy", accuracy)

    def write_adversarial(self, norm: str, distance: np.ndarray) -> None:
        """Adversarial distances float32 ``[M, K, N]`` for one norm."""
        self.write_array(ADVERSARIAL, distance, norm)

    def _write_npy(self, name: str, array: np.ndarray, dtype: Any) -> None:
        with self._open(name) as f:
            np.lib.format.write_array(f, np.ascontiguousarray(array, dtype=dtype),
                                      allow_pickle=False)

    def write_partition(self, model: int, condition: int, metrics: dict[str, np.ndarray],
                        outputs: dict[str, np.ndarray],
                        layer_pred: np.ndarray | None = None) -> None:
        """One (model, condition): ``metrics[name]`` is ``[L, N]``, ``outputs[name]`` ``[N]``,
        ``layer_pred`` ``[L, N]`` (given for every partition of a cube, or for none)."""
        cols: dict[str, Any] = {}
        for name, values in metrics.items():
            for li, layer in enumerate(self.meta["layers"]):
                cols[column(name, layer)] = np.asarray(values[li], dtype=np.float32)
        if layer_pred is not None:
            for li, layer in enumerate(self.meta["layers"]):
                cols[column(LAYER_PRED, layer)] = np.asarray(layer_pred[li], dtype=np.int32)
            self.meta[LAYER_PRED] = True
        cols["pred"] = np.asarray(outputs["pred"], dtype=np.int32)
        cols["correct"] = np.asarray(outputs["correct"], dtype=bool)
        cols["logit_margin"] = np.asarray(outputs["logit_margin"], dtype=np.float32)
        name = partition_name(model, condition)
        table = pa.table(cols)
        _check_partition(table, list(cols), self.meta, join(self.root, name))
        self._write_table(name, table)

    def finish(self) -> None:
        """Write the manifest and put the cube in place (replacing the one that was there)."""
        try:
            write_atomic(self.fs, join(self.staging, META),
                         json.dumps(self.meta, indent=1).encode())
        except OSError as err:
            self.abort()
            raise write_error(err, join(self.root, META)) from err
        except BaseException:
            self.abort()
            raise
        if self.staging != self.root:
            swap_in(self.fs, self.staging, self.root)
        self.staging = ""

    def abort(self) -> None:
        """Remove what this writer staged; the cube at the location stays as it was."""
        if self.staging:
            remove_dir(self.fs, self.staging)
            self.staging = ""


class _MissingColumn(Exception):
    """A column the manifest expects is not in a file (column, the file's columns)."""


class _Hashing:
    """A write-only stream that also feeds a hash."""

    def __init__(self, stream: Any, digest: Any) -> None:
        self.stream, self.digest = stream, digest

    def write(self, data: Any) -> int:
        self.digest.update(data)
        return self.stream.write(data)


def _hasher(cube_id: str) -> Any:
    """SHA-256 of a file's bytes, salted with the cube's id: a file of another cube fails."""
    return hashlib.sha256(f"geowidget-cube:{cube_id}\n".encode())


def _names(fs: pafs.FileSystem, path: str) -> set[str]:
    return {e.path.rsplit("/", 1)[-1]
            for e in fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))}


def study_of(location: str | os.PathLike) -> str | None:
    """The fingerprint of the study that wrote the cube at ``location``; None when there is no
    cube there (or an empty folder). Raises when it holds something else than a cube.

    Examples
    --------
    >>> study_of("runs/mnist-cube")                              # doctest: +SKIP
    '5f0c...'
    """
    fs, root = resolve(location)
    info = fs.get_file_info(root)
    if info.type == pafs.FileType.NotFound or (info.type == pafs.FileType.Directory
                                               and not _names(fs, root)):
        return None
    reader_meta = CubeReader(location).meta
    return str(reader_meta.get("study", ""))


class CubeReader:
    """Reads a cube dataset: metadata and samples at once, partitions on demand.

    Every file is verified against its checksum in ``cube.json`` the first time it is read,
    and its values against the manifest (see the module doc).

    Raises
    ------
    FileNotFoundError
        ``location`` does not exist.
    ValueError
        ``location`` is not a geowidget cube (no ``cube.json``, or another format),
        partitions are missing (named in the message), or a file is damaged, of another
        cube, or disagrees with the manifest (the file and the column are named).

    Examples
    --------
    >>> reader = CubeReader("runs/mnist-cube")                   # doctest: +SKIP
    >>> reader.read_partition(0, 0, ["pred"])["pred"].shape      # doctest: +SKIP
    (1500,)
    """

    def __init__(self, location: str | os.PathLike) -> None:
        self.location = os.fspath(location)
        self.fs, self.root = resolve(self.location)
        info = self.fs.get_file_info(self.root)
        if info.type == pafs.FileType.NotFound:
            raise FileNotFoundError(f"no cube at {self.location!r}: it does not exist")
        if info.type != pafs.FileType.Directory:
            check_regular_file(self.fs, self.root, "the cube")
            raise ValueError(f"{self.location!r} is a file; a saved cube is a directory (read "
                             "single .parquet files with GeometryCube.from_parquet)")
        self._verified: dict[str, tuple[int, int]] = {}
        self.meta = self._read_meta()
        m, k = len(self.meta["models"]), len(self.meta["conditions"])
        self._check_partitions(m, k)
        table = self._read(SAMPLES, ["sample_id", "label"])
        _check_samples(table, self.meta, self._path(SAMPLES))
        self.sample_ids = table.column("sample_id").to_numpy()
        self.labels = table.column("label").to_numpy()

    def _path(self, name: str) -> str:
        return join(self.root, name)

    def _read_meta(self) -> dict[str, Any]:
        path = self._path(META)
        try:
            check_regular_file(self.fs, path, "the cube's manifest")
            with self.fs.open_input_stream(path) as f:
                meta = json.loads(f.read())
        except FileNotFoundError:
            found = sorted(_names(self.fs, self.root))
            raise ValueError(f"{self.location!r} is not a geowidget cube: it has no {META} "
                             f"(found {found[:8]})") from None
        except (OSError, ValueError) as err:
            raise ValueError(f"cannot read {path!r}: {err}") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(f"{path!r} is not the metadata of a geowidget cube")
        if meta.get("version") != VERSION:
            raise ValueError(f"{path!r} has cube format version {meta.get('version')!r}; this "
                             f"geowidget reads version {VERSION}")
        _check_meta(meta, path)
        return meta

    def _check_partitions(self, m: int, k: int) -> None:
        have = _names(self.fs, self._path(PARTS))
        missing = [(mi, ki) for mi in range(m) for ki in range(k)
                   if partition_name(mi, ki).rsplit("/", 1)[-1] not in have]
        if missing:
            named = [f"{partition_name(mi, ki)} ({self.meta['models'][mi]}, "
                     f"{_label(self.meta['conditions'][ki])})" for mi, ki in missing[:10]]
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise ValueError(f"the cube at {self.location!r} is missing {len(missing)} of its "
                             f"{m * k} partitions: {', '.join(named)}{more}")

    def _verify(self, name: str, keep: bool = False) -> bytes | None:
        """Check file ``name`` against its checksum, unless it was checked unchanged before.
        Returns its bytes when ``keep`` and it read them (None when checked before)."""
        path = self._path(name)
        info = self.fs.get_file_info(path)
        stamp = (info.size or 0, info.mtime_ns or 0)
        if self._verified.get(name) == stamp:
            return None
        expected = self.meta["checksums"].get(name)
        if expected is None:
            raise ValueError(f"cannot read {path!r}: {self._path(META)!r} has no checksum for it")
        digest = _hasher(self.meta["id"])
        chunks = []
        try:
            check_regular_file(self.fs, path, "the cube file")
            with self.fs.open_input_stream(path) as f:
                while chunk := f.read(1 << 24):  # large files (thumbnails) never whole
                    digest.update(chunk)
                    if keep:
                        chunks.append(chunk)
        except OSError as err:
            raise ValueError(f"cannot read {path!r}: {err}") from None
        if digest.hexdigest() != expected:
            raise ValueError(f"cannot read {path!r}: its checksum does not match "
                             f"{META} (the file is damaged, or belongs to another cube)")
        self._verified[name] = stamp
        return b"".join(chunks) if keep else None

    def _read(self, name: str, columns: Sequence[str]) -> pa.Table:
        """Columns of the verified Parquet file ``name``; a missing column blames the manifest
        when the file's checksum is good."""
        path = self._path(name)
        raw = self._verify(name, keep=True)
        try:
            with (pa.BufferReader(raw) if raw is not None
                  else self.fs.open_input_file(path)) as f:
                parquet = pq.ParquetFile(f)
                have = parquet.schema_arrow.names
                if lost := [c for c in columns if c not in have]:
                    raise _MissingColumn(lost[0], have)
                return parquet.read(columns=list(columns))
        except _MissingColumn as err:
            col, have = err.args
            if name == SAMPLES:
                raise ValueError(f"{path!r} has no column {col!r}") from None
            raise ValueError(
                f"{self._path(META)!r} disagrees with its partitions: {path!r} (whose "
                f"checksum is good) has no column {col!r}; its columns: {have[:12]}") from None
        except (OSError, pa.ArrowException, KeyError) as err:
            raise ValueError(f"cannot read {path!r}: {err}") from None

    def read_partition(self, model: int, condition: int,
                       columns: Sequence[str]) -> dict[str, np.ndarray]:
        """The named columns of one partition, as numpy arrays ``[N]``."""
        name = partition_name(model, condition)
        table = self._read(name, columns)
        _check_partition(table, columns, self.meta, self._path(name))
        return {c: table.column(c).to_numpy() for c in columns}

    def read_images(self) -> np.ndarray | None:
        """Thumbnails: memory-mapped on a local disk, read whole from other filesystems."""
        if self.meta.get("images") is None:
            return None
        images = self._read_npy(IMAGES)
        declared = tuple(self.meta["images"]["shape"])
        if images.dtype != np.uint8 or images.shape != declared:
            raise ValueError(f"{self._path(IMAGES)!r} holds {images.dtype} {images.shape}; "
                             f"{META} declares uint8 {declared}")
        return images

    def read_optional(self, name: str) -> Any:
        """One optional array of the registry that is stored whole (``{key: array}`` when
        keyed, else an array or None when the cube has none), memory-mapped on a local disk.
        ``images`` are read by :meth:`read_images`, ``layer_pred`` with the partitions."""
        spec = optional(name)
        pattern, _ = _FILES[name]
        sizes = {"model": len(self.meta["models"]), "layer": len(self.meta["layers"]),
                 "condition": len(self.meta["conditions"]), "sample": self.meta["n"]}
        shape, dims = spec.shape(sizes), ", ".join(_DIM_WORDS[d] for d in spec.dims)
        if spec.keyed:  # absent in cubes written before it
            return {key: self._read_array(pattern.format(key=key), spec.dtype, shape, dims)
                    for key in self.meta.get(name, [])}
        if not self.meta.get(name):
            return None
        array = self._read_array(pattern, spec.dtype, shape, dims)
        if name == "probe_accuracy" and ((array < 0) | (array > 1)).any():  # NaN: no probe
            raise ValueError(f"{self._path(pattern)!r} holds accuracies outside [0, 1]")
        return array

    def _read_array(self, name: str, dtype: Any, shape: tuple[int, ...], dims: str
                    ) -> np.ndarray:
        """The cube's ``.npy`` file ``name``, refused unless it holds ``dtype`` ``shape``."""
        array = self._read_npy(name)
        if array.dtype != dtype or array.shape != shape:
            raise ValueError(f"{self._path(name)!r} holds {array.dtype} {array.shape}; expected "
                             f"{np.dtype(dtype)} {shape} ({dims})")
        return array

    def _read_npy(self, name: str) -> np.ndarray:
        path = self._path(name)
        local = isinstance(self.fs, pafs.LocalFileSystem)
        raw = self._verify(name, keep=not local)
        try:
            if local:
                return np.load(path, mmap_mode="r", allow_pickle=False)
            if raw is None:
                raw = self.fs.open_input_stream(path).read()
            return np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)
        except (OSError, ValueError) as err:
            raise ValueError(f"cannot read {path!r}: {err}") from None


# ------------------------------------------------------------------ checks of what is read
_ID_KEY = "geowidget.cube"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def _safe_name(what: str, name: Any) -> str:
    """``name`` as a file name inside the cube: a plain name, never a path."""
    if not isinstance(name, str) or not _SAFE_NAME.match(name):
        raise ValueError(f"a {what}'s name must be letters, digits, '_', '-' or '.', "
                         f"got {name!r}")
    return name
_HEX = re.compile(r"^[0-9a-f]+$")
_COLUMN_TYPES = {"pred": pa.int32(), "correct": pa.bool_(), "logit_margin": pa.float32()}


def _check_meta(meta: dict[str, Any], path: str) -> None:
    """Every field of a manifest, or an error naming the file and the field."""
    def bad(field: str, expected: str) -> ValueError:
        shown = repr(meta.get(field))
        shown = shown if len(shown) < 120 else shown[:117] + "..."
        return ValueError(f"{path!r}: its field {field!r} must be {expected}, got {shown}")

    def strings(field: str, unique: bool) -> None:
        value = meta.get(field)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad(field, "a list of strings")
        if unique and len(set(value)) != len(value):
            raise bad(field, "a list of unique strings")

    strings("models", True)
    strings("layers", True)
    strings("class_names", False)
    if not meta["class_names"]:
        raise bad("class_names", "a non-empty list of strings")
    conds = meta.get("conditions")
    if not isinstance(conds, list) or not all(_is_condition(c) for c in conds):
        raise bad("conditions", "a list of [sparsity in [0, 1), benchmark, severity 0..5] "
                  "triples")
    if len({(float(s), b, int(v)) for s, b, v in conds}) != len(conds):
        raise bad("conditions", "a list of unique conditions")
    info = meta.get("model_info")
    if (not isinstance(info, list) or len(info) != len(meta["models"])
            or not all(isinstance(i, dict) for i in info)):
        raise bad("model_info", f"a list of {len(meta['models'])} objects (one per model)")
    if not isinstance(meta.get("dataset"), str):
        raise bad("dataset", "a string")
    n = meta.get("n")
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise bad("n", "a count of samples (an integer >= 0)")
    if not isinstance(meta.get("id"), str) or not _HEX.match(meta["id"]):
        raise bad("id", "the cube's id (hexadecimal)")
    sums = meta.get("checksums")
    if not isinstance(sums, dict) or not all(
            isinstance(v, str) and len(v) == 64 and _HEX.match(v) for v in sums.values()):
        raise bad("checksums", "an object of SHA-256 hex digests")
    images = meta.get("images")
    if images is not None and not (
            isinstance(images, dict) and images.get("dtype") == "uint8"
            and isinstance(images.get("shape"), list) and len(images["shape"]) in (3, 4)
            and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                    for d in images["shape"])
            and images["shape"][0] == n and images["shape"][3:] in ([], [3])):
        raise bad("images", f"null or {{'shape': [{n}, H, W(, 3)], 'dtype': 'uint8'}}")
    methods = meta.get("projections")
    if not isinstance(methods, list) or not all(
            isinstance(m, str) and _SAFE_NAME.match(m) for m in methods):
        raise bad("projections", "a list of method names (letters, digits, '_', '-', '.'; "
                  "no path: a cube reads only its own files)")
    if len(set(methods)) != len(methods):
        raise bad("projections", "a list of unique method names")
    norms = meta.get("adversarial", [])  # absent in cubes written before it
    if not isinstance(norms, list) or not all(
            isinstance(m, str) and _SAFE_NAME.match(m) for m in norms) or (
            len(set(norms)) != len(norms)):
        raise bad("adversarial", "a list of unique norm names ('l2', 'linf')")
    for flag in (LAYER_PRED, "probe_accuracy"):  # absent in cubes written before them
        if not isinstance(meta.get(flag, False), bool):
            raise bad(flag, "true or false")


def _is_condition(c: Any) -> bool:
    if not isinstance(c, list) or len(c) != 3:
        return False
    s, b, v = c
    return (isinstance(s, int | float) and not isinstance(s, bool) and 0 <= s < 1
            and isinstance(b, str) and isinstance(v, int) and not isinstance(v, bool)
            and 0 <= v <= 5)


def _check_column(table: pa.Table, name: str, kind: pa.DataType, path: str) -> None:
    col = table.column(name)
    if col.type != kind:
        raise ValueError(f"{path!r}: its column {name!r} holds {col.type}, expected {kind}")
    if col.null_count:
        raise ValueError(f"{path!r}: its column {name!r} has {col.null_count} missing values")


def _check_range(values: np.ndarray, name: str, count: int, path: str, what: str) -> None:
    if len(values) and (values.min() < 0 or values.max() >= count):
        odd = values[(values < 0) | (values >= count)][0]
        raise ValueError(f"{path!r}: its column {name!r} holds {odd}; {what} must lie in "
                         f"[0, {count}) for the {count} class names of {META}")


def _check_samples(table: pa.Table, meta: dict[str, Any], path: str) -> None:
    """samples.parquet against the manifest: types, count, unique ids, labels in range."""
    for name, kind in (("sample_id", pa.int64()), ("label", pa.int32())):
        if name not in table.column_names:
            raise ValueError(f"{path!r} has no column {name!r}")
        _check_column(table, name, kind, path)
    if table.num_rows != meta["n"]:
        raise ValueError(f"{path!r} has {table.num_rows} samples, {META} says {meta['n']}")
    ids = table.column("sample_id").to_numpy()
    if len(np.unique(ids)) != len(ids):
        values, counts = np.unique(ids, return_counts=True)
        raise ValueError(f"{path!r}: its column 'sample_id' repeats ids "
                         f"{values[counts > 1][:5].tolist()}; sample ids must be unique")
    _check_range(table.column("label").to_numpy(), "label", len(meta["class_names"]), path,
                 "labels")


def _check_partition(table: pa.Table, columns: Sequence[str], meta: dict[str, Any],
                     path: str) -> None:
    """Columns of a partition against the manifest: types, rows, predictions in range."""
    if table.num_rows != meta["n"]:
        raise ValueError(f"{path!r} has {table.num_rows} rows, expected {meta['n']}")
    for name in columns:
        layer_pred = name.startswith(f"{LAYER_PRED}/")
        _check_column(table, name, pa.int32() if layer_pred else
                      _COLUMN_TYPES.get(name, pa.float32()), path)
        if name == "pred" or layer_pred:
            _check_range(table.column(name).to_numpy(), name, len(meta["class_names"]), path,
                         "predictions")


def _label(condition: Sequence[Any]) -> str:
    return Condition(float(condition[0]), str(condition[1]), int(condition[2])).label


# ------------------------------------------------------------------ the single-file form
PARQUET_VERSION = 1  # of the single-file Parquet form (GeometryCube.to_parquet)
_META_FIELDS = {"models": list, "layers": list, "conditions": list, "labels": list,
                "sample_ids": list, "class_names": list, "model_info": list, "dataset": str}


def write_parquet(cube: Any, path: str) -> None:
    """Write ``cube`` as one Parquet file: its long table plus the metadata for a lossless
    round trip (see :meth:`GeometryCube.to_parquet`).

    The optional arrays of the registry are columns (``layer_pred``, ``projection:<method>:x``,
    ``adversarial:<norm>``) or, where they are no column, in the metadata (``probe_accuracy``
    with NaN as null, ``images`` in base64).

    Examples
    --------
    >>> write_parquet(cube, "small-cube.parquet")                # doctest: +SKIP
    """
    table = pa.Table.from_pandas(cube.to_pandas(), preserve_index=False)
    meta: dict[str, Any] = {
        "version": PARQUET_VERSION,
        "models": cube.models,
        "layers": cube.layers,
        "conditions": [[c.sparsity, c.benchmark, c.severity] for c in cube.conditions],
        "labels": cube.labels.tolist(),
        "sample_ids": cube.sample_ids.tolist(),
        "class_names": cube.class_names,
        "model_info": cube.model_info,
        "dataset": cube.dataset,
    }
    for spec in OPTIONAL:
        value = getattr(cube, spec.name)
        if spec.keyed:
            meta[spec.name] = list(value)  # the keys; the values are columns
        elif spec.name == "images":
            if value is not None:
                meta["images"] = {
                    "shape": list(value.shape),
                    "data": base64.b64encode(np.ascontiguousarray(value).tobytes()).decode(),
                }
        elif spec.column is None:
            meta[spec.name] = (None if value is None else  # NaN as null
                               np.where(np.isnan(value), None, value).tolist())
    schema_meta = dict(table.schema.metadata or {})
    schema_meta[b"geowidget"] = json.dumps(meta).encode()
    fs, where = resolve(location(path, "GeometryCube.to_parquet", "path"))
    with open_atomic(fs, where) as f:  # a failed write leaves no partial file
        pq.write_table(table.replace_schema_metadata(schema_meta), f, compression="zstd")


def read_parquet(path: str, make: Callable[..., Any]) -> Any:
    """Read a file written by :func:`write_parquet`: ``make(**arguments)`` with the
    constructor arguments of a GeometryCube (``make`` is the cube class, passed in so that
    this module does not import the cube).

    Every way a file can be broken (truncated, not Parquet, metadata that is not JSON,
    misses a field or disagrees with the rows, a column of the wrong type) raises a
    ``ValueError`` that names the file.

    Examples
    --------
    >>> cube = read_parquet("small-cube.parquet", GeometryCube)  # doctest: +SKIP
    """
    path = location(path, "GeometryCube.from_parquet", "path")
    where = f"cube file {str(path)!r}"
    check_regular_file(*resolve(path), "cube file", folder_hint=(
        f"from_parquet reads the single file that to_parquet writes. Open a cube folder "
        f"(GeometryCube.save's) with GeometryCube.open({str(path)!r})"))
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise ValueError(f"{where} is not a readable Parquet file ({err})") from None
    meta = _cube_metadata(table, where)
    m, ly = len(meta["models"]), len(meta["layers"])
    k, n = len(meta["conditions"]), len(meta["labels"])
    if table.num_rows != m * ly * k * n:
        raise ValueError(
            f"{where} has {table.num_rows} rows but its metadata describes {m} models x "
            f"{ly} layers x {k} conditions x {n} samples = {m * ly * k * n}"
        )
    kinds = {np.dtype(np.float32): "floating", np.dtype(np.int32): "integer",
             np.dtype(np.bool_): "bool"}

    def values(name: str, dims: tuple[str, ...], dtype: Any) -> np.ndarray:
        """Column ``name`` as an array over ``dims`` (the long table repeats it elsewhere)."""
        full = _column(table, name, kinds[np.dtype(dtype)], where).reshape(m, ly, k, n)
        return full[tuple(slice(None) if d in dims else 0 for d in DIMS)]

    arrays = {name: values(name, array_dims(name), DTYPES[name]) for name in ARRAYS}
    optional_values: dict[str, Any] = {}
    for spec in OPTIONAL:
        if spec.keyed:
            keys = meta.get(spec.name, [])
            optional_values[spec.name] = {key: np.stack(
                [values(col, spec.dims, spec.dtype) for col in spec.columns(key)], axis=-1)
                if "xy" in spec.dims else values(spec.columns(key)[0], spec.dims, spec.dtype)
                for key in keys}
        elif spec.column is not None:  # layer_pred: in a cube with probe layers
            optional_values[spec.name] = (values(spec.column, spec.dims, spec.dtype)
                                          if spec.column in table.column_names else None)
        elif spec.name == "images":
            optional_values["images"] = None
            if "images" in meta:
                raw = base64.b64decode(meta["images"]["data"], validate=True)
                optional_values["images"] = np.frombuffer(raw, dtype=np.uint8).reshape(
                    meta["images"]["shape"]).copy()
        else:
            optional_values[spec.name] = (None if meta.get(spec.name) is None else
                                          np.array(meta[spec.name], dtype=spec.dtype))
    classes = len(meta["class_names"])
    for name, pred in (("pred", arrays["pred"]), (LAYER_PRED, optional_values[LAYER_PRED])):
        if pred is not None and pred.size and (pred.min() < 0 or pred.max() >= classes):
            odd = pred[(pred < 0) | (pred >= classes)].ravel()[0]
            raise ValueError(f"{where}: its column {name!r} holds {odd}; predictions must "
                             f"lie in [0, {classes}) for its {classes} class names")
    if len(set(meta["sample_ids"])) != n:
        raise ValueError(f"{where}: its metadata 'sample_ids' repeats ids; sample ids must "
                         "be unique")
    sample = _column(table, "sample", "integer", where)
    if not np.array_equal(sample, np.tile(np.asarray(meta["sample_ids"]), m * ly * k)):
        raise ValueError(f"{where}: its 'sample' column disagrees with the sample_ids of its "
                         "metadata (rows out of order, or from another cube)")
    try:
        return make(
            models=meta["models"],
            layers=meta["layers"],
            conditions=[Condition(float(s), str(b), int(v)) for s, b, v in meta["conditions"]],
            labels=np.asarray(meta["labels"]),
            sample_ids=np.asarray(meta["sample_ids"]),
            class_names=meta["class_names"],
            model_info=meta["model_info"],
            dataset=meta["dataset"],
            **optional_values,
            **arrays,
        )
    except (ValueError, TypeError, KeyError) as err:
        raise ValueError(f"{where} holds an inconsistent cube: {err}") from None


def _cube_metadata(table: Any, where: str) -> dict[str, Any]:
    """The cube's metadata from a Parquet table's schema, every field checked."""
    raw = (table.schema.metadata or {}).get(b"geowidget")
    if raw is None:
        raise ValueError(f"{where} is a Parquet file but not a geowidget cube")
    try:
        meta = json.loads(raw)
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError
        raise ValueError(f"{where}: its geowidget metadata is not valid JSON ({err})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{where}: its geowidget metadata is a {type(meta).__name__}, not an "
                         "object")
    if meta.get("version") != PARQUET_VERSION:
        raise ValueError(f"{where} has cube format {meta.get('version')!r}, expected "
                         f"{PARQUET_VERSION}")
    for key, kind in _META_FIELDS.items():
        if not isinstance(meta.get(key), kind):
            raise ValueError(f"{where}: its metadata field {key!r} should be a {kind.__name__}, "
                             f"got {type(meta.get(key)).__name__}")
    if not all(isinstance(c, list) and len(c) == 3 for c in meta["conditions"]):
        raise ValueError(f"{where}: its metadata conditions must be [sparsity, benchmark, "
                         "severity] triples")
    if len(meta["sample_ids"]) != len(meta["labels"]):
        raise ValueError(f"{where}: its metadata has {len(meta['labels'])} labels but "
                         f"{len(meta['sample_ids'])} sample ids")
    return meta


def _column(table: Any, name: str, kind: str, where: str) -> np.ndarray:
    """Column ``name`` as numpy, checked to hold ``kind`` values ("floating", "integer", "bool")."""
    if name not in table.column_names:
        raise ValueError(f"{where} has no column {name!r}")
    column = table.column(name)
    ok = {"floating": pa.types.is_floating, "integer": pa.types.is_integer,
          "bool": pa.types.is_boolean}[kind](column.type)
    if not ok:
        raise ValueError(f"{where}: its column {name!r} holds {column.type}, expected {kind} "
                         "values")
    if column.null_count and kind != "floating":  # NaN floats are written as nulls
        raise ValueError(f"{where}: its column {name!r} has {column.null_count} missing values")
    return column.to_numpy()
