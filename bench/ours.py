"""This library measured at the paper config (run from the project's environment)."""
import time

import numpy as np

from bench_data import n_encode_windows


def measure_ours(curves, weights, batch_sizes=(64, 256), precisions=("float32", "mixed_bfloat16")) -> dict:
    from astromer import SingleBandEncoder
    from astromer.training import train_throughput

    out = {}
    for precision in precisions:
        dtype = None if precision == "float32" else precision
        for batch_size, warmup, steps in ((64, 3, 20), (256, 2, 5)):
            if batch_size not in batch_sizes:
                continue
            for jit in ((True, False) if dtype is None else (False,)):  # XLA on CPU has no fast bf16 dots
                model = SingleBandEncoder.from_pretraining(weights, dtype=dtype)
                key = f"train_{batch_size}[{precision}{',xla' if jit else ''}]"
                out[key] = train_throughput(model, curves, batch_size=batch_size, steps=steps, warmup=warmup,
                                            jit_compile=jit)
    model = SingleBandEncoder.from_pretraining(weights)
    subset = curves[: max(50, len(curves) // 4)]
    model.encode(subset[:20], batch_size=256)  # warm-up (graph tracing)
    began = time.perf_counter()
    model.encode(subset, batch_size=256)  # preprocessing included
    out["encode_256[float32]"] = n_encode_windows(subset) / (time.perf_counter() - began)
    return out
