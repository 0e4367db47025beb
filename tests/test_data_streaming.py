"""Bounded-memory data stages (issue 17): a store read and written in chunks, and the white-noise filter run
chunk by chunk, give byte-identical files to the whole-store path. Row groups and read chunks are forced
small here so that the chunking really happens (several row groups, chunks that straddle them)."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from astromer import cli
from astromer.data import store as store_mod
from astromer.data.filtering import filter_store, white_noise_filter
from astromer.data.splits import SplitError
from astromer.data.store import LightCurveStore, StoreError

from conftest import synthetic_curves


def main(argv):  # `astromer data ARGV`
    return cli.main(["data", *argv])


FILES = ("light_curves.parquet", "metadata.parquet", "provenance.json")


def _old_write_light_curves(path, ids, offsets, time, mag, err, rows_per_group):
    """The whole-store writer as it was before streaming (commit 1f33dc1), to pin the file format."""
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("time", pa.list_(pa.float64())),
            ("mag", pa.list_(pa.float32())),
            ("err", pa.list_(pa.float32())),
        ]
    )
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for start in range(0, max(len(ids), 1), rows_per_group):
            stop = min(start + rows_per_group, len(ids))
            lo, hi = offsets[start], offsets[stop]
            local = pa.array((offsets[start : stop + 1] - lo).astype(np.int32))
            columns = [pa.array(list(ids[start:stop]), type=pa.string())]
            for values, typ in ((time, pa.float64()), (mag, pa.float32()), (err, pa.float32())):
                columns.append(pa.ListArray.from_arrays(local, pa.array(values[lo:hi], type=typ)))
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))


def _mixed_curves(n, seed=3):
    """Variable curves and white-noise ones (the filter removes some and keeps some)."""
    rng = np.random.default_rng(seed)
    curves = synthetic_curves(n, rng, min_len=20, max_len=90)
    for k in range(0, n, 3):  # every third: flat white noise, std well below 0.1
        curves[k][:, 1] = 15 + rng.normal(0, 0.02, len(curves[k]))
    return curves


def _write(path, curves, label_every=4):
    ids = [f"obj-{i:04d}" for i in range(len(curves))]
    labels = [("RRL" if i % 2 else "EB") if i % label_every == 0 else None for i in range(len(curves))]
    meta = pd.DataFrame({"id": ids, "survey": "macho", "band": "R", "label": labels, "extra": range(len(ids))})
    return LightCurveStore.write(path, ids, curves, meta, {"simulated": True, "seed": 11})


@pytest.fixture
def small_groups(monkeypatch):
    monkeypatch.setattr(store_mod, "ROWS_PER_GROUP", 7)


def _same_files(a, b):
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_chunked_writer_is_byte_identical_to_whole_store_writer(tmp_path, small_groups):
    curves = _mixed_curves(40)
    whole = _write(tmp_path / "whole", curves)
    assert pq.ParquetFile(whole.path / "light_curves.parquet").num_row_groups == 6  # 40 curves, groups of 7
    ids, offsets, time, mag, err = whole.load_flat()
    # the format is the one the whole-store writer always wrote
    _old_write_light_curves(tmp_path / "old.parquet", ids, offsets, time, mag, err, 7)
    assert (tmp_path / "old.parquet").read_bytes() == (whole.path / "light_curves.parquet").read_bytes()
    # fed in uneven chunks (3, then 5 at a time) that straddle the row groups
    with LightCurveStore.writer(tmp_path / "chunked") as writer:
        bounds = [0, 3, 8, 11, 16, 21, 33, 40]
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            writer.append(ids[lo:hi], curves[lo:hi])
        writer.finish(whole.metadata.drop(columns=["n_obs"]), {"simulated": True, "seed": 11})
    _same_files(whole.path, tmp_path / "chunked")


def test_iter_flat_chunks_are_the_store_in_order(tmp_path, small_groups):
    store = _write(tmp_path / "s", _mixed_curves(30))
    ids, offsets, time, mag, err = store.load_flat()
    chunks = list(store.iter_flat(chunk_rows=4))
    # at most 4 curves a chunk, never across a row group of 7 (one row group is read at a time)
    assert [len(c[0]) for c in chunks] == [4, 3] * 4 + [2]
    assert list(np.concatenate([c[0] for c in chunks])) == list(ids)
    assert np.array_equal(np.concatenate([c[2] for c in chunks]), time)
    assert np.array_equal(np.concatenate([c[3] for c in chunks]), mag)
    assert np.array_equal(np.concatenate([np.diff(c[1]) for c in chunks]), np.diff(offsets))


def test_chunked_filter_gives_the_whole_store_files(tmp_path, small_groups):
    src = _write(tmp_path / "pool", _mixed_curves(45))
    # in memory, as `astromer data filter` did before streaming
    ids, offsets, time, mag, err = src.load_flat()
    kept, report = white_noise_filter(ids, offsets, mag, labels=src.metadata["label"].tolist(), std=0.08)
    assert 0 < len(kept) < len(ids)  # the filter really drops curves here
    keep = set(kept)
    metadata = src.metadata[[i in keep for i in ids]].reset_index(drop=True)
    provenance = {**src.provenance, "filter": report, "filtered_from": str(src.path)}
    report.update(input_store=str(src.path), output_store=str(tmp_path / "chunked"))
    LightCurveStore.write(
        tmp_path / "whole", metadata["id"].tolist(), src.load(list(metadata["id"])), metadata, provenance
    )
    # chunk by chunk, 4 curves at a time (groups of 7 in and out)
    streamed = filter_store(src.path, tmp_path / "chunked", chunk_rows=4, std=0.08)
    assert streamed == report
    _same_files(tmp_path / "whole", tmp_path / "chunked")
    # the command line writes the same log and store
    assert (
        main(
            [
                "filter",
                "--store",
                str(src.path),
                "--out",
                str(tmp_path / "cli"),
                "--log",
                str(tmp_path / "log.json"),
                "--std",
                "0.08",
            ]
        )
        == 0
    )
    for name in FILES[:2]:
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()


def test_writer_refuses_duplicates_across_chunks_and_leaves_nothing(tmp_path):
    curve = [np.array([[0.0, 1.0, 0.1], [1.0, 1.2, 0.1]])]
    meta = pd.DataFrame({"id": ["a", "a"], "survey": "s", "band": "R", "label": None})
    with pytest.raises(StoreError, match="duplicate ids"):
        with LightCurveStore.writer(tmp_path / "dup") as writer:
            writer.append(["a"], curve)
            writer.append(["a"], curve)
            writer.finish(meta, {})
    assert not (tmp_path / "dup").exists()
    with pytest.raises(StoreError, match="without finish"):
        with LightCurveStore.writer(tmp_path / "unfinished") as writer:
            writer.append(["a"], curve)
    assert not (tmp_path / "unfinished").exists()
    with pytest.raises(StoreError, match="not strictly increasing"):
        with LightCurveStore.writer(tmp_path / "bad") as writer:
            writer.append(["b"], [np.array([[1.0, 1.0, 0.1], [0.5, 1.2, 0.1]])])
    assert not (tmp_path / "bad").exists()


def test_simulation_streamed_into_the_store_is_the_whole_store(tmp_path, small_groups, monkeypatch):
    from astromer.data.simulate.simulator import simulate, simulate_to_store

    monkeypatch.setattr(store_mod, "READ_ROWS", 5)
    ids, arrays, metadata, provenance = simulate("macho", "labeled", 9, per_class=4)
    LightCurveStore.write(tmp_path / "whole", ids, arrays, metadata, provenance)
    simulate_to_store(tmp_path / "streamed", "macho", "labeled", 9, per_class=4)
    assert pq.ParquetFile(tmp_path / "streamed" / "light_curves.parquet").num_row_groups > 2
    _same_files(tmp_path / "whole", tmp_path / "streamed")


def _odd_id_store(path, n=53):
    """Ids that csv must quote (comma, quote), non-ASCII ones (sorted by code point), upper before lower."""
    rng = np.random.default_rng(5)
    specials = ["a,b", 'q"x', "é-1", "Z9", "zz", "É", "10", "9", "ß"]
    ids = specials + [f"obj-{i:03d}" for i in rng.permutation(n - len(specials))]
    labels = [("RRL", "EB", "CEPH")[i % 3] for i in range(n)]
    meta = pd.DataFrame({"id": ids, "survey": "macho", "band": "R", "label": labels, "extra": range(n)})
    return LightCurveStore.write(path, ids, synthetic_curves(n, rng, min_len=5, max_len=9), meta, {"seed": 2})


def test_streamed_pretrain_split_is_the_dataframe_file(tmp_path):
    from astromer.data.splits import _csv_text, pretrain_split, write_pretrain_split

    store = _odd_id_store(tmp_path / "s")
    fractions = (0.5, 0.3, 0.2)
    # the file as it was written before streaming: the DataFrame of pretrain_split through pandas' to_csv
    expected = _csv_text(pretrain_split(store.metadata["id"], 7, fractions)).encode()
    assert b'"a,b"' in expected and b'"q""x"' in expected  # the quoting really is exercised
    # the command line (ids read alone from the metadata) and small write chunks straddling the parts
    assert (
        main(
            [
                "split-pretrain",
                "--store",
                str(store.path),
                "--seed",
                "7",
                "--fractions",
                "0.5,0.3,0.2",
                "--out",
                str(tmp_path / "cli.csv"),
            ]
        )
        == 0
    )
    assert (tmp_path / "cli.csv").read_bytes() == expected
    counts = write_pretrain_split(list(store.metadata["id"])[::-1], 7, tmp_path / "py.csv", fractions, chunk_rows=4)
    assert (tmp_path / "py.csv").read_bytes() == expected
    assert counts == {"train": 26, "val": 15, "test": 12}
    assert (tmp_path / "cli.csv").read_bytes() != _csv_text(pretrain_split(store.metadata["id"], 8, fractions)).encode()
    with pytest.raises(SplitError, match="duplicate ids"):
        write_pretrain_split(["b", "a", "b"], 7, tmp_path / "dup.csv")
    assert not (tmp_path / "dup.csv").exists()


def test_split_labeled_from_id_and_label_columns_is_unchanged(tmp_path):
    from astromer.data.splits import write_labeled_splits

    store = _odd_id_store(tmp_path / "s", n=60)
    kw = dict(seed=4, folds=2, test_per_class=5, subsets=["3", "all"], val_fraction=0.25, on_small="skip")
    write_labeled_splits(store.metadata["id"], store.metadata["label"], tmp_path / "whole", **kw)
    assert (
        main(
            [
                "split-labeled",
                "--store",
                str(store.path),
                "--seed",
                "4",
                "--folds",
                "2",
                "--test-per-class",
                "5",
                "--subsets",
                "3,all",
                "--val-fraction",
                "0.25",
                "--out-dir",
                str(tmp_path / "cli"),
            ]
        )
        == 0
    )
    files = sorted(p.relative_to(tmp_path / "whole") for p in (tmp_path / "whole").rglob("*") if p.is_file())
    assert len(files) == 5
    for name in files:
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name


def test_metadata_columns_names_what_is_missing(tmp_path):
    store = _odd_id_store(tmp_path / "s", n=12)
    assert store_mod.metadata_columns(store.path, ["id"]).column("id").to_pylist() == list(store.metadata["id"])
    with pytest.raises(StoreError, match=r"missing columns \['nope'\]"):
        store_mod.metadata_columns(store.path, ["id", "nope"])
    with pytest.raises(StoreError, match="not a light-curve store"):
        store_mod.metadata_columns(tmp_path, ["id"])


def _old_survey_statistics(store):
    """Table 3's statistics as survey_summary computed them on the whole store (commit 3268e39)."""
    _, offsets, time, mag, _ = store.load_flat()
    dt = np.diff(time)
    inner = np.ones(len(dt), dtype=bool)
    inner[offsets[1:-1] - 1] = False
    dt = dt[inner]
    return {
        "median_n_obs": float(np.median(np.diff(offsets))),
        "mean_dt_days": round(float(dt.mean()), 3),
        "std_dt_days": round(float(dt.std()), 3),
        "median_mag": round(float(np.median(mag)), 3),
    }


@pytest.mark.parametrize("extra", [0, 1])
def test_table3_statistics_streamed_are_the_whole_store_ones(tmp_path, small_groups, monkeypatch, extra):
    from astromer.experiments.tables import survey_summary

    monkeypatch.setattr(store_mod, "READ_ROWS", 3)
    rng = np.random.default_rng(8)  # the same curves; ``extra`` adds one magnitude: an odd and an even count
    curves = synthetic_curves(23, rng, min_len=6, max_len=15)
    for k, curve in enumerate(curves):  # magnitudes of both signs, some ties
        curve[:, 1] = np.round(rng.normal(0.3 if k % 2 else -0.2, 0.4, len(curve)), 2)
    curves[0] = curves[0][: len(curves[0]) - 1 + extra]  # an odd and an even number of magnitudes
    store = _write(tmp_path / f"s{extra}", curves)
    summary = survey_summary({"macho": store}).iloc[0]
    expected = _old_survey_statistics(store)
    assert {key: summary[key] for key in expected} == expected
    # the median is exact, not a bin's edge: it is one of the magnitudes, or the mean of the middle two
    mag = np.sort(store.load_flat()[3])
    assert np.float32(expected["median_mag"]) in np.round(np.concatenate([mag, (mag[:-1] + mag[1:]) / 2]), 3)


def test_writer_drops_each_pending_piece_once_it_is_copied_into_a_row_group(tmp_path, small_groups):
    """Issue 17: a row group is assembled piece by piece, each dropped as soon as it is copied, so a flush holds
    one row group and one piece, not every pending piece and their concatenation too (the filter's peak)."""
    import weakref

    curves = _mixed_curves(9)
    alive_at_write, refs = [], []
    writer = store_mod._CurveWriter(tmp_path / "lc.parquet")
    real_write = writer._writer.write_table

    def write_table(table):
        alive_at_write.append([ref() is not None for ref in refs])
        real_write(table)

    writer._writer.write_table = write_table
    for lo in (0, 3, 6):  # three pieces of 3 curves into groups of 7: the third is cut after its first curve
        offsets, time, mag, err = store_mod.flatten_arrays(curves[lo : lo + 3])
        refs.append(weakref.ref(time))
        writer.append(np.array([f"obj-{i}" for i in range(lo, lo + 3)], dtype=object), offsets, time, mag, err)
        del offsets, time, mag, err
    assert alive_at_write == [[False, False, True]]  # only the cut piece, whose tail is still pending
    writer.close()
    ids = [f"obj-{i}" for i in range(9)]
    meta = pd.DataFrame({"id": ids, "survey": "macho", "band": "R"})
    whole = LightCurveStore.write(tmp_path / "whole", ids, curves, meta, {})
    assert (whole.path / "light_curves.parquet").read_bytes() == (tmp_path / "lc.parquet").read_bytes()
