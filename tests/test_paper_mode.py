"""Paper mode: hidden observations are invisible to the encoder; legacy mode is shown to leak."""

import numpy as np

from astromer import SingleBandEncoder
from astromer.core.preprocessing import Flat, mask_windows, random_starts

from conftest import synthetic_curves


def _masked(curves, mode, seed):
    flat = Flat.from_arrays(curves)
    rng = np.random.default_rng(seed)
    starts = random_starts(flat.lengths, 200, rng)
    return flat, starts, mask_windows(flat, np.arange(len(flat)), starts, mode=mode, rng=np.random.default_rng(seed))


def _perturb_hidden(curves, flat, starts, win, rng):
    """Copies of the raw curves with every hidden observation's magnitude changed."""
    changed = [c.copy() for c in curves]
    for w, curve in enumerate(changed):
        hidden = np.flatnonzero((win["mask_in"][w, :, 0] == 1) & (win["mask_out"][w, :, 0] == 1))
        curve[starts[w] + hidden, 1] += rng.normal(0, 2.0, hidden.size)
    return changed


def test_paper_mode_predictions_ignore_hidden_values(rng):
    curves = synthetic_curves(12, rng)
    model = SingleBandEncoder(num_layers=2, d_model=64, num_heads=4, dff=32, mode="paper", seed=3)
    flat, starts, win = _masked(curves, "paper", seed=5)
    assert (win["mask_in"] * win["mask_out"]).sum() > 100  # there are hidden targets
    changed = _perturb_hidden(curves, flat, starts, win, rng)
    _, _, win2 = _masked(changed, "paper", seed=5)
    # same masking positions, different hidden values in the raw data
    np.testing.assert_array_equal(win["mask_in"], win2["mask_in"])
    assert not np.allclose(win["output"], win2["output"])
    # ... yet the encoder's inputs and every prediction are unchanged
    np.testing.assert_array_equal(win["input"], win2["input"])
    pred, pred2 = model.reconstruct(win), model.reconstruct(win2)
    np.testing.assert_array_equal(pred, pred2)


def test_paper_model_ignores_values_at_hidden_positions_of_the_tensor(rng):
    """Even values left in the input tensor at hidden positions do not reach any prediction."""
    curves = synthetic_curves(8, rng)
    model = SingleBandEncoder(num_layers=2, d_model=32, num_heads=2, dff=32, mode="paper", seed=1)
    _, _, win = _masked(curves, "paper", seed=2)
    noisy = dict(win)
    noisy["input"] = win["input"] + win["mask_in"] * rng.normal(0, 5, win["input"].shape).astype(np.float32)
    np.testing.assert_array_equal(model.reconstruct(win), model.reconstruct(noisy))


def test_legacy_mode_leaks_hidden_values(rng):
    """The authors' behaviour, kept for the published weights: hidden values change the predictions."""
    curves = synthetic_curves(8, rng)
    model = SingleBandEncoder(num_layers=2, d_model=32, num_heads=2, dff=32, mode="legacy", seed=1)
    flat, starts, win = _masked(curves, "legacy", seed=2)
    changed = _perturb_hidden(curves, flat, starts, win, rng)
    _, _, win2 = _masked(changed, "legacy", seed=2)
    assert not np.allclose(model.reconstruct(win), model.reconstruct(win2))


def test_paper_mode_uses_dropout_in_training_and_legacy_does_not(rng):
    curves = synthetic_curves(4, rng)
    _, _, win = _masked(curves, "paper", seed=0)
    inputs = {k: win[k] for k in ("input", "times", "mask_in")}
    for mode, differs in (("paper", True), ("legacy", False)):
        model = SingleBandEncoder(num_layers=1, d_model=32, num_heads=2, dff=32, mode=mode, seed=0)
        a = np.asarray(model.model(inputs, training=True))
        b = np.asarray(model.model(inputs, training=True))
        assert (not np.allclose(a, b)) == differs, mode
