"""The authors' package (astromer 0.1.8) measured at the paper config; run INSIDE the reference env
(bench/setup_reference_env.sh) with TF_USE_LEGACY_KERAS=1. Prints one JSON line."""
import json
import os
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.system = lambda *_: 0  # the package runs os.system('clear') at import
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from ASTROMER.core.astromer import train_step  # noqa: E402
from ASTROMER.core.data import load_numpy  # noqa: E402
from ASTROMER.models import SingleBandEncoder  # noqa: E402

from bench_data import bench_curves, n_encode_windows  # noqa: E402


def main():
    weights, n_curves = sys.argv[1], int(sys.argv[2])
    curves = [c.astype(np.float32) for c in bench_curves(n_curves)]
    model = SingleBandEncoder(num_layers=2, d_model=256, num_heads=4, dff=128, base=1000, dropout=0.1, maxlen=200)
    model.load_weights(weights)
    out = {"tf": tf.__version__, "threads": [tf.config.threading.get_intra_op_parallelism_threads(),
                                             tf.config.threading.get_inter_op_parallelism_threads()]}
    # The package's train_step is a module-level tf.function that accepts one optimizer only (spec B.9).
    opt = tf.keras.optimizers.Adam(1e-3, beta_1=0.9, beta_2=0.98, epsilon=1e-9)
    for batch_size, warmup, steps in ((64, 3, 20), (256, 2, 5)):
        ds = load_numpy(curves, batch_size=batch_size, sampling=True, shuffle=False, max_obs=200,
                        msk_frac=0.5, rnd_frac=0.2, same_frac=0.2)
        it = iter(ds)
        for _ in range(warmup):
            float(train_step(model.model, next(it), opt))
        began = time.perf_counter()
        for _ in range(steps):
            float(train_step(model.model, next(it), opt))
        out[f"train_{batch_size}"] = steps * batch_size / (time.perf_counter() - began)
    model.load_weights(weights)
    subset = curves[: max(50, n_curves // 4)]
    model.encode(subset[:20], batch_size=256)  # warm-up (graph tracing)
    began = time.perf_counter()
    model.encode(subset, batch_size=256, concatenate=True)
    out["encode_256"] = n_encode_windows(subset) / (time.perf_counter() - began)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
