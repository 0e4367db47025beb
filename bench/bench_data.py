"""Deterministic MACHO-like light curves shared by both sides of the benchmark (numpy only, no TF)."""
import numpy as np


def bench_curves(n_curves: int = 2000, seed: int = 0, min_len: int = 200, max_len: int = 1000):
    """Irregular MJD times (seasonal-ish cadence), periodic magnitudes, errors: (n, 3) float64 arrays."""
    rng = np.random.default_rng(seed)
    curves = []
    for n in rng.integers(min_len, max_len, n_curves):
        gaps = rng.exponential(2.9, n) * np.where(rng.random(n) < 0.01, 40, 1)
        t = 48800 + np.cumsum(gaps + 1e-3)
        period, amp = rng.uniform(0.3, 60), rng.uniform(0.05, 1.0)
        mag = -7 + amp * np.sin(2 * np.pi * t / period + rng.uniform(0, 6.3)) + rng.normal(0, 0.03, n)
        curves.append(np.c_[t, mag, np.full(n, 0.03)])
    return curves


def n_encode_windows(curves, max_obs: int = 200) -> int:
    """Windows the authors' encode() computes: floor(N/200) + 1 per curve."""
    return int(sum(len(c) // max_obs + 1 for c in curves))
