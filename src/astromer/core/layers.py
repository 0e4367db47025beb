"""Keras 3 layers of the ASTROMER encoder. Attribute names follow the authors' checkpoint paths
(``inp_transform``, ``enc_layers``, ``mha/wq``, ``layernorm1``, ``bn_0``, ``reg_layer``) so that the published
weights map onto them one to one (see :mod:`astromer.core.checkpoint`)."""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

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
        self._even = i % 2 == 0

    def call(self, times):
        rates = ops.cast(ops.convert_to_tensor(self._rates), times.dtype)
        angles = times * rates  # (B, L, 1) * (d,) -> (B, L, d)
        return ops.where(ops.convert_to_tensor(self._even), ops.sin(angles), ops.cos(angles))

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

    def _split(self, x):
        b, n = ops.shape(x)[0], ops.shape(x)[1]
        return ops.transpose(ops.reshape(x, (b, n, self.num_heads, self.depth)), (0, 2, 1, 3))

    def mask_bias(self, mask_in, query_mask, dtype):
        """Bias added to every head's logits, from ``mask_in`` (B, L, 1) and the queries' ``query_mask``
        (B, T, 1), both 0/1.

        add_one: min(1, m_q + m_k) is m_k on a visible query's row and a constant 1 on a hidden or padded
        query's row, which softmax ignores: (1 - m_q) * m_k gives the same weights. exclude: -1e9 on
        hidden and padded keys, (B, 1, 1, L).
        """
        m_k = ops.cast(ops.transpose(mask_in, (0, 2, 1)), dtype)[:, None, :, :]
        if self.mask_style == "exclude":
            return m_k * ops.cast(-1e9, dtype)
        return (1.0 - ops.cast(query_mask, dtype))[:, None, :, :] * m_k

    def call(self, x, mask_in, queries=None, query_mask=None):
        """Attention of every position of ``x`` (B, L, d), or only of ``queries`` (B, T, d) (rows of ``x``
        gathered by the caller, with their ``mask_in`` rows as ``query_mask``) over the keys and values of
        all of ``x``."""
        b = ops.shape(x)[0]
        # One (d, 3d) matmul instead of three when every position is a query: same numbers.
        kernel = ops.concatenate([self.wq.kernel, self.wk.kernel, self.wv.kernel], axis=-1)
        bias = ops.concatenate([self.wq.bias, self.wk.bias, self.wv.bias], axis=-1)
        if queries is None:
            qkv = ops.matmul(x, ops.cast(kernel, x.dtype)) + ops.cast(bias, x.dtype)
            q, k, v = ops.split(qkv, 3, axis=-1)
        else:
            kv = ops.matmul(x, ops.cast(kernel[:, self.d_model :], x.dtype)) + ops.cast(bias[self.d_model :], x.dtype)
            k, v = ops.split(kv, 2, axis=-1)
            q = ops.matmul(queries, ops.cast(kernel[:, : self.d_model], x.dtype)) + ops.cast(
                bias[: self.d_model], x.dtype
            )
        # 1/sqrt(depth) on q (L x d values) rather than on the logits (L x L per head); exact for depth 4^k
        q = self._split(q * ops.cast(1.0 / math.sqrt(self.depth), q.dtype))
        k, v = self._split(k), self._split(v)
        query_mask = mask_in if queries is None else query_mask
        logits = ops.einsum("bhqd,bhkd->bhqk", q, k) + self.mask_bias(mask_in, query_mask, q.dtype)
        weights = ops.softmax(logits, axis=-1)
        heads = ops.einsum("bhqk,bhkd->bhqd", weights, v)
        merged = ops.reshape(ops.transpose(heads, (0, 2, 1, 3)), (b, ops.shape(q)[2], self.d_model))
        return self.dense(merged)

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

    def call(self, x, mask_in, training=False, query_positions=None):
        """(B, L, d) -> (B, L, d); with ``query_positions`` (B, T) int, only those rows (B, T, d): their
        attention still reads the keys and values of every position, and the rest is per position."""
        queries = query_mask = None
        if query_positions is not None:
            # tf.gather: 6x faster than ops.take_along_axis forward and backward (no index broadcasting)
            queries = tf.gather(x, query_positions, axis=1, batch_dims=1)
            query_mask = tf.gather(mask_in, query_positions, axis=1, batch_dims=1)
        attended = self.dropout1(self.mha(x, mask_in, queries=queries, query_mask=query_mask), training=training)
        x = x if queries is None else queries
        h = self.layernorm1(x + attended if self.residual else attended)
        transformed = self.dropout2(self.ffn_2(self.ffn_1(h)), training=training)
        return self.layernorm2(h + transformed if self.residual else transformed)

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

    def call(self, inputs, training=False, query_positions=None):
        """Embeddings (B, L, d) of every position; with ``query_positions`` (B, T) int the last block is
        computed at those positions only and (B, T, d) is returned (training: the loss needs no other)."""
        training = bool(training) and self.mode.dropout_in_training
        compute = self.compute_dtype
        magnitudes, times, mask_in = inputs["input"], inputs["times"], inputs["mask_in"]
        if self.mode.hide_masked_input:  # hidden values never enter the encoder
            magnitudes = magnitudes * (1.0 - mask_in)
        x = self.inp_transform(ops.cast(magnitudes, compute)) + ops.cast(self.pe(ops.cast(times, "float32")), compute)
        x = self.dropout(x, training=training)
        mask_in = ops.cast(mask_in, x.dtype)
        for i, block in enumerate(self.enc_layers):
            last = i == len(self.enc_layers) - 1
            x = block(x, mask_in, training=training, query_positions=query_positions if last else None)
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
