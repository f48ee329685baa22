"""The on-disk form of a GeometryCube: a partitioned Parquet dataset, read partition by partition.

A cube saved at ``<root>`` (a local directory or any ``pyarrow.fs`` URI) is::

    <root>/cube.json                        metadata: names, conditions, class names, shapes
    <root>/samples.parquet                  sample_id (int64), label (int32): one row per sample
    <root>/images.npy                       uint8 thumbnails [N, H, W(, 3)], when the cube has them
    <root>/projections/<method>.npy         float32 [M, L, N, 2], one per projection method
    <root>/adversarial/<norm>.npy           float32 [M, K, N], adversarial distances by norm
    <root>/parts/m00000-c00000.parquet      one file per (model, condition)

A partition holds N rows in sample order, with one column ``<metric>/<layer>`` per layer
metric and layer (float32) and the columns ``pred`` (int32), ``correct`` (bool) and
``logit_margin`` (float32). Reading one (model, layer, condition) cell reads 9 column chunks
of one file; nothing else. ``cube.json`` is written last, so a directory without it is not
(yet) a cube. Every read error names the file it came from.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from geowidget.filesystem import ensure_writable_dir, join, open_atomic, resolve

FORMAT = "geowidget-cube"
VERSION = 2
META = "cube.json"
SAMPLES = "samples.parquet"
IMAGES = "images.npy"
PARTS = "parts"
PROJECTIONS = "projections"
ADVERSARIAL = "adversarial"


def partition_name(model: int, condition: int) -> str:
    """Path of the (model, condition) partition, relative to the cube's root."""
    return f"{PARTS}/m{model:05d}-c{condition:05d}.parquet"


def column(metric: str, layer: str) -> str:
    """Column of a layer metric in a partition (layer names may hold any character)."""
    return f"{metric}/{layer}"


class CubeWriter:
    """Writes a cube dataset partition by partition; :meth:`finish` makes it a cube.

    Parameters
    ----------
    location : str or PathLike
        A directory (created) or a URI. An existing cube there is replaced; a directory that
        holds other files is refused.
    meta : dict
        ``models``, ``layers``, ``conditions`` (``[[sparsity, benchmark, severity], ...]``),
        ``class_names``, ``model_info``, ``dataset`` and ``n`` (samples).
    """

    def __init__(self, location: str | os.PathLike, meta: dict[str, Any]) -> None:
        self.location = os.fspath(location)
        self.fs, self.root = resolve(self.location)
        self.meta = dict(meta)
        self.meta.update(format=FORMAT, version=VERSION, images=None, projections=[],
                         adversarial=[])
        self._prepare()

    def _prepare(self) -> None:
        ensure_writable_dir(self.fs, self.root, "the cube directory")
        entries = self.fs.get_file_info(pafs.FileSelector(self.root, allow_not_found=True))
        names = {e.path.rsplit("/", 1)[-1] for e in entries}
        if names and META not in names:
            raise FileExistsError(
                f"{self.location!r} holds other files ({sorted(names)[:5]}) and is not a "
                "geowidget cube; choose an empty or new directory"
            )
        if META in names:  # replace the old cube: unmark it first, then drop its files
            self.fs.delete_file(join(self.root, META))
            for name in (SAMPLES, IMAGES):
                if name in names:
                    self.fs.delete_file(join(self.root, name))
            for name in (PARTS, PROJECTIONS, ADVERSARIAL):
                if name in names:
                    self.fs.delete_dir(join(self.root, name))

    def _write_table(self, name: str, table: pa.Table) -> None:
        with open_atomic(self.fs, join(self.root, name)) as f:
            pq.write_table(table, f, compression="zstd")

    def write_samples(self, labels: np.ndarray, sample_ids: np.ndarray) -> None:
        self._write_table(SAMPLES, pa.table({
            "sample_id": np.asarray(sample_ids, dtype=np.int64),
            "label": np.asarray(labels, dtype=np.int32),
        }))

    def write_images(self, images: np.ndarray) -> None:
        images = np.asarray(images, dtype=np.uint8)
        with self.image_stream(images.shape) as f:
            f.write(np.ascontiguousarray(images).tobytes())

    @contextlib.contextmanager
    def image_stream(self, shape: Sequence[int]) -> Iterator[Any]:
        """A stream for uint8 thumbnails of ``shape``, written in sample order (C order)."""
        header = {"descr": "|u1", "fortran_order": False, "shape": tuple(int(d) for d in shape)}
        with open_atomic(self.fs, join(self.root, IMAGES)) as f:
            np.lib.format.write_array_header_1_0(f, header)
            yield f
        self.meta["images"] = {"shape": list(header["shape"]), "dtype": "uint8"}

    def write_projection(self, method: str, xy: np.ndarray) -> None:
        """2-D positions float32 ``[M, L, N, 2]`` of one projection method."""
        self._write_npy(f"{PROJECTIONS}/{method}.npy", xy)
        self.meta["projections"].append(method)

    def write_adversarial(self, norm: str, distance: np.ndarray) -> None:
        """Adversarial distances float32 ``[M, K, N]`` for one norm."""
        self._write_npy(f"{ADVERSARIAL}/{norm}.npy", distance)
        self.meta["adversarial"].append(norm)

    def _write_npy(self, name: str, array: np.ndarray) -> None:
        array = np.ascontiguousarray(array, dtype=np.float32)
        with open_atomic(self.fs, join(self.root, name)) as f:
            np.lib.format.write_array(f, array, allow_pickle=False)

    def write_partition(self, model: int, condition: int, metrics: dict[str, np.ndarray],
                        outputs: dict[str, np.ndarray]) -> None:
        """One (model, condition): ``metrics[name]`` is ``[L, N]``, ``outputs[name]`` ``[N]``."""
        cols: dict[str, Any] = {}
        for name, values in metrics.items():
            for li, layer in enumerate(self.meta["layers"]):
                cols[column(name, layer)] = np.asarray(values[li], dtype=np.float32)
        cols["pred"] = np.asarray(outputs["pred"], dtype=np.int32)
        cols["correct"] = np.asarray(outputs["correct"], dtype=bool)
        cols["logit_margin"] = np.asarray(outputs["logit_margin"], dtype=np.float32)
        self._write_table(partition_name(model, condition), pa.table(cols))

    def finish(self) -> None:
        with open_atomic(self.fs, join(self.root, META)) as f:
            f.write(json.dumps(self.meta, indent=1).encode())


class CubeReader:
    """Reads a cube dataset: metadata and samples at once, partitions on demand.

    Raises
    ------
    FileNotFoundError
        ``location`` does not exist.
    ValueError
        ``location`` is not a geowidget cube (no ``cube.json``, or another format), or
        partitions are missing (named in the message).
    """

    def __init__(self, location: str | os.PathLike) -> None:
        self.location = os.fspath(location)
        self.fs, self.root = resolve(self.location)
        info = self.fs.get_file_info(self.root)
        if info.type == pafs.FileType.NotFound:
            raise FileNotFoundError(f"no cube at {self.location!r}: it does not exist")
        if info.type == pafs.FileType.File:
            raise ValueError(f"{self.location!r} is a file; a saved cube is a directory (read "
                             "single .parquet files with GeometryCube.from_parquet)")
        self.meta = self._read_meta()
        m, k = len(self.meta["models"]), len(self.meta["conditions"])
        self._check_partitions(m, k)
        table = self._read(SAMPLES, ["sample_id", "label"])
        self.sample_ids = table.column("sample_id").to_numpy()
        self.labels = table.column("label").to_numpy()
        if len(self.labels) != self.meta["n"]:
            raise ValueError(f"{self._path(SAMPLES)!r} has {len(self.labels)} samples, "
                             f"{META} says {self.meta['n']}")

    def _path(self, name: str) -> str:
        return join(self.root, name)

    def _read_meta(self) -> dict[str, Any]:
        path = self._path(META)
        try:
            with self.fs.open_input_stream(path) as f:
                meta = json.loads(f.read())
        except FileNotFoundError:
            found = sorted(e.path.rsplit("/", 1)[-1] for e in self.fs.get_file_info(
                pafs.FileSelector(self.root, allow_not_found=True)))
            raise ValueError(f"{self.location!r} is not a geowidget cube: it has no {META} "
                             f"(found {found[:8]})") from None
        except (OSError, ValueError) as err:
            raise ValueError(f"cannot read {path!r}: {err}") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(f"{path!r} is not the metadata of a geowidget cube")
        if meta.get("version") != VERSION:
            raise ValueError(f"{path!r} has cube format version {meta.get('version')!r}; this "
                             f"geowidget reads version {VERSION}")
        return meta

    def _check_partitions(self, m: int, k: int) -> None:
        selector = pafs.FileSelector(self._path(PARTS), allow_not_found=True)
        have = {e.path.rsplit("/", 1)[-1] for e in self.fs.get_file_info(selector)}
        missing = [(mi, ki) for mi in range(m) for ki in range(k)
                   if partition_name(mi, ki).rsplit("/", 1)[-1] not in have]
        if missing:
            named = [f"{partition_name(mi, ki)} ({self.meta['models'][mi]}, "
                     f"{_label(self.meta['conditions'][ki])})" for mi, ki in missing[:10]]
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise ValueError(f"the cube at {self.location!r} is missing {len(missing)} of its "
                             f"{m * k} partitions: {', '.join(named)}{more}")

    def _read(self, name: str, columns: Sequence[str]) -> pa.Table:
        path = self._path(name)
        try:
            return pq.read_table(path, columns=list(columns), filesystem=self.fs)
        except (OSError, pa.ArrowException, KeyError) as err:
            raise ValueError(f"cannot read {path!r}: {err}") from None

    def read_partition(self, model: int, condition: int,
                       columns: Sequence[str]) -> dict[str, np.ndarray]:
        """The named columns of one partition, as numpy arrays ``[N]``."""
        table = self._read(partition_name(model, condition), columns)
        out = {}
        for name in columns:
            values = table.column(name).to_numpy()
            if len(values) != self.meta["n"]:
                raise ValueError(f"{self._path(partition_name(model, condition))!r} has "
                                 f"{len(values)} rows, expected {self.meta['n']}")
            out[name] = values
        return out

    def read_images(self) -> np.ndarray | None:
        """Thumbnails: memory-mapped on a local disk, read whole from other filesystems."""
        if self.meta.get("images") is None:
            return None
        return self._read_npy(IMAGES)

    def read_projections(self) -> dict[str, np.ndarray]:
        """``{method: float32 [M, L, N, 2]}``, memory-mapped on a local disk."""
        return {method: self._read_npy(f"{PROJECTIONS}/{method}.npy")
                for method in self.meta.get("projections", [])}

    def read_adversarial(self) -> dict[str, np.ndarray]:
        """``{norm: float32 [M, K, N]}``, memory-mapped on a local disk."""
        return {norm: self._read_npy(f"{ADVERSARIAL}/{norm}.npy")
                for norm in self.meta.get("adversarial", [])}

    def _read_npy(self, name: str) -> np.ndarray:
        path = self._path(name)
        try:
            if isinstance(self.fs, pafs.LocalFileSystem):
                return np.load(path, mmap_mode="r", allow_pickle=False)
            with self.fs.open_input_file(path) as f:
                return np.lib.format.read_array(f, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise ValueError(f"cannot read {path!r}: {err}") from None


def _label(condition: Sequence[Any]) -> str:
    from geowidget.cube import Condition

    return Condition(float(condition[0]), str(condition[1]), int(condition[2])).label
