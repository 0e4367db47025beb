"""Input pipeline vs train step, side by side in one run (issue 3: loading must not be the bottleneck).

Simulates a MACHO-like unlabeled store, then measures
- the training input pipeline exactly as `astromer pretrain` runs it (store.load_flat -> one random window
  per curve -> masking -> tf.data batches), windows/s, with no model attached;
- the same pipeline reading the windows from the store's training columns on disk, as `astromer pretrain
  --columns` runs it (`astromer data columns` written once, memory-mapped; issue 17), windows/s;
- the full-size ASTROMER train step (2 blocks, 4 heads, d=256, dff=128) at the same batch size, windows/s;
and prints the ratios (target: each pipeline >= 20x the train step) and columns / in-memory.

Usage: python bench/bench_pipeline.py [--n-curves 5000] [--batch-size 256] [--steps 8] [--skip-train]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-curves", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--mode", default="paper")
    parser.add_argument("--skip-train", action="store_true", help="the two pipelines only (no train step)")
    args = parser.parse_args(argv)

    from astromer.core.encoder import SingleBandEncoder
    from astromer.core.preprocessing import Flat
    from astromer.core.pretraining import _dataset, _window_batches, train_throughput
    from astromer.data.columns import TrainingColumns, write_columns
    from astromer.data.simulate.simulator import simulate_to_store

    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        store = simulate_to_store(os.path.join(tmp, "store"), "macho", "unlabeled", seed=0, n_objects=args.n_curves)
        mask_args = {"msk_frac": 0.5, "rnd_frac": 0.2, "same_frac": 0.2}
        began = time.perf_counter()
        _, offsets, times, mags, _ = store.load_flat()
        flat = Flat(offsets, times, mags)
        load_s = time.perf_counter() - began
        began = time.perf_counter()
        write_columns(store.path, os.path.join(tmp, "columns"))
        columns_s = time.perf_counter() - began
        columns = TrainingColumns(os.path.join(tmp, "columns"))
        view = columns.select(columns.ids)

        def windows_per_s(source):
            # one epoch (one random window per curve) through tf.data, as pretraining feeds the train step
            rng = np.random.default_rng(0)
            dataset = _dataset(lambda: _window_batches(source, args.batch_size, rng, mask_args, args.mode, 200), 200)
            began = time.perf_counter()
            n = sum(int(batch["input"].shape[0]) for batch in dataset)
            return n / (time.perf_counter() - began)

        # best of two epochs each, alternating: the first epoch also pays tf.data's start
        runs = {"in-memory": [], "columns": []}
        for _ in range(2):
            runs["in-memory"].append(windows_per_s(flat))
            runs["columns"].append(windows_per_s(view))
        pipelines = {name: max(rates) for name, rates in runs.items()}
        print(f"store load_flat: {len(flat)} curves in {load_s:.2f} s; training columns written in {columns_s:.2f} s")
        for name, rate in pipelines.items():
            print(f"input pipeline ({name:9s}): {rate:10.0f} windows/s (batch {args.batch_size}, mode {args.mode})")
        print(f"ratio columns/in-memory: {pipelines['columns'] / pipelines['in-memory']:.2f}x")
        if args.skip_train:
            return
        encoder = SingleBandEncoder(mode=args.mode, seed=0)
        step = train_throughput(encoder, flat, batch_size=args.batch_size, steps=args.steps, warmup=2)
        print(f"train step     : {step:10.1f} windows/s (float32, graph mode, full model)")
        for name, rate in pipelines.items():
            print(
                f"ratio pipeline ({name})/train: {rate / step:.0f}x (target >= 20x): "
                f"{'PASS' if rate >= 20 * step else 'MISS'}"
            )


if __name__ == "__main__":
    main()
