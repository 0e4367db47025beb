"""Fixed classifier workload, this tree against an older commit of the library, side by side (issue 14).

    python bench/bench_classifiers.py [--baseline 9c7c5c4] [--epochs 12] [--repeats 1] [--json-out FILE]

One LSTM+ATT and one MLP+ATT run of ``astromer classify`` with the encoder trained with the head
(``--encoder-mode trained``, the workflow's cases b and c), on the ``all`` subset of a simulated MACHO-like
labeled survey (160 curves per class, 6 classes: 576 train, 144 val, 240 test curves), for a fixed number of
epochs (patience larger than the epochs), at the demo's settings (config/demo.yaml: d_model 64, 2 blocks,
max_obs 100, LSTM units 32, batch 64). Data, split and encoder are made once with this tree's code and read
by both sides. The baseline commit is checked out into a temporary git worktree and run through PYTHONPATH,
alternating with this tree run by run (so both see the same load). Each run is a whole process, timed end to
end (TensorFlow start, input, encoder, head, evaluation): wall seconds and CPU seconds of the child.
Our command line keeps XLA's compiled kernels on disk for later processes (astromer.core.compile_cache): the
bench gives it a fresh cache, so our first run compiles them; its time is printed beside the best.
Prints a table and the ratio baseline / ours; exit 1 when a run fails.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ENCODER = dict(num_layers=2, d_model=64, num_heads=4, dff=64, dropout=0.1, max_obs=100, mode="paper")
CLASSIFIERS = ("lstm_att", "mlp_att")


XLA_CACHE = None  # this run's own XLA compilation cache (set in main): our first run starts it cold


def _env(src):
    env = dict(os.environ, PYTHONPATH=src, TF_CPP_MIN_LOG_LEVEL="2")
    if XLA_CACHE:
        env["ASTROMER_XLA_CACHE"] = XLA_CACHE  # read by ours (astromer.core.compile_cache); older commits ignore it
    return env


def _astromer(args, src, log):
    """Run ``python -m astromer ARGS`` with ``src`` first on the path: (wall s, cpu s)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    with open(log, "w") as handle:
        proc = subprocess.run(
            [sys.executable, "-m", "astromer", *args], env=_env(src), stdout=handle, stderr=subprocess.STDOUT
        )
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"astromer {' '.join(args[:2])} failed (exit {proc.returncode}); see {log}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def prepare(work, src):
    """Simulated survey, its fold-0 'all' split and an encoder (paper mode, demo size), made by ``src``."""
    store, splits, encoder = (os.path.join(work, name) for name in ("store", "splits", "encoder.keras"))
    _astromer(
        [
            "data",
            "simulate",
            "--profile",
            "macho",
            "--pool",
            "labeled",
            "--per-class",
            "160",
            "--seed",
            "0",
            "--out",
            store,
        ],
        src,
        os.path.join(work, "simulate.log"),
    )
    _astromer(
        [
            "data",
            "split-labeled",
            "--store",
            store,
            "--seed",
            "0",
            "--folds",
            "1",
            "--test-per-class",
            "40",
            "--subsets",
            "all",
            "--val-fraction",
            "0.2",
            "--out",
            splits,
        ],
        src,
        os.path.join(work, "split.log"),
    )
    code = (
        "import sys; from astromer import SingleBandEncoder; "
        f"SingleBandEncoder(**{ENCODER!r}, seed=0).save(sys.argv[1])"
    )
    subprocess.run([sys.executable, "-c", code, encoder], env=_env(src), check=True, capture_output=True)
    return store, os.path.join(splits, "fold0", "all.csv"), encoder


def classify_args(store, split, encoder, classifier, out, epochs):
    return [
        "classify",
        "--data",
        store,
        "--split",
        split,
        "--encoder",
        encoder,
        "--classifier",
        classifier,
        "--encoder-mode",
        "trained",
        "--epochs",
        str(epochs),
        "--patience",
        str(epochs + 1),
        "--batch-size",
        "64",
        "--units",
        "32",
        "--max-obs",
        str(ENCODER["max_obs"]),
        "--seed",
        "0",
        "--out",
        out,
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="9c7c5c4", help="git revision compared against (default 9c7c5c4)")
    parser.add_argument("--epochs", type=int, default=12, help="fixed epochs per run (the demo's cap)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per side and classifier (the best counts)")
    parser.add_argument("--workdir", help="keep data, logs and outputs here (default: a temporary folder)")
    parser.add_argument("--json-out")
    args = parser.parse_args(argv)

    work = args.workdir or tempfile.mkdtemp(prefix="astromer-clsbench-")
    os.makedirs(work, exist_ok=True)
    global XLA_CACHE
    XLA_CACHE = os.path.join(work, f"xla-cache-{os.getpid()}")
    baseline_tree = os.path.join(work, "baseline-tree")
    print(f"load average before: {os.getloadavg()}", flush=True)
    subprocess.run(
        ["git", "-C", ROOT, "worktree", "add", "--detach", "-f", baseline_tree, args.baseline],
        check=True,
        capture_output=True,
    )
    sides = {"baseline": os.path.join(baseline_tree, "src"), "ours": os.path.join(ROOT, "src")}
    results = {side: {c: [] for c in CLASSIFIERS} for side in sides}
    try:
        store, split, encoder = prepare(work, sides["ours"])
        for repeat in range(args.repeats):
            for classifier in CLASSIFIERS:
                for side, src in sides.items():
                    out = os.path.join(work, f"{side}_{classifier}_{repeat}")
                    wall, cpu = _astromer(
                        classify_args(store, split, encoder, classifier, out, args.epochs), src, out + ".log"
                    )
                    with open(os.path.join(out, "metrics.json")) as handle:
                        metrics = json.load(handle)
                    results[side][classifier].append(
                        {"wall_s": wall, "cpu_s": cpu, "epochs": metrics["epochs"], "macro_f1": metrics["macro_f1"]}
                    )
                    print(
                        f"{side:8s} {classifier:8s} {wall:6.1f} s wall {cpu:6.1f} s cpu  "
                        f"{metrics['epochs']} epochs  macro F1 {metrics['macro_f1']:.3f}",
                        flush=True,
                    )
    finally:
        subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", baseline_tree], capture_output=True)
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nclassifier  {args.baseline} wall/cpu s    ours wall/cpu s    baseline/ours (wall, cpu)   target 2.0x")
    totals = {side: [0.0, 0.0] for side in sides}
    for classifier in CLASSIFIERS:
        best = {side: min(results[side][classifier], key=lambda r: r["wall_s"]) for side in sides}
        for side in sides:
            totals[side][0] += best[side]["wall_s"]
            totals[side][1] += best[side]["cpu_s"]
        b, o = best["baseline"], best["ours"]
        print(
            f"{classifier:10s}  {b['wall_s']:7.1f} / {b['cpu_s']:6.1f}     {o['wall_s']:7.1f} / {o['cpu_s']:6.1f}"
            f"     {b['wall_s'] / o['wall_s']:5.2f}x, {b['cpu_s'] / o['cpu_s']:5.2f}x"
        )
    cold = sum(results["ours"][c][0]["wall_s"] for c in CLASSIFIERS)
    print(f"ours, first run of each (XLA compilation cache cold for the first): {cold:.1f} s wall")
    (bw, bc), (ow, oc) = totals["baseline"], totals["ours"]
    verdict = "PASS" if bw / ow >= 2.0 else "MISS"
    print(
        f"{'both':10s}  {bw:7.1f} / {bc:6.1f}     {ow:7.1f} / {oc:6.1f}     {bw / ow:5.2f}x, {bc / oc:5.2f}x  {verdict}"
    )
    print(f"load average after: {os.getloadavg()}")
    if args.json_out:
        tmp = args.json_out + ".tmp"
        with open(tmp, "w") as handle:
            json.dump({"baseline": args.baseline, "epochs": args.epochs, "results": results}, handle, indent=1)
        os.replace(tmp, args.json_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
