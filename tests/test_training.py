import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from astromer import SingleBandEncoder
from astromer.core.resume import STATE_FILE

from conftest import synthetic_curves

HERE = Path(__file__).parent


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_pretraining_lowers_validation_rmse_and_saves_keras(tmp_path, rng):
    curves = synthetic_curves(300, rng)
    encoder = SingleBandEncoder(num_layers=1, d_model=32, num_heads=2, dff=32, mode="paper", seed=0)
    history = encoder.fit(
        curves[:240], curves[240:], epochs=6, patience=10, batch_size=32, lr=3e-3, tensorboard_dir=tmp_path / "tb"
    )
    val = [e["val_loss"] for e in history.epochs]
    assert history.best_val_loss < history.initial_val_loss * 0.8, (history.initial_val_loss, val)
    assert history.best_val_loss < val[0]
    path = encoder.save(tmp_path / "model.keras")
    loaded = SingleBandEncoder.load(path)
    assert loaded.config == encoder.config
    x = encoder.encode(curves[:3])
    y = loaded.encode(curves[:3])
    for a, b in zip(x, y):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert any((tmp_path / "tb").iterdir())
    # reloading through the public entry point, as a folder
    assert SingleBandEncoder.from_pretraining(tmp_path).config["mode"] == "paper"


def _run(ckpt, out, env):
    return subprocess.Popen(
        [sys.executable, str(HERE / "train_worker.py"), str(ckpt), str(out)],
        env=env,
        cwd=HERE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _epochs_done(ckpt: Path) -> int:
    try:
        with np.load(ckpt / STATE_FILE) as state:
            return len(json.loads(str(state["meta"]))["history"]["epochs"])
    except (OSError, KeyError, ValueError):
        return 0


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_killed_run_resumes_and_ends_at_the_same_epoch(tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parent / "src"), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
        "TF_NUM_INTRAOP_THREADS": "1",
        "TF_NUM_INTEROP_THREADS": "1",
    }
    clean = _run(tmp_path / "clean_ckpt", tmp_path / "clean.json", env)
    assert clean.wait(timeout=600) == 0, clean.stdout.read()

    ckpt = tmp_path / "killed_ckpt"
    victim = _run(ckpt, tmp_path / "killed.json", env)
    deadline = time.time() + 300
    while _epochs_done(ckpt) < 2 and time.time() < deadline and victim.poll() is None:
        time.sleep(0.2)
    assert victim.poll() is None, "the run finished before it could be killed"
    victim.send_signal(signal.SIGTERM)  # what Slurm sends at the time limit
    victim.wait(timeout=60)
    assert not (tmp_path / "killed.json").exists()
    done_before = _epochs_done(ckpt)
    assert done_before >= 2

    resumed = _run(ckpt, tmp_path / "killed.json", env)
    assert resumed.wait(timeout=600) == 0, resumed.stdout.read()
    a = json.loads((tmp_path / "clean.json").read_text())
    b = json.loads((tmp_path / "killed.json").read_text())
    assert b["resumed_from"] == done_before
    assert len(b["epochs"]) == len(a["epochs"])
    assert b["best_epoch"] == a["best_epoch"]
    np.testing.assert_allclose([e["val_loss"] for e in b["epochs"]], [e["val_loss"] for e in a["epochs"]], rtol=1e-5)


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_an_epoch_of_all_windows_trains_on_every_window_once(rng):
    """windows_per_epoch='all' (the paper): the epoch's batches hold each sequential window exactly once."""
    from astromer.core.preprocessing import Flat, all_window_starts
    from astromer.core.pretraining import _window_batches

    curves = synthetic_curves(20, rng, min_len=150, max_len=700)
    flat = Flat.from_arrays(curves)
    mask_args = {"msk_frac": 0.5, "rnd_frac": 0.2, "same_frac": 0.2}
    seen = []
    for batch in _window_batches(flat, 16, np.random.default_rng(0), mask_args, "paper", 200, "all"):
        assert batch["input"].shape[1:] == (200, 1)
        seen.append(len(batch["input"]))
    index, _ = all_window_starts(flat.lengths, 200)
    assert sum(seen) == index.size > len(curves)
    one = sum(len(b["input"]) for b in _window_batches(flat, 16, np.random.default_rng(0), mask_args, "paper", 200))
    assert one == len(curves)
    encoder = SingleBandEncoder(num_layers=1, d_model=16, num_heads=2, dff=16, seed=0)
    history = encoder.fit(curves[:15], curves[15:], epochs=1, batch_size=16, windows_per_epoch="all")
    assert np.isfinite(history.epochs[0]["loss"])


def test_steps_per_epoch_counts_the_windows_an_epoch_draws():
    from astromer.core.fitting import epochs_for_steps, step_schedule
    from astromer.core.preprocessing import Flat, all_window_starts
    from astromer.core.pretraining import steps_per_epoch

    lengths = np.array([250, 40, 610])
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    flat = Flat(offsets, np.arange(offsets[-1], dtype=np.float32), np.zeros(offsets[-1], np.float32))
    windows = len(all_window_starts(lengths, 100)[0])
    assert windows > 3
    assert steps_per_epoch(flat, 2, 100, "one") == 2  # 3 curves, one window each
    assert steps_per_epoch(flat, 2, 100, "all") == -(-windows // 2)
    assert epochs_for_steps(None, 7, 13) == 13 and epochs_for_steps(15, 7, 13) == 3 and epochs_for_steps(1, 7, 13) == 1
    assert step_schedule(4, 100, 40, max_steps=None, patience_steps=10) == {
        "steps_per_epoch": 4,
        "epoch_cap": 100,
        "patience_epochs": 3,
        "max_steps": None,
        "patience_steps": 10,
    }


def test_the_datasets_made_again_every_epoch_run_without_tf_data_autotuning(rng):
    """Deleting an epoch's iterator waited for tf.data's autotuning thread (0.2-0.3 s in one epoch out of two
    or three): the pretraining batches and the classifiers' datasets turn it off, and keep their contents."""
    from astromer.core import preprocessing, pretraining
    from astromer.core.classifiers.training import make_dataset

    flat = preprocessing.Flat.from_arrays(synthetic_curves(6, rng))
    masking = dict(msk_frac=0.5, rnd_frac=0.2, same_frac=0.2)

    def batches():
        return pretraining._window_batches(flat, 4, np.random.default_rng(3), masking, "paper", 50)

    epoch = pretraining._dataset(batches, 50)
    assert epoch.options().autotune.enabled is False
    got = [b["input"].numpy() for b in epoch]
    want = [b["input"] for b in batches()]
    assert len(got) == len(want) == 2
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    windows = preprocessing.prepare_windows(synthetic_curves(5, rng), max_obs=50)
    labelled = make_dataset(windows, np.arange(5) % 2, batch_size=2, shuffle=True)
    assert labelled.options().autotune.enabled is False
