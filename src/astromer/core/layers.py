"""Keras 3 layers of the ASTROMER encoder. Attribute names follow the authors' checkpoint paths
(``inp_transform``, ``enc_layers``, ``mha/wq``, ``layernorm1``, ``bn_0``, ``reg_layer``) so that the published
weights map onto them one to one (see :mod:`astromer.core.checkpoint`)."""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from .devices import gpu_visible
from .modes import get_mode
from .preprocessing import MAX_OBS

PACKAGE = "astromer"
LN_EPSILON = 1e-6
# The encoder's architecture when nothing else is given: the paper's (and the published weights'), the one
# definition behind SingleBandEncoder, build_model and the authors' checkpoints without a conf.json.
MODEL_DEFAULTS = {
    "num_layers": 2,
    "d_model": 256,
    "num_heads": 4,
    "dff": 128,
    "dropout": 0.1,
    "max_obs": MAX_OBS,
    "mode": "paper",
}


# bfloat16 on CPUs: oneDNN's MatMul fused with its BiasAdd runs at about half the speed of the plain matmul
# (AMX, (6400, 256) x (256, 768): 4.3-5.3 ms against 2.3-2.8 ms), so the bias rides inside the matmul: the rows
# get BIAS_COLUMNS more columns (a 1, then 0s: a whole AMX tile depth) and the kernel the bias row and 0 rows.
# 2.7-3.2 ms; the backward needs no BiasAddGrad (the bias's gradient is that row's). The bias is then summed in
# the matmul's float32 accumulator rather than added to its rounded bfloat16 output.
BIAS_COLUMNS = 32


def matmul_bias(rows, kernel, bias):
    """``rows @ kernel + bias`` for 2-D rows, in the rows' dtype: tf.matmul + tf.nn.bias_add (a pattern Grappler
    fuses into one oneDNN matmul), or for bfloat16 on a CPU the bias as one more row of the kernel."""
    dtype = rows.dtype
    kernel, bias = tf.cast(kernel, dtype), tf.cast(bias, dtype)
    if dtype != tf.bfloat16 or gpu_visible():
        return tf.nn.bias_add(tf.matmul(rows, kernel), bias)
    ones = tf.one_hot(tf.zeros(tf.shape(rows)[:1], tf.int32), BIAS_COLUMNS, dtype=dtype)  # (n, 32): 1, 0, ...
    padding = tf.zeros((BIAS_COLUMNS - 1, kernel.shape[-1]), dtype)
    return tf.matmul(tf.concat([rows, ones], axis=1), tf.concat([kernel, bias[None, :], padding], axis=0))


def dense_rows(rows, dense: layers.Dense):
    """``dense`` (its kernel, bias and activation) applied to 2-D rows as one matmul with its bias
    (:func:`matmul_bias`; a 3-D Keras Dense is a Tensordot plus a separate bias pass)."""
    return dense.activation(matmul_bias(rows, dense.kernel, dense.bias))


@tf.function(jit_compile=True)
def _fused_layer_norm(x, gamma, beta, epsilon):
    """LayerNorm over the last axis in float32, compiled by XLA into a few fused loops (forward and
    backward) instead of a dozen elementwise TensorFlow ops, each a pass over memory."""
    mean = tf.reduce_mean(x, axis=-1, keepdims=True)
    centred = x - mean
    variance = tf.reduce_mean(tf.square(centred), axis=-1, keepdims=True)
    return centred * (tf.math.rsqrt(variance + epsilon) * gamma) + beta


def layer_norm_rows(rows, norm: layers.LayerNormalization):
    """``norm`` (last axis, computed in float32 as Keras does) applied to 2-D rows (n, d): XLA-fused on CPUs
    (measured: forward+backward 1.5x faster than Keras's ops), Keras's own layer on GPUs. (A FusedBatchNormV3
    over a (1, n, d, 1) view was faster still but corrupted the heap now and then under oneDNN.)"""
    if gpu_visible():
        return norm(rows)
    gamma, beta = tf.cast(norm.gamma, tf.float32), tf.cast(norm.beta, tf.float32)
    out = _fused_layer_norm(tf.cast(rows, tf.float32), gamma, beta, tf.constant(norm.epsilon, tf.float32))
    return tf.cast(out, rows.dtype)


def _tracing_for_xla() -> bool:
    """Whether the graph being traced is compiled by XLA: a tf.function(jit_compile=True), directly or around
    this one (Keras' jit fit, ``Trainer(jit_compile=True)``). False when executing eagerly."""
    try:  # TensorFlow's own test for this (tf.function enters this context while tracing for XLA)
        from tensorflow.python.framework import ops as tf_ops
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # cannot tell: the path every compiler takes
        return True
    return bool(control_flow_util.GraphOrParentsInXlaContext(tf_ops.get_default_graph()))


def interleave(even, odd):
    """(..., n) and (..., n) -> (..., 2n) with ``even`` on the even channels and ``odd`` on the odd ones.

    In float32 as a complex64 tensor (real, imaginary parts stored side by side) read back as float32 pairs:
    the same values as stack + reshape, 2.5x faster on a CPU (TensorFlow's Pack on a last axis of 2 copies
    element by element). Other dtypes, and graphs XLA compiles (it has no complex bitcast), stack."""
    shape = tf.shape(even)
    if even.dtype == tf.float32 and not _tracing_for_xla():
        pairs = tf.bitcast(tf.complex(even, odd), tf.float32)  # (..., n, 2)
    else:
        pairs = tf.stack([even, odd], axis=-1)
    width = 2 * even.shape[-1] if even.shape[-1] is not None else 2 * shape[-1]
    return tf.reshape(pairs, tf.concat([shape[:-1], [width]], axis=0))


@keras.saving.register_keras_serializable(package=PACKAGE)
class PositionalEncoding(layers.Layer):
    """sin/cos encoding of (centred) observation times in days: PE[..., i] = sin|cos(t * base^(-e_i)).

    ``paired=False`` (the authors' code): e_i = 2i/d, sin on even and cos on odd channels, every channel
    its own frequency. ``paired=True`` (Vaswani et al., the paper's equation): e_i = 2*floor(i/2)/d.
    """

    def __init__(self, d_model: int, base: float = 10000.0, paired: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.d_model, self.base, self.paired = int(d_model), float(base), bool(paired)
        i = np.arange(self.d_model)
        exponent = (2 * (i // 2) if paired else 2 * i) / np.float32(self.d_model)
        self._rates = (1.0 / np.power(self.base, exponent)).astype("float32")

    def call(self, times):
        # sin of the even channels' angles and cos of the odd ones' only (half the transcendental work of
        # computing both everywhere and selecting), interleaved back: the same values.
        rates = ops.cast(ops.convert_to_tensor(self._rates), times.dtype)
        sines = ops.sin(times * rates[0::2])
        cosines = ops.cos(times * rates[1::2])
        if self.d_model % 2:  # an odd width ends on a sin channel
            cosines = ops.pad(cosines, [(0, 0)] * (len(cosines.shape) - 1) + [(0, 1)])
        out = interleave(sines, cosines)
        return out[..., : self.d_model]

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.d_model)

    def get_config(self):
        return {**super().get_config(), "d_model": self.d_model, "base": self.base, "paired": self.paired}


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskedSelfAttention(layers.Layer):
    """Multi-head self-attention; heads are contiguous slices of Q, K and V (head h = features h*dh..).

    ``mask_style="add_one"`` (legacy): logits += min(1, m_q + m_k), which *up-weights* hidden and padded
    keys instead of excluding them. ``"exclude"`` (paper, Eq. 6): hidden and padded keys get -inf, so no
    query ever reads them; a hidden query still attends to the visible context.
    """

    def __init__(self, d_model: int, num_heads: int, mask_style: str = "exclude", **kwargs):
        super().__init__(**kwargs)
        if d_model % num_heads:
            raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
        if mask_style not in ("add_one", "exclude"):
            raise ValueError(f"unknown mask_style {mask_style!r}")
        self.d_model, self.num_heads, self.mask_style = int(d_model), int(num_heads), mask_style
        self.depth = self.d_model // self.num_heads
        self.wq = layers.Dense(d_model, name="wq", dtype=self.dtype_policy)
        self.wk = layers.Dense(d_model, name="wk", dtype=self.dtype_policy)
        self.wv = layers.Dense(d_model, name="wv", dtype=self.dtype_policy)
        self.dense = layers.Dense(d_model, name="dense", dtype=self.dtype_policy)

    def build(self, input_shape):
        for dense in (self.wq, self.wk, self.wv):
            dense.build(input_shape)
        self.dense.build((*input_shape[:-1], self.d_model))

    def _heads(self, x2d, b, n, parts: int):
        """(b*n, parts*d) rows -> ``parts`` tensors (b, heads, n, depth), with one transpose for all."""
        split = tf.transpose(tf.reshape(x2d, (b, n, parts, self.num_heads, self.depth)), (2, 0, 3, 1, 4))
        return tf.unstack(split, num=parts)

    def mask_bias(self, mask_in, query_mask, dtype):
        """Bias added to every head's logits, from ``mask_in`` (B, L, 1) and the queries' ``query_mask``
        (B, T, 1), both 0/1; None without a mask (no position hidden or padded: every bias is 0).

        add_one: min(1, m_q + m_k) is m_k on a visible query's row and a constant 1 on a hidden or padded
        query's row, which softmax ignores: (1 - m_q) * m_k gives the same weights. exclude: -1e9 on
        hidden and padded keys, (B, 1, 1, L). A constant of the data: no gradient flows into it.
        """
        if mask_in is None:
            return None
        m_k = tf.cast(tf.transpose(mask_in, (0, 2, 1)), dtype)[:, None, :, :]
        if self.mask_style == "exclude":
            return tf.stop_gradient(m_k * tf.cast(-1e9, dtype))
        return tf.stop_gradient((1.0 - tf.cast(query_mask, dtype))[:, None, :, :] * m_k)

    def call(self, x, mask_in, queries=None, query_mask=None, inference=False):
        """Attention of every position of ``x`` (B, L, d), or only of ``queries`` (B, T, d) (rows of ``x``
        gathered by the caller, with their ``mask_in`` rows as ``query_mask``) over the keys and values of
        all of ``x``. ``mask_in`` None: no position is hidden or padded. ``inference``: no weight gradient
        is wanted (:meth:`_head_major_projections` may serve)."""
        b, n, d = tf.shape(x)[0], tf.shape(x)[1], self.d_model
        dtype = x.dtype
        # Dense layers as 2-D matmul + bias_add (Grappler fuses them into one oneDNN call; a 3-D Dense is a
        # Tensordot with a separate bias pass). 1/sqrt(depth) goes on the query weights (d x d values, not
        # B x heads x T x L logits); exact for depth 4^k (a power of two).
        scale = 1.0 / math.sqrt(self.depth)
        kernel = tf.concat([self.wq.kernel * scale, self.wk.kernel, self.wv.kernel], axis=-1)
        bias = tf.concat([self.wq.bias * scale, self.wk.bias, self.wv.bias], axis=-1)
        rows = tf.reshape(x, (-1, d))
        out_bias = self.dense.bias
        if queries is None and inference and dtype == tf.float32 and not gpu_visible():
            q, k, v, out_bias = self._head_major_projections(x, kernel, bias)
            t, query_mask = n, mask_in
        elif queries is None:
            q, k, v = self._heads(matmul_bias(rows, kernel, bias), b, n, 3)
            t, query_mask = n, mask_in
        else:
            k, v = self._heads(matmul_bias(rows, kernel[:, d:], bias[d:]), b, n, 2)
            t = tf.shape(queries)[1]
            q_rows = matmul_bias(tf.reshape(queries, (-1, d)), kernel[:, :d], bias[:d])
            (q,) = self._heads(q_rows, b, t, 1)
        logits = tf.matmul(q, k, transpose_b=True)  # (B, heads, T, L)
        mask = self.mask_bias(mask_in, query_mask, dtype)
        weights = tf.nn.softmax(logits if mask is None else logits + mask, axis=-1)
        merged = tf.reshape(tf.transpose(tf.matmul(weights, v), (0, 2, 1, 3)), (-1, d))
        projected = self.dense.activation(matmul_bias(merged, self.dense.kernel, out_bias))
        return tf.reshape(projected, (b, t, d))

    def _head_major_projections(self, x, kernel, bias):
        """Q, K, V (B, heads, L, depth) as batched matmuls of ``x`` with each head's kernel, and the output
        projection's bias: for float32 inference on CPUs, where they skip the transpose of the 2-D
        projection's rows into heads (encode, 800 curves, alternating processes: 686-697 -> 716-762 windows/s).
        Training keeps the 2-D matmul: the weight gradient of a matmul broadcast over the batch is a matmul per
        window plus a sum (float32 pretraining step, batch 64: 219-220 -> 196-205 windows/s).

        Two biases fold away, exactly in real arithmetic: K's adds q . b_k to every logit of a query's row,
        which softmax ignores; V's adds b_v to every output row (each row of weights sums to 1), so it joins
        the output projection's bias as b_v @ W_o."""
        d, h = self.d_model, self.num_heads
        heads = tf.transpose(tf.reshape(kernel, (d, 3 * h, self.depth)), (1, 0, 2))[None]  # (1, 3h, d, depth)
        rows = x[:, None]  # (B, 1, L, d): broadcast over the heads
        q = tf.matmul(rows, heads[:, :h]) + tf.reshape(bias[:d], (1, h, 1, self.depth))
        k = tf.matmul(rows, heads[:, h : 2 * h])
        v = tf.matmul(rows, heads[:, 2 * h :])
        out_bias = self.dense.bias + tf.linalg.matvec(self.dense.kernel, bias[2 * d :], transpose_a=True)
        return q, k, v, out_bias

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.d_model)

    def get_config(self):
        return {
            **super().get_config(),
            "d_model": self.d_model,
            "num_heads": self.num_heads,
            "mask_style": self.mask_style,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class AttentionBlock(layers.Layer):
    """Attention then a tanh FFN (dff), each followed by dropout and a post-LayerNorm (eps 1e-6).

    ``residual=False`` is the authors' block (LN(MHA(x)), LN(FFN(h)): no skip connections);
    ``residual=True`` the standard post-LN transformer block.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        dff: int,
        dropout: float = MODEL_DEFAULTS["dropout"],
        residual: bool = True,
        mask_style: str = "exclude",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.d_model, self.num_heads, self.dff = int(d_model), int(num_heads), int(dff)
        self.dropout_rate, self.residual, self.mask_style = float(dropout), bool(residual), mask_style
        policy = self.dtype_policy
        self.mha = MaskedSelfAttention(d_model, num_heads, mask_style, name="mha", dtype=policy)
        self.ffn_1 = layers.Dense(dff, activation="tanh", name="ffn_1", dtype=policy)
        self.ffn_2 = layers.Dense(d_model, name="ffn_2", dtype=policy)
        self.layernorm1 = layers.LayerNormalization(epsilon=LN_EPSILON, name="layernorm1", dtype=policy)
        self.layernorm2 = layers.LayerNormalization(epsilon=LN_EPSILON, name="layernorm2", dtype=policy)
        self.dropout1 = layers.Dropout(dropout, dtype=policy)
        self.dropout2 = layers.Dropout(dropout, dtype=policy)

    def build(self, input_shape):
        self.mha.build(input_shape)
        self.ffn_1.build(input_shape)
        self.ffn_2.build((*input_shape[:-1], self.dff))
        self.layernorm1.build(input_shape)
        self.layernorm2.build(input_shape)

    def call(self, x, mask_in, training=False, query_positions=None, inference=None):
        """(B, L, d) -> (B, L, d); with ``query_positions`` (B, T) int, only those rows (B, T, d): their
        attention still reads the keys and values of every position, and the rest is per position.
        ``mask_in`` None: no position hidden or padded. ``inference``: no weight gradient is wanted (default:
        not ``training``; the encoder says so itself, as legacy mode trains without dropout)."""
        queries = query_mask = None
        if query_positions is not None:
            # tf.gather: 6x faster than ops.take_along_axis forward and backward (no index broadcasting)
            queries = tf.gather(x, query_positions, axis=1, batch_dims=1)
            if mask_in is not None:
                query_mask = tf.gather(mask_in, query_positions, axis=1, batch_dims=1)
        inference = not training if inference is None else inference
        attended = self.mha(x, mask_in, queries=queries, query_mask=query_mask, inference=inference)
        attended = self.dropout1(attended, training=training)
        x = x if queries is None else queries
        # per-position layers on (B*T, d) rows: fused matmul + bias (+ tanh) and one fused LayerNorm op
        rows = tf.reshape(x + attended if self.residual else attended, (-1, self.d_model))
        h = layer_norm_rows(rows, self.layernorm1)
        transformed = self.dropout2(dense_rows(dense_rows(h, self.ffn_1), self.ffn_2), training=training)
        out = layer_norm_rows(h + transformed if self.residual else transformed, self.layernorm2)
        return tf.reshape(out, tf.shape(x))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "d_model": self.d_model,
            "num_heads": self.num_heads,
            "dff": self.dff,
            "dropout": self.dropout_rate,
            "residual": self.residual,
            "mask_style": self.mask_style,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class Encoder(layers.Layer):
    """Magnitude projection 1->d plus the time encoding, then ``num_layers`` attention blocks.

    Takes a dict of float32 (B, L, 1) ``input`` (zero-mean magnitudes), ``times`` (zero-mean days) and
    ``mask_in`` (1 = hidden or padding) and returns the (B, L, d_model) embedding of every position.
    """

    def __init__(
        self,
        num_layers: int = MODEL_DEFAULTS["num_layers"],
        d_model: int = MODEL_DEFAULTS["d_model"],
        num_heads: int = MODEL_DEFAULTS["num_heads"],
        dff: int = MODEL_DEFAULTS["dff"],
        dropout: float = MODEL_DEFAULTS["dropout"],
        mode: str = MODEL_DEFAULTS["mode"],
        **kwargs,
    ):
        # Times must reach the positional encoding in float32 even under a bfloat16 policy (bf16 would
        # round +-500 d to +-2 d), so inputs are cast here by hand rather than by Keras.
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.mode = get_mode(mode)
        self.num_layers, self.d_model, self.num_heads, self.dff = (
            int(num_layers),
            int(d_model),
            int(num_heads),
            int(dff),
        )
        self.dropout_rate = float(dropout)
        policy = self.dtype_policy
        self.inp_transform = layers.Dense(d_model, name="inp_transform", dtype=policy)
        self.pe = PositionalEncoding(d_model, self.mode.pe_base, self.mode.pe_paired, name="pe", dtype="float32")
        self.dropout = layers.Dropout(dropout, dtype=policy)
        self.enc_layers = [
            AttentionBlock(
                d_model,
                num_heads,
                dff,
                dropout,
                self.mode.residual,
                self.mode.attention_mask,
                name=f"block_{i}",
                dtype=policy,
            )
            for i in range(num_layers)
        ]

    def build(self, input_shape):
        shape = input_shape["input"] if isinstance(input_shape, dict) else input_shape
        self.inp_transform.build(shape)
        for block in self.enc_layers:
            block.build((*shape[:-1], self.d_model))

    def call(self, inputs, training=False, query_positions=None, masked=True):
        """Embeddings (B, L, d) of every position; with ``query_positions`` (B, T) int the last block is
        computed at those positions only and (B, T, d) is returned (training: the loss needs no other).
        ``masked=False`` promises that no position is hidden or padded (``mask_in`` all 0, e.g. full
        windows to embed): the attention then adds no mask bias, which is 0 there in both modes."""
        inference = not training  # a call for outputs only (encode, validation), before the mode's dropout rule
        training = bool(training) and self.mode.dropout_in_training
        compute = self.compute_dtype
        magnitudes, times, mask_in = inputs["input"], inputs["times"], inputs["mask_in"]
        if self.mode.hide_masked_input and masked:  # hidden values never enter the encoder
            magnitudes = magnitudes * (1.0 - mask_in)
        # the 1 -> d projection as a broadcast multiply-add (a matmul with one input feature)
        projected = ops.cast(magnitudes, compute) * ops.cast(self.inp_transform.kernel[0], compute) + ops.cast(
            self.inp_transform.bias, compute
        )
        x = projected + ops.cast(self.pe(ops.cast(times, "float32")), compute)
        x = self.dropout(x, training=training)
        mask_in = ops.cast(mask_in, x.dtype) if masked else None
        for i, block in enumerate(self.enc_layers):
            last = i == len(self.enc_layers) - 1
            positions = query_positions if last else None
            x = block(x, mask_in, training=training, query_positions=positions, inference=inference)
        return x

    def compute_output_shape(self, input_shape):
        shape = input_shape["input"] if isinstance(input_shape, dict) else input_shape
        return (*shape[:-1], self.d_model)

    def get_config(self):
        config = super().get_config()
        config.pop("autocast", None)
        return {
            **config,
            "num_layers": self.num_layers,
            "d_model": self.d_model,
            "num_heads": self.num_heads,
            "dff": self.dff,
            "dropout": self.dropout_rate,
            "mode": self.mode.name,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class RegressionHead(layers.Layer):
    """LayerNorm (the authors' ``bn_0``) then a linear Dense(1): the reconstructed zero-mean magnitude."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bn_0 = layers.LayerNormalization(epsilon=LN_EPSILON, name="bn_0", dtype=self.dtype_policy)
        self.reg_layer = layers.Dense(1, name="reg_layer", dtype=self.dtype_policy)

    def build(self, input_shape):
        self.bn_0.build(input_shape)
        self.reg_layer.build(input_shape)

    def call(self, x):
        return self.reg_layer(self.bn_0(x))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 1)
