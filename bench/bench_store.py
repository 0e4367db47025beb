"""Light-curve loading throughput from the internal store (issue 3: loading must not be the bottleneck).

Simulates N curves (MACHO-like unlabeled pool, about 700 observations each) into a temporary store once,
then times:
- ``load_flat`` (the bulk path the input pipeline uses): curves/s and observations/s;
- ``load`` (list of per-curve arrays);
- vectorised windowing of the flat arrays into windows of 200 observations (the paper's pretraining
  windows: each curve cut into consecutive 200-point windows), i.e. windows/s actually produced.
Numbers are printed as ``name: value`` lines and written as JSON with --json.

Usage: python bench/bench_store.py [--n-curves 20000] [--store DIR] [--json OUT] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def windows_from_flat(offsets, time_, mag, err, window=200):
    """Start indices of consecutive windows (the last partial window of a curve kept, padded later)
    and the gathered (n_windows, window, 3) block; vectorised over all curves."""
    lengths = np.diff(offsets)
    per_curve = np.maximum(1, -(-lengths // window))
    curve_of = np.repeat(np.arange(len(lengths)), per_curve)
    first = np.concatenate([[0], np.cumsum(per_curve)[:-1]])
    k = np.arange(per_curve.sum()) - np.repeat(first, per_curve)
    starts = offsets[curve_of] + k * window
    stops = offsets[curve_of + 1]
    idx = starts[:, None] + np.arange(window)[None, :]
    valid = idx < stops[:, None]
    idx = np.where(valid, idx, 0)
    block = np.stack([time_[idx], mag[idx], err[idx]], axis=-1).astype(np.float32)
    block[~valid] = 0.0
    return block, valid


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-curves", type=int, default=20000)
    parser.add_argument("--store", default=None, help="existing store to read (else simulate one)")
    parser.add_argument("--json", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    from astromer.data.store import LightCurveStore

    tmp = None
    if args.store is None:
        from astromer.data.simulate.simulator import simulate_to_store

        tmp = tempfile.TemporaryDirectory(prefix="bench-store-")
        t0 = time.perf_counter()
        store = simulate_to_store(
            os.path.join(tmp.name, "store"), "macho", "unlabeled", seed=0, n_objects=args.n_curves
        )
        print(f"simulate_seconds: {time.perf_counter() - t0:.1f}")
    else:
        store = LightCurveStore.open(args.store)

    results = {
        "n_curves": int(len(store.metadata)),
        "n_observations": int(store.metadata["n_obs"].sum()),
        "store_bytes": int(sum(f.stat().st_size for f in store.path.iterdir())),
    }
    best_flat = best_load = best_win = np.inf
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        ids, offsets, time_, mag, err = store.load_flat()
        best_flat = min(best_flat, time.perf_counter() - t0)
        t0 = time.perf_counter()
        block, valid = windows_from_flat(offsets, time_, mag, err)
        best_win = min(best_win, time.perf_counter() - t0)
    t0 = time.perf_counter()
    store.load()
    best_load = time.perf_counter() - t0
    n, n_obs, n_win = results["n_curves"], results["n_observations"], int(block.shape[0])
    results.update(
        {
            "load_flat_seconds": best_flat,
            "load_flat_curves_per_s": n / best_flat,
            "load_flat_observations_per_s": n_obs / best_flat,
            "load_list_seconds": best_load,
            "load_list_curves_per_s": n / best_load,
            "n_windows_200": n_win,
            "windowing_seconds": best_win,
            "windows_200_per_s_load_plus_window": n_win / (best_flat + best_win),
            "windows_200_per_s_implied_by_load": n_obs / 200 / best_flat,
            "cpu_count": os.cpu_count(),
        }
    )
    for key, value in results.items():
        print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    if args.json:
        from astromer.data.store import atomic_write_json

        atomic_write_json(args.json, results)
    if tmp is not None:
        tmp.cleanup()
    return results


if __name__ == "__main__":
    main()
