"""The internal light-curve store (contract: docs/architecture.md).

A directory with
- ``light_curves.parquet``: one row per object, ``id`` (string), ``time`` (list<float64>), ``mag`` and
  ``err`` (list<float32>); times strictly increasing, all values finite;
- ``metadata.parquet``: one row per object, at least ``id, survey, band, n_obs, label`` (label null when
  unlabeled), in the same order as the light curves;
- ``provenance.json``: what made it (``simulated``, seed, config, sources, skip counts).

Writes are atomic: the whole directory is built beside the target and swapped in with ``os.replace``.

Bounded memory (issue 17): ``iter_flat`` reads the curves a chunk of rows at a time and ``LightCurveStore.writer``
writes them a chunk at a time, always cutting row groups of ``ROWS_PER_GROUP`` curves; a store written in
chunks is byte-identical to one written at once. Only per-curve metadata (ids, labels, n_obs) is held whole.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import AstromerError
from ..io import atomic_directory, atomic_write_json

LIGHT_CURVES = "light_curves.parquet"
METADATA = "metadata.parquet"
PROVENANCE = "provenance.json"
REQUIRED_METADATA = ("id", "survey", "band", "n_obs", "label")
# Curves per parquet row group: keeps list offsets inside int32 at the paper's 1.5 M curves.
ROWS_PER_GROUP = 20_000
# Curves per chunk of the streaming readers (iter_flat): one row group's worth.
READ_ROWS = ROWS_PER_GROUP


class StoreError(AstromerError, ValueError):
    """A store that breaks the contract (bad path, missing columns, invalid curves)."""


def _validate_flat(ids, offsets, time, mag, err, where: str) -> None:
    n = len(ids)
    if offsets.shape != (n + 1,) or offsets[0] != 0 or offsets[-1] != len(time):
        raise StoreError(f"{where}: offsets do not match {n} objects and {len(time)} observations")
    if not (len(time) == len(mag) == len(err)):
        raise StoreError(f"{where}: time, mag, err lengths differ")
    lengths = np.diff(offsets)
    if np.any(lengths < 1):
        bad = ids[int(np.argmax(lengths < 1))]
        raise StoreError(f"{where}: object {bad!r} has no observations")
    finite = np.isfinite(time) & np.isfinite(mag) & np.isfinite(err)
    if not finite.all():
        i = int(np.searchsorted(offsets, np.argmin(finite), side="right") - 1)
        raise StoreError(f"{where}: object {ids[i]!r} has non-finite values")
    step = np.diff(time)
    bad_step = (step <= 0) & _inside(offsets, len(step))  # every curve has an observation (checked above)
    if bad_step.any():
        i = int(np.searchsorted(offsets, np.argmax(bad_step), side="right") - 1)
        raise StoreError(f"{where}: object {ids[i]!r} has times that are not strictly increasing")
    if len(set(ids)) != n:
        raise StoreError(f"{where}: duplicate ids")


def _inside(offsets: np.ndarray, n_steps: int) -> np.ndarray:
    """Which of the ``n_steps`` steps between consecutive observations of a flat block lie inside a curve
    (False for the step from one curve's last observation to the next curve's first)."""
    inside = np.ones(n_steps, dtype=bool)
    inside[offsets[1:-1] - 1] = False
    return inside


def inner_dt(offsets: np.ndarray, time: np.ndarray) -> np.ndarray:
    """The time steps Δt inside the curves of a flat block (``offsets``, ``time`` as from ``load_flat`` or
    ``iter_flat``), never across two curves."""
    dt = np.diff(time)
    return dt[_inside(offsets, len(dt))]


def flatten_arrays(arrays) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """List of (n_i, 3) [time, mag, err] arrays -> offsets, time, mag, err."""
    lengths = np.fromiter((len(a) for a in arrays), dtype=np.int64, count=len(arrays))
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if len(arrays):
        stacked = np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1, 3) for a in arrays])
    else:
        stacked = np.zeros((0, 3))
    return offsets, stacked[:, 0].copy(), stacked[:, 1].astype(np.float32), stacked[:, 2].astype(np.float32)


@dataclass
class LightCurveStore:
    path: Path
    metadata: pd.DataFrame
    provenance: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ reading
    @classmethod
    def open(cls, path: str | os.PathLike) -> LightCurveStore:
        path = Path(path)
        for name in (LIGHT_CURVES, METADATA, PROVENANCE):
            if not (path / name).is_file():
                raise StoreError(f"{path}: not a light-curve store (missing {name})")
        metadata = pd.read_parquet(path / METADATA)
        missing = [c for c in REQUIRED_METADATA if c not in metadata.columns]
        if missing:
            raise StoreError(f"{path / METADATA}: missing columns {missing}")
        provenance = json.loads((path / PROVENANCE).read_text())
        return cls(path=path, metadata=metadata, provenance=provenance)

    @property
    def ids(self) -> np.ndarray:
        return self.metadata["id"].to_numpy(dtype=object)

    @property
    def simulated(self) -> bool:
        return bool(self.provenance.get("simulated", False))

    def _row_indices(self, ids) -> np.ndarray | None:
        if ids is None:
            return None
        position = pd.Index(self.metadata["id"])
        rows = position.get_indexer(pd.Index([str(i) for i in ids]))
        if np.any(rows < 0):
            unknown = [i for i, r in zip(ids, rows) if r < 0][:5]
            raise StoreError(f"{self.path}: unknown ids {unknown}")
        return rows

    def load_flat(self, ids=None):
        """Bulk access for vectorised windowing.

        Returns ``(ids, offsets, time, mag, err)``: curve ``i`` is ``time[offsets[i]:offsets[i+1]]``.
        offsets int64 (n+1,), time float64, mag and err float32.
        """
        table = pq.read_table(self.path / LIGHT_CURVES, columns=["id", "time", "mag", "err"])
        all_ids = np.asarray(table.column("id").to_pylist(), dtype=object)
        offsets, columns = _flat_columns(table, ("time", "mag", "err"))
        time, mag, err = columns
        rows = self._row_indices(ids)
        if rows is None:
            return all_ids, offsets, time, mag, err
        starts, stops = offsets[rows], offsets[rows + 1]
        lengths = stops - starts
        new_offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=new_offsets[1:])
        # One gather index for all selected curves: start of each curve + position inside it.
        gather = np.repeat(starts - new_offsets[:-1], lengths) + np.arange(new_offsets[-1])
        return all_ids[rows], new_offsets, time[gather], mag[gather], err[gather]

    def iter_flat(self, chunk_rows: int | None = None, columns=("time", "mag", "err")):
        """Yield ``(ids, offsets, *columns)`` for consecutive chunks of at most ``chunk_rows`` curves, in
        store order (offsets local to the chunk): the whole store in bounded memory."""
        chunk_rows = int(chunk_rows or READ_ROWS)
        # one row group at a time: ParquetFile.iter_batches over the whole file grew with the file (measured
        # 0.33 GB for 1 row group, 0.64 GB for 4). Over one row group with a read buffer (buffer_size) Arrow
        # holds a batch and 1 MB pages, not the group's column chunks (20k curves: 251 MB -> 56 MB)
        source = pq.ParquetFile(self.path / LIGHT_CURVES, pre_buffer=False, buffer_size=1 << 20)
        for group in range(source.num_row_groups):
            for batch in source.iter_batches(
                chunk_rows, row_groups=[group], columns=["id", *columns], use_threads=False
            ):
                part = pa.Table.from_batches([batch])
                del batch
                ids = np.asarray(part.column("id").to_pylist(), dtype=object)
                offsets, values = _flat_columns(part, columns)
                del part
                yield (ids, offsets, *values)

    def load(self, ids=None) -> list[np.ndarray]:
        """List of (n, 3) float64 arrays [time, mag, err], in the order of ``ids`` (all when None)."""
        _, offsets, time, mag, err = self.load_flat(ids)
        stacked = np.column_stack([time, mag.astype(np.float64), err.astype(np.float64)])
        return [stacked[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]

    # ------------------------------------------------------------------ writing
    @staticmethod
    def write(path, ids, arrays, metadata: pd.DataFrame, provenance: dict) -> LightCurveStore:
        """Write a store from a list of (n, 3) arrays; see ``write_flat``."""
        offsets, time, mag, err = flatten_arrays(arrays)
        return LightCurveStore.write_flat(path, ids, offsets, time, mag, err, metadata, provenance)

    @staticmethod
    def write_flat(path, ids, offsets, time, mag, err, metadata: pd.DataFrame, provenance: dict) -> LightCurveStore:
        path = Path(path)
        ids = np.asarray([str(i) for i in ids], dtype=object)
        offsets = np.asarray(offsets, dtype=np.int64)
        time = np.asarray(time, dtype=np.float64)
        mag = np.asarray(mag, dtype=np.float32)
        err = np.asarray(err, dtype=np.float32)
        _validate_flat(ids, offsets, time, mag, err, str(path))
        metadata = _normalise_metadata(metadata, ids, np.diff(offsets), path)

        prov = dict(provenance)
        prov.setdefault("simulated", False)
        prov["n_objects"] = int(len(ids))
        prov["n_observations"] = int(len(time))
        with atomic_directory(path) as tmp:
            with _CurveWriter(tmp / LIGHT_CURVES) as curves:
                curves.append(ids, offsets, time, mag, err)
            metadata.to_parquet(tmp / METADATA, index=False)
            atomic_write_json(tmp / PROVENANCE, prov, sort_keys=True)
        return LightCurveStore.open(path)

    @staticmethod
    @contextlib.contextmanager
    def writer(path):
        """Write a store chunk by chunk (:class:`StoreWriter`); nothing appears at ``path`` unless the block
        ends without error after ``finish``::

            with LightCurveStore.writer(out) as w:
                for ids, offsets, time, mag, err in chunks:
                    w.append_flat(ids, offsets, time, mag, err)
                w.finish(metadata, provenance)
        """
        path = Path(path)
        with atomic_directory(path) as tmp:
            writer = StoreWriter(path, tmp)
            try:
                yield writer
            except BaseException:
                writer._curves.abort()
                raise
            if not writer.finished:
                writer._curves.abort()
                raise StoreError(f"{path}: store writer closed without finish()")


class StoreWriter:
    """The chunked writer behind :meth:`LightCurveStore.writer`: each chunk is checked as ``write_flat``
    checks a whole store; ``finish`` checks the ids against the metadata and writes metadata and provenance."""

    def __init__(self, path: Path, tmp: Path):
        self.path, self.tmp = path, tmp
        self._curves = _CurveWriter(tmp / LIGHT_CURVES)
        self._ids: list[str] = []
        self._n_obs: list[np.ndarray] = []
        self.finished = False

    def append_flat(self, ids, offsets, time, mag, err) -> None:
        ids = np.asarray([str(i) for i in ids], dtype=object)
        offsets = np.asarray(offsets, dtype=np.int64)
        time = np.asarray(time, dtype=np.float64)
        mag = np.asarray(mag, dtype=np.float32)
        err = np.asarray(err, dtype=np.float32)
        _validate_flat(ids, offsets, time, mag, err, str(self.path))
        self._curves.append(ids, offsets, time, mag, err)
        self._ids.extend(ids)
        self._n_obs.append(np.diff(offsets))

    def append(self, ids, arrays) -> None:
        """A chunk as a list of (n, 3) [time, mag, err] arrays."""
        self.append_flat(ids, *flatten_arrays(arrays))

    def finish(self, metadata: pd.DataFrame, provenance: dict) -> None:
        ids = np.asarray(self._ids, dtype=object)
        if len(set(self._ids)) != len(ids):
            raise StoreError(f"{self.path}: duplicate ids")
        n_obs = np.concatenate(self._n_obs) if self._n_obs else np.zeros(0, dtype=np.int64)
        metadata = _normalise_metadata(metadata, ids, n_obs, self.path)
        self._curves.close()
        prov = dict(provenance)
        prov.setdefault("simulated", False)
        prov["n_objects"] = int(len(ids))
        prov["n_observations"] = int(n_obs.sum())
        metadata.to_parquet(self.tmp / METADATA, index=False)
        atomic_write_json(self.tmp / PROVENANCE, prov, sort_keys=True)
        self.finished = True


def metadata_columns(path, columns) -> pa.Table:
    """Only ``columns`` of a store's metadata (an Arrow table, no Python objects per curve): what the split
    stages read, so that their memory is the ids and labels, not the whole metadata (issue 17)."""
    path = Path(path)
    for name in (LIGHT_CURVES, METADATA, PROVENANCE):
        if not (path / name).is_file():
            raise StoreError(f"{path}: not a light-curve store (missing {name})")
    present = pq.read_schema(path / METADATA).names
    missing = [c for c in columns if c not in present]
    if missing:
        raise StoreError(f"{path / METADATA}: missing columns {missing}")
    return pq.read_table(path / METADATA, columns=list(columns), use_threads=False)


def _flat_columns(table: pa.Table, names):
    """Concatenate list columns over chunks into flat numpy arrays with int64 offsets."""
    out = []
    offsets = None
    for name in names:
        parts, offs, base = [], [np.zeros(1, dtype=np.int64)], 0
        for chunk in table.column(name).chunks:
            chunk_offsets = chunk.offsets.to_numpy().astype(np.int64)
            values = chunk.flatten().to_numpy(zero_copy_only=False)
            parts.append(values)
            offs.append(chunk_offsets[1:] - chunk_offsets[0] + base)
            base += len(values)
        flat = np.concatenate(parts) if parts else np.zeros(0)
        this_offsets = np.concatenate(offs)
        if offsets is None:
            offsets = this_offsets
        elif not np.array_equal(offsets, this_offsets):
            raise StoreError(f"list column {name!r} is not aligned with the others")
        out.append(flat)
    return offsets, out


def _normalise_metadata(metadata: pd.DataFrame, ids, n_obs, path) -> pd.DataFrame:
    metadata = metadata.reset_index(drop=True).copy()
    for column in ("id", "survey", "band"):
        if column not in metadata.columns:
            raise StoreError(f"{path}: metadata lacks column {column!r}")
    metadata["id"] = metadata["id"].astype(str)
    if list(metadata["id"]) != list(ids):
        raise StoreError(f"{path}: metadata ids are not the light-curve ids in the same order")
    if "label" not in metadata.columns:
        metadata["label"] = None
    metadata["label"] = metadata["label"].astype("string")
    metadata["survey"] = metadata["survey"].astype("string")
    metadata["band"] = metadata["band"].astype("string")
    metadata["n_obs"] = np.asarray(n_obs, dtype=np.int64)
    return metadata


_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("time", pa.list_(pa.float64())),
        ("mag", pa.list_(pa.float32())),
        ("err", pa.list_(pa.float32())),
    ]
)


class _CurveWriter:
    """light_curves.parquet from chunks of any size: buffered, written as row groups of exactly
    ROWS_PER_GROUP curves (the last one shorter), so the file does not depend on how it was fed."""

    def __init__(self, path: Path):
        self._writer = pq.ParquetWriter(path, _SCHEMA, compression="zstd")
        self._pending: list[tuple] = []  # (ids, lengths, time, mag, err) pieces not yet written
        self._n_pending = 0
        self._groups = 0

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        self.abort() if exc_type else self.close()

    def append(self, ids, offsets, time, mag, err) -> None:
        lo, hi = offsets[0], offsets[-1]
        self._pending.append((np.asarray(ids, dtype=object), np.diff(offsets), time[lo:hi], mag[lo:hi], err[lo:hi]))
        self._n_pending += len(ids)
        while self._n_pending >= ROWS_PER_GROUP:
            self._flush(ROWS_PER_GROUP)

    def _flush(self, n: int) -> None:
        if len(self._pending) == 1:  # one piece (a whole store given at once) is sliced, never copied
            ids, lengths, time, mag, err = self._pending.pop()
            obs = int(lengths[:n].sum())
            rest = [(ids[n:], lengths[n:], time[obs:], mag[obs:], err[obs:])]
            group = (ids[:n], lengths[:n], time[:obs], mag[:obs], err[:obs])
            del ids, lengths, time, mag, err
        else:
            group, rest = self._take(n)
        local = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(group[1], out=local[1:])
        columns = [pa.array(list(group[0]), type=pa.string())]
        for values, typ in zip(group[2:], (pa.float64(), pa.float32(), pa.float32())):
            columns.append(pa.ListArray.from_arrays(pa.array(local.astype(np.int32)), pa.array(values, type=typ)))
        del group
        self._writer.write_table(pa.Table.from_arrays(columns, schema=_SCHEMA))
        del columns
        self._groups += 1
        self._pending = [piece for piece in rest if len(piece[0])]
        self._n_pending = sum(len(piece[0]) for piece in self._pending)

    def _take(self, n: int):
        """(the first ``n`` pending curves copied into one piece, the pending pieces after them), each piece
        dropped once copied: one row group and one piece in memory, not all pending pieces and their
        concatenation too (issue 17: that was the filter's peak)."""
        pieces, self._pending = self._pending, []
        ends = np.cumsum([len(piece[0]) for piece in pieces])
        last = int(np.searchsorted(ends, n))  # the piece that holds curve n-1
        cut = n - (int(ends[last - 1]) if last else 0)  # its curves that go in the group
        cut_obs = int(pieces[last][1][:cut].sum())
        obs = sum(len(piece[2]) for piece in pieces[:last]) + cut_obs
        group = (
            np.empty(n, dtype=object),
            np.empty(n, dtype=np.int64),
            *(np.empty(obs, dtype=values.dtype) for values in pieces[0][2:]),
        )
        at, at_obs = 0, 0
        for k in range(last + 1):
            piece, pieces[k] = pieces[k], None
            take, take_obs = (cut, cut_obs) if k == last else (len(piece[0]), len(piece[2]))
            for out, values in zip(group[:2], piece[:2]):
                out[at : at + take] = values[:take]
            for out, values in zip(group[2:], piece[2:]):
                out[at_obs : at_obs + take_obs] = values[:take_obs]
            at, at_obs = at + take, at_obs + take_obs
            if k == last:  # its tail stays pending (a view: no copy)
                pieces[k] = (piece[0][take:], piece[1][take:], *(values[take_obs:] for values in piece[2:]))
            del piece
        return group, pieces[last:]

    def close(self) -> None:
        if self._writer is None:
            return
        if self._n_pending or not self._groups:  # an empty store still gets one (empty) row group
            if not self._pending:
                self._pending = [
                    (
                        np.zeros(0, dtype=object),
                        np.zeros(0, dtype=np.int64),
                        np.zeros(0),
                        np.zeros(0, dtype=np.float32),
                        np.zeros(0, dtype=np.float32),
                    )
                ]
            self._flush(self._n_pending)
        self._writer.close()
        self._writer = None

    def abort(self) -> None:
        """Close without writing what is pending (the folder is being thrown away)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
