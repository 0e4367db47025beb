"""The command line the workflow calls: simulate -> split -> pretrain -> finetune -> encode."""

import json

import numpy as np
import pandas as pd
import pytest

from astromer.cli import main
from astromer.experiments.results import read_run

from conftest import WEIGHTS

TINY = '{"num_layers": 1, "d_model": 32, "num_heads": 2, "dff": 32}'


@pytest.fixture
def store(unlabeled_pool):
    return unlabeled_pool


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_pretrain_finetune_encode(store, tmp_path):
    common = [
        "--data",
        str(store / "store"),
        "--split",
        str(store / "split.csv"),
        "--epochs",
        "2",
        "--batch-size",
        "32",
        "--no-jit",
    ]
    assert (
        main(
            [
                "pretrain",
                *common,
                "--out",
                str(tmp_path / "pre"),
                "--ckpt-dir",
                str(tmp_path / "ck1"),
                "--model-config",
                TINY,
                "--seed",
                "1",
            ]
        )
        == 0
    )
    metrics = json.loads((tmp_path / "pre" / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and metrics["mode"] == "paper" and metrics["seed"] == 1
    assert metrics["test_rmse"] > 0 and metrics["n_test"] > 0
    history = pd.read_csv(tmp_path / "pre" / "history.csv")
    assert list(history.columns) == ["epoch", "loss", "val_loss", "seconds"] and len(history) == 2

    assert (
        main(
            [
                "finetune",
                *common,
                "--init",
                str(tmp_path / "pre" / "model.keras"),
                "--out",
                str(tmp_path / "ft"),
                "--ckpt-dir",
                str(tmp_path / "ck2"),
                "--survey",
                "ogle",
                "--subset",
                "50",
                "--fold",
                "2",
            ]
        )
        == 0
    )
    assert (tmp_path / "ft" / "model.keras").is_file()
    # each run records what it is (the figures read only that): the cell given, null where it does not apply
    cells = [read_run(tmp_path / name) for name in ("pre", "ft")]
    assert [
        tuple(c[k] for k in ("stage", "survey", "mode", "case", "classifier", "subset", "fold")) for c in cells
    ] == [("pretrain", None, "paper", None, None, None, None), ("finetune", "ogle", "paper", None, None, "50", 2)]

    assert (
        main(
            [
                "encode",
                "--weights",
                str(tmp_path / "ft" / "model.keras"),
                "--data",
                str(store / "store"),
                "--split",
                str(store / "split.csv"),
                "--part",
                "test",
                "--out",
                str(tmp_path / "emb.npz"),
            ]
        )
        == 0
    )
    emb = np.load(tmp_path / "emb.npz")
    split = pd.read_csv(store / "split.csv", dtype={"id": str})
    assert list(emb["ids"]) == list(split.loc[split.split == "test", "id"])
    assert emb["embeddings"].shape == (emb["offsets"][-1], 32)


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_finetune_from_published_weights_keeps_legacy_mode(store, tmp_path):
    assert (
        main(
            [
                "finetune",
                "--data",
                str(store / "store"),
                "--split",
                str(store / "split.csv"),
                "--init",
                str(WEIGHTS),
                "--epochs",
                "1",
                "--batch-size",
                "64",
                "--no-jit",
                "--out",
                str(tmp_path / "ft"),
                "--ckpt-dir",
                str(tmp_path / "ck"),
            ]
        )
        == 0
    )
    metrics = json.loads((tmp_path / "ft" / "metrics.json").read_text())
    assert metrics["mode"] == "legacy" and metrics["config"]["d_model"] == 256


def test_missing_weights_is_a_clear_error(store, tmp_path, capsys):
    code = main(
        [
            "encode",
            "--weights",
            str(tmp_path / "none"),
            "--data",
            str(store / "store"),
            "--out",
            str(tmp_path / "e.npz"),
        ]
    )
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("collector_on", [True, False])
def test_tensorflow_import_pauses_the_collector_and_restores_it(collector_on):
    """import_tensorflow() leaves the collector as it found it (on, or off when the caller turned it off) and
    freezes what the import made; run in a fresh interpreter, where TensorFlow is not imported yet."""
    import subprocess
    import sys

    code = (
        "import gc, sys\n"
        f"gc.enable() if {collector_on} else gc.disable()\n"
        "from astromer.cli.startup import import_tensorflow\n"
        "assert 'tensorflow' not in sys.modules\n"
        "import_tensorflow()\n"
        "print(gc.isenabled(), gc.get_freeze_count(), 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == str(collector_on)
    assert int(out[1]) > 100_000  # TensorFlow's and Keras' objects, out of the collector's generations
    assert out[2:] == ["True", "True"]


@pytest.mark.parametrize("imported_before", [False, True])
def test_keras_starts_without_the_modules_the_command_line_never_uses(imported_before):
    """import_tensorflow() keeps scikit-learn and matplotlib.pyplot out of Keras' start (Keras imports them
    for its sklearn wrappers and plots), leaves no import hook behind, and both import as usual afterwards;
    one already imported stays as it is (Keras' wrappers then have it)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        f"if {imported_before}: import sklearn\n"
        "from astromer.cli.startup import import_tensorflow, _Hidden\n"
        "import_tensorflow()\n"
        "import keras.src.wrappers.sklearn_wrapper as w\n"
        "print('sklearn' in sys.modules, 'matplotlib.pyplot' in sys.modules, w.sklearn is not None,"
        " any(isinstance(f, _Hidden) for f in sys.meta_path))\n"
        "import matplotlib.pyplot, sklearn.ensemble\n"
        "print(sklearn.ensemble.RandomForestClassifier.__name__, matplotlib.pyplot.figure.__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[:4] == [str(imported_before), "False", str(imported_before), "False"]
    assert out[4:] == ["RandomForestClassifier", "figure"]


def test_process_entry_freezes_before_exit_and_an_inner_call_does_not(monkeypatch, tmp_path):
    """main() without argv is the process's own command line: it freezes what is alive once the command
    returned (an error status too); main(argv) (tests, `astromer batch`) leaves the collector alone."""
    import sys

    from astromer.cli import startup

    frozen = []
    monkeypatch.setattr(startup, "freeze_for_exit", lambda: frozen.append(True))
    argv = ["data", "check-splits", "--store", str(tmp_path / "missing"), "--out", str(tmp_path / "report.json")]
    assert main(argv) == 2  # no store there: one error line, status 2
    assert frozen == []
    monkeypatch.setattr(sys, "argv", ["astromer", *argv])
    assert main() == 2
    assert frozen == [True]
