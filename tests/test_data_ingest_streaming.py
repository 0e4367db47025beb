"""Ingest in bounded memory (issue 17): the readers of the authors' layout, long tables and .mjd files hand
their curves to the store writer a chunk at a time (the authors' shards and long tables through a spill file
on disk), and write the same store as the whole-pool readers did. REFERENCE holds the content digests of the
stores those readers wrote (commit 3268e39, before streaming) on the inputs built here; the streaming readers
must give them with small chunks (several row groups, chunks straddling objects) and with the defaults."""

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from astromer.data import readers as readers_mod
from astromer.data import store as store_mod
from astromer.data.readers import ReaderError, read_authors, read_macho_mjd, read_table

REFERENCE = {
    "authors": "c5771ac6cbff75cdbc86",
    "authors_classes": "77aafe1430052ce2953a",
    "table_csv": "46a7eda7890e99c5a028",
    "table_parquet": "98725446536cad747cac",
    "mjd": "f7514015eca1bb77b695",
}
ERRORS = {
    "table_bad_number": "<tmp>/bad.csv: row 707 (object 'o013'): err 'oops' is not a number",
    "table_two_labels": "two.csv: object 'o046' has several labels ['RRL', 'CEPH']",
}


def _digest(store, tmp_path) -> str:
    """What a store holds (curves, metadata with its dtypes, provenance), independent of the parquet writer."""
    ids, offsets, time, mag, err = store.load_flat()
    h = hashlib.sha256()
    h.update("\n".join(ids).encode())
    for array in (offsets, time, mag, err):
        h.update(array.dtype.str.encode() + array.tobytes())
    meta = store.metadata
    h.update(meta.to_csv(index=False, lineterminator="\n").encode() + str(meta.dtypes.to_dict()).encode())
    h.update(json.dumps(store.provenance, sort_keys=True).replace(str(tmp_path), "<tmp>").encode())
    return h.hexdigest()[:20]


def _curve(rng, n, unsorted=False):
    t = np.round(np.sort(rng.uniform(0, 500, n)), 4)
    m = 15 + rng.normal(0, 0.3, n)
    e = rng.uniform(0.01, 0.2, n)
    if unsorted:
        order = rng.permutation(n)
        t, m, e = t[order], m[order], e[order]
    return t, m, e


def _authors_input(root, n=61):
    """Three shards whose objects are not in metadata order; too-short and sentinel curves, an orphan curve,
    a metadata row without a curve, an unused class."""
    rng = np.random.default_rng(12)
    classes = ("RRab", "EC", "Mira", "Dubious")
    meta, shards = [], {0: [], 1: [], 2: []}
    for k in range(n):
        meta.append(
            {
                "ID": f"star-{k:03d}",
                "newID": 1000 + k,
                "Class": classes[k % 4],
                "Band": "R",
                "Label": k % 4,
                "shard": (k * 7) % 3,
            }
        )
        if k == 17:
            continue  # metadata without light curve
        size = 3 if k % 11 == 0 else int(rng.integers(8, 40))
        t, m, e = _curve(rng, size, unsorted=k % 5 == 0)
        if k % 9 == 0:
            m[::4] = 99.999
        shards[(k * 7) % 3].append(pd.DataFrame({"newID": 1000 + k, "mjd": t, "mag": m, "errmag": e}))
    shards[1].append(pd.DataFrame({"newID": 5555, "mjd": np.arange(12.0), "mag": 15.0, "errmag": 0.1}))
    (root / "light_curves").mkdir(parents=True)
    for shard, parts in shards.items():
        frame = pd.concat(parts[::-1], ignore_index=True)  # shard order differs from metadata order
        frame.to_parquet(root / "light_curves" / f"shard_{shard:03d}.parquet")
    pd.DataFrame(meta).sample(frac=1, random_state=3).to_parquet(root / "metadata.parquet")
    return root


def _table_frame(n=45):
    """A long table whose rows are shuffled (each object's rows scattered over the file), labels on some rows
    only, duplicate times, NaN and sentinel values, too-short objects."""
    rng = np.random.default_rng(21)
    parts = []
    for k in range(n):
        size = 4 if k % 13 == 0 else int(rng.integers(6, 30))
        t, m, e = _curve(rng, size)
        if k % 6 == 0:
            t[1] = t[0]
        if k % 7 == 0:
            m[2] = np.nan
        label = (None, "RRL", "EB")[k % 3]
        labels = [label if i % 2 == 0 else None for i in range(size)]
        parts.append(
            pd.DataFrame({"object_id": f"o{(k * 37) % 101:03d}", "mjd": t, "mag": m, "err": e, "label": labels})
        )
    frame = pd.concat(parts, ignore_index=True)
    return frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)


def _mjd_input(root, n=14):
    rng = np.random.default_rng(4)
    root.mkdir(parents=True)
    for k in range(n):
        t, m, e = _curve(rng, 3 if k == 5 else int(rng.integers(8, 25)))
        band = "B" if k == 9 else "R"
        lines = ["# MACHO test"] + [f"{a:.4f} {b:.3f} {c:.3f}" for a, b, c in zip(t, m, e)]
        (root / f"lc_{k}.{3 + k}.{70 - k}.{band}.mjd").write_text("\n".join(lines) + "\n")
    return root


def _build(tmp_path):
    """name -> store, every reader on its input."""
    src = _authors_input(tmp_path / "authors")
    frame = _table_frame()
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_parquet(tmp_path / "t.parquet")
    out = tmp_path / "out"
    return {
        "authors": read_authors(src, "alcock", out / "a"),
        "authors_classes": read_authors(
            src, "atlas", out / "b", classes=["RRab", "EC", "LPV"], class_map={"Mira": "LPV"}
        ),
        "table_csv": read_table(tmp_path / "t.csv", "mine", "g", out / "c", min_obs=5),
        "table_parquet": read_table(tmp_path / "t.parquet", "mine", "g", out / "d", min_obs=5),
        "mjd": read_macho_mjd([_mjd_input(tmp_path / "mjd")], out / "e", min_obs=5),
    }


def _errors(tmp_path):
    frame = _table_frame()
    first = frame["object_id"].iloc[0]
    bad = frame.astype({"mag": object, "err": object})
    later = bad.index[bad["object_id"] == frame["object_id"].iloc[5]][1]
    bad.loc[later, "mag"] = "x1"  # a later object (in first-appearance order) ...
    rows = bad.index[bad["object_id"] == first]
    bad.loc[rows[-1], "err"] = "oops"  # ... and the first one: its last row is named
    bad.to_csv(tmp_path / "bad.csv", index=False)
    two = frame.copy()
    two.loc[two.index[two["object_id"] == frame["object_id"].iloc[3]][-1], "label"] = "CEPH"
    two.loc[two.index[two["object_id"] == frame["object_id"].iloc[3]][0], "label"] = "RRL"
    two.to_csv(tmp_path / "two.csv", index=False)
    out = {}
    for name, path in (("table_bad_number", "bad.csv"), ("table_two_labels", "two.csv")):
        with pytest.raises(ReaderError) as info:
            read_table(tmp_path / path, "mine", "g", tmp_path / f"x-{name}")
        assert not (tmp_path / f"x-{name}").exists()
        out[name] = str(info.value).replace(str(tmp_path), "<tmp>")
    return out


@pytest.fixture(params=["small", "default"])
def chunks(request, monkeypatch):
    if request.param == "small":
        monkeypatch.setattr(store_mod, "ROWS_PER_GROUP", 4)
        monkeypatch.setattr(store_mod, "READ_ROWS", 3)
        if hasattr(readers_mod, "TABLE_CHUNK_ROWS"):
            monkeypatch.setattr(readers_mod, "TABLE_CHUNK_ROWS", 17)
    return request.param


def test_streamed_readers_write_the_stores_of_the_whole_pool_readers(tmp_path, chunks):
    stores = _build(tmp_path)
    assert {name: _digest(store, tmp_path) for name, store in stores.items()} == REFERENCE
    assert _errors(tmp_path) == ERRORS


def test_the_inputs_exercise_what_streaming_must_keep(tmp_path):
    """The digests above only mean something if the inputs hold what could go wrong."""
    stores = _build(tmp_path)
    skips = stores["authors"].provenance["skips"]["curves_skipped"]
    assert skips["metadata_without_light_curve"] == 1 and skips["light_curve_without_metadata"] == 1
    assert skips["too_short"] >= 2
    meta = pd.read_parquet(tmp_path / "authors" / "metadata.parquet")
    assert list(stores["authors"].metadata["id"]) == [i for i in meta["ID"] if i in set(stores["authors"].ids)]
    assert list(stores["authors"].metadata["id"]) != sorted(stores["authors"].metadata["id"])
    assert stores["authors_classes"].provenance["class_dropped"] == {"Dubious": 15}
    table = stores["table_csv"]
    assert table.provenance["skips"]["points_dropped"]["duplicate_time"] > 0
    assert set(table.metadata["label"].dropna()) == {"RRL", "EB"} and table.metadata["label"].isna().any()
    assert len(stores["mjd"].metadata) == 12
