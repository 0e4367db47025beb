"""Side-by-side benchmark: our library against the authors' package (astromer 0.1.8), one run.

Run from OUR venv, after `bash bench/setup_reference_env.sh`:
    python bench/bench_vs_reference.py [--ref-env .bench-env] [--weights ../shared/data/astromer_macho_v0]
Runs bench/reference_runner.py in the reference env (a subprocess, TF_USE_LEGACY_KERAS=1), then our side via
bench/ours.py:measure_ours on the same seeded curves, alternating --repeats times (default 2; each measure
keeps its best run: the machine is shared), and prints windows/s, ratios (ours / reference) and
PASS/MISS against the targets of issue 14: training >= 2.2x in the fastest precision and >= 1.4x in float32
(or >= 65% of the float32 matmul peak), encode() >= 3x in float32, at batch 64 and 256 (encode at 256).
Our encode() is measured twice: in a process of its own set up as `astromer encode` sets up its own (one
thread per op, a model call per core: astromer.core.devices.inference_threads), and in the process that has
just trained (TensorFlow's default threads); the faster counts, both are printed.
It also measures the machine's float32 and bfloat16 matmul peak (bench/limits.py, around each of our runs; the
highest counts) and prints beside each windows/s the fraction of the matching peak it reaches, counting FLOPs per window
from the model config (bench/README.md), and the CPU's vector/matrix flags.
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
from limits import CPU_FLAGS, forward_flops, machine_limits, train_flops  # noqa: E402

# (kind, batch, variant): ratio target; variant "best" is our fastest precision, "float32" our fastest
# float32 variant (which also passes at >= 65% of the float32 peak).
TARGETS = {
    ("train", "64", "best"): 2.2,
    ("train", "64", "float32"): 1.4,
    ("train", "256", "best"): 2.2,
    ("train", "256", "float32"): 1.4,
    ("encode", "256", "float32"): 3.0,
}
FLOAT32_PEAK_FRACTION = 0.65
# our encode's two set-ups, both float32: a process of its own as `astromer encode` runs (one thread per op,
# a model call per core), and the process that trained before it (TensorFlow's default threads)
ENCODE_PROCESS, TRAINING_PROCESS = "float32, own process", "float32, after training"
PAPER_CONFIG = {"num_layers": 2, "d_model": 256, "dff": 128, "max_obs": 200}  # the published weights


def run_reference(ref_env, weights, args):
    python = os.path.join(ref_env, "bin", "python")
    if not os.path.exists(python):
        raise FileNotFoundError(f"reference env python {python!r} missing: run bash bench/setup_reference_env.sh")
    cmd = [
        python,
        os.path.join(HERE, "reference_runner.py"),
        "--weights",
        weights,
        "--n-curves",
        str(args.n_curves),
        "--seed",
        str(args.seed),
        "--train-windows",
        str(args.train_windows),
        "--warmup-steps",
        str(args.warmup_steps),
        "--encode-curves",
        str(args.encode_curves),
        "--threads",
        str(args.threads),
    ]
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2", TERM="dumb")
    env.pop("PYTHONPATH", None)  # keep our venv's packages out of the reference env
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"reference_runner.py failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def rate(side, kind, batch, variant=None):
    """windows/s of a side; for our training, of a variant: "best", or "float32" (the fastest float32 one)."""
    try:
        entry = side[kind][batch]
    except (KeyError, TypeError):
        return None, None
    if variant in (None, "best") or kind != "train":
        return entry["windows_per_s"], entry.get("best", "float32")
    float32 = {k: v for k, v in entry.get("variants", {}).items() if not k.startswith("mixed")}
    if not float32:
        return None, None
    name = max(float32, key=float32.get)
    return float32[name], name


def peak_fraction(windows_per_s, kind, precision, limits, config):
    if windows_per_s is None or not limits:
        return None
    flops = (train_flops if kind == "train" else forward_flops)(**config)
    peak = limits["peak_gflops"]["bfloat16" if precision.startswith("mixed") else "float32"]
    return windows_per_s * flops / (peak * 1e9)


def table(reference, ours, limits=None, config=PAPER_CONFIG):
    rows = ["measure              reference w/s (peak)    ours w/s (peak)   precision         ratio  target  result"]
    all_pass = True
    fmt = lambda x: "nan" if x is None else f"{x:.1f}"  # noqa: E731
    pct = lambda x: "  -  " if x is None else f"{100 * x:4.0f}%"  # noqa: E731
    for (kind, batch, variant), target in TARGETS.items():
        ref, _ = rate(reference, kind, batch)
        own, precision = rate(ours, kind, batch, variant)
        ratio = own / ref if (ref and own) else None
        ref_frac = peak_fraction(ref, kind, "float32", limits, config)
        own_frac = peak_fraction(own, kind, precision or "float32", limits, config)
        passed = ratio is not None and ratio >= target
        how = ""
        if variant == "float32" and kind == "train" and not passed and own_frac is not None:
            passed = own_frac >= FLOAT32_PEAK_FRACTION
            how = f" (by >= {100 * FLOAT32_PEAK_FRACTION:.0f}% of peak)" if passed else ""
        verdict = "n/a" if ratio is None else ("PASS" + how if passed else "MISS")
        all_pass &= passed
        rows.append(
            f"{kind + '@' + batch + ' ' + variant:<20} {fmt(ref):>9} ({pct(ref_frac)})    "
            f"{fmt(own):>8} ({pct(own_frac)})   {precision or '-':<16} "
            f"{ratio if ratio is not None else float('nan'):>6.2f}x {target:>5.1f}x  {verdict}"
        )
    return "\n".join(rows), all_pass


def best_of(runs):
    """One result with each measure's highest windows/s over ``runs`` (our variants each on their own)."""
    if not runs:
        return None
    best = json.loads(json.dumps(runs[0]))
    for run in runs[1:]:
        for kind in ("train", "encode"):
            for batch, entry in (run.get(kind) or {}).items():
                kept = best.setdefault(kind, {}).setdefault(batch, entry)
                for name, value in entry.get("variants", {}).items():
                    kept["variants"][name] = max(kept["variants"].get(name, 0.0), value)
                if entry["windows_per_s"] > kept["windows_per_s"]:
                    for key, value in entry.items():
                        if key != "variants":
                            kept[key] = value
        if "load_avg_end" in run:
            best["load_avg_end"] = run["load_avg_end"]
    for kind in ("train", "encode"):  # the best variant after merging
        for entry in (best.get(kind) or {}).values():
            if entry.get("variants"):
                entry["best"] = max(entry["variants"], key=entry["variants"].get)
                entry["windows_per_s"] = entry["variants"][entry["best"]]
    best["runs"] = len(runs)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref-env", default=os.path.join(ROOT, ".bench-env"))
    parser.add_argument(
        "--weights", default=os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "astromer_macho_v0"))
    )
    parser.add_argument("--n-curves", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--train-windows", type=int, default=2048)
    parser.add_argument("--warmup-steps", type=int, default=2)
    parser.add_argument("--encode-curves", type=int, default=800)
    parser.add_argument("--threads", type=int, default=0, help="TF threads on both sides (0: TF default)")
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs per side; the best counts")
    parser.add_argument("--json-out", help="also write both sides' raw results here")
    args = parser.parse_args(argv)

    print(f"load average before: {os.getloadavg()}", flush=True)
    curves = make_curves(args.n_curves, seed=args.seed)
    references, ours_runs, peaks = [], [], []
    ours, limits = None, None
    # The machine is shared: the sides alternate, --repeats times each, and every measure keeps its best
    # (least disturbed) run, so that a load change between the two sides does not decide the ratio.
    for repeat in range(args.repeats):
        start = time.perf_counter()
        try:
            references.append(run_reference(args.ref_env, args.weights, args))
        except (OSError, RuntimeError) as err:
            print(f"REFERENCE SIDE FAILED: {err}", file=sys.stderr)
            return 2
        print(
            f"reference side {repeat + 1} done in {time.perf_counter() - start:.0f} s: {json.dumps(references[-1])}",
            flush=True,
        )
        try:
            if args.threads:
                import tensorflow as tf

                tf.config.threading.set_intra_op_parallelism_threads(args.threads)
                tf.config.threading.set_inter_op_parallelism_threads(args.threads)
            peaks.append(machine_limits())
            from ours import measure_ours

            ours_runs.append(
                measure_ours(
                    curves,
                    [64, 256],
                    weights_dir=args.weights,
                    train_windows=args.train_windows,
                    warmup_steps=args.warmup_steps,
                    encode_curves=args.encode_curves,
                )
            )
            # encode as `astromer encode` runs it: its own process, one thread per op, a model call per core
            from ours import encode_in_own_process

            in_training = ours_runs[-1]["encode"]["256"]
            own = encode_in_own_process(args.weights, args.n_curves, args.seed, 256, args.encode_curves, args.threads)
            variants = {ENCODE_PROCESS: own["windows_per_s"], TRAINING_PROCESS: in_training["windows_per_s"]}
            ours_runs[-1]["encode"]["256"] = {**own, "variants": variants, "processes": [own, in_training]}
            peaks.append(machine_limits())
            print(f"our side {repeat + 1} done: {json.dumps(ours_runs[-1])}", flush=True)
        except Exception as err:  # our library may not exist yet: still show the reference numbers
            print(f"OUR SIDE FAILED ({type(err).__name__}: {err}); reference numbers only.", file=sys.stderr)
            break
    reference = best_of(references)
    if ours_runs:
        ours = best_of(ours_runs)
        # the peak: the highest of the measurements taken around our side (best-of, as the throughputs)
        limits = {
            "cpu": peaks[0]["cpu"],
            "matmul_n": peaks[0]["matmul_n"],
            "peak_gflops": {k: max(p["peak_gflops"][k] for p in peaks) for k in peaks[0]["peak_gflops"]},
            "peak_all": [p["peak_gflops"] for p in peaks],
        }
    if limits:
        cpu, config = limits["cpu"], PAPER_CONFIG
        print(f"CPU: {cpu['model']}; flags: {' '.join(cpu['flags']) or 'none of ' + ', '.join(CPU_FLAGS)}")
        print(
            f"matmul peak {limits['matmul_n']}^3 (GFLOP/s, each measurement around our side -> highest): "
            + ", ".join(
                f"{k} {'/'.join(f'{p[k]:.0f}' for p in limits['peak_all'])} -> {v:.0f}"
                for k, v in limits["peak_gflops"].items()
            )
        )
        print(
            f"FLOPs per window (bench/README.md): train {train_flops(**config) / 1e9:.3f} G, forward "
            f"{forward_flops(**config) / 1e9:.3f} G; our target-only train step executes "
            f"{train_flops(**config, targets=config['max_obs'] // 2) / 1e9:.3f} G (fractions use the full count)"
        )
    text, all_pass = table(reference, ours or {}, limits)
    print(text)
    for batch, entry in ((ours or {}).get("encode") or {}).items():
        ref, _ = rate(reference, "encode", batch)
        print(
            f"  our encode@{batch}: "
            + ", ".join(
                f"{name} {value:.1f} w/s" + (f" ({value / ref:.2f}x)" if ref else "")
                for name, value in entry.get("variants", {}).items()
            )
        )
    for batch, entry in ((ours or {}).get("train") or {}).items():
        ref, _ = rate(reference, "train", batch)
        print(
            f"  our train@{batch} variants: "
            + ", ".join(
                f"{name} {value:.1f} w/s"
                + (f" ({value / ref:.2f}x" if ref else " (")
                + (
                    f", {100 * peak_fraction(value, 'train', name, limits, PAPER_CONFIG):.0f}% of peak)"
                    if limits
                    else ")"
                )
                for name, value in entry.get("variants", {}).items()
            )
        )
    print(f"load average after: {os.getloadavg()}")
    if args.json_out:
        tmp = args.json_out + ".tmp"
        with open(tmp, "w") as handle:
            json.dump(
                {
                    "reference": reference,
                    "ours": ours,
                    "limits": limits,
                    "reference_runs": references,
                    "ours_runs": ours_runs,
                },
                handle,
                indent=1,
            )
        os.replace(tmp, args.json_out)
    if ours is None:
        return 2
    return 0 if all_pass else 1


if __name__ == "__main__":
    sys.exit(main())
