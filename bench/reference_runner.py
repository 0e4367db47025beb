"""Throughput of the authors' package (astromer 0.1.8) with the published MACHO weights.

Runs INSIDE the reference env (bench/setup_reference_env.sh), with TF_USE_LEGACY_KERAS=1:
    TF_USE_LEGACY_KERAS=1 .bench-env/bin/python bench/reference_runner.py --weights ../shared/data/astromer_macho_v0
Prints one JSON line: train windows/s at each batch size (the package's own train_step on its own
load_numpy(sampling=True, msk .5 / rnd .2 / same .2) pipeline, after warm-up, over a fixed number of steps),
encode() windows/s at batch 256 (preprocessing and its post-processing included), and the TF thread settings.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["TERM"] = "dumb"  # the package runs os.system('clear') at import

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_data import make_curves, n_encode_windows  # noqa: E402

# The paper config of the published weights (conf.json has base 1000, but the package ignores it: spec A.8).
PAPER_CONFIG = dict(num_layers=2, d_model=256, num_heads=4, dff=128, base=1000, dropout=0.1, maxlen=200)
MASKING = dict(msk_frac=0.5, rnd_frac=0.2, same_frac=0.2)


def build_reference(weights_dir: str):
    """The authors' SingleBandEncoder with the published weights (from_pretraining would download: not used)."""
    if not os.path.isfile(os.path.join(weights_dir, "weights.index")):
        raise FileNotFoundError(f"no TF checkpoint 'weights.index' in weights folder {weights_dir!r}")
    from ASTROMER.models import SingleBandEncoder

    encoder = SingleBandEncoder(**PAPER_CONFIG)
    encoder.load_weights(weights_dir)
    return encoder


def measure_train(weights_dir, curves, batch_size, steps, warmup):
    """Windows/s of the package's train_step (one random window per curve) over `steps` timed batches."""
    import tensorflow as tf
    from ASTROMER.core import astromer as core
    from ASTROMER.core.data import load_numpy

    encoder = build_reference(weights_dir)
    # core.train_step is a module-level tf.function: a second optimizer crashes it ("singleton tf.Variables"),
    # so each measurement wraps the same Python step in a fresh tf.function.
    step_fn = tf.function(core.train_step.python_function)
    optimizer = tf.keras.optimizers.Adam(1e-3, beta_1=0.9, beta_2=0.98, epsilon=1e-9)  # as core.train
    needed = (steps + warmup) * batch_size
    repeat = -(-needed // len(curves))  # enough full batches; the pipeline's .cache() never replays them
    dataset = load_numpy(
        curves, batch_size=batch_size, sampling=True, max_obs=PAPER_CONFIG["maxlen"], repeat=repeat, **MASKING
    )
    batches = iter(dataset)
    for _ in range(warmup):
        step_fn(encoder.model, next(batches), optimizer).numpy()
    windows = 0
    start = time.perf_counter()
    for _ in range(steps):
        batch = next(batches)
        step_fn(encoder.model, batch, optimizer).numpy()
        windows += int(batch["input"].shape[0])
    seconds = time.perf_counter() - start
    return {
        "windows_per_s": windows / seconds,
        "windows": windows,
        "seconds": seconds,
        "steps": steps,
        "warmup_steps": warmup,
    }


def measure_encode(weights_dir, curves, batch_size, warmup_curves=20):
    """Windows/s of the package's encode() on a list of arrays, its windowing and post-processing included."""
    encoder = build_reference(weights_dir)
    encoder.encode(curves[:warmup_curves], batch_size=batch_size)
    start = time.perf_counter()
    out = encoder.encode(curves, batch_size=batch_size)
    seconds = time.perf_counter() - start
    if len(out) != len(curves):
        raise RuntimeError(f"reference encode() returned {len(out)} arrays for {len(curves)} curves")
    windows = n_encode_windows(curves)
    return {"windows_per_s": windows / seconds, "windows": windows, "seconds": seconds, "curves": len(curves)}


def thread_settings():
    import tensorflow as tf

    return {
        "tf_version": tf.__version__,
        "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
        "cpu_count": os.cpu_count(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "TF_USE_LEGACY_KERAS": os.environ.get("TF_USE_LEGACY_KERAS"),
        "load_avg": list(os.getloadavg()),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True, help="folder of the published weights (weights.index, conf.json)")
    parser.add_argument("--n-curves", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--train-batch-sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--train-windows", type=int, default=2048, help="timed windows per batch size")
    parser.add_argument("--warmup-steps", type=int, default=2)
    parser.add_argument("--encode-batch-size", type=int, default=256)
    parser.add_argument("--encode-curves", type=int, default=800, help="first N curves timed for encode()")
    parser.add_argument("--threads", type=int, default=0, help="TF intra/inter-op threads (0: TF default)")
    args = parser.parse_args(argv)

    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    curves = make_curves(args.n_curves, seed=args.seed)
    result = {
        "side": "reference",
        "package": "astromer==0.1.8",
        "n_curves": len(curves),
        "seed": args.seed,
        "train": {},
        **thread_settings(),
    }
    for batch_size in args.train_batch_sizes:
        steps = max(1, args.train_windows // batch_size)
        result["train"][str(batch_size)] = measure_train(args.weights, curves, batch_size, steps, args.warmup_steps)
    result["encode"] = {
        str(args.encode_batch_size): measure_encode(args.weights, curves[: args.encode_curves], args.encode_batch_size)
    }
    result["load_avg_end"] = list(os.getloadavg())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
