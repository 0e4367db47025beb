"""No stale results: a rerun never returns the model of another run (issue 11's five silent cases).

Each case keeps the resume state of a finished run (--keep-checkpoint, the worst case: by default it is
deleted once the outputs are written) and then reruns with one input changed. Before run keys covered the
data and the starting weights, each of these returned the old model ("resuming ... after epoch N")."""

import json
import re

import numpy as np
import pandas as pd
import pytest

from astromer import SingleBandEncoder
from astromer.cli import main
from astromer.data.store import LightCurveStore

from conftest import synthetic_curves

TINY = '{"num_layers": 1, "d_model": 16, "num_heads": 2, "dff": 16}'


@pytest.fixture
def pool(unlabeled_pool):
    return unlabeled_pool


def _train(command, store, split, out, ckpt, *extra):
    code = main(
        [
            command,
            "--data",
            str(store),
            "--split",
            str(split),
            "--out",
            str(out),
            "--ckpt-dir",
            str(ckpt),
            "--epochs",
            "2",
            "--patience",
            "5",
            "--batch-size",
            "16",
            "--model-config",
            TINY,
            "--seed",
            "3",
            "--precision",
            "float32",
            *extra,
        ]
    )
    assert code == 0
    return json.loads((out / "metrics.json").read_text())


def _val_losses(out):
    return pd.read_csv(out / "history.csv")["val_loss"].tolist()


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_a_forced_rerun_of_a_finished_pretraining_trains_again(pool, tmp_path, capfd):
    first = _train("pretrain", pool / "store", pool / "split.csv", tmp_path / "out", tmp_path / "ck")
    assert not (tmp_path / "ck").exists()  # deleted once the outputs were written: nothing stale to find
    capfd.readouterr()
    again = _train(
        "pretrain", pool / "store", pool / "split.csv", tmp_path / "out", tmp_path / "ck", "--keep-checkpoint"
    )
    assert again["resumed_from"] is None and "resuming" not in capfd.readouterr().err
    assert _val_losses(tmp_path / "out") and again["best_val_rmse"] == first["best_val_rmse"]  # same run, retrained
    # with the state kept, a third run finds a completed state: it trains again and says so
    third = _train("pretrain", pool / "store", pool / "split.csv", tmp_path / "out", tmp_path / "ck")
    err = capfd.readouterr().err
    assert third["resumed_from"] is None and "already completed" in err and "training from scratch" in err


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_changed_magnitudes_with_the_same_ids_train_afresh(pool, tmp_path, capfd):
    _train("pretrain", pool / "store", pool / "split.csv", tmp_path / "out", tmp_path / "ck", "--keep-checkpoint")
    before = _val_losses(tmp_path / "out")
    store = LightCurveStore.open(pool / "store")
    ids, offsets, time, mag, err = store.load_flat()
    changed = LightCurveStore.write_flat(
        tmp_path / "changed",
        ids,
        offsets,
        time,
        mag * 1.01 + 0.2,
        err,
        store.metadata,
        {"note": "magnitudes changed, same ids"},
    )
    assert list(changed.metadata["id"]) == list(store.metadata["id"])
    capfd.readouterr()
    again = _train("pretrain", tmp_path / "changed", pool / "split.csv", tmp_path / "out", tmp_path / "ck")
    err_text = capfd.readouterr().err
    assert again["resumed_from"] is None and "its data differ" in err_text, err_text
    assert _val_losses(tmp_path / "out") != before


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_another_split_of_the_same_size_trains_afresh(pool, tmp_path, capfd):
    _train("pretrain", pool / "store", pool / "split.csv", tmp_path / "out", tmp_path / "ck", "--keep-checkpoint")
    split = pd.read_csv(pool / "split.csv", dtype={"id": str})
    shuffled = split.assign(split=split["split"].sample(frac=1.0, random_state=1).to_numpy())
    assert (shuffled["split"].value_counts() == split["split"].value_counts()).all()  # same sizes
    shuffled.to_csv(tmp_path / "other.csv", index=False)
    capfd.readouterr()
    again = _train("pretrain", pool / "store", tmp_path / "other.csv", tmp_path / "out", tmp_path / "ck")
    err_text = capfd.readouterr().err
    assert again["resumed_from"] is None and "its data differ" in err_text, err_text


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_finetuning_from_another_init_trains_afresh(pool, tmp_path, capfd):
    for seed in (1, 2):
        SingleBandEncoder(num_layers=1, d_model=16, num_heads=2, dff=16, seed=seed).save(tmp_path / f"init{seed}.keras")
    _train(
        "finetune",
        pool / "store",
        pool / "split.csv",
        tmp_path / "out",
        tmp_path / "ck",
        "--init",
        str(tmp_path / "init1.keras"),
        "--keep-checkpoint",
    )
    capfd.readouterr()
    again = _train(
        "finetune",
        pool / "store",
        pool / "split.csv",
        tmp_path / "out",
        tmp_path / "ck",
        "--init",
        str(tmp_path / "init2.keras"),
    )
    err_text = capfd.readouterr().err
    assert again["resumed_from"] is None and "its weights differ" in err_text, err_text


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_a_classifier_over_an_encoder_rebuilt_in_place_trains_afresh(tmp_path, capfd):
    from astromer.cli import main as experiments
    from astromer.data.simulate.simulator import simulate_to_store

    store = simulate_to_store(tmp_path / "store", "macho", "labeled", seed=3, per_class=6)
    rows = []
    for label, group in store.metadata.groupby("label"):
        ids = group["id"].tolist()
        rows += [(i, label, s) for i, s in zip(ids, ["train"] * 3 + ["val"] * 2 + ["test"])]
    pd.DataFrame(rows, columns=["id", "label", "split"]).to_csv(tmp_path / "split.csv", index=False)
    encoder = tmp_path / "enc.keras"

    def classify(*extra):
        code = experiments(
            [
                "classify",
                "--data",
                str(tmp_path / "store"),
                "--split",
                str(tmp_path / "split.csv"),
                "--classifier",
                "mlp_att",
                "--encoder-mode",
                "trained",
                "--encoder",
                str(encoder),
                "--out",
                str(tmp_path / "out"),
                "--ckpt-dir",
                str(tmp_path / "ck"),
                "--epochs",
                "2",
                "--batch-size",
                "8",
                "--units",
                "8",
                *extra,
            ]
        )
        assert code == 0
        return json.loads((tmp_path / "out" / "metrics.json").read_text())

    SingleBandEncoder(num_layers=1, d_model=8, num_heads=2, dff=8, seed=0).save(encoder)
    first = classify("--keep-checkpoint")
    SingleBandEncoder(num_layers=1, d_model=8, num_heads=2, dff=8, seed=5).save(encoder)  # rebuilt, same path
    capfd.readouterr()
    again = classify()
    err_text = capfd.readouterr().err
    assert again["resumed_from"] is None and re.search(r"its [a-z, ]*data[a-z, ]* differ", err_text), err_text
    assert again["inputs"]["encoder"] != first["inputs"]["encoder"]


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_library_fit_twice_on_other_curves_of_the_same_count(tmp_path, rng):
    curves = synthetic_curves(80, rng)
    histories, said = [], []
    for train in (curves[:30], curves[30:60]):
        encoder = SingleBandEncoder(num_layers=1, d_model=16, num_heads=2, dff=16, seed=0)
        histories.append(encoder.fit(train, curves[60:], epochs=2, batch_size=16, ckpt_dir=tmp_path, log=said.append))
    assert histories[1].resumed_from is None
    assert [e["val_loss"] for e in histories[1].epochs] != [e["val_loss"] for e in histories[0].epochs]
    assert any("its data differ" in line for line in said), said
    assert np.isfinite(histories[1].best_val_loss)
