"""Wall time and peak memory of the data stages against the pool size (issue 17: paper scale in bounded memory).

For each pool size (default 20k, 100k, 200k simulated MACHO-like unlabeled curves) runs, each stage in its own
process under ``/usr/bin/time -v`` (peak RSS = its "Maximum resident set size"):
- simulate      ``astromer data simulate --profile macho --pool unlabeled --n-objects N``
- filter        ``astromer data filter`` (the white-noise filter, two bounded passes)
- split         ``astromer data split-pretrain``
- columns       ``astromer data columns`` (the training form of the filtered store, written once)
- windows       one epoch of training windows (the pretraining input pipeline: the train part of the split
                read from the columns, one random masked window per curve, batches of 256), no model
and prints a table, then the growth of each stage from the smallest pool to the largest (target: peak RSS of
filter, split and windows < 1.5x for 10x the data; time roughly linear).

Usage: python bench/bench_scaling.py [--sizes 20000,100000,200000] [--workdir DIR] [--keep] [--json-out F]
                                     [--stages filter]  (only these; the rest reused from --workdir)
Needs ~10 GB free disk for 200k curves (store ~2 GB, filtered store, columns ~12 B per observation).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WINDOWS = r"""
import sys, time
import numpy as np
import pandas as pd
from astromer.data.columns import TrainingColumns
from astromer.core.pretraining import _window_batches
cols = TrainingColumns(sys.argv[1])
split = pd.read_csv(sys.argv[2], dtype={"id": str})
train = cols.select(list(split.loc[split["split"] == "train", "id"]))
began = time.perf_counter()
n = 0
for batch in _window_batches(train, 256, np.random.default_rng([0, 0]), {"msk_frac": 0.5, "rnd_frac": 0.2,
                             "same_frac": 0.2}, "paper", 200):
    n += len(batch["input"])
seconds = time.perf_counter() - began
print(f"windows {n} {seconds:.3f} {n / seconds:.0f}")
"""


def measure(command, log: Path) -> dict:
    """Run ``command`` under /usr/bin/time -v; wall seconds and peak RSS (MB) of that process alone."""
    began = time.perf_counter()
    with open(log, "w") as out:
        result = subprocess.run(["/usr/bin/time", "-v", *command], stdout=out, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - began
    text = log.read_text()
    if result.returncode != 0:
        raise SystemExit(f"failed ({result.returncode}): {' '.join(command)}\n{text[-3000:]}")
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    return {"seconds": round(wall, 2), "peak_rss_mb": round(peak_kb / 1024, 1), "output": text}


STAGES = ("simulate", "filter", "split", "columns", "windows")


def run_size(n: int, root: Path, python: str, only=STAGES) -> dict:
    """The stages of one pool size; a stage left out of ``only`` is not run, its output (from an earlier run
    with the same --workdir) is reused by the stages after it."""
    astromer = [python, "-m", "astromer", "data"]
    d = root / f"n{n}"
    d.mkdir(parents=True, exist_ok=True)
    commands = {
        "simulate": (
            [
                *astromer,
                "simulate",
                "--profile",
                "macho",
                "--pool",
                "unlabeled",
                "--n-objects",
                str(n),
                "--seed",
                "0",
                "--out",
                str(d / "pool"),
            ],
            d / "pool",
        ),
        "filter": (
            [
                *astromer,
                "filter",
                "--store",
                str(d / "pool"),
                "--out",
                str(d / "filtered"),
                "--log",
                str(d / "filter.json"),
            ],
            d / "filtered",
        ),
        "split": (
            [*astromer, "split-pretrain", "--store", str(d / "filtered"), "--seed", "0", "--out", str(d / "split.csv")],
            d / "split.csv",
        ),
        "columns": ([*astromer, "columns", "--store", str(d / "filtered"), "--out", str(d / "columns")], d / "columns"),
        "windows": ([python, "-c", WINDOWS, str(d / "columns"), str(d / "split.csv")], None),
    }
    stages = {}
    for name, (command, output) in commands.items():
        if name in only:
            stages[name] = measure(command, d / f"{name}.log")
        elif (
            output is not None
            and not output.exists()
            and any(later in only for later in STAGES[STAGES.index(name) + 1 :])
        ):
            raise SystemExit(
                f"{output} is missing: run the {name} stage (--stages) or point --workdir at a run that did"
            )
    for stage in stages.values():
        stage.pop("output")
    if "windows" in stages:
        found = re.search(r"windows (\d+) ([\d.]+) (\d+)", (d / "windows.log").read_text())
        stages["windows"]["windows"], stages["windows"]["windows_per_s"] = int(found.group(1)), int(found.group(3))
    pool_obs = json.loads((d / "pool" / "provenance.json").read_text())["n_observations"]
    filtered = json.loads((d / "filtered" / "provenance.json").read_text()) if (d / "filtered").exists() else {}
    return {
        "n_curves": n,
        "pool_observations": pool_obs,
        "filtered_curves": filtered.get("n_objects", 0),
        "filtered_observations": filtered.get("n_observations", 0),
        "stages": stages,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,100000,200000")
    parser.add_argument("--workdir", default=None, help="where the stores go (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the stores")
    parser.add_argument("--json-out", default=None)
    parser.add_argument(
        "--stages",
        default=",".join(STAGES),
        help="stages to run (default all); the others' outputs are reused from --workdir",
    )
    args = parser.parse_args(argv)
    only = [s for s in args.stages.split(",") if s]
    unknown = sorted(set(only) - set(STAGES))
    if unknown:
        parser.error(f"unknown stages {unknown}; known: {list(STAGES)}")
    sizes = [int(s) for s in args.sizes.split(",")]
    root = Path(args.workdir or tempfile.mkdtemp(prefix="bench-scaling-"))
    env_python = sys.executable
    results = []
    try:
        for n in sizes:
            results.append(run_size(n, root, env_python, only))
            r = results[-1]
            print(
                f"\n{n:,} curves ({r['pool_observations']:,} observations; filtered {r['filtered_curves']:,} curves, "
                f"{r['filtered_observations']:,} observations)",
                flush=True,
            )
            for name, stage in r["stages"].items():
                extra = f"  {stage['windows']:,} windows, {stage['windows_per_s']:,}/s" if name == "windows" else ""
                print(
                    f"  {name:9s} {stage['seconds']:8.1f} s  peak RSS {stage['peak_rss_mb']:8.1f} MB{extra}", flush=True
                )
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(root, ignore_errors=True)
    small, large = results[0], results[-1]
    data_ratio = large["pool_observations"] / small["pool_observations"]
    print(f"\ngrowth from {small['n_curves']:,} to {large['n_curves']:,} curves ({data_ratio:.1f}x the observations):")
    verdict = True
    for name in small["stages"]:
        a, b = small["stages"][name], large["stages"][name]
        rss = b["peak_rss_mb"] / a["peak_rss_mb"]
        secs = b["seconds"] / max(a["seconds"], 1e-9)
        bounded = name in ("filter", "split", "windows")
        ok = rss < 1.5 if bounded else None
        verdict &= ok is not False
        tag = "" if ok is None else ("  PASS (< 1.5x)" if ok else "  MISS (target < 1.5x)")
        print(f"  {name:9s} time {secs:5.1f}x  peak RSS {rss:5.2f}x{tag}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2) + "\n")
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
