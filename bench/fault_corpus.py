"""A corpus of bad inputs and faults, run through the real command line and library; each outcome is judged
CLEAR (an error that names what it must, or the counted skip the paper's data handling calls for), UNCLEAR
(it fails, but the message does not say what is wrong or where) or SILENT (a wrong or stale result, no error).

    .venv/bin/python bench/fault_corpus.py [--only NAME]

Prints one line per case and the counts. Not a test: a case that turns UNCLEAR is a finding, not a failure
of CI (tests/test_bad_inputs.py and tests/test_stale_runs.py hold the assertions).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO.parent / "shared" / "data" / "astromer_macho_v0"
TINY = '{"num_layers": 1, "d_model": 16, "num_heads": 2, "dff": 16}'


def run(argv) -> tuple[int, str]:
    """`astromer ARGV` in this process: (exit status, stderr + stdout)."""
    from astromer.cli import main

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
            err.write(str(exc.code))
        except Exception as exc:  # a traceback a user would see
            code, _ = 99, err.write(f"Traceback: {type(exc).__name__}: {exc}")
    return code, err.getvalue() + out.getvalue()


def error_names(*needles):
    """Judge: a non-zero exit whose message holds every needle (file, object, value)."""

    def judge(code, text, _):
        if code == 0:
            return "SILENT"
        return "CLEAR" if all(n in text for n in needles) and "Traceback" not in text else "UNCLEAR"

    return judge


def skip_counted(reason):
    """Judge: exit 0 with the drop counted in the store's provenance under ``reason``."""

    def judge(code, text, work):
        if code != 0:
            return "UNCLEAR"
        prov = json.loads((work / "store" / "provenance.json").read_text())
        counted = {**prov["skips"]["points_dropped"], **prov["skips"]["curves_skipped"]}
        return "CLEAR" if any(reason in k for k in counted) else "SILENT"

    return judge


def long_table(path, edit=None):
    rows = [
        {"id": obj, "time": 100.0 + k, "mag": 15 + 0.1 * np.sin(k), "err": 0.02, "label": lab}
        for obj, lab in (("star_a", "RRab"), ("star_b", "EC"))
        for k in range(10)
    ]
    frame = pd.DataFrame(rows).astype({"mag": object, "time": object})
    if edit:
        edit(frame)
    frame.to_csv(path, index=False)
    return path


def ingest(work, src, *extra):
    return run(["data", "ingest-table", "--src", src, "--survey", "s", "--band", "R", "--out", work / "store", *extra])


def _table_cases():
    def set_(row, col, value):
        return lambda f: f.__setitem__(col, [value if i == row else v for i, v in enumerate(f[col])])

    yield (
        "table: missing column",
        lambda w: ingest(w, long_table(w / "t.csv", lambda f: f.pop("err"))),
        error_names("t.csv", "'err'"),
    )
    yield (
        "table: NaN magnitude",
        lambda w: ingest(w, long_table(w / "t.csv", set_(3, "mag", np.nan))),
        skip_counted("nonfinite"),
    )
    yield (
        "table: non-numeric magnitude",
        lambda w: ingest(w, long_table(w / "t.csv", set_(13, "mag", "15,2"))),
        error_names("t.csv", "row 14", "star_b", "'15,2'"),
    )
    yield (
        "table: sentinel magnitude 99.999",
        lambda w: ingest(w, long_table(w / "t.csv", set_(2, "mag", 99.999))),
        skip_counted("sentinel"),
    )
    yield (
        "table: duplicate time",
        lambda w: ingest(w, long_table(w / "t.csv", set_(4, "time", 103.0))),
        skip_counted("duplicate"),
    )
    yield (
        "table: too few points",
        lambda w: ingest(w, long_table(w / "t.csv"), "--min-obs", "11"),
        error_names("no light curve survived"),
    )
    yield (
        "table: unknown class",
        lambda w: ingest(w, long_table(w / "t.csv"), "--classes", "RRab"),
        error_names("t.csv", "EC", "star_b"),
    )
    yield "table: empty file", lambda w: ingest(w, _write(w / "e.csv", b"")), error_names("e.csv", "empty")
    yield (
        "table: latin-1 byte",
        lambda w: ingest(
            w,
            _write(
                w / "l.csv",
                long_table(w / "t.csv").read_bytes()[:40] + b"\xe9" + long_table(w / "t.csv").read_bytes()[40:],
            ),
        ),
        error_names("l.csv", "byte offset 40"),
    )
    yield (
        "table: binary file",
        lambda w: ingest(w, _write(w / "b.csv", bytes(range(256)))),
        error_names("b.csv", "byte offset"),
    )
    yield "table: missing file", lambda w: ingest(w, w / "absent.csv"), error_names("absent.csv")


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _mjd_cases():
    yield (
        "mjd: binary file",
        lambda w: run(
            ["data", "ingest-macho-mjd", "--src", _write(w / "lc_1.1.1.R.mjd", b"\x00\x01"), "--out", w / "m"]
        ),
        error_names("lc_1.1.1.R.mjd", "byte offset 0"),
    )
    yield (
        "mjd: missing file",
        lambda w: run(["data", "ingest-macho-mjd", "--src", w / "none.mjd", "--out", w / "m"]),
        error_names("none.mjd"),
    )
    yield (
        "mjd: no R band",
        lambda w: run(
            ["data", "ingest-macho-mjd", "--src", _write(w / "lc_1.1.1.B.mjd", b"49000 15 0.1\n"), "--out", w / "m"]
        ),
        error_names("R-band"),
    )


def _encode_cases():
    from astromer import SingleBandEncoder

    model = SingleBandEncoder(num_layers=1, d_model=8, num_heads=2, dff=8, seed=0)
    good = np.c_[np.arange(30.0), np.full(30, 15.0), np.full(30, 0.02)]

    def call(curves):
        def go(_):
            try:
                model.encode(curves)
            except Exception as exc:  # noqa: BLE001 - judged below
                return 2, f"{type(exc).__name__}: {exc}"
            return 0, ""

        return go

    def edit(i, col, value):
        arr = good.copy()
        arr[i, col] = value
        return arr

    yield "encode: NaN", call([good, edit(5, 1, np.nan)]), error_names("'#1'", "row 5")
    yield "encode: unsorted times", call([edit(7, 0, 2.5)]), error_names("'#0'", "not sorted")
    yield "encode: duplicate times", call([edit(7, 0, 6.0)]), error_names("duplicate time")
    yield "encode: sentinel", call([edit(3, 1, 99.999)]), error_names("sentinel")
    yield "encode: two columns", call([good[:, :2]]), error_names("(n_obs, 3)")
    yield "encode: one array, not a list", call(good), error_names("pass a list of curves")
    yield "encode: empty curve", call([good[:0]]), error_names("fewer than")


def _weights_cases():
    yield (
        "weights: missing path",
        lambda w: run(["encode", "--weights", w / "none", "--data", _pool(w) / "store", "--out", w / "e.npz"]),
        error_names("none", "does not exist"),
    )
    yield (
        "weights: corrupt .keras",
        lambda w: run(
            [
                "encode",
                "--weights",
                _write(w / "m.keras", b"PK junk"),
                "--data",
                _pool(w) / "store",
                "--out",
                w / "e.npz",
            ]
        ),
        error_names("m.keras"),
    )

    def truncated(w):
        import shutil

        shutil.copytree(WEIGHTS, w / "cut")
        data = w / "cut" / "weights.data-00000-of-00001"
        data.write_bytes(data.read_bytes()[:1000])
        pool = _pool(w)
        return run(
            [
                "finetune",
                "--init",
                w / "cut",
                "--data",
                pool / "store",
                "--split",
                pool / "split.csv",
                "--out",
                w / "o",
                "--ckpt-dir",
                w / "ck",
                "--epochs",
                "1",
            ]
        )

    yield "weights: truncated checkpoint", truncated, error_names("cut")


def _pool(w):
    if not (w / "pool" / "split.csv").exists():
        run(
            [
                "data",
                "simulate",
                "--profile",
                "ogle",
                "--pool",
                "unlabeled",
                "--n-objects",
                "40",
                "--seed",
                "1",
                "--out",
                w / "pool" / "store",
            ]
        )
        run(
            [
                "data",
                "split-pretrain",
                "--store",
                w / "pool" / "store",
                "--seed",
                "1",
                "--out",
                w / "pool" / "split.csv",
            ]
        )
    return w / "pool"


def _train(w, *extra, data=None, split=None, command="pretrain"):
    pool = _pool(w)
    return run(
        [
            command,
            "--data",
            data or pool / "store",
            "--split",
            split or pool / "split.csv",
            "--out",
            w / "out",
            "--ckpt-dir",
            w / "ck",
            "--epochs",
            "1",
            "--batch-size",
            "16",
            "--model-config",
            TINY,
            *extra,
        ]
    )


def _training_cases():
    def no_val(w):
        pool = _pool(w)
        split = pd.read_csv(pool / "split.csv", dtype=str)
        split[split.split != "val"].to_csv(w / "noval.csv", index=False)
        return _train(w, split=w / "noval.csv")

    yield "pretrain: split without val rows", no_val, error_names("noval.csv", "'val'")
    yield (
        "pretrain: bad --model-config",
        lambda w: _train(w, "--model-config", "{bad json"),
        error_names("model-config"),
    )
    yield (
        "pretrain: unwritable --out",
        lambda w: (
            _write(w / "f", b"x"),
            run(
                [
                    "pretrain",
                    "--data",
                    _pool(w) / "store",
                    "--split",
                    _pool(w) / "split.csv",
                    "--out",
                    w / "f" / "o",
                    "--ckpt-dir",
                    w / "ck",
                    "--epochs",
                    "1",
                ]
            ),
        )[1],
        error_names("cannot write", "/f"),
    )

    def stale(kind):
        def go(w):
            pool = _pool(w)
            code, _ = _train(w, "--keep-checkpoint", "--epochs", "2")
            if kind == "data":
                from astromer.data.store import LightCurveStore

                store = LightCurveStore.open(pool / "store")
                ids, off, t, m, e = store.load_flat()
                LightCurveStore.write_flat(w / "changed", ids, off, t, m + 0.5, e, store.metadata, {})
                code, text = _train(w, "--epochs", "2", data=w / "changed")
            else:
                code, text = _train(w, "--epochs", "2")
            resumed = json.loads((w / "out" / "metrics.json").read_text())["resumed_from"]
            return (3 if resumed is None and "training from scratch" in text else 0), text

        return go

    def judge_retrained(code, text, _):
        return "CLEAR" if code == 3 else "SILENT"

    yield "stale: rerun of a finished run", stale("same"), judge_retrained
    yield "stale: changed magnitudes, same ids", stale("data"), judge_retrained


CASES = [*_table_cases(), *_mjd_cases(), *_weights_cases(), *_training_cases()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", help="run the cases whose name contains this text")
    args = parser.parse_args(argv)
    counts = {"CLEAR": 0, "UNCLEAR": 0, "SILENT": 0}
    cases = CASES + list(_encode_cases())
    with tempfile.TemporaryDirectory() as tmp:
        shared_pool = Path(tmp) / "shared"
        shared_pool.mkdir()
        for k, (name, action, judge) in enumerate(cases):
            if args.only and args.only not in name:
                continue
            work = Path(tmp) / f"case{k}"
            work.mkdir()
            (work / "pool").symlink_to(_pool(shared_pool), target_is_directory=True)
            code, text = action(work)
            verdict = judge(code, text, work)
            counts[verdict] += 1
            line = " ".join(text.strip().splitlines()[-1:])[:150]
            print(f"{verdict:8s} {name:40s} exit {code}: {line}", flush=True)
    print(f"{counts['CLEAR']} clear, {counts['UNCLEAR']} unclear, {counts['SILENT']} silent of {sum(counts.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
