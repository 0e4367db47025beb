"""Our side of the benchmark: the same measurements as bench/reference_runner.py, on our library.

Contract (the library's API; adapt here if it changes):
    from astromer import SingleBandEncoder
    enc = SingleBandEncoder(mode='legacy'); model = enc.from_pretraining(path)
    enc.encode(list_of_arrays, batch_size=256)                       # one (n_obs, 256) array per curve
    astromer.training.train_throughput(model, curves, batch_size, steps, warmup) -> windows/s
"""
from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_data import n_encode_windows  # noqa: E402


DEFAULT_WEIGHTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data",
                               "astromer_macho_v0")


def measure_ours(curves, batch_sizes, weights_dir=DEFAULT_WEIGHTS, train_windows=2048, warmup_steps=2,
                 encode_batch_size=256, encode_curves=800):
    """{'train': {bs: {'windows_per_s': ...}}, 'encode': {bs: {...}}}, same counting as the reference."""
    from astromer import SingleBandEncoder
    from astromer import training

    encoder = SingleBandEncoder(mode="legacy")
    model = encoder.from_pretraining(weights_dir)
    result = {"side": "ours", "train": {}, "encode": {}}
    for batch_size in batch_sizes:
        steps = max(1, train_windows // batch_size)
        rate = training.train_throughput(model, curves, batch_size, steps, warmup_steps)
        result["train"][str(batch_size)] = {"windows_per_s": float(rate), "steps": steps,
                                            "warmup_steps": warmup_steps}

    timed = curves[:encode_curves]
    encoder.encode(timed[:20], batch_size=encode_batch_size)  # warm-up (tracing)
    start = time.perf_counter()
    out = encoder.encode(timed, batch_size=encode_batch_size)
    seconds = time.perf_counter() - start
    if len(out) != len(timed):
        raise RuntimeError(f"our encode() returned {len(out)} arrays for {len(timed)} curves")
    windows = n_encode_windows(timed)  # counted as the reference makes them, whatever our windowing is
    result["encode"][str(encode_batch_size)] = {"windows_per_s": windows / seconds, "windows": windows,
                                                "seconds": seconds, "curves": len(timed)}
    return result
