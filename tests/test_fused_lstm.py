"""RightPaddedLSTM (issue 14): Keras' LSTM numbers through TensorFlow's fused BlockLSTM kernel on CPUs, and
the conditions for Keras' cuDNN path on GPUs."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from astromer.core.classifiers.heads import RightPaddedLSTM, build_classifier, cudnn_conditions


def _pair(return_sequences, units=8):
    fused = RightPaddedLSTM(units, return_sequences=return_sequences)
    plain = keras.layers.LSTM(units, return_sequences=return_sequences)
    x = tf.zeros((1, 5, 3))
    fused(x), plain(x)
    plain.set_weights([w * 3.0 for w in fused.get_weights()])  # non-default, larger weights
    fused.set_weights(plain.get_weights())
    return fused, plain


@pytest.mark.parametrize("return_sequences", [False, True])
def test_fused_lstm_gives_keras_outputs_and_gradients_on_right_padded_masks(return_sequences, rng):
    fused, plain = _pair(return_sequences)
    x = tf.constant(rng.normal(size=(6, 11, 3)).astype("float32"))
    lengths = np.array([11, 1, 4, 7, 11, 9])  # full, one step, padded
    mask = tf.constant(np.arange(11)[None, :] < lengths[:, None])
    assert fused._fused_ok(x, training=True)  # the fused kernel really runs here (no GPU in tests)
    results = []
    for layer in (fused, plain):
        with tf.GradientTape() as tape:
            out = layer(x, mask=mask, training=True)
            loss = tf.reduce_sum(out * tf.constant(np.random.default_rng(1).normal(size=out.shape), tf.float32))
        results.append((out.numpy(), [g.numpy() for g in tape.gradient(loss, layer.trainable_variables)]))
    (out_f, grads_f), (out_p, grads_p) = results
    assert out_f.shape == out_p.shape
    np.testing.assert_allclose(out_f, out_p, atol=1e-5)
    for a, b in zip(grads_f, grads_p):
        assert np.abs(b).max() > 0
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4)


def test_fused_lstm_refuses_a_mask_that_is_not_right_padded(rng):
    fused, _ = _pair(False)
    x = tf.constant(rng.normal(size=(2, 5, 3)).astype("float32"))
    mask = tf.constant([[True, True, True, True, True], [False, True, True, False, False]])
    with pytest.raises(tf.errors.InvalidArgumentError, match="not right-padded"):
        fused(x, mask=mask)


@pytest.mark.parametrize("kind", ["lstm", "lstm_att"])
def test_classifier_lstms_meet_the_cudnn_conditions(kind):
    from astromer import SingleBandEncoder

    encoder = SingleBandEncoder(num_layers=1, d_model=16, num_heads=2, dff=16, max_obs=20, mode="paper", seed=0)
    model = build_classifier(kind, 3, encoder=encoder.encoder, max_obs=20, units=8)
    lstms = [layer for layer in _all_layers(model) if isinstance(layer, keras.layers.LSTM)]
    assert len(lstms) == 2 and all(isinstance(layer, RightPaddedLSTM) for layer in lstms)
    assert all(cudnn_conditions(layer) for layer in lstms)
    assert not cudnn_conditions(keras.layers.LSTM(4, recurrent_dropout=0.1))  # the check can fail


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
