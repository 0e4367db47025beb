"""Reading result folders into tables: which survey, case, classifier, subset and fold each run is.

A run is a folder with ``metrics.json`` (and usually ``history.csv``); an input may name the folder, its
``metrics.json`` or its ``history.csv``. Fields recorded inside ``metrics.json`` (``survey``, ``case``,
``classifier``, ``subset``, ``fold``, ``encoder_mode``, as ``astromer classify`` writes them) come first;
missing ones are read from the ``label`` field (e.g. ``macho/500/fold1``) and then from the path, e.g.
``results/macho/a/lstm_att/500/fold1/metrics.json``: a ``foldK`` component, a subset component (a number
or ``all``), a case component (``a``/``b``/``c`` or ``case_a``), a known survey name, a classifier name.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd

SURVEYS = ("macho", "ogle", "atlas")
CASES = ("a", "b", "c")
CLASSIFIER_NAMES = ("lstm", "lstm_att", "mlp_att", "rf")
FIELDS = ("survey", "case", "classifier", "subset", "fold")


def run_dir(path) -> Path:
    path = Path(path)
    return path if path.is_dir() else path.parent


def _tokens(path: Path, label: str | None) -> list[str]:
    tokens = [t for t in re.split(r"[/\\]", label or "") if t]
    return tokens + list(run_dir(path).parts)


def _from_tokens(tokens: list[str]) -> dict:
    found: dict = {}
    for tok in tokens:
        low = tok.lower()
        if "fold" not in found and (m := re.fullmatch(r"fold[_-]?(\d+)", low)):
            found["fold"] = int(m.group(1))
        elif "subset" not in found and (m := re.fullmatch(r"(?:n|subset[_-]?)?(\d+|all)", low)):
            found["subset"] = m.group(1)
        elif "case" not in found and (m := re.fullmatch(r"(?:case[_-]?)?([abc])", low)):
            found["case"] = m.group(1)
        elif "classifier" not in found and low in CLASSIFIER_NAMES:
            found["classifier"] = low
        elif "survey" not in found and any(low.startswith(s) for s in SURVEYS):
            found["survey"] = next(s for s in SURVEYS if low.startswith(s))
    return found


def subset_key(subset) -> float:
    """Sort key: numbers in order, ``all`` last."""
    if subset is None or (isinstance(subset, float) and math.isnan(subset)):
        return math.inf
    s = str(subset).lower()
    return math.inf if s == "all" else float(s)


def read_run(path) -> dict:
    """metrics.json of a run plus its survey/case/classifier/subset/fold and the run folder."""
    folder = run_dir(path)
    metrics_path = folder / "metrics.json"
    if not metrics_path.is_file():
        raise FileNotFoundError(f"{path}: no metrics.json in {folder}")
    try:
        metrics = json.loads(metrics_path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{metrics_path}: not valid JSON ({exc})") from None
    found = _from_tokens(_tokens(folder, metrics.get("label")))
    row = dict(metrics)
    for key in FIELDS:
        if row.get(key) in (None, ""):
            row[key] = found.get(key)
    if row.get("subset") is not None:
        row["subset"] = str(row["subset"])
    if row.get("fold") is not None:
        row["fold"] = int(row["fold"])
    row["run_dir"] = str(folder)
    return row


def read_runs(paths) -> pd.DataFrame:
    rows = [read_run(p) for p in paths]
    frame = pd.DataFrame(rows)
    for key in FIELDS:
        if key not in frame:
            frame[key] = None
    return frame


def read_history(path) -> pd.DataFrame:
    """history.csv of a run (an empty frame with the columns when the run has no epochs, e.g. the RF)."""
    hist = run_dir(path) / "history.csv"
    if not hist.is_file():
        raise FileNotFoundError(f"{path}: no history.csv in {run_dir(path)}")
    frame = pd.read_csv(hist)
    missing = {"epoch", "loss", "val_loss"} - set(frame.columns)
    if missing:
        raise ValueError(f"{hist}: missing columns {sorted(missing)}")
    return frame


def mean_std(frame: pd.DataFrame, by: list[str], value: str) -> pd.DataFrame:
    """Mean, std (ddof 1; 0 for a single fold) and count of ``value`` over the rows of each group."""
    grouped = frame.dropna(subset=[value]).groupby(by, dropna=False)[value]
    out = grouped.agg(["mean", "std", "count"]).reset_index()
    out["std"] = out["std"].fillna(0.0)
    return out
