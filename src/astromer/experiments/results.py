"""Reading result folders into tables: which survey, mode, case, classifier, subset and fold each run is.

A run is a folder with ``metrics.json`` (and usually ``history.csv``); an input may name the folder, its
``metrics.json`` or its ``history.csv`` (several inputs naming one folder count once). What a run is comes
only from its ``metrics.json``: the commands record ``command`` (the stage: pretrain, finetune, classify)
and the fields below, as the workflow passed them (``--survey --case --subset --fold``) or as the run
knows them (the encoder's mode, the classifier); null where one does not apply (a baseline has no mode or
case, a pretraining no survey). Folder names are never read: a metrics.json without one of these keys
is an error naming the file and the keys.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from ..errors import RunInputError

CASES = ("a", "b", "c")
FIELDS = ("survey", "mode", "case", "classifier", "subset", "fold")
RECORDED = ("command",) + FIELDS  # every metrics.json of a run holds these keys (null where not applicable)


def run_dir(path) -> Path:
    path = Path(path)
    return path if path.is_dir() else path.parent


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
        raise RunInputError(f"{metrics_path}: not valid JSON ({exc})") from None
    if not isinstance(metrics, dict):
        raise RunInputError(f"{metrics_path}: not a JSON object of a run's metrics")
    missing = [key for key in RECORDED if key not in metrics]
    if missing:
        raise RunInputError(
            f"{metrics_path}: no {', '.join(missing)} recorded (every run's metrics.json records "
            f"{', '.join(RECORDED)}); it was written by an older astromer: rerun its job (delete the folder "
            "and run the workflow again)"
        )
    row = dict(metrics, stage=metrics["command"])
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
        folders = (
            [folder]
            if (folder / "metrics.json").is_file()
            else sorted(p for p in folder.iterdir() if (p / "metrics.json").is_file())
            if folder.is_dir()
            else [folder]
        )
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
