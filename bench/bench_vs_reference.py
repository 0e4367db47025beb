"""This library against the authors' package (astromer 0.1.8), side by side in one run, paper config
(2 blocks x 4 heads, d=256, dff=128, windows of 200, published MACHO weights).

Measures training windows/s at batch 64 and 256 (each package's own train step and input pipeline,
masking 0.5/0.2/0.2) and encode() windows/s at batch 256 with preprocessing included, counting the windows
the authors' encode() computes (floor(N/200)+1 per curve) for both; prints the ratios.

    bash bench/setup_reference_env.sh            # once: .bench-env/ with the authors' package
    python bench/bench_vs_reference.py [--ref-python .bench-env/bin/python] [--n-curves 2000]
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

TARGETS = {"train_64": 3.0, "train_256": 3.0, "encode_256": 4.0}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref-python", default=str(HERE.parent / ".bench-env" / "bin" / "python"))
    parser.add_argument("--weights", default=str(HERE.parent.parent / "shared" / "data" / "astromer_macho_v0"))
    parser.add_argument("--n-curves", type=int, default=2000)
    args = parser.parse_args(argv)

    from bench_data import bench_curves

    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([args.ref_python, str(HERE / "reference_runner.py"), args.weights, str(args.n_curves)],
                          env=env, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode or not lines:
        sys.exit(f"reference run failed (set it up with bench/setup_reference_env.sh):\n{proc.stderr[-2000:]}")
    ref = json.loads(lines[-1])

    from ours import measure_ours

    ours = measure_ours(bench_curves(args.n_curves), args.weights)
    print(f"load: {os.getloadavg()[0]:.2f} (1-min average)   cores: {os.cpu_count()}")
    print(f"{'measure':34s} {'authors':>9s} {'ours':>9s} {'ratio':>7s}  target")
    for key, target in TARGETS.items():
        for variant in sorted(k for k in ours if k.startswith(key + "[")):
            ratio = ours[variant] / ref[key]
            verdict = "PASS" if ratio >= target else "MISS"
            print(f"{variant:34s} {ref[key]:9.1f} {ours[variant]:9.1f} {ratio:6.2f}x  >={target:.0f}x {verdict}")
    print(json.dumps({"reference": ref, "ours": ours}))


if __name__ == "__main__":
    main()
