"""Side-by-side benchmark: our library against the authors' package (astromer 0.1.8), one run.

Run from OUR venv, after `bash bench/setup_reference_env.sh`:
    python bench/bench_vs_reference.py [--ref-env .bench-env] [--weights ../shared/data/astromer_macho_v0]
Runs bench/reference_runner.py in the reference env (a subprocess, TF_USE_LEGACY_KERAS=1), then our side via
bench/ours.py:measure_ours on the same seeded curves, and prints windows/s, ratios (ours / reference) and
PASS/MISS against the targets: training >= 3x at batch 64 and 256, encode() >= 4x at batch 256.
Exit status: 0 when every target passes, 1 when one misses, 2 when a side could not run.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from bench_data import make_curves  # noqa: E402

TARGETS = {("train", "64"): 3.0, ("train", "256"): 3.0, ("encode", "256"): 4.0}


def run_reference(ref_env, weights, args):
    python = os.path.join(ref_env, "bin", "python")
    if not os.path.exists(python):
        raise FileNotFoundError(f"reference env python {python!r} missing: run bash bench/setup_reference_env.sh")
    cmd = [python, os.path.join(HERE, "reference_runner.py"), "--weights", weights,
           "--n-curves", str(args.n_curves), "--seed", str(args.seed),
           "--train-windows", str(args.train_windows), "--warmup-steps", str(args.warmup_steps),
           "--encode-curves", str(args.encode_curves), "--threads", str(args.threads)]
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2", TERM="dumb")
    env.pop("PYTHONPATH", None)  # keep our venv's packages out of the reference env
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"reference_runner.py failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def rate(side, kind, batch):
    try:
        return side[kind][batch]["windows_per_s"]
    except (KeyError, TypeError):
        return None


def table(reference, ours):
    rows = ["measure        reference w/s     ours w/s    ratio   target  result"]
    all_pass = True
    for (kind, batch), target in TARGETS.items():
        ref, own = rate(reference, kind, batch), rate(ours, kind, batch)
        ratio = own / ref if (ref and own) else None
        verdict = "n/a" if ratio is None else ("PASS" if ratio >= target else "MISS")
        all_pass &= verdict == "PASS"
        rows.append(f"{kind + '@' + batch:<14} {ref if ref is not None else float('nan'):>13.1f} "
                    f"{own if own is not None else float('nan'):>12.1f} "
                    f"{ratio if ratio is not None else float('nan'):>8.2f}x {target:>6.1f}x  {verdict}")
    return "\n".join(rows), all_pass


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref-env", default=os.path.join(ROOT, ".bench-env"))
    parser.add_argument("--weights", default=os.path.normpath(os.path.join(ROOT, "..", "shared", "data",
                                                                           "astromer_macho_v0")))
    parser.add_argument("--n-curves", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--train-windows", type=int, default=2048)
    parser.add_argument("--warmup-steps", type=int, default=2)
    parser.add_argument("--encode-curves", type=int, default=800)
    parser.add_argument("--threads", type=int, default=0, help="TF threads on both sides (0: TF default)")
    parser.add_argument("--json-out", help="also write both sides' raw results here")
    args = parser.parse_args(argv)

    print(f"load average before: {os.getloadavg()}", flush=True)
    start = time.perf_counter()
    try:
        reference = run_reference(args.ref_env, args.weights, args)
    except (OSError, RuntimeError) as err:
        print(f"REFERENCE SIDE FAILED: {err}", file=sys.stderr)
        return 2
    print(f"reference side done in {time.perf_counter() - start:.0f} s: {json.dumps(reference)}", flush=True)

    curves = make_curves(args.n_curves, seed=args.seed)
    try:
        if args.threads:
            import tensorflow as tf

            tf.config.threading.set_intra_op_parallelism_threads(args.threads)
            tf.config.threading.set_inter_op_parallelism_threads(args.threads)
        from ours import measure_ours

        ours = measure_ours(curves, [64, 256], weights_dir=args.weights, train_windows=args.train_windows,
                            warmup_steps=args.warmup_steps, encode_curves=args.encode_curves)
    except Exception as err:  # our library may not exist yet: still show the reference numbers
        ours = None
        print(f"OUR SIDE FAILED ({type(err).__name__}: {err}); reference numbers only.", file=sys.stderr)
    text, all_pass = table(reference, ours or {})
    print(text)
    for batch, entry in ((ours or {}).get("train") or {}).items():
        ref = rate(reference, "train", batch)
        print(f"  our train@{batch} variants: " + ", ".join(
            f"{name} {value:.1f} w/s ({value / ref:.2f}x)" if ref else f"{name} {value:.1f} w/s"
            for name, value in entry.get("variants", {}).items()))
    print(f"load average after: {os.getloadavg()}")
    if args.json_out:
        tmp = args.json_out + ".tmp"
        with open(tmp, "w") as handle:
            json.dump({"reference": reference, "ours": ours}, handle, indent=1)
        os.replace(tmp, args.json_out)
    if ours is None:
        return 2
    return 0 if all_pass else 1


if __name__ == "__main__":
    sys.exit(main())
