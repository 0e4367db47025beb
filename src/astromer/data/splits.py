"""Deterministic splits written as tables of ids (never copies of the data).

Pretraining: ``id,split`` with 60/20/20 train/val/test (counts: floor of the fraction for train and val,
the rest to test), from one permutation of the sorted ids.

Labeled (paper Sect. 6, "three cross-validation splits"): each class's sorted ids are permuted once (a
stream of its own from (seed, class name)); fold k's test set is the k-th block of ``test_per_class`` ids
of that permutation, so the folds' test sets are disjoint wherever the class has at least
folds x test_per_class objects. A smaller class (but >= test_per_class + 2) gets blocks that start
n·k/folds apart and wrap around: they overlap as little as its size allows, and ``report.json`` says by
how much (``test_overlap``). The rest of the class, shuffled per fold, is the fold's pool. Subset n takes
the first n ids of the pool (so 20 ⊂ 50 ⊂ 100 ⊂ 500 inside a fold), ``all`` the whole pool; each subset
is split train/val with val = round(n * val_fraction). The test rows are repeated, unchanged, in every
subset file ``<outdir>/fold{k}/{subset}.csv`` (columns ``id,label,split``).

Classes too small (fewer than ``test_per_class`` + n objects for subset n, or fewer than
``test_per_class`` + 2 for the test set itself) are never shrunk: with ``on_small="skip"`` (default) the
class is left out of that subset file (or of every file of the fold when the test set cannot be made) and
listed in ``report.json`` (``too_small``), which the split check and the data tables repeat; with
``on_small="fail"`` the split stops with an error naming the class.

Memory (issue 17): the split commands read only the ``id`` (and ``label``) column of the store's metadata,
never the light curves; ``write_pretrain_split`` keeps the ids in one Arrow array and writes the table a chunk
of lines at a time, the same bytes as :func:`pretrain_split`'s DataFrame through ``to_csv``.
"""

from __future__ import annotations

import csv
import itertools
import json
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import AstromerError, RunInputError
from ..io import atomic_path, atomic_write_json, atomic_write_text

SPLITS = ("train", "val", "test")


class SplitError(AstromerError, ValueError):
    pass


def _csv_text(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, lineterminator="\n")


def pretrain_split(ids, seed: int, fractions=(0.6, 0.2, 0.2)) -> pd.DataFrame:
    if len(fractions) != 3 or abs(sum(fractions) - 1) > 1e-9 or min(fractions) < 0:
        raise SplitError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    ids = np.array(sorted(str(i) for i in ids), dtype=object)
    if len(set(ids)) != len(ids):
        raise SplitError("duplicate ids in the store")
    order = np.random.default_rng(seed).permutation(len(ids))
    n_train = int(np.floor(fractions[0] * len(ids)))
    n_val = int(np.floor(fractions[1] * len(ids)))
    split = np.empty(len(ids), dtype=object)
    split[order[:n_train]] = "train"
    split[order[n_train : n_train + n_val]] = "val"
    split[order[n_train + n_val :]] = "test"
    frame = pd.DataFrame({"id": ids, "split": split})
    frame["split"] = pd.Categorical(frame["split"], SPLITS)
    return frame.sort_values(["split", "id"]).reset_index(drop=True).astype({"split": str})


def write_pretrain_split(ids, seed, out, fractions=(0.6, 0.2, 0.2), chunk_rows: int = 65536) -> dict:
    """Write the file of :func:`pretrain_split` (same bytes) without a DataFrame or a Python string per id:
    the ids stay in one Arrow array, sorted there, and are written ``chunk_rows`` lines at a time (issue 17).
    Returns the counts per part."""
    if len(fractions) != 3 or abs(sum(fractions) - 1) > 1e-9 or min(fractions) < 0:
        raise SplitError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    if isinstance(ids, pa.Array):
        ids = ids.cast(pa.string()) if ids.null_count == 0 else None
    else:
        ids = pa.array([str(i) for i in ids], type=pa.string())
    if ids is None:
        raise SplitError("the store has a null id")
    # Arrow orders strings by their UTF-8 bytes: the code-point order that Python's sorted() gives
    ids = ids.take(pc.array_sort_indices(ids))
    if len(ids) > 1 and pc.any(pc.equal(ids.slice(1), ids.slice(0, len(ids) - 1))).as_py():
        raise SplitError("duplicate ids in the store")
    n = len(ids)
    order = np.random.default_rng(seed).permutation(n)
    n_train = int(np.floor(fractions[0] * n))
    n_val = int(np.floor(fractions[1] * n))
    part = np.empty(n, dtype=np.int8)
    part[order[:n_train]], part[order[n_train : n_train + n_val]], part[order[n_train + n_val :]] = 0, 1, 2
    del order
    counts = {}
    # the rows of pretrain_split: by part (train, val, test), then by id; quoted as pandas' to_csv quotes
    with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "split"])
        for code, name in enumerate(SPLITS):
            rows = np.flatnonzero(part == code)
            counts[name] = int(len(rows))
            for lo in range(0, len(rows), chunk_rows):
                chunk = ids.take(pa.array(rows[lo : lo + chunk_rows])).to_pylist()
                writer.writerows(zip(chunk, itertools.repeat(name)))
    return counts


def _parse_subset(name) -> int | None:
    return None if str(name) == "all" else int(name)


def _label_frame(ids, labels) -> pd.DataFrame:
    """id, label (both str) of labelled objects; an unlabelled or duplicated object is an error."""
    frame = pd.DataFrame({"id": [str(i) for i in ids], "label": list(labels)})
    if frame["label"].isna().any():
        raise SplitError(f"object {frame.loc[frame['label'].isna(), 'id'].iloc[0]!r} has no label")
    if frame["id"].duplicated().any():
        raise SplitError(f"duplicate id {frame.loc[frame['id'].duplicated(), 'id'].iloc[0]!r}")
    frame["label"] = frame["label"].astype(str)
    return frame


def _test_blocks(by_class: dict, seed: int, folds: int, test_per_class: int, on_small: str, report: dict):
    """(tests, pools), both (fold, class) -> ids: each fold's test ids of a class and the shuffled rest.

    A class too small for a test set is reported (or fails); folds' test sets overlap only where the class
    has fewer than ``folds * test_per_class`` objects, and that overlap goes into the report."""
    tests, pools = {}, {}
    for lab in sorted(by_class):
        key = zlib.crc32(lab.encode())
        members = by_class[lab][np.random.default_rng([seed, key]).permutation(len(by_class[lab]))]
        n = len(members)
        if n < test_per_class + 2:
            for fold in range(folds):
                _too_small(report, fold, "test", lab, n, test_per_class + 2, on_small)
            continue
        disjoint = n >= folds * test_per_class
        blocks = []
        for fold in range(folds):
            start = fold * test_per_class if disjoint else (fold * n) // folds
            block = (start + np.arange(test_per_class)) % n
            rest = np.delete(members, block)
            tests[fold, lab] = members[block]
            pools[fold, lab] = rest[np.random.default_rng([seed, fold, key]).permutation(len(rest))]
            blocks.append(set(block.tolist()))
        if not disjoint:  # say how the folds' test sets of this class overlap
            report["test_overlap"][lab] = {
                "n_objects": int(n),
                "needed_for_disjoint": int(folds * test_per_class),
                "shared": {
                    f"fold{a}&fold{b}": len(blocks[a] & blocks[b]) for a in range(folds) for b in range(a + 1, folds)
                },
            }
    return tests, pools


def _subset_table(fold, subset, tests, pools, by_class, report, test_per_class, val_fraction, on_small):
    """The id, label, split table of one fold and training subset; its per-class counts go into the report."""
    n = _parse_subset(subset)
    rows = []
    for lab in sorted(lab for f, lab in pools if f == fold):
        pool = pools[fold, lab]
        if n is not None and len(pool) < n:
            _too_small(report, fold, subset, lab, len(by_class[lab]), test_per_class + n, on_small)
            continue
        chosen = pool if n is None else pool[:n]
        n_val = int(round(len(chosen) * val_fraction))
        rows += [(i, lab, "train") for i in chosen[: len(chosen) - n_val]]
        rows += [(i, lab, "val") for i in chosen[len(chosen) - n_val :]]
        rows += [(i, lab, "test") for i in tests[fold, lab]]
    table = pd.DataFrame(rows, columns=["id", "label", "split"])
    table["split"] = pd.Categorical(table["split"], SPLITS)
    table = table.sort_values(["split", "label", "id"]).reset_index(drop=True).astype({"split": str})
    report["counts"][f"fold{fold}/{subset}"] = {
        lab: {s: int(((table["label"] == lab) & (table["split"] == s)).sum()) for s in SPLITS}
        for lab in sorted(table["label"].unique())
    }
    return table


def labeled_splits(
    ids,
    labels,
    seed: int,
    folds: int = 3,
    test_per_class: int = 100,
    subsets=("20", "50", "100", "500", "all"),
    val_fraction: float = 0.2,
    on_small: str = "skip",
):
    """Return ({(fold, subset): DataFrame}, report dict)."""
    if on_small not in ("skip", "fail"):
        raise SplitError(f"on_small must be 'skip' or 'fail', not {on_small!r}")
    frame = _label_frame(ids, labels)
    by_class = {lab: np.array(sorted(g["id"]), dtype=object) for lab, g in frame.groupby("label")}
    subsets = [str(s) for s in subsets]
    report = {
        "seed": seed,
        "folds": folds,
        "test_per_class": test_per_class,
        "subsets": subsets,
        "val_fraction": val_fraction,
        "on_small": on_small,
        "class_sizes": {k: int(len(v)) for k, v in by_class.items()},
        "too_small": [],
        "counts": {},
    }
    report["test_overlap"] = {}
    tests, pools = _test_blocks(by_class, seed, folds, test_per_class, on_small, report)
    tables = {}
    for fold in range(folds):
        for subset in subsets:
            tables[(fold, subset)] = _subset_table(
                fold, subset, tests, pools, by_class, report, test_per_class, val_fraction, on_small
            )
    return tables, report


def _too_small(report, fold, subset, lab, have, need, on_small):
    entry = {"fold": fold, "subset": subset, "class": lab, "available": int(have), "needed": int(need)}
    if on_small == "fail":
        raise SplitError(
            f"class {lab!r} has {have} objects, {need} needed for subset {subset} "
            f"(fold {fold}); use on_small='skip' to leave it out of that subset"
        )
    report["too_small"].append(entry)


def write_labeled_splits(ids, labels, out_dir, **kwargs) -> dict:
    tables, report = labeled_splits(ids, labels, **kwargs)
    out_dir = Path(out_dir)
    for (fold, subset), table in tables.items():
        atomic_write_text(out_dir / f"fold{fold}" / f"{subset}.csv", _csv_text(table))
    atomic_write_json(out_dir / "report.json", report, sort_keys=True)
    return report


# ------------------------------------------------------------------ checker
def _check_rows(where: str, table: pd.DataFrame, known: dict, errors: list) -> None:
    """No id twice, known split values, every id in the store with the store's label (first offender)."""
    dup = table["id"][table["id"].duplicated()]
    if len(dup):
        errors.append(f"{where}: id {dup.iloc[0]!r} appears in more than one part (or twice)")
    bad_split = set(table["split"]) - set(SPLITS)
    if bad_split:
        errors.append(f"{where}: unknown split values {sorted(bad_split)}")
    for obj, lab in zip(table["id"], table["label"]):
        if obj not in known:
            errors.append(f"{where}: id {obj!r} is not in the store")
            break
        if str(known[obj]) != lab:
            errors.append(f"{where}: id {obj!r} labelled {lab!r}, store says {known[obj]!r}")
            break


def _check_counts(where, table, fold, subset, sizes, small, small_test, params, errors: list) -> None:
    """Each class's train/val/test counts are exact; a class reported too small is absent."""
    n = _parse_subset(subset)
    test_per_class, val_fraction = params["test_per_class"], params["val_fraction"]
    for lab in sorted(sizes):
        skipped = lab in small_test or (fold, subset, lab) in small
        part = table[table["label"] == lab]
        if skipped:
            if len(part):
                errors.append(f"{where}: class {lab!r} was reported too small but is present")
            continue
        chosen = sizes[lab] - test_per_class if n is None else n
        n_val = int(round(chosen * val_fraction))
        expect = {"train": chosen - n_val, "val": n_val, "test": test_per_class}
        got = {s: int((part["split"] == s).sum()) for s in SPLITS}
        if got != expect:
            errors.append(f"{where}: class {lab!r} counts {got} != expected {expect}")


def _check_same_tests(table, fold, subset, test_sets: dict, errors: list) -> None:
    """Record this subset's test ids per class; they must equal those of the fold's earlier subsets."""
    test = table[table["split"] == "test"]
    for lab, group in test.groupby("label"):
        # A class left out of a subset (reported too small) has no rows there; every class
        # present must have the same test ids in every subset of the fold.
        first = test_sets.setdefault(lab, (subset, frozenset(group["id"])))
        if first[1] != frozenset(group["id"]):
            errors.append(f"fold{fold}: test set of class {lab!r} differs between subsets {first[0]} and {subset}")


def _check_disjoint_folds(sizes: dict, fold_tests: list, params: dict, errors: list) -> None:
    """ "Three cross-validation splits": test sets of different folds share no object where the class allows it."""
    for lab, size in sorted(sizes.items()):
        if size < params["folds"] * params["test_per_class"]:
            continue
        for a in range(len(fold_tests)):
            for b in range(a + 1, len(fold_tests)):
                if lab in fold_tests[a] and lab in fold_tests[b]:
                    shared = fold_tests[a][lab][1] & fold_tests[b][lab][1]
                    if shared:
                        errors.append(
                            f"class {lab!r} ({size} objects): folds {a} and {b} share {len(shared)} "
                            f"test objects, e.g. {sorted(shared)[0]!r}"
                        )


def check_labeled_splits(store_metadata: pd.DataFrame, split_dir) -> dict:
    """Prove: no id in two parts of a fold, ids exist with their store label, counts exact, test sets
    identical across subsets, too-small classes absent. Returns a report with ``ok`` and ``errors``."""
    split_dir = Path(split_dir)
    errors = []
    params = json.loads((split_dir / "report.json").read_text())
    known = dict(zip(store_metadata["id"].astype(str), store_metadata["label"].astype("string")))
    sizes = store_metadata["label"].dropna().astype(str).value_counts().to_dict()
    small = {(e["fold"], e["subset"], e["class"]) for e in params["too_small"]}
    checked = 0
    fold_tests = []  # per fold: class -> test ids
    for fold in range(params["folds"]):
        test_sets = {}
        fold_tests.append(test_sets)
        small_test = {c for f, s, c in small if f == fold and s == "test"}
        for subset in params["subsets"]:
            path = split_dir / f"fold{fold}" / f"{subset}.csv"
            if not path.is_file():
                errors.append(f"{path}: missing")
                continue
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
            checked += 1
            where = f"fold{fold}/{subset}.csv"
            if list(table.columns) != ["id", "label", "split"]:
                errors.append(f"{where}: columns {list(table.columns)} != ['id', 'label', 'split']")
                continue
            _check_rows(where, table, known, errors)
            _check_counts(where, table, fold, subset, sizes, small, small_test, params, errors)
            _check_same_tests(table, fold, subset, test_sets, errors)
    _check_disjoint_folds(sizes, fold_tests, params, errors)
    return {
        "ok": not errors and checked > 0,
        "files_checked": checked,
        "errors": errors[:200],
        "n_errors": len(errors),
        "class_sizes": {k: int(v) for k, v in sorted(sizes.items())},
        "too_small": params["too_small"],
        "test_overlap": params.get("test_overlap", {}),
    }


def check_pretrain_split(ids, csv_path, fractions=(0.6, 0.2, 0.2)) -> dict:
    table = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    errors = []
    if table["id"].duplicated().any():
        errors.append(f"{csv_path}: id {table['id'][table['id'].duplicated()].iloc[0]!r} in two parts")
    if set(table["id"]) != {str(i) for i in ids}:
        errors.append(f"{csv_path}: ids differ from the store's")
    n = len(table)
    expect = {"train": int(np.floor(fractions[0] * n)), "val": int(np.floor(fractions[1] * n))}
    expect["test"] = n - expect["train"] - expect["val"]
    got = {s: int((table["split"] == s).sum()) for s in SPLITS}
    if got != expect:
        errors.append(f"{csv_path}: counts {got} != expected {expect}")
    return {"ok": not errors, "errors": errors}


def read_split(path, store, labels: bool = False) -> dict:
    """A run's split table, checked against the store: ``{part: ids}`` from ``id,split`` (pretraining,
    fine-tuning, encoding), or with ``labels=True`` ``{part: (ids, labels)}`` from ``id,label,split`` with
    every label present and every part non-empty (classification). Bad tables raise RunInputError naming
    the file."""
    path = Path(path)
    columns = ["id", "label", "split"] if labels else ["id", "split"]
    try:
        table = pd.read_csv(path, dtype={"id": str, "label": str, "split": str})
    except (OSError, pd.errors.ParserError) as exc:
        raise RunInputError(f"{path}: cannot read the split table ({exc})") from None
    missing = set(columns) - set(table.columns)
    if missing:
        raise RunInputError(f"{path}: missing columns {sorted(missing)} (need {','.join(columns)})")
    bad = sorted(set(map(str, table["split"])) - set(SPLITS))
    if bad:
        raise RunInputError(f"{path}: unknown split values {bad}")
    if labels and table["label"].isna().any():
        raise RunInputError(f"{path}: {int(table['label'].isna().sum())} rows without a label")
    known = set(store.metadata["id"].astype(str))
    absent = [i for i in table["id"] if i not in known]
    if absent:
        raise RunInputError(f"{path}: {len(absent)} ids not in the store, e.g. {absent[:3]}")
    rows = {part: table[table["split"] == part] for part in SPLITS}
    if not labels:
        return {part: part_rows["id"].tolist() for part, part_rows in rows.items() if not part_rows.empty}
    for part, part_rows in rows.items():
        if part_rows.empty:
            raise RunInputError(f"{path}: no '{part}' rows")
    return {part: (part_rows["id"].tolist(), part_rows["label"].to_numpy()) for part, part_rows in rows.items()}
