"""The classical baseline beside the deep classifiers: ``light-curve`` features and a random forest.

Features come from the ``light_curve`` package's ``Extractor`` (amplitude, spread, shape, trend and
variability statistics, plus the best Lomb-Scargle period and its power). They are computed on the same
observations the deep classifiers see (the first ``max_obs`` of each curve), so the comparison is fair.
"""
from __future__ import annotations

import numpy as np

N_TREES = 300


def extractor():
    import light_curve as lc

    return lc.Extractor(
        lc.Amplitude(), lc.AndersonDarlingNormal(), lc.BeyondNStd(nstd=1.0), lc.BeyondNStd(nstd=2.0),
        lc.Cusum(), lc.Eta(), lc.EtaE(), lc.ExcessVariance(), lc.InterPercentileRange(quantile=0.1),
        lc.Kurtosis(), lc.LinearTrend(), lc.MagnitudePercentageRatio(), lc.MaximumSlope(), lc.Mean(),
        lc.MedianAbsoluteDeviation(), lc.MedianBufferRangePercentage(quantile=0.1), lc.PercentAmplitude(),
        lc.ReducedChi2(), lc.Skew(), lc.StandardDeviation(), lc.StetsonK(), lc.WeightedMean(),
        lc.Periodogram(peaks=1, resolution=10.0, max_freq_factor=2.0, fast=True),
    )


def curve_features(curves, max_obs: int = 200, ids=None) -> np.ndarray:
    """(n_curves, n_features) float64; a curve the extractor cannot handle raises, naming it."""
    ext = extractor()
    rows = []
    for k, arr in enumerate(curves):
        arr = np.asarray(arr, np.float64)[:max_obs]
        t, m = np.ascontiguousarray(arr[:, 0]), np.ascontiguousarray(arr[:, 1])
        err = np.ascontiguousarray(np.maximum(arr[:, 2], 1e-6)) if arr.shape[1] > 2 else np.full_like(m, 1e-2)
        try:
            rows.append(ext(t, m, err, sorted=True, check=False))
        except Exception as exc:  # the extractor's errors do not say which curve
            name = ids[k] if ids is not None else f"curve #{k}"
            raise ValueError(f"{name}: light-curve features failed ({exc})") from None
    out = np.asarray(rows, np.float64)
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


def fit_random_forest(train_x, train_y, seed: int = 0, n_trees: int = N_TREES):
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(n_estimators=n_trees, random_state=seed, n_jobs=1)
    return model.fit(train_x, train_y)
