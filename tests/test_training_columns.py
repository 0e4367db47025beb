"""Training columns on disk (issue 17): written in chunks, with the content digest the resume key uses, and
the window sampler gives the same windows from them as from the pool in memory (same seed)."""

import json

import numpy as np
import pandas as pd
import pytest

from astromer import preprocessing
from astromer.core import pretraining
from astromer.core.preprocessing import Flat
from astromer.core.resume import digest
from astromer.data import store as store_mod
from astromer.data.columns import ColumnsError, TrainingColumns, write_columns
from astromer.data.store import LightCurveStore

from conftest import synthetic_curves


@pytest.fixture
def pool(tmp_path, monkeypatch):
    monkeypatch.setattr(store_mod, "ROWS_PER_GROUP", 9)
    rng = np.random.default_rng(5)
    curves = synthetic_curves(60, rng, min_len=40, max_len=480)  # short curves (< 200) and long ones
    ids = [f"c{i:03d}" for i in range(60)]
    meta = pd.DataFrame({"id": ids, "survey": "macho", "band": "R", "label": None})
    store = LightCurveStore.write(tmp_path / "store", ids, curves, meta, {})
    write_columns(store.path, tmp_path / "columns", chunk_rows=4)
    return store, TrainingColumns(tmp_path / "columns")


def test_columns_hold_the_store_and_its_digest(pool):
    store, columns = pool
    ids, offsets, time, mag, _ = store.load_flat()
    assert columns.ids == list(ids)
    assert np.array_equal(columns.offsets, offsets)
    assert np.array_equal(columns.time[np.arange(len(time))], time)
    assert columns.mag[np.arange(len(mag))].dtype == np.float32
    assert np.array_equal(columns.mag[np.arange(len(mag))], mag)
    assert columns.meta["digest"] == digest(offsets, time, mag)
    assert columns.meta["n_observations"] == len(time) == int(store.metadata["n_obs"].sum())
    columns.check_store(store)


@pytest.mark.parametrize("mode", ["paper", "legacy"])
def test_same_windows_as_the_pool_in_memory(pool, mode):
    store, columns = pool
    part = list(np.random.default_rng(2).permutation(store.metadata["id"])[:37])  # scattered, out of order
    _, offsets, time, mag, _ = store.load_flat(part)
    flat, view = Flat(offsets, time, mag), columns.select(part)
    assert np.array_equal(view.lengths, flat.lengths)
    mask = {"msk_frac": 0.4, "rnd_frac": 0.3, "same_frac": 0.1}
    for epoch in range(2):
        a = list(pretraining._window_batches(flat, 8, np.random.default_rng([4, epoch]), mask, mode, 200))
        b = list(pretraining._window_batches(view, 8, np.random.default_rng([4, epoch]), mask, mode, 200))
        assert len(a) == len(b) == 5
        for x, y in zip(a, b):
            for key in preprocessing.WINDOW_KEYS:
                assert np.array_equal(x[key], y[key]), key
    va = pretraining.fixed_validation_windows(flat, 3, mask, mode, 200)
    vb = pretraining.fixed_validation_windows(view, 3, mask, mode, 200)
    for key in preprocessing.WINDOW_KEYS:
        assert np.array_equal(va[key], vb[key]), key
    # another part is another dataset for the resume key
    assert view.digest != columns.select(part[:-1]).digest
    assert view.digest == columns.select(part).digest


def test_columns_of_another_store_are_refused(pool, tmp_path):
    store, columns = pool
    other = LightCurveStore.write(
        tmp_path / "other",
        ["x"],
        [np.array([[0.0, 1.0, 0.1], [1.0, 2.0, 0.1]])],
        pd.DataFrame({"id": ["x"], "survey": "s", "band": "R"}),
        {},
    )
    with pytest.raises(ColumnsError, match="another store"):
        columns.check_store(other)
    with pytest.raises(ColumnsError, match="unknown id 'nope'"):
        columns.select(["c001", "nope"])
    (columns.path / "mag.npy").unlink()
    with pytest.raises(ColumnsError, match="missing"):
        TrainingColumns(columns.path)


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_pretrain_from_columns_trains_as_from_memory(unlabeled_pool, tmp_path):
    from astromer.cli import main

    tiny = '{"num_layers": 1, "d_model": 16, "num_heads": 2, "dff": 16}'
    store, split = unlabeled_pool / "store", unlabeled_pool / "split.csv"
    assert main(["data", "columns", "--store", str(store), "--out", str(tmp_path / "cols")]) == 0
    common = [
        "pretrain",
        "--data",
        str(store),
        "--split",
        str(split),
        "--epochs",
        "2",
        "--batch-size",
        "16",
        "--model-config",
        tiny,
        "--seed",
        "2",
    ]
    assert main([*common, "--out", str(tmp_path / "mem"), "--ckpt-dir", str(tmp_path / "ck1")]) == 0
    assert (
        main(
            [
                *common,
                "--columns",
                str(tmp_path / "cols"),
                "--out",
                str(tmp_path / "disk"),
                "--ckpt-dir",
                str(tmp_path / "ck2"),
            ]
        )
        == 0
    )
    mem = pd.read_csv(tmp_path / "mem" / "history.csv")
    disk = pd.read_csv(tmp_path / "disk" / "history.csv")
    assert np.allclose(mem[["loss", "val_loss"]], disk[["loss", "val_loss"]], rtol=1e-5)
    m, d = (json.loads((tmp_path / k / "metrics.json").read_text()) for k in ("mem", "disk"))
    assert np.isclose(m["test_rmse"], d["test_rmse"], rtol=1e-5)
