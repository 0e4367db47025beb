"""Cross-check of the reference env: the authors' package with the published weights must reproduce the
stored reference outputs. Runs INSIDE the reference env (not part of tests/: CI has no such env):
    .bench-env/bin/python bench/check_reference_env.py --weights ../shared/data/astromer_macho_v0 \
        ../shared/data/reference_macho/macho_1.3444.614_R.npz
Feeds the file's stored windows to the encoder, and its stored masked windows to the full model, and prints
the max abs differences to `embedding` (tolerance 1e-3) and `recon_masked` (1e-4). Exit 1 if over tolerance.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["TERM"] = "dumb"  # the package runs os.system('clear') at import

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_runner import build_reference  # noqa: E402

EMBEDDING_TOL = 1e-3
RECON_TOL = 1e-4


def check_file(encoder, path):
    import numpy as np
    import tensorflow as tf

    ref = np.load(path)
    windows = {
        "input": ref["input"],
        "times": ref["times"],
        "mask_in": ref["mask_in"],
        "length": np.zeros(ref["input"].shape[:2], np.int32),
    }  # the model's length input is unused
    embedding = encoder.model.get_layer("encoder")({k: tf.constant(v) for k, v in windows.items()}).numpy()
    masked = {
        "input": ref["masked_input"],
        "times": ref["masked_times"],
        "mask_in": ref["masked_mask_in"],
        "length": windows["length"],
    }
    recon = encoder.model({k: tf.constant(v) for k, v in masked.items()}).numpy()
    return {
        "file": os.path.basename(path),
        "windows": int(ref["input"].shape[0]),
        "embedding_max_abs_diff": float(np.max(np.abs(embedding - ref["embedding"]))),
        "recon_masked_max_abs_diff": float(np.max(np.abs(recon - ref["recon_masked"]))),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True)
    parser.add_argument("files", nargs="+", help="reference_macho/*.npz files")
    args = parser.parse_args(argv)
    encoder = build_reference(args.weights)
    ok = True
    for path in args.files:
        result = check_file(encoder, path)
        result["ok"] = (
            result["embedding_max_abs_diff"] <= EMBEDDING_TOL and result["recon_masked_max_abs_diff"] <= RECON_TOL
        )
        ok &= result["ok"]
        print(json.dumps(result))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
