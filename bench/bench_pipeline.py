"""Input pipeline vs train step, side by side in one run (issue 3: loading must not be the bottleneck).

Simulates a MACHO-like unlabeled store, then measures
- the training input pipeline exactly as `astromer pretrain` runs it (store.load_flat -> one random window
  per curve -> masking -> tf.data batches), windows/s, with no model attached;
- the full-size ASTROMER train step (2 blocks, 4 heads, d=256, dff=128) at the same batch size, windows/s;
and prints the ratio (target: pipeline >= 20x the train step).

Usage: python bench/bench_pipeline.py [--n-curves 5000] [--batch-size 256] [--steps 8]
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
    args = parser.parse_args(argv)

    from astromer.data.simulate.simulator import simulate_to_store
    from astromer.core.encoder import SingleBandEncoder
    from astromer.core.preprocessing import Flat
    from astromer.core.pretraining import _dataset, _window_batches, train_throughput

    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        store = simulate_to_store(os.path.join(tmp, "store"), "macho", "unlabeled", seed=0, n_objects=args.n_curves)
        mask_args = {"msk_frac": 0.5, "rnd_frac": 0.2, "same_frac": 0.2}
        began = time.perf_counter()
        _, offsets, times, mags, _ = store.load_flat()
        flat = Flat(offsets, times, mags)
        load_s = time.perf_counter() - began
        rng = np.random.default_rng(0)
        dataset = _dataset(lambda: _window_batches(flat, args.batch_size, rng, mask_args, args.mode, 200), 200)
        began = time.perf_counter()
        n = sum(int(batch["input"].shape[0]) for batch in dataset)
        pipeline = n / (time.perf_counter() - began)
        print(f"store load_flat: {len(flat)} curves in {load_s:.2f} s")
        print(f"input pipeline : {pipeline:10.0f} windows/s (batch {args.batch_size}, mode {args.mode})")
        encoder = SingleBandEncoder(mode=args.mode, seed=0)
        curves = flat
        step = train_throughput(encoder, curves, batch_size=args.batch_size, steps=args.steps, warmup=2)
        print(f"train step     : {step:10.1f} windows/s (float32, graph mode, full model)")
        print(f"ratio pipeline/train: {pipeline / step:.0f}x (target >= 20x): {'PASS' if pipeline >= 20 * step else 'MISS'}")


if __name__ == "__main__":
    main()
