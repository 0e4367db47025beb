"""astromer classify / lr-search end to end on a tiny simulated store (fast classifiers, few epochs)."""

import json
import shlex

import numpy as np
import pandas as pd
import pytest

from astromer.cli import main
from astromer.experiments.results import read_run


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from astromer import SingleBandEncoder
    from astromer.data.simulate.simulator import simulate_to_store

    root = tmp_path_factory.mktemp("classify")
    store = simulate_to_store(root / "store", "macho", "labeled", seed=3, per_class=8)
    meta = store.metadata
    rows = []
    for label, group in meta.groupby("label"):
        ids = group["id"].tolist()
        rows += [(i, label, "train") for i in ids[:4]] + [(i, label, "val") for i in ids[4:6]]
        rows += [(i, label, "test") for i in ids[6:8]]
    split = root / "split.csv"
    pd.DataFrame(rows, columns=["id", "label", "split"]).to_csv(split, index=False)
    SingleBandEncoder(num_layers=1, d_model=8, num_heads=2, dff=8, seed=0).save(root / "enc.keras")
    return root


def _run(tiny, classifier, out, *extra):
    args = [
        "classify",
        "--data",
        str(tiny / "store"),
        "--split",
        str(tiny / "split.csv"),
        "--classifier",
        classifier,
        "--out",
        str(out),
        "--ckpt-dir",
        str(out.parent / f"ck_{out.name}"),
        "--epochs",
        "2",
        "--patience",
        "1",
        "--batch-size",
        "16",
        "--survey",
        "macho",
        "--subset",
        "4",
        "--fold",
        "0",
        *extra,
    ]
    assert main(args) == 0
    return json.loads((out / "metrics.json").read_text())


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
@pytest.mark.parametrize("classifier,extra", [("mlp_att", ("--case", "a", "--encoder-mode", "frozen")), ("rf", ())])
def test_classify_writes_results(tiny, classifier, extra):
    out = tiny / classifier
    metrics = _run(tiny, classifier, out, "--encoder", str(tiny / "enc.keras"), *extra)
    assert 0.0 <= metrics["macro_f1"] <= 1.0 and 0.0 <= metrics["accuracy"] <= 1.0
    assert (metrics["survey"], metrics["subset"], metrics["fold"], metrics["classifier"]) == (
        "macho",
        "4",
        0,
        classifier,
    )
    # the encoder's mode and the case as given; a baseline has neither (what the figures read: read_run)
    row = read_run(out)
    assert (row["stage"], row["mode"], row["case"]) == (
        ("classify", None, None) if classifier == "rf" else ("classify", "paper", "a")
    )
    report = pd.read_csv(out / "report.csv")
    confusion = pd.read_csv(out / "confusion.csv", index_col=0)
    assert len(report) == len(metrics["classes"]) and confusion.to_numpy().sum() == report["support"].sum()
    assert np.isclose(metrics["accuracy"], np.trace(confusion.to_numpy()) / confusion.to_numpy().sum())
    history = pd.read_csv(out / "history.csv")
    assert len(history) == metrics["epochs"]
    if classifier != "rf":
        assert metrics["encoder_mode"] == "frozen" and 1 <= metrics["best_epoch"] <= 2
        assert not (out.parent / f"ck_{out.name}").exists()  # a completed run's resume state is deleted
        # a rerun of a finished run trains again (never returns a stored model), and gives the same numbers
        again = _run(tiny, classifier, out, "--encoder", str(tiny / "enc.keras"), *extra)
        assert again["resumed_from"] is None
        assert pd.read_csv(out / "history.csv").drop(columns="seconds").equals(history.drop(columns="seconds"))
        assert again["macro_f1"] == metrics["macro_f1"] and again["best_val_loss"] == metrics["best_val_loss"]


def test_bad_split_is_named(tiny, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,split\nx,train\n")
    assert (
        main(
            [
                "classify",
                "--data",
                str(tiny / "store"),
                "--split",
                str(bad),
                "--classifier",
                "rf",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "bad.csv: missing columns" in capsys.readouterr().err
    assert (
        main(
            [
                "classify",
                "--data",
                str(tiny / "store"),
                "--split",
                str(tiny / "split.csv"),
                "--classifier",
                "mlp_att",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "needs --encoder" in capsys.readouterr().err


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_lr_search_runs_each_rate(tiny):
    out = tiny / "lr"
    assert (
        main(
            [
                "lr-search",
                "--data",
                str(tiny / "store"),
                "--split",
                str(tiny / "split.csv"),
                "--lrs",
                "1e-2,1e-3",
                "--out",
                str(out),
                "--epochs",
                "1",
                "--batch-size",
                "32",
            ]
        )
        == 0
    )
    summary = pd.read_csv(out / "summary.csv")
    assert summary["lr"].tolist() == [1e-2, 1e-3] and (summary["epochs"] == 1).all()
    for lr in ("0.01", "0.001"):
        metrics = json.loads((out / f"lr_{lr}" / "metrics.json").read_text())
        assert metrics["classifier"] == "lstm" and metrics["lr"] == float(lr)


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_batch_gives_the_same_results_as_separate_runs(tiny, tmp_path):
    """`astromer batch` runs several commands in one process (TensorFlow starts once): each result must
    equal that command's result when it runs alone, whatever ran before it."""
    import shlex

    from astromer.cli import main as astromer

    def command(classifier, out):
        return shlex.join(
            [
                "classify",
                "--data",
                str(tiny / "store"),
                "--split",
                str(tiny / "split.csv"),
                "--classifier",
                classifier,
                "--encoder",
                str(tiny / "enc.keras"),
                "--encoder-mode",
                "trained",
                "--out",
                str(out),
                "--epochs",
                "2",
                "--patience",
                "2",
                "--batch-size",
                "16",
                "--units",
                "8",
            ]
        )

    alone = {}
    for classifier in ("lstm_att", "mlp_att"):
        assert astromer(shlex.split(command(classifier, tmp_path / f"alone_{classifier}"))) == 0
        alone[classifier] = pd.read_csv(tmp_path / f"alone_{classifier}" / "history.csv")
    # the other order, so that each command follows a different one than when it ran alone
    assert (
        astromer(["batch", command("mlp_att", tmp_path / "b_mlp_att"), command("lstm_att", tmp_path / "b_lstm_att")])
        == 0
    )
    for classifier, history in alone.items():
        batched = pd.read_csv(tmp_path / f"b_{classifier}" / "history.csv")
        np.testing.assert_allclose(batched[["loss", "val_loss"]], history[["loss", "val_loss"]], rtol=1e-5)


def test_batch_stops_at_the_first_failure_and_names_it(tiny, tmp_path, capsys):
    from astromer.cli import main as astromer

    bad = f"classify --data {tiny / 'store'} --split {tmp_path / 'missing.csv'} --classifier rf --out {tmp_path / 'x'}"
    never = f"classify --data {tiny / 'store'} --split {tiny / 'split.csv'} --classifier rf --out {tmp_path / 'never'}"
    assert astromer(["batch", bad, never]) != 0
    err = capsys.readouterr().err
    assert "command 1/2 failed" in err and "missing.csv" in err
    assert not (tmp_path / "never").exists()
    with pytest.raises(SystemExit):
        astromer(["batch", "--not-a-command"])


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_batch_runs_a_repeated_classify_once_and_labels_both(tiny, tmp_path, capsys):
    """Case c at subset "all" is case b (same encoder, split, classifier): in a batch it is trained once."""
    from astromer.cli import main as astromer

    def command(case, out):
        return (
            f"classify --data {tiny / 'store'} --split {tiny / 'split.csv'} --classifier mlp_att "
            f"--encoder {tiny / 'enc.keras'} --encoder-mode trained --case {case} --out {out} "
            "--epochs 2 --patience 2 --batch-size 16 --units 8"
        )

    assert astromer(["batch", command("b", tmp_path / "b"), command("c", tmp_path / "c")]) == 0
    assert capsys.readouterr().err.count("its predictions are reused") == 1
    b, c = (json.loads((tmp_path / case / "metrics.json").read_text()) for case in "bc")
    assert (b["case"], c["case"]) == ("b", "c")
    assert b["same_run_as"] is None and c["same_run_as"] == str(tmp_path / "b")
    assert c["macro_f1"] == b["macro_f1"] and c["epochs"] == b["epochs"]
    assert (tmp_path / "c" / "confusion.csv").read_text() == (tmp_path / "b" / "confusion.csv").read_text()
    # outside a batch nothing is shared: a lone run trains
    assert astromer(shlex.split(command("c", tmp_path / "lone"))) == 0
    assert "reused" not in capsys.readouterr().err


NOT_NUMBERS = {"wall_seconds", "args", "resumed_from"}  # timing and the paths given differ between the two runs


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_same_machine_config_and_seed_give_identical_metrics(tiny):
    """Issue 13 item 3: a classifier trained twice from scratch (fresh folders, same config and seed) gives
    the same numbers exactly: metrics, every epoch's losses, the confusion matrix. The trained-encoder
    case (dropout in the encoder and the head, shuffled batches) is the one most likely to drift."""
    runs = []
    for name in ("first", "second"):
        out = tiny / "rerun" / name
        metrics = _run(
            tiny,
            "lstm_att",
            out,
            "--encoder",
            str(tiny / "enc.keras"),
            "--case",
            "b",
            "--encoder-mode",
            "trained",
            "--units",
            "8",
            "--epochs",
            "3",
            "--patience",
            "3",
            "--seed",
            "7",
        )
        runs.append(
            (
                metrics,
                pd.read_csv(out / "history.csv").drop(columns="seconds"),
                pd.read_csv(out / "confusion.csv", index_col=0),
            )
        )
    (m1, h1, c1), (m2, h2, c2) = runs
    assert len(h1) == 3 and h1["loss"].nunique() == 3  # it trained (three different epochs)
    assert {k: v for k, v in m1.items() if k not in NOT_NUMBERS} == {
        k: v for k, v in m2.items() if k not in NOT_NUMBERS
    }
    pd.testing.assert_frame_equal(h1, h2, check_exact=True)
    pd.testing.assert_frame_equal(c1, c2, check_exact=True)


def test_patience_and_cap_in_gradient_steps_become_epochs_of_this_training_set(tiny):
    """--patience-steps/--max-steps win over --patience/--epochs and become epochs of the run's own size
    (train windows / batch), recorded in metrics.json; the run never goes past the cap."""
    out = tiny / "steps"
    n_train = len(pd.read_csv(tiny / "split.csv").query("split == 'train'"))
    steps = -(-n_train // 16)  # _run's batch size
    metrics = _run(
        tiny, "mlp_att", out, "--encoder", str(tiny / "enc.keras"), "--case", "a", "--encoder-mode", "frozen",
        "--max-steps", str(3 * steps), "--patience-steps", str(steps + 1),
    )  # fmt: skip
    assert metrics["schedule"] == {
        "steps_per_epoch": steps,
        "epoch_cap": 3,  # --epochs 2 given, the steps win
        "patience_epochs": 2,  # ceil((steps + 1) / steps), not --patience 1
        "max_steps": 3 * steps,
        "patience_steps": steps + 1,
    }
    assert metrics["epochs"] <= 3 and len(pd.read_csv(out / "history.csv")) == metrics["epochs"]
    assert metrics["stopped_early"] == (metrics["epochs"] - metrics["best_epoch"] >= 2)
