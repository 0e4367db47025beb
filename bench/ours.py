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
    timed = curves[:encode_curves]
    model.encode(timed[:20], batch_size=encode_batch_size)  # warm-up (tracing)
    start = time.perf_counter()
    out = model.encode(timed, batch_size=encode_batch_size)
    seconds = time.perf_counter() - start
    if len(out) != len(timed):
        raise RuntimeError(f"our encode() returned {len(out)} arrays for {len(timed)} curves")
    windows = n_encode_windows(timed)  # counted as the reference makes them, whatever our windowing is
    result["encode"][str(encode_batch_size)] = {
        "windows_per_s": windows / seconds,
        "windows": windows,
        "seconds": seconds,
        "curves": len(timed),
    }
    return result
