"""Our side of the benchmark: the same measurements as bench/reference_runner.py, on our library.

Contract (the library's API; adapt here if it changes):
    from astromer import SingleBandEncoder
    enc = SingleBandEncoder(mode='legacy'); model = enc.from_pretraining(path)
    enc.encode(list_of_arrays, batch_size=256)                       # one (n_obs, 256) array per curve
    astromer.core.pretraining.train_throughput(model, curves, batch_size, steps, warmup) -> windows/s
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_data import n_encode_windows  # noqa: E402
from limits import cpu_flags as _cpu_flags  # noqa: E402

DEFAULT_WEIGHTS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data", "astromer_macho_v0"
)


# Training variants tried; the fastest is reported as our number, all are printed in "variants".
# float32 with XLA, float32 graph mode, and mixed bfloat16 (bf16 matmuls, float32 weights; graph mode
# because XLA's CPU backend has no fast bf16 dots). Every variant runs the library's train step: the last
# block at the target positions only (pretraining.Trainer). encode() stays float32 (bf16 moves the published
# weights' reconstructions by up to 0.1 mag).
TRAIN_VARIANTS = (("float32+xla", None, True), ("float32", None, False), ("mixed_bfloat16", "mixed_bfloat16", False))


def measure_ours(
    curves,
    batch_sizes,
    weights_dir=DEFAULT_WEIGHTS,
    train_windows=2048,
    warmup_steps=2,
    encode_batch_size=256,
    encode_curves=800,
):
    """{'train': {bs: {'windows_per_s': best, 'variants': {...}}}, 'encode': {bs: {...}}}, same counting
    as the reference."""
    from astromer import SingleBandEncoder
    from astromer.core import pretraining

    result = {"side": "ours", "train": {}, "encode": {}, "cpu": _cpu_flags()}
    for batch_size in batch_sizes:
        steps = max(1, train_windows // batch_size)
        variants = {}
        for name, dtype, jit in TRAIN_VARIANTS:
            model = SingleBandEncoder.from_pretraining(weights_dir, dtype=dtype)
            variants[name] = float(
                pretraining.train_throughput(model, curves, batch_size, steps, warmup_steps, jit_compile=jit)
            )
        best = max(variants, key=variants.get)
        result["train"][str(batch_size)] = {
            "windows_per_s": variants[best],
            "best": best,
            "variants": variants,
            "steps": steps,
            "warmup_steps": warmup_steps,
        }

    model = SingleBandEncoder.from_pretraining(weights_dir)  # legacy mode, float32
    result["config"] = dict(model.config)
    result["encode"][str(encode_batch_size)] = measure_encode(model, curves[:encode_curves], encode_batch_size)
    return result


def measure_encode(model, timed, encode_batch_size=256):
    """encode() of ``timed`` after a warm-up (tracing): windows/s counted as the reference makes them."""
    model.encode(timed[:20], batch_size=encode_batch_size)
    start = time.perf_counter()
    out = model.encode(timed, batch_size=encode_batch_size)
    seconds = time.perf_counter() - start
    if len(out) != len(timed):
        raise RuntimeError(f"our encode() returned {len(out)} arrays for {len(timed)} curves")
    windows = n_encode_windows(timed)  # whatever our windowing is
    return {"windows_per_s": windows / seconds, "windows": windows, "seconds": seconds, "curves": len(timed)}


def encode_in_own_process(weights_dir, n_curves, seed, encode_batch_size=256, encode_curves=800, threads=0):
    """encode() measured in a fresh process set up as ``astromer encode`` sets up its own (one thread per op,
    one model call per core: astromer.core.devices.inference_threads), on the same seeded curves; with
    ``threads`` that many intra- and inter-op threads instead. Returns the measure_encode dict."""
    import json
    import subprocess

    cmd = [sys.executable, os.path.abspath(__file__), "--encode-process", weights_dir, str(n_curves), str(seed)]
    cmd += [str(encode_batch_size), str(encode_curves), str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"encode process failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def _encode_process(weights_dir, n_curves, seed, encode_batch_size, encode_curves, threads):
    import json

    import tensorflow as tf
    from bench_data import make_curves

    from astromer import SingleBandEncoder
    from astromer.core.devices import inference_threads

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    elif not inference_threads():
        raise RuntimeError("inference_threads() did not take effect in a fresh process")
    curves = make_curves(n_curves, seed=seed)
    model = SingleBandEncoder.from_pretraining(weights_dir)
    entry = measure_encode(model, curves[:encode_curves], encode_batch_size)
    entry["intra_op_threads"] = tf.config.threading.get_intra_op_parallelism_threads()
    print(json.dumps(entry), flush=True)


if __name__ == "__main__" and sys.argv[1:2] == ["--encode-process"]:
    weights, n, seed, batch, count, threads = sys.argv[2:8]
    _encode_process(weights, int(n), int(seed), int(batch), int(count), int(threads))
