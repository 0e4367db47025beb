"""Reading result folders into tables: which survey, mode, case, classifier, subset and fold each run is.

A run is a folder with ``metrics.json`` (and usually ``history.csv``); an input may name the folder, its
``metrics.json`` or its ``history.csv`` (several inputs naming one folder count once). Fields recorded
inside ``metrics.json`` come first; missing ones are read from its ``label`` (e.g. ``macho/500/fold1``),
then from the workflow's path layout:

    pretrain/{mode}/                              finetune/{mode}/{survey}/{subset}/fold{k}/
    classify/{mode}/{survey}/{subset}/fold{k}/{classifier}_{case}/
    baseline/{survey}/{subset}/fold{k}/{lstm|rf}/  lr_search/{survey}/lr_{lr}/

i.e. the component before ``fold{k}`` is the subset (a number or ``all``), the one before that the survey;
``legacy``/``paper`` is the pretraining mode; ``{classifier}_{case}``, a classifier name, ``a``/``b``/``c``
or ``case_a`` give classifier and case.
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
FIELDS = ("survey", "mode", "case", "classifier", "subset", "fold")
MODES = ("legacy", "paper")
STAGES = ("pretrain", "finetune", "classify", "baseline", "lr_search")


def run_dir(path) -> Path:
    path = Path(path)
    return path if path.is_dir() else path.parent


def _from_label(label: str | None) -> list[str]:
    return [t for t in re.split(r"[/\\]", label or "") if t]


def _from_parts(parts: list[str]) -> dict:
    """Fields from path components (or label tokens), by position around ``fold{k}`` and by name."""
    found: dict = {}
    low = [p.lower() for p in parts]
    folds = [i for i, p in enumerate(low) if re.fullmatch(r"fold[_-]?\d+", p)]
    if folds:
        i = folds[-1]
        found["fold"] = int(re.sub(r"\D", "", low[i]))
        if i >= 1 and re.fullmatch(r"\d+|all", low[i - 1]):
            found["subset"] = low[i - 1]
            if i >= 2 and low[i - 2] not in STAGES + MODES:
                found["survey"] = parts[i - 2]
    lrs = [i for i, p in enumerate(low) if re.fullmatch(r"lr_[0-9.e+-]+", p)]
    if lrs and lrs[-1] >= 1 and "survey" not in found and low[lrs[-1] - 1] not in STAGES:
        found["survey"] = parts[lrs[-1] - 1]
    stages = [i for i, p in enumerate(low) if p in STAGES]
    if stages:
        found["stage"] = low[stages[-1]]
    for i, tok in enumerate(low):
        if tok in MODES and (not stages or i > stages[-1]):
            found.setdefault("mode", tok)
        elif m := re.fullmatch(r"(lstm_att|mlp_att|lstm|rf)_([abc])", tok):
            found["classifier"], found["case"] = m.group(1), m.group(2)
        elif tok in CLASSIFIER_NAMES:
            found.setdefault("classifier", tok)
        elif m := re.fullmatch(r"case[_-]?([abc])", tok):
            found.setdefault("case", m.group(1))
    if "survey" not in found:  # last resort: a known survey name anywhere
        for tok in low:
            if any(tok.startswith(s) for s in SURVEYS):
                found["survey"] = next(s for s in SURVEYS if tok.startswith(s))
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
    found = _from_parts(list(folder.resolve().parts))
    found.update({k: v for k, v in _from_parts(_from_label(metrics.get("label"))).items() if k != "stage"})
    row = dict(metrics)
    for key in FIELDS + ("stage",):
        if row.get(key) in (None, ""):
            row[key] = found.get(key)
    if row.get("stage") is None:
        row["stage"] = row.get("command")
    if row.get("subset") is not None:
        row["subset"] = str(row["subset"])
    if row.get("fold") is not None:
        row["fold"] = int(row["fold"])
    row["run_dir"] = str(folder)
    return row


def expand_inputs(paths) -> list[Path]:
    """Run folders named by the inputs, each once; a folder without metrics.json stands for the run
    folders directly inside it (e.g. ``lr_search/{survey}``)."""
    seen, out = set(), []
    for path in paths:
        folder = run_dir(path)
        folders = [folder] if (folder / "metrics.json").is_file() else sorted(
            p for p in folder.iterdir() if (p / "metrics.json").is_file()) if folder.is_dir() else [folder]
        for f in folders or [folder]:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                out.append(f)
    return out


def read_runs(paths) -> pd.DataFrame:
    rows = [read_run(p) for p in expand_inputs(paths)]
    frame = pd.DataFrame(rows)
    for key in FIELDS + ("stage",):
        if key not in frame:
            frame[key] = None
    return frame


def by_mode(frame: pd.DataFrame) -> pd.DataFrame:
    """Runs without a pretraining mode (the baselines) copied into every mode present; when several modes
    are present the survey is shown as ``survey [mode]`` so each figure row/line is one mode.
    ``survey_name`` keeps the plain name."""
    frame = frame.assign(survey_name=frame["survey"])
    modes = sorted(m for m in frame["mode"].dropna().unique())
    if not modes:
        return frame
    plain = frame[frame["mode"].isna()]
    frame = pd.concat([frame[frame["mode"].notna()], *[plain.assign(mode=m) for m in modes]], ignore_index=True)
    if len(modes) > 1:
        frame["survey"] = frame["survey"].astype(str) + " [" + frame["mode"].astype(str) + "]"
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
