"""The training step computes the last block at the target positions only (issue 14): the same loss and
gradients as the full model, float32, in both modes, on windows of unequal target counts and with padding."""

import numpy as np
import pytest
import tensorflow as tf

from astromer import SingleBandEncoder
from astromer.core.preprocessing import Flat, mask_windows, random_starts
from astromer.core.pretraining import Trainer, per_window_mse, target_positions

from conftest import synthetic_curves


def _batch(mode, rng, max_obs=64):
    # curves shorter and longer than the window: padded windows with fewer targets than the full ones
    curves = synthetic_curves(12, rng, min_len=20, max_len=150)
    flat = Flat.from_arrays(curves)
    starts = random_starts(flat.lengths, max_obs, rng)
    win = mask_windows(flat, np.arange(len(flat)), starts, max_obs=max_obs, mode=mode, rng=rng)
    counts = win["mask_out"].sum(axis=(1, 2))
    assert counts.min() < counts.max() < max_obs  # the gather really pads some windows with non-targets
    return {k: tf.constant(win[k]) for k in ("input", "times", "mask_in", "mask_out", "output")}


def _loss_and_grads(trainer, model, batch):
    with tf.GradientTape() as tape:
        loss = tf.sqrt(tf.reduce_mean(per_window_mse(*trainer.forward(batch, True))))
    return float(loss), [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
@pytest.mark.parametrize("mode", ["legacy", "paper"])
def test_target_only_last_block_gives_the_full_models_loss_and_gradients(mode, rng):
    # dropout 0: paper mode's training dropout would draw other masks for the gathered rows
    encoder = SingleBandEncoder(
        num_layers=2, d_model=32, num_heads=4, dff=16, dropout=0.0, max_obs=64, mode=mode, seed=3
    )
    batch = _batch(mode, rng)
    full_loss, full_grads = _loss_and_grads(Trainer(encoder, full_last_block=True), encoder.model, batch)
    part_loss, part_grads = _loss_and_grads(Trainer(encoder), encoder.model, batch)
    assert part_loss == pytest.approx(full_loss, abs=1e-5)
    assert len(part_grads) == len(full_grads) == len(encoder.model.trainable_variables)
    for var, a, b in zip(encoder.model.trainable_variables, part_grads, full_grads):
        assert np.abs(b).max() > 0, var.path  # every weight gets a gradient in both
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0, err_msg=var.path)
    # the eval step too, and a static bound (the XLA path) gives the same
    eval_full = float(Trainer(encoder, full_last_block=True).eval_step(batch))
    assert float(Trainer(encoder).eval_step(batch)) == pytest.approx(eval_full, abs=1e-5)
    assert float(Trainer(encoder, max_targets=40).eval_step(batch)) == pytest.approx(eval_full, abs=1e-5)


def test_target_positions_lists_each_windows_targets_first_in_order():
    mask_out = np.zeros((3, 8, 1), np.float32)
    mask_out[0, [1, 4, 6], 0] = 1
    mask_out[1, [0], 0] = 1
    positions = target_positions(tf.constant(mask_out)).numpy()
    assert positions.shape == (3, 3)
    assert positions[0].tolist() == [1, 4, 6]
    assert positions[1, 0] == 0 and 0 not in positions[1, 1:]  # then non-targets
    assert target_positions(tf.constant(mask_out), k=5).numpy().shape == (3, 5)


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
@pytest.mark.parametrize("mode", ["legacy", "paper"])
def test_micro_batched_gradients_equal_the_whole_batchs(mode, rng):
    encoder = SingleBandEncoder(
        num_layers=2, d_model=32, num_heads=4, dff=16, dropout=0.0, max_obs=64, mode=mode, seed=5
    )
    batch = _batch(mode, rng)  # 12 windows: micro-batches of 5, 5 and 2
    whole_total, whole = Trainer(encoder, micro_batch=None).loss_and_gradients(batch)
    part_total, part = Trainer(encoder, micro_batch=5).loss_and_gradients(batch)
    assert float(part_total) == pytest.approx(float(whole_total), rel=1e-5)
    for var, a, b in zip(encoder.model.trainable_variables, part, whole):
        assert np.abs(b.numpy()).max() > 0, var.path
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5, rtol=0, err_msg=var.path)
    # and the step the library runs by default (micro-batches on this CPU) trains
    trainer = Trainer(encoder)
    before = [v.numpy().copy() for v in encoder.model.trainable_variables]
    assert float(trainer.train_step(batch)) == pytest.approx(float(whole_total), rel=1e-5)
    assert any(np.abs(v.numpy() - b).max() > 0 for v, b in zip(encoder.model.trainable_variables, before))


def test_micro_batched_eval_step_equals_the_whole_batchs(rng):
    encoder = SingleBandEncoder(num_layers=1, d_model=16, num_heads=2, dff=16, max_obs=64, mode="legacy", seed=2)
    batch = _batch("legacy", rng)
    whole = float(Trainer(encoder, micro_batch=None).eval_step(batch))
    assert float(Trainer(encoder, micro_batch=5).eval_step(batch)) == pytest.approx(whole, rel=1e-6)
