"""The training form of a store: flat ``.npy`` columns that training reads windows from without loading them.

A folder written once (``astromer data columns``), in store order:
- ``offsets.npy`` int64 (n+1,), ``time.npy`` float64, ``mag.npy`` float32: curve i is rows offsets[i]:offsets[i+1];
- ``ids.txt``: the ids, one a line;
- ``columns.json``: counts, the store it was made from, and ``digest``, the content digest of
  (offsets, time, mag) as :func:`astromer.core.resume.digest` computes it, so that a run's resume key never
  has to read the columns again.

:meth:`TrainingColumns.select` gives the curves of a split part as a view that the window sampler of
:mod:`astromer.core.pretraining` uses like a :class:`~astromer.core.preprocessing.Flat`
(``starts``, ``lengths``, ``time``, ``mag``, ``len``; no ``offsets``: the part is not contiguous).
``time`` and ``mag`` are memory maps whose pages are released after every gather, so resident memory
stays bounded by the windows being built, not by the pool (issue 17).
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
from pathlib import Path

import numpy as np

from ..errors import AstromerError
from ..io import atomic_directory, atomic_write_json
from .store import LightCurveStore

COLUMNS = (("time", np.float64), ("mag", np.float32))
META = "columns.json"


class ColumnsError(AstromerError, ValueError):
    """Training columns that are missing, damaged or not those of the store given."""


def _npy_header(handle, dtype, n: int) -> None:
    np.lib.format.write_array_header_1_0(
        handle, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": (n,)}
    )


def write_columns(store_path, out, chunk_rows: int | None = None) -> dict:
    """Write the training columns of the store at ``store_path`` into the folder ``out`` (atomic), a chunk of
    curves at a time. Returns the contents of ``columns.json``."""
    store = LightCurveStore.open(store_path)
    n = len(store.metadata)
    n_obs = int(store.metadata["n_obs"].sum())
    with atomic_directory(out) as tmp:
        handles = {name: open(tmp / f"{name}.npy", "wb") for name, _ in COLUMNS}
        ids_out = open(tmp / "ids.txt", "w", encoding="utf-8")
        lengths = []
        try:
            for name, dtype in COLUMNS:
                _npy_header(handles[name], dtype, n_obs)
            for ids, offsets, time, mag in store.iter_flat(chunk_rows, columns=("time", "mag")):
                for obj in ids:
                    if "\n" in obj:
                        raise ColumnsError(f"{store_path}: id {obj!r} holds a line break")
                ids_out.write("".join(f"{obj}\n" for obj in ids))
                handles["time"].write(np.ascontiguousarray(time, dtype=np.float64).tobytes())
                handles["mag"].write(np.ascontiguousarray(mag, dtype=np.float32).tobytes())
                lengths.append(np.diff(offsets))
        finally:
            for handle in (*handles.values(), ids_out):
                handle.close()
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64), out=offsets[1:])
        if offsets[-1] != n_obs or len(offsets) != n + 1:
            raise ColumnsError(
                f"{store_path}: metadata n_obs ({n_obs}) does not match the light curves ({offsets[-1]} observations)"
            )
        np.save(tmp / "offsets.npy", offsets)
        meta = {
            "digest": _digest_files(offsets, [tmp / f"{name}.npy" for name, _ in COLUMNS]),
            "n_objects": n,
            "n_observations": n_obs,
            "store": str(store_path),
            "store_simulated": store.simulated,
        }
        atomic_write_json(tmp / META, meta, sort_keys=True)
    return meta


def _digest_files(offsets: np.ndarray, paths) -> str:
    """:func:`astromer.core.resume.digest` of (offsets, *columns) with the columns read from their files in blocks."""
    h = hashlib.sha256()

    def header(array):
        h.update(f"{array.dtype.str}{array.shape}".encode())

    header(offsets)
    h.update(memoryview(np.ascontiguousarray(offsets)).cast("B") if offsets.size else b"")
    h.update(b";")
    for path in paths:
        array = np.load(path, mmap_mode="r")
        header(array)
        with open(path, "rb") as handle:
            handle.seek(array.offset)
            for block in iter(lambda: handle.read(1 << 24), b""):
                h.update(block)
        h.update(b";")
        del array
    return h.hexdigest()[:16]


class MappedColumn:
    """A read-only ``.npy`` column behind a memory map: ``column[index]`` copies the rows out, then gives the
    pages back (MADV_DONTNEED: they stay in the page cache, not in this process's resident memory)."""

    def __init__(self, path):
        self.path = Path(path)
        header = np.load(self.path, mmap_mode="r")
        self.dtype, self.shape, offset = header.dtype, header.shape, header.offset
        del header
        self._fd = os.open(self.path, os.O_RDONLY)
        self._map = mmap.mmap(self._fd, 0, access=mmap.ACCESS_READ)
        self._array = np.frombuffer(self._map, dtype=self.dtype, count=self.shape[0], offset=offset)
        self._offset = offset

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index):
        if isinstance(index, np.ndarray) and index.ndim == 2 and index.size:
            return self._windows(index)
        out = np.array(self._array[index], copy=True)
        index = np.asarray(index) if not isinstance(index, slice) else None
        if index is not None and index.size and hasattr(mmap, "MADV_DONTNEED"):
            page = mmap.PAGESIZE
            lo = (self._offset + int(index.min()) * self.dtype.itemsize) // page * page
            hi = self._offset + (int(index.max()) + 1) * self.dtype.itemsize
            self._map.madvise(mmap.MADV_DONTNEED, lo, hi - lo)
        return out

    def _windows(self, index: np.ndarray) -> np.ndarray:
        """Rows of windows (each row one window's positions): one pread per window of its span. A page
        fault on the map would map the pages around it too (fault-around), ~64 kB per window, so that a
        chunk of scattered windows maps most of a column; reads keep resident memory to the windows."""
        item = self.dtype.itemsize
        lo, hi = index.min(axis=1), index.max(axis=1) + 1
        out = np.empty(index.shape, dtype=self.dtype)
        fd = self._fd
        for k in range(len(index)):
            span = np.frombuffer(
                os.pread(fd, int(hi[k] - lo[k]) * item, self._offset + int(lo[k]) * item), dtype=self.dtype
            )
            out[k] = span[index[k] - lo[k]]
        return out


class TrainingColumns:
    """An open training-columns folder (see the module docstring)."""

    def __init__(self, path):
        self.path = Path(path)
        files = [META, "offsets.npy", "ids.txt", *(f"{name}.npy" for name, _ in COLUMNS)]
        missing = [name for name in files if not (self.path / name).is_file()]
        if missing:
            raise ColumnsError(
                f"{self.path}: not training columns (missing {missing}); write them with `astromer data columns`"
            )
        self.meta = json.loads((self.path / META).read_text())
        self.offsets = np.load(self.path / "offsets.npy")
        self.ids = (self.path / "ids.txt").read_text(encoding="utf-8").splitlines()
        self.time = MappedColumn(self.path / "time.npy")
        self.mag = MappedColumn(self.path / "mag.npy")
        if not (
            len(self.ids) + 1 == len(self.offsets) == self.meta["n_objects"] + 1
            and self.offsets[-1] == len(self.time) == len(self.mag) == self.meta["n_observations"]
        ):
            raise ColumnsError(
                f"{self.path}: ids, offsets and columns disagree with {META} "
                f"({self.meta['n_objects']} curves, {self.meta['n_observations']} observations)"
            )
        self._row = None

    def check_store(self, store: LightCurveStore) -> None:
        """Refuse columns made from another store (other ids, order or observation counts)."""
        n_obs = store.metadata["n_obs"].to_numpy(dtype=np.int64)
        if list(store.metadata["id"].astype(str)) != self.ids or not np.array_equal(n_obs, np.diff(self.offsets)):
            raise ColumnsError(
                f"{self.path}: training columns of another store than {store.path} "
                f"(made from {self.meta.get('store')}); rewrite them with `astromer data columns`"
            )

    def select(self, ids) -> ColumnsView:
        if self._row is None:
            self._row = {obj: k for k, obj in enumerate(self.ids)}
        try:
            rows = np.fromiter((self._row[str(obj)] for obj in ids), dtype=np.int64, count=len(ids))
        except KeyError as exc:
            raise ColumnsError(f"{self.path}: unknown id {exc.args[0]!r}") from None
        return ColumnsView(self, rows)


class ColumnsView:
    """Curves ``rows`` of training columns, in that order, for the window sampler (a Flat without offsets)."""

    def __init__(self, columns: TrainingColumns, rows: np.ndarray):
        self.rows = rows
        self.starts = columns.offsets[rows]
        self.lengths = columns.offsets[rows + 1] - self.starts
        self.time, self.mag = columns.time, columns.mag
        # the content of this part: the columns' digest and which of their curves, in which order
        self.digest = hashlib.sha256(f"{columns.meta['digest']};".encode() + rows.tobytes()).hexdigest()[:16]

    def __len__(self) -> int:
        return len(self.rows)
