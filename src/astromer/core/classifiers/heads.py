"""The paper's classifiers (Sect. 7): the LSTM baseline, LSTM+ATT and MLP+ATT, as Keras 3 models.

Every model takes the encoder's window dict ``{'input', 'times', 'mask_in'}`` (float32, (B, L, 1);
``mask_in = 1`` marks padding/hidden steps) and returns class probabilities (B, n_classes).

- LSTM baseline: the light curve itself, (B, L, 2) = (time, magnitude), each min-max scaled to [0, 1]
  over the window's valid observations as the authors' baseline does (their ``normalize_batch``; raw
  times span hundreds of days and saturate the LSTM gates: the baseline then stays at chance);
  2 LSTM layers of 256 units, LayerNorm and Dropout 0.3 after each, softmax head.
- LSTM+ATT: the same LSTM stack on the encoder's (B, L, d) embeddings, each feature standardized over the
  window's valid steps (as the authors' ``get_lstm_att``).
- MLP+ATT: Dense 1024-512-256 ReLU on the embeddings averaged over valid observations only, each feature
  standardized with the training curves' statistics (the authors standardize it over each batch).

Padded steps never reach the LSTMs (Keras masking from ``mask_in``) nor the mean. The LSTMs are
:class:`RightPaddedLSTM`: Keras' LSTM (on a GPU its cuDNN path), run on CPUs by TensorFlow's fused BlockLSTM
kernel. The encoder is
frozen (``train_encoder=False``: its weights are not trainable and it runs in inference mode) or trained
with the classifier.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from ..preprocessing import ENCODER_INPUTS

CLASSIFIERS = ("lstm", "lstm_att", "mlp_att")


@keras.saving.register_keras_serializable(package="astromer")
class ValidMask(layers.Layer):
    """Boolean (B, L) Keras mask, True where ``mask_in == 0`` (a visible observation)."""

    def call(self, mask_in):
        return ops.equal(ops.squeeze(mask_in, axis=-1), 0.0)


def masked_mean(values, mask_in):
    """(B, d) mean over axis 1 of the steps with ``mask_in == 0``."""
    keep = ops.cast(ops.equal(mask_in, 0.0), values.dtype)
    # where() rather than multiply, so that inf/NaN in padding cannot leak in as 0*inf
    total = ops.sum(ops.where(keep > 0, values, ops.zeros_like(values)), axis=1)
    count = ops.maximum(ops.sum(keep, axis=1), 1.0)
    return total / count


@keras.saving.register_keras_serializable(package="astromer")
class MaskedMean(layers.Layer):
    """Mean of (B, L, d) over the steps where ``mask_in == 0``; padded values cannot change it."""

    def call(self, inputs):
        values, mask_in = inputs
        return masked_mean(values, mask_in)


@keras.saving.register_keras_serializable(package="astromer")
class MinMaxLightCurve(layers.Layer):
    """(B, L, 2) time and magnitude, each scaled to [0, 1] over the valid steps; padded steps set to 0."""

    def call(self, inputs):
        times, mags, mask_in = inputs
        keep = ops.equal(mask_in, 0.0)

        def scale(x):
            lo = ops.min(ops.where(keep, x, float("inf")), axis=1, keepdims=True)
            hi = ops.max(ops.where(keep, x, float("-inf")), axis=1, keepdims=True)
            span = ops.where(hi > lo, hi - lo, 1.0)  # a single valid step (or none) maps to 0, not NaN
            return ops.where(keep, (x - lo) / span, 0.0)

        return ops.concatenate([scale(times), scale(mags)], axis=-1)


@keras.saving.register_keras_serializable(package="astromer")
class StandardizeOverTime(layers.Layer):
    """Each feature of a window minus its mean over the valid steps, over its std there; padded steps 0.

    The authors' LSTM+ATT input (their ``get_lstm_att``): an encoder's embeddings share a large component
    across positions and curves, and what tells curves apart is small beside it; unscaled, a head barely
    moves in the few gradient steps a small subset gives (issue 13: frozen heads stayed at chance)."""

    def call(self, inputs):
        values, mask_in = inputs
        keep = ops.cast(ops.equal(mask_in, 0.0), values.dtype)
        count = ops.maximum(ops.sum(keep, axis=1, keepdims=True), 1.0)
        mean = ops.sum(values * keep, axis=1, keepdims=True) / count
        var = ops.sum(ops.square(values - mean) * keep, axis=1, keepdims=True) / count
        return (values - mean) * ops.rsqrt(var + 1e-6) * keep


def standardization_layer(head):
    """The MLP head's per-feature standardization of the mean embeddings (layer ``standardize``); None for
    a head without one (the LSTM heads standardize each window over time instead)."""
    try:
        return head.get_layer("standardize")
    except ValueError:
        return None


def adapt_standardization(head, embeddings, mask_in) -> bool:
    """Set the MLP head's per-feature standardization (layer ``standardize``) from the training curves'
    mean embeddings, as the authors standardize them (per feature, over curves). Returns False for a head
    without one. Called once before training, so the statistics are part of the run's starting weights."""
    norm = standardization_layer(head)
    if norm is None:
        return False
    norm.adapt(ops.convert_to_numpy(masked_mean(ops.convert_to_tensor(embeddings), ops.convert_to_tensor(mask_in))))
    return True


class RightPaddedLSTM(layers.LSTM):
    """``keras.layers.LSTM`` for masks that are right-padded (valid steps first, padding at the end), as the
    windows' ``mask_in`` is. Same weights, outputs and gradients (float32: 1e-6).

    On a GPU, Keras' own path runs, which takes cuDNN when its conditions hold: tanh and sigmoid
    activations, a bias, no unrolling, no recurrent dropout, and right-padded masks without a fully masked
    sequence (Keras asserts that last one at run time); :func:`cudnn_conditions` checks the layer's part.
    On a CPU Keras runs a ``while_loop`` of some twenty small ops per time step; TensorFlow's fused
    ``BlockLSTM`` kernel runs the whole sequence in one op (forward and backward ~3x faster, and a far
    smaller graph to trace and optimise). Masked steps: each sequence's state and last output are those of
    its last valid step, and outputs at padded steps repeat it (Keras' ``zero_output_for_mask=False``).
    A mask that is not right-padded stops with an error instead of giving other numbers.
    """

    def _fused_ok(self, sequences, training) -> bool:
        from ..devices import gpu_visible

        cell = self.cell
        return (
            keras.backend.backend() == "tensorflow"
            and not gpu_visible()
            and cudnn_conditions(self)
            and not self.go_backwards
            and not self.stateful
            and (not training or cell.dropout == 0)
            and cell.compute_dtype == "float32"
        )

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if not self._fused_ok(sequences, training):
            return super().inner_loop(sequences, initial_state, mask, training=training)
        import tensorflow as tf

        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        units, steps = self.cell.units, tf.shape(sequences)[1]
        h0, c0 = initial_state
        if mask is None:
            lengths = tf.fill([tf.shape(sequences)[0]], steps)
        else:
            valid = tf.cast(mask, tf.int32)
            lengths = tf.reduce_sum(valid, axis=1)
            right_padded = tf.reduce_all(
                tf.equal(valid, tf.cast(tf.range(steps)[None, :] < lengths[:, None], tf.int32))
            )
            tf.debugging.Assert(right_padded, ["RightPaddedLSTM: the mask is not right-padded (valid steps first)"])

        def icfo(t):  # Keras' gate order i, f, c, o -> BlockLSTM's i, c, f, o
            i, f, c, o = tf.split(t, 4, axis=-1)
            return tf.concat([i, c, f, o], axis=-1)

        kernel = icfo(tf.concat([self.cell.kernel, self.cell.recurrent_kernel], axis=0))
        zeros = tf.zeros([units], sequences.dtype)
        out = tf.raw_ops.BlockLSTM(  # time-major; forget_bias 0 and no clipping: Keras' cell exactly
            seq_len_max=tf.cast(tf.reduce_max(lengths), tf.int64),
            x=tf.transpose(sequences, (1, 0, 2)),
            cs_prev=c0,
            h_prev=h0,
            w=kernel,
            wci=zeros,
            wcf=zeros,
            wco=zeros,
            b=icfo(self.cell.bias),
            forget_bias=0.0,
            cell_clip=-1.0,
            use_peephole=False,
        )
        h, c = tf.transpose(out.h, (1, 0, 2)), tf.transpose(out.cs, (1, 0, 2))
        last = tf.maximum(lengths - 1, 0)
        has_steps = (lengths > 0)[:, None]
        h_last = tf.where(has_steps, tf.gather(h, last, axis=1, batch_dims=1), h0)
        c_last = tf.where(has_steps, tf.gather(c, last, axis=1, batch_dims=1), c0)
        outputs = h
        if self.return_sequences:
            fill = tf.zeros_like(h) if self.zero_output_for_mask else tf.broadcast_to(h_last[:, None, :], tf.shape(h))
            outputs = tf.where((tf.range(steps)[None, :] < lengths[:, None])[..., None], h, fill)
        return h_last, outputs, [h_last, c_last]


def cudnn_conditions(lstm) -> bool:
    """The layer's part of Keras' conditions for the cuDNN LSTM kernel (the masks' part, right padding, is
    asserted at run time): tanh/sigmoid activations, a bias, no unrolling, no recurrent dropout."""
    from keras.src.backend.tensorflow.rnn import _do_lstm_arguments_support_cudnn

    cell = lstm.cell
    return bool(
        _do_lstm_arguments_support_cudnn(cell.activation, cell.recurrent_activation, lstm.unroll, cell.use_bias)
        and cell.recurrent_dropout == 0
        and lstm.use_cudnn in ("auto", True)
    )


def _window_inputs(max_obs: int) -> dict:
    return {k: keras.Input((max_obs, 1), name=k, dtype="float32") for k in ENCODER_INPUTS}


def build_lstm_head(
    n_features: int,
    n_classes: int,
    max_obs: int = 200,
    units: int = 256,
    dropout: float = 0.3,
    name: str = "lstm_head",
    standardize: bool = False,
) -> keras.Model:
    """Two masked LSTM layers (LayerNorm + Dropout after each) and a softmax head.

    Inputs: a (B, L, n_features) sequence and ``mask_in`` (B, L, 1); ``standardize``: each feature
    standardized over the window's valid steps first (:class:`StandardizeOverTime`, for embeddings).
    """
    seq = keras.Input((max_obs, n_features), name="sequence")
    mask_in = keras.Input((max_obs, 1), name="mask_in")
    valid = ValidMask(name="valid_mask")(mask_in)
    x = StandardizeOverTime(name="standardize_over_time")([seq, mask_in]) if standardize else seq
    x = RightPaddedLSTM(units, return_sequences=True, name="lstm_0")(x, mask=valid)
    x = layers.LayerNormalization(name="norm_0")(x)
    x = layers.Dropout(dropout, name="dropout_0")(x)
    x = RightPaddedLSTM(units, return_sequences=False, name="lstm_1")(x, mask=valid)
    x = layers.LayerNormalization(name="norm_1")(x)
    x = layers.Dropout(dropout, name="dropout_1")(x)
    out = layers.Dense(n_classes, activation="softmax", name="probabilities", dtype="float32")(x)  # also under bf16
    return keras.Model([seq, mask_in], out, name=name)


def build_mlp_head(
    n_features: int, n_classes: int, max_obs: int = 200, units=(1024, 512, 256), name: str = "mlp_head"
) -> keras.Model:
    """Dense ReLU stack on the embeddings averaged over valid steps, softmax head."""
    seq = keras.Input((max_obs, n_features), name="sequence")
    mask_in = keras.Input((max_obs, 1), name="mask_in")
    x = MaskedMean(name="valid_mean")([seq, mask_in])
    # per-feature standardization over the training curves (set by adapt_standardization), as the authors'
    # MLP+ATT does over each batch: the mean embeddings of different curves differ by ~1% of their size
    x = layers.Normalization(axis=-1, name="standardize")(x)
    for i, n in enumerate(units):
        x = layers.Dense(n, activation="relu", name=f"dense_{i}")(x)
    out = layers.Dense(n_classes, activation="softmax", name="probabilities", dtype="float32")(x)  # also under bf16
    return keras.Model([seq, mask_in], out, name=name)


def build_lstm_baseline(n_classes: int, max_obs: int = 200, units: int = 256, dropout: float = 0.3) -> keras.Model:
    """The LSTM baseline on the light curves themselves (no encoder)."""
    inputs = _window_inputs(max_obs)
    curve = MinMaxLightCurve(name="minmax_curve")([inputs["times"], inputs["input"], inputs["mask_in"]])
    head = build_lstm_head(2, n_classes, max_obs, units, dropout)
    return keras.Model(inputs, head([curve, inputs["mask_in"]]), name="lstm")


class EncoderClassifier(keras.Model):
    """A head on top of the ASTROMER encoder's embeddings; the encoder frozen or trained with it."""

    def __init__(self, encoder, head, train_encoder: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.head = head
        self.train_encoder = bool(train_encoder)
        # frozen: not in trainable_weights, so no optimizer ever touches it
        self.encoder.trainable = self.train_encoder

    def call(self, inputs, training=False):
        window = {k: inputs[k] for k in ENCODER_INPUTS}
        embedding = self.encoder(window, training=bool(training) and self.train_encoder)
        return self.head([embedding, inputs["mask_in"]], training=training)


def embedding_size(encoder, max_obs: int = 200) -> int:
    """The encoder's ``d_model``; for an encoder without that attribute, read from its output on a zero window
    (works for any encoder with the contract)."""
    import numpy as np

    if isinstance(getattr(encoder, "d_model", None), int):
        return encoder.d_model

    zeros = np.zeros((1, max_obs, 1), np.float32)
    out = encoder({"input": zeros, "times": zeros, "mask_in": zeros}, training=False)
    return int(out.shape[-1])


def build_classifier(
    kind: str,
    n_classes: int,
    encoder=None,
    train_encoder: bool = False,
    max_obs: int = 200,
    units: int = 256,
    dropout: float = 0.3,
) -> keras.Model:
    """``kind`` in :data:`CLASSIFIERS`; ``encoder`` is ``SingleBandEncoder.encoder`` for the ATT models."""
    if kind == "lstm":
        return build_lstm_baseline(n_classes, max_obs, units, dropout)
    if kind not in CLASSIFIERS:
        raise ValueError(f"classifier must be one of {CLASSIFIERS}, not {kind!r}")
    if encoder is None:
        raise ValueError(f"classifier {kind!r} needs an encoder")
    d = embedding_size(encoder, max_obs)
    head = (
        build_lstm_head(d, n_classes, max_obs, units, dropout, standardize=True)
        if kind == "lstm_att"
        else build_mlp_head(d, n_classes, max_obs)
    )
    model = EncoderClassifier(encoder, head, train_encoder, name=kind)
    if encoder.built:
        # its weights are the encoder's and the (functional, built) head's, which exist: no eager pass through
        # the encoder to build it (0.35-0.39 s against 0.05-0.08 s in isolation; bench/README.md, "Fifth pass")
        model.built = True
    else:
        zeros = {k: keras.ops.zeros((1, max_obs, 1)) for k in ENCODER_INPUTS}
        model(zeros)  # build, so weights exist before fit/load
    return model
