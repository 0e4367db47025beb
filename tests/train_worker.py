"""Run one small pretraining in a subprocess (used by test_training.py to kill and resume it)."""

import json
import sys

import numpy as np

from astromer import SingleBandEncoder

from conftest import synthetic_curves

ckpt_dir, out_json = sys.argv[1], sys.argv[2]
curves = synthetic_curves(300, np.random.default_rng(7))
encoder = SingleBandEncoder(num_layers=1, d_model=32, num_heads=2, dff=32, mode="paper", seed=11)
history = encoder.fit(
    curves[:240],
    curves[240:],
    epochs=14,
    patience=3,
    batch_size=32,
    lr=3e-3,
    seed=5,
    ckpt_dir=ckpt_dir,
    jit_compile=False,
)
with open(out_json, "w") as fh:
    json.dump(
        {
            "epochs": history.epochs,
            "best_epoch": history.best_epoch,
            "resumed_from": history.resumed_from,
            "stopped_early": history.stopped_early,
        },
        fh,
    )
