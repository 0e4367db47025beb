"""Paper Tables 1, 2, 4 (class distributions of the labeled surveys) and 3 (surveys and filters).

Tables are computed from stores (the labeled surveys as ingested: the white-noise filter is for the
unlabeled pool only); each is written as CSV and LaTeX. Tables 1, 2 and 4 print the paper's totals beside
ours and, given the split reports, the subsets each class is too small for. A store made by the simulator is marked
in a ``source`` column and in the LaTeX caption ("SIMULATED DATA").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..data.store import LightCurveStore, inner_dt
from ..io import atomic_write_text
from .figures import SIMULATED_NOTE

# Which paper table shows which labeled survey; anything else gets the next free number after 4.
TABLE_FOR_SURVEY = {"macho": 1, "alcock": 1, "ogle": 2, "atlas": 4}
# The totals of the paper's Tables 1, 2 and 4 (Sect. 5.2), printed beside ours.
PAPER_TOTALS = {"macho": 20894, "alcock": 20894, "ogle": 358288, "atlas": 422630}
SURVEY_FILTERS = {
    "macho": "R (MACHO red)",
    "alcock": "R (MACHO red)",
    "ogle": "I (OGLE-III)",
    "atlas": "o (ATLAS orange)",
}


def class_distribution(
    store: LightCurveStore, paper_total: int | None = None, split_report: dict | None = None
) -> pd.DataFrame:
    """Objects per class and the total; ``paper_n_objects`` on the total row (the paper's table), and with a
    split report (``report.json`` of split-labeled) ``left_out_of``: the subsets (and folds) a class is too
    small for, so that no class leaves an experiment unsaid."""
    labels = store.metadata["label"].dropna().astype(str)
    counts = labels.value_counts().sort_index()
    frame = pd.DataFrame({"class": counts.index, "n_objects": counts.to_numpy()})
    frame["percent"] = np.round(100 * frame["n_objects"] / frame["n_objects"].sum(), 2)
    total = pd.DataFrame({"class": ["Total"], "n_objects": [int(frame["n_objects"].sum())], "percent": [100.0]})
    frame = pd.concat([frame, total], ignore_index=True)
    frame["paper_n_objects"] = pd.array([pd.NA] * (len(frame) - 1) + [paper_total], dtype="Int64")
    if split_report is not None:
        frame["left_out_of"] = frame["class"].map(_left_out(split_report)).fillna("")
    return frame


def _left_out(report: dict) -> dict[str, str]:
    """class -> e.g. 'test (folds 0-2); 500 (folds 0-2)' from a split report's too_small entries."""
    where: dict[str, dict[str, list[int]]] = {}
    for entry in report.get("too_small", []):
        where.setdefault(entry["class"], {}).setdefault(str(entry["subset"]), []).append(int(entry["fold"]))
    return {
        cls: "; ".join(f"{subset} (folds {','.join(map(str, sorted(folds)))})" for subset, folds in subs.items())
        for cls, subs in where.items()
    }


def survey_summary(stores: dict[str, LightCurveStore]) -> pd.DataFrame:
    rows = []
    for name, store in stores.items():
        mean_dt, std_dt, median_mag = _streamed_statistics(store)
        meta = store.metadata
        rows.append(
            {
                "survey": name,
                "band": ",".join(sorted(meta["band"].dropna().astype(str).unique())),
                "filter": SURVEY_FILTERS.get(name.lower(), ""),
                "n_objects": int(len(meta)),
                "n_classes": int(meta["label"].dropna().nunique()),
                "median_n_obs": float(np.median(meta["n_obs"].to_numpy(dtype=np.int64))),
                "mean_dt_days": round(mean_dt, 3) if not np.isnan(mean_dt) else np.nan,
                "std_dt_days": round(std_dt, 3) if not np.isnan(std_dt) else np.nan,
                "median_mag": round(float(median_mag), 3),
                "source": "simulated" if store.simulated else "real",
            }
        )
    return pd.DataFrame(rows)


def _sortable(mag: np.ndarray) -> np.ndarray:
    """float32 -> uint32 keys in the order of the values (the sign bit flipped, negatives reversed)."""
    bits = np.ascontiguousarray(mag, dtype=np.float32).view(np.uint32)
    return np.where(bits >> 31, ~bits, bits | np.uint32(0x80000000))


def _from_sortable(key: int) -> np.float32:
    bits = key & 0x7FFFFFFF if key >> 31 else ~key & 0xFFFFFFFF
    return np.array([bits], dtype=np.uint32).view(np.float32)[0]


def _streamed_statistics(store: LightCurveStore):
    """(mean and std of the time steps inside curves, median magnitude) of a store read a chunk of curves at a
    time, in two passes (issue 17: Table 3 of a paper-size survey without loading it). The median is exact, as
    ``np.median`` of all magnitudes: pass 1 counts the magnitudes by the top 16 bits of their order-preserving
    keys, pass 2 finds the middle one(s) among the low 16 bits of their bin. The steps' mean and std are sums
    over chunks (equal to numpy's over the whole array to rounding, far below the 3 decimals printed)."""
    high = np.zeros(1 << 16, dtype=np.int64)
    total, count = 0.0, 0
    for _, offsets, time, mag in store.iter_flat(columns=("time", "mag")):
        dt = inner_dt(offsets, time)
        total, count = total + float(dt.sum()), count + len(dt)
        high += np.bincount(_sortable(mag) >> 16, minlength=1 << 16)
    n = int(high.sum())
    if n == 0:
        return np.nan, np.nan, np.nan
    ranks = [n // 2] if n % 2 else [n // 2 - 1, n // 2]
    cumulative = np.cumsum(high)
    bins = [int(np.searchsorted(cumulative, r, side="right")) for r in ranks]
    low = {b: np.zeros(1 << 16, dtype=np.int64) for b in set(bins)}
    mean = total / count if count else np.nan
    squares = 0.0
    for _, offsets, time, mag in store.iter_flat(columns=("time", "mag")):
        if count:
            squares += float(np.sum((inner_dt(offsets, time) - mean) ** 2))
        keys = _sortable(mag)
        for b, counts in low.items():
            counts += np.bincount(keys[(keys >> 16) == b] & 0xFFFF, minlength=1 << 16)
    middle = []
    for r, b in zip(ranks, bins):
        inside = r - (int(cumulative[b - 1]) if b else 0)
        middle.append(_from_sortable((b << 16) | int(np.searchsorted(np.cumsum(low[b]), inside, side="right"))))
    median = np.median(np.array(middle, dtype=np.float32))
    return mean, float(np.sqrt(squares / count)) if count else np.nan, median


def _latex(frame: pd.DataFrame, caption: str, label: str) -> str:
    body = frame.to_latex(index=False, float_format="%.2f", escape=True)
    return "\\begin{table}\n\\centering\n" + f"\\caption{{{caption}}}\n\\label{{{label}}}\n" + body + "\\end{table}\n"


def write_tables(
    stores: dict[str, LightCurveStore], out_dir, split_reports: dict[str, dict] | None = None
) -> list[Path]:
    out_dir = Path(out_dir)
    split_reports = split_reports or {}
    written, used = [], set()
    next_free = 5
    for name, store in stores.items():
        number = TABLE_FOR_SURVEY.get(name.lower())
        if number is None or number in used:
            number, next_free = next_free, next_free + 1
        used.add(number)
        frame = class_distribution(store, PAPER_TOTALS.get(name.lower()), split_reports.get(name))
        frame.insert(0, "source", "simulated" if store.simulated else "real")
        note = f" {SIMULATED_NOTE}: not comparable with the paper's counts." if store.simulated else ""
        written += _write(
            frame,
            out_dir / f"table{number}",
            f"Class distribution of the labeled {name} set.{note}",
            f"tab:classes-{name}",
        )
    summary = survey_summary(stores)
    note = f" {SIMULATED_NOTE}." if (summary["source"] == "simulated").any() else ""
    written += _write(summary, out_dir / "table3", f"Surveys and filters.{note}", "tab:surveys")
    return written


def _write(frame, stem: Path, caption: str, label: str) -> list[Path]:
    atomic_write_text(stem.with_suffix(".csv"), frame.to_csv(index=False, lineterminator="\n"))
    atomic_write_text(stem.with_suffix(".tex"), _latex(frame, caption, label))
    return [stem.with_suffix(".csv"), stem.with_suffix(".tex")]
