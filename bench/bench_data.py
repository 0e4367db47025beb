"""Deterministic MACHO-like light curves for the benchmark (numpy only: both bench envs import it).

Each curve is an (N, 3) float64 array [MJD, magnitude, error] with N uniform in [min_obs, max_obs],
times strictly increasing over MACHO's 1992-1999 seasons (nightly cadence with gaps and a seasonal
break), a periodic signal (pulsator-like periods and amplitudes) plus noise scaled by the error.
"""

from __future__ import annotations

import numpy as np

MACHO_START_MJD = 48_800.0  # mid 1992
SEASON_DAYS = 365.25
VISIBLE_DAYS = 240.0  # the field is observable ~8 months a year


def _macho_times(rng: np.random.Generator, n_obs: int) -> np.ndarray:
    """n_obs strictly increasing MJDs: random nights inside yearly visibility windows, near local midnight."""
    span_years = rng.uniform(2.0, 7.5)
    times = np.empty(0)
    while times.size < n_obs:  # continuous offsets: a repeat is practically impossible, but checked
        season = rng.integers(0, int(np.ceil(span_years)), size=n_obs)
        night = np.floor(season * SEASON_DAYS + rng.uniform(0.0, VISIBLE_DAYS, size=n_obs))
        draw = night + 0.5 + rng.uniform(-0.17, 0.17, size=n_obs)
        times = np.unique(np.concatenate([times, draw]))[:n_obs] if times.size else np.unique(draw)
    return MACHO_START_MJD + rng.uniform(0.0, 200.0) + np.sort(times)[:n_obs]


def make_curve(rng: np.random.Generator, n_obs: int) -> np.ndarray:
    times = _macho_times(rng, n_obs)
    mean_mag = rng.uniform(15.0, 20.0)
    period = np.exp(rng.uniform(np.log(0.2), np.log(300.0)))
    amplitude = np.exp(rng.uniform(np.log(0.02), np.log(1.0)))
    phase = 2 * np.pi * (times / period) + rng.uniform(0, 2 * np.pi)
    signal = amplitude * (np.sin(phase) + 0.3 * np.sin(2 * phase + rng.uniform(0, 2 * np.pi)))
    err = 0.01 + 0.02 * np.exp(mean_mag - 17.0) * rng.uniform(0.7, 1.3, size=n_obs)
    mag = mean_mag + signal + rng.normal(0.0, err)
    return np.stack([times, mag, err], axis=1)


def make_curves(n_curves: int = 2000, min_obs: int = 200, max_obs: int = 1000, seed: int = 42) -> list[np.ndarray]:
    """The fixed benchmark set: the same seed gives bit-identical curves on both sides."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_obs, max_obs + 1, size=n_curves)
    return [make_curve(rng, int(n)) for n in lengths]


def n_encode_windows(curves: list[np.ndarray], window: int = 200) -> int:
    """Windows the authors' encode() makes: floor(N / window) + 1 per curve (its last one overlaps)."""
    return int(sum(len(c) // window + 1 for c in curves))
