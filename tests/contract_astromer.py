"""TEST STAND-IN for the `astromer` command line, used only by the workflow's contract tests.

It parses exactly the arguments of the CLI contract the workflow is wired to (the brief of the workflow
issue; the real commands live in src/astromer), checks that every input the rule passes exists, and
writes placeholder files where the contract says the real command writes its results -- so the
workflow's wiring (arguments, declared outputs, report captions, Slurm submission) can be tested before
and independently of the library. Placeholders say so in their first line; they are written under the
test's temporary folder only and never reach results/.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

PLACEHOLDER = "placeholder written by tests/contract_astromer.py (workflow contract test)"


def _exists(path: str) -> str:
    if not Path(path).exists():
        raise SystemExit(f"contract stand-in: input {path!r} does not exist")
    return path


def _pairs(values: list[str]) -> list[str]:
    for value in values:
        name, _, path = value.partition("=")
        if not name or not path:
            raise SystemExit(f"contract stand-in: expected NAME=STORE, got {value!r}")
        _exists(path)
    return values


def _write(path: Path, text: str = PLACEHOLDER + "\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _store(out: str, args) -> None:
    _write(Path(out) / "light_curves.parquet")
    _write(Path(out) / "metadata.parquet")
    _write(Path(out) / "provenance.json", json.dumps({"placeholder": PLACEHOLDER, "args": vars(args)}))


def _training_outputs(out: str, args, extra: dict | None = None) -> None:
    record = {"placeholder": PLACEHOLDER, "seed": args.seed, "config": vars(args), **(extra or {})}
    _write(Path(out) / "metrics.json", json.dumps(record))
    _write(Path(out) / "history.csv", "epoch,loss,val_loss,seconds\n")
    Path(args.ckpt_dir).mkdir(parents=True, exist_ok=True)


def data(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="astromer data")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("download")
    s.add_argument("--file-id", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--dataset")
    s.add_argument("--sha256")
    s.add_argument("--url")
    s = sub.add_parser("download-weights")
    s.add_argument("--name", required=True, choices=["macho_a0", "macho"])
    s.add_argument("--out", required=True)
    s.add_argument("--sha256")
    s.add_argument("--url")
    s = sub.add_parser("ingest-macho-mjd")
    s.add_argument("--src", required=True, nargs="+")
    s.add_argument("--out", required=True)
    s.add_argument("--band")
    s.add_argument("--min-obs", type=int)
    s = sub.add_parser("unpack")
    s.add_argument("--src", required=True, type=_exists)
    s.add_argument("--out", required=True)
    s = sub.add_parser("ingest-authors")
    s.add_argument("--src", required=True, type=_exists)
    s.add_argument("--survey", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--min-obs", type=int)
    s.add_argument("--classes")
    s.add_argument("--class-map")
    s = sub.add_parser("simulate")
    s.add_argument("--profile", required=True, choices=["macho", "ogle", "atlas"])
    s.add_argument("--pool", required=True, choices=["labeled", "unlabeled"])
    size = s.add_mutually_exclusive_group()
    size.add_argument("--per-class", type=int)
    size.add_argument("--n-objects", type=int)
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--out", required=True)
    s = sub.add_parser("filter")
    s.add_argument("--store", required=True, type=_exists)
    s.add_argument("--out", required=True)
    s.add_argument("--log", required=True)
    s.add_argument("--kurtosis", type=float)
    s.add_argument("--skewness", type=float)
    s.add_argument("--std", type=float)
    s.add_argument("--combine", choices=["any", "all"])
    s.add_argument("--paper-kept", type=int)
    s = sub.add_parser("split-pretrain")
    s.add_argument("--store", required=True, type=_exists)
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--fractions")
    s = sub.add_parser("split-labeled")
    s.add_argument("--store", required=True, type=_exists)
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--folds", type=int, required=True)
    s.add_argument("--test-per-class", type=int, required=True)
    s.add_argument("--subsets", required=True)
    s.add_argument("--val-fraction", type=float, required=True)
    s.add_argument("--out-dir", required=True)
    s = sub.add_parser("check-splits")
    s.add_argument("--store", required=True, type=_exists)
    s.add_argument("--split-dir", required=True, type=_exists)
    s.add_argument("--out", required=True)
    s = sub.add_parser("tables")
    s.add_argument("--labeled", nargs="+", required=True)
    s.add_argument("--out-dir", required=True)
    s.add_argument("--splits", nargs="*", default=[])
    s = sub.add_parser("fig6")
    s.add_argument("--unlabeled", required=True, type=_exists)
    s.add_argument("--labeled", nargs="+", required=True)
    s.add_argument("--out", required=True)
    s = sub.add_parser("figB1")
    s.add_argument("--stores", nargs="+", required=True)
    s.add_argument("--out", required=True)
    s = sub.add_parser("columns")
    s.add_argument("--store", required=True, type=_exists)
    s.add_argument("--out", required=True)
    a = p.parse_args(argv)
    if a.cmd in ("download", "unpack", "check-splits", "split-pretrain", "fig6", "figB1"):
        if a.cmd in ("fig6",):
            _pairs(a.labeled)
        if a.cmd == "figB1":
            _pairs(a.stores)
        if a.cmd == "unpack":
            Path(a.out).mkdir(parents=True, exist_ok=True)
        else:
            _write(Path(a.out))
    elif a.cmd == "columns":
        for name in ("offsets.npy", "time.npy", "mag.npy", "ids.txt", "columns.json"):
            _write(Path(a.out) / name)
    elif a.cmd == "download-weights":
        _write(Path(a.out) / "weights.index")
    elif a.cmd in ("ingest-authors", "simulate", "ingest-macho-mjd"):
        _store(a.out, a)
    elif a.cmd == "filter":
        _store(a.out, a)
        _write(Path(a.log), json.dumps({"placeholder": PLACEHOLDER}))
    elif a.cmd == "split-labeled":
        for k in range(a.folds):
            for subset in a.subsets.split(","):
                _write(Path(a.out_dir) / f"fold{k}" / f"{subset}.csv", "id,label,split\n")
        _write(Path(a.out_dir) / "report.json", json.dumps({"placeholder": PLACEHOLDER}))
    elif a.cmd == "tables":
        _pairs(a.labeled)
        _pairs(a.splits)
        for n in range(1, 5):
            for ext in ("csv", "tex"):
                _write(Path(a.out_dir) / f"table{n}.{ext}")


def _device_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", choices=["auto", "gpu", "any"])
    p.add_argument("--precision", choices=["float32", "mixed_bfloat16"])


def _training_parser(name: str, init_required: bool) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"astromer {name}")
    p.add_argument("--data", required=True, type=_exists)
    p.add_argument("--split", required=True, type=_exists)
    p.add_argument("--out", required=True)
    p.add_argument("--ckpt-dir", required=True)
    p.add_argument("--init", required=init_required, type=_exists)
    p.add_argument("--mode", choices=["paper", "legacy"])
    p.add_argument("--model-config", type=_exists)
    p.add_argument("--epochs", type=int)
    p.add_argument("--patience", type=int)
    p.add_argument("--patience-steps", type=int)
    p.add_argument("--max-steps", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--msk-frac", type=float)
    p.add_argument("--rnd-frac", type=float)
    p.add_argument("--same-frac", type=float)
    p.add_argument("--windows-per-epoch", choices=["one", "all"])
    p.add_argument("--columns", type=_exists)
    p.add_argument("--label")
    p.add_argument("--survey")
    p.add_argument("--subset")
    p.add_argument("--fold", type=int)
    _resume_options(p)
    _device_args(p)
    return p


def _resume_options(p) -> None:
    p.add_argument("--restart", action="store_true")
    p.add_argument("--keep-checkpoint", action="store_true")


def main(argv: list[str]) -> int:
    command, rest = argv[0], argv[1:]
    if command == "batch":  # several commands in one process (config batch_jobs)
        import shlex

        if not rest:
            raise SystemExit("contract stand-in: batch needs at least one command")
        for line in rest:
            main(shlex.split(line))
    elif command == "data":
        data(rest)
    elif command in ("pretrain", "finetune"):
        a = _training_parser(command, init_required=command == "finetune").parse_args(rest)
        if command == "finetune" and None in (a.columns, a.survey, a.subset, a.fold):
            raise SystemExit("contract stand-in: a fine-tuning needs --columns and its --survey --subset --fold")
        _training_outputs(a.out, a)
        _write(Path(a.out) / "model.keras")
    elif command == "classify":
        p = argparse.ArgumentParser(prog="astromer classify")
        p.add_argument("--encoder", type=_exists)
        p.add_argument("--data", required=True, type=_exists)
        p.add_argument("--split", required=True, type=_exists)
        p.add_argument("--classifier", required=True, choices=["lstm", "lstm_att", "mlp_att", "rf"])
        p.add_argument("--encoder-mode", choices=["frozen", "trained"])
        p.add_argument("--out", required=True)
        p.add_argument("--ckpt-dir", required=True)
        p.add_argument("--epochs", type=int)
        p.add_argument("--patience", type=int)
        p.add_argument("--patience-steps", type=int)
        p.add_argument("--max-steps", type=int)
        p.add_argument("--batch-size", type=int)
        p.add_argument("--lr", type=float)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--units", type=int)
        p.add_argument("--max-obs", type=int)
        p.add_argument("--survey", required=True)
        p.add_argument("--case", choices=["a", "b", "c"])
        p.add_argument("--subset", required=True)
        p.add_argument("--fold", type=int, required=True)
        _resume_options(p)
        _device_args(p)
        a = p.parse_args(rest)
        if a.classifier in ("lstm_att", "mlp_att") and not a.case:
            raise SystemExit("contract stand-in: an attention classifier's run needs --case (recorded in metrics.json)")
        if a.classifier in ("lstm_att", "mlp_att") and not (a.encoder and a.encoder_mode):
            raise SystemExit("contract stand-in: an attention classifier needs --encoder and --encoder-mode")
        _training_outputs(a.out, a)
        for name in ("report.csv", "confusion.csv"):
            _write(Path(a.out) / name)
    elif command == "lr-search":
        p = argparse.ArgumentParser(prog="astromer lr-search")
        p.add_argument("--data", required=True, type=_exists)
        p.add_argument("--split", required=True, type=_exists)
        p.add_argument("--lrs", required=True)
        p.add_argument("--out", required=True)
        p.add_argument("--epochs", type=int)
        p.add_argument("--patience", type=int)
        p.add_argument("--patience-steps", type=int)
        p.add_argument("--max-steps", type=int)
        p.add_argument("--batch-size", type=int)
        p.add_argument("--seed", type=int)
        p.add_argument("--units", type=int)
        p.add_argument("--max-obs", type=int)
        p.add_argument("--survey", required=True)
        p.add_argument("--subset", required=True)
        p.add_argument("--fold", type=int, required=True)
        _resume_options(p)
        _device_args(p)
        a = p.parse_args(rest)
        for lr in a.lrs.split(","):
            _write(Path(a.out) / f"lr_{float(lr):g}" / "history.csv", "epoch,loss,val_loss\n")
    elif command == "figure":
        p = argparse.ArgumentParser(prog="astromer figure")
        p.add_argument(
            "name",
            choices=[
                "fig2",
                "fig8",
                "fig9",
                "fig11",
                "fig12",
                "figA1",
                "figC1",
                "figD1",
                "table5",
                "accuracy_table",
                "claims_table",
            ],
        )
        p.add_argument("--out", required=True)
        p.add_argument("--inputs", nargs="*", default=[], type=_exists)
        p.add_argument("--simulated", action="store_true")
        p.add_argument("--subset")
        p.add_argument("--star")
        a = p.parse_args(rest)
        if not a.inputs:
            raise SystemExit(f"contract stand-in: figure {a.name} got no --inputs")
        _write(Path(a.out))
    elif command == "leak":
        p = argparse.ArgumentParser(prog="astromer leak")
        p.add_argument("--curves", nargs="+", required=True)
        p.add_argument("--published", type=_exists)
        p.add_argument("--encoder", nargs="*", default=[])
        p.add_argument("--f1-runs", nargs="*", default=[], type=_exists)
        p.add_argument("--max-curves", type=int)
        p.add_argument("--seed", type=int)
        for frac in ("--msk-frac", "--rnd-frac", "--same-frac"):
            p.add_argument(frac, type=float)
        p.add_argument("--out", required=True)
        p.add_argument("--figure")
        a = p.parse_args(rest)
        _pairs(a.curves)
        _pairs(a.encoder)
        _write(Path(a.out))
        _write(Path(a.out).with_suffix(".tex"))
        if a.figure:
            _write(Path(a.figure))
    else:
        raise SystemExit(f"contract stand-in: unknown command {command!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
