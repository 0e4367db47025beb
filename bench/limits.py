"""The machine's limit for the benchmark (issue 14): matmul peak in float32 and bfloat16, CPU flags, and the
floating-point operations of one window counted from the model config (formula in bench/README.md)."""

from __future__ import annotations

import platform
import time

CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8")


def cpu_flags() -> dict:
    """Model name and the vector/matrix flags that decide the peaks (from /proc/cpuinfo)."""
    model, flags = platform.processor() or "unknown", set()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    return {"model": model, "flags": [f for f in CPU_FLAGS if f in flags]}


def forward_flops(num_layers=2, d_model=256, dff=128, max_obs=200, targets=None) -> float:
    """Multiply-adds x 2 of one window's forward pass (matmuls only; softmax, LayerNorm and the rest are
    O(L d) or O(h L^2) and left out). With ``targets`` (T), the last block's queries, attention output,
    FFN and head run at T positions only (the training step's target-only last block)."""
    L, d, f = max_obs, d_model, dff
    flops = 2 * L * d  # input projection (1 -> d)
    for i in range(num_layers):
        q = L if (targets is None or i < num_layers - 1) else targets
        flops += 2 * L * d * 2 * d  # K and V projections, every position
        flops += 2 * q * d * d  # Q projection
        flops += 2 * 2 * q * L * d  # Q K^T and weights x V, all heads together
        flops += 2 * q * d * d  # output projection
        flops += 2 * 2 * q * d * f  # FFN d -> dff -> d
    flops += 2 * (L if targets is None else targets) * d  # regression head d -> 1
    return float(flops)


def train_flops(**config) -> float:
    """Forward plus backward (gradients of activations and of weights: ~2x the forward)."""
    return 3.0 * forward_flops(**config)


def matmul_peak(dtype: str, n: int = 2048, seconds: float = 2.0) -> float:
    """GFLOP/s of an n x n x n matmul in ``dtype`` through TensorFlow (oneDNN on CPUs): the median over
    repeated timed calls after a warm-up, on random (not zero) inputs."""
    import tensorflow as tf

    a = tf.random.normal((n, n), dtype=tf.float32)
    b = tf.random.normal((n, n), dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(b, dtype)
    matmul = tf.function(lambda x, y: tf.reduce_sum(tf.cast(tf.matmul(x, y)[:1, :1], tf.float32)))
    for _ in range(3):
        matmul(a, b).numpy()
    times, began = [], time.perf_counter()
    while time.perf_counter() - began < seconds or len(times) < 5:
        start = time.perf_counter()
        matmul(a, b).numpy()
        times.append(time.perf_counter() - start)
    times.sort()
    return 2.0 * n**3 / times[len(times) // 2] / 1e9


def machine_limits(n: int = 2048) -> dict:
    return {
        "cpu": cpu_flags(),
        "matmul_n": n,
        "peak_gflops": {"float32": matmul_peak("float32", n), "bfloat16": matmul_peak("bfloat16", n)},
    }
