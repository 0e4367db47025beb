"""Bounded-memory data stages (issue 17): a store read and written in chunks, and the white-noise filter run
chunk by chunk, give byte-identical files to the whole-store path. Row groups and read chunks are forced
small here so that the chunking really happens (several row groups, chunks that straddle them)."""
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from astromer.data import store as store_mod
from astromer import cli
from astromer.data.filtering import filter_store, white_noise_filter
from astromer.data.store import LightCurveStore, StoreError
from conftest import synthetic_curves


def main(argv):  # `astromer data ARGV`
    return cli.main(["data", *argv])


FILES = ("light_curves.parquet", "metadata.parquet", "provenance.json")


def _old_write_light_curves(path, ids, offsets, time, mag, err, rows_per_group):
    """The whole-store writer as it was before streaming (commit 1f33dc1), to pin the file format."""
    schema = pa.schema([("id", pa.string()), ("time", pa.list_(pa.float64())),
                        ("mag", pa.list_(pa.float32())), ("err", pa.list_(pa.float32()))])
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for start in range(0, max(len(ids), 1), rows_per_group):
            stop = min(start + rows_per_group, len(ids))
            lo, hi = offsets[start], offsets[stop]
            local = pa.array((offsets[start:stop + 1] - lo).astype(np.int32))
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
    LightCurveStore.write(tmp_path / "whole", metadata["id"].tolist(), src.load(list(metadata["id"])), metadata,
                          provenance)
    # chunk by chunk, 4 curves at a time (groups of 7 in and out)
    streamed = filter_store(src.path, tmp_path / "chunked", chunk_rows=4, std=0.08)
    assert streamed == report
    _same_files(tmp_path / "whole", tmp_path / "chunked")
    # the command line writes the same log and store
    assert main(["filter", "--store", str(src.path), "--out", str(tmp_path / "cli"), "--log",
                 str(tmp_path / "log.json"), "--std", "0.08"]) == 0
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
