"""Fig. 6 (magnitude and Δt distributions, labeled vs unlabeled) and Fig. B.1 (lengths), as PDF.

Any figure drawn from a store whose provenance says ``simulated`` carries "SIMULATED DATA" on its face.
"""

from __future__ import annotations

import numpy as np

from ..data.store import LightCurveStore, inner_dt
from .figures import _pyplot, save_figure


def _dt_and_mag(store: LightCurveStore):
    _, offsets, time, mag, _ = store.load_flat()
    return inner_dt(offsets, time), mag, np.diff(offsets)


def _finish(fig, stores, out) -> bool:
    """Lay out and save through the figures' one writer ("SIMULATED DATA" on its face when any store is
    simulated; atomic; closes the figure). True when stamped."""
    fig.tight_layout()
    simulated = any(s.simulated for s in stores)
    save_figure(fig, out, simulated)
    return simulated


def figure6(unlabeled: LightCurveStore, labeled: dict[str, LightCurveStore], out) -> bool:
    plt = _pyplot()
    fig, (ax_mag, ax_dt) = plt.subplots(1, 2, figsize=(10, 4))
    series = {"unlabeled": unlabeled, **labeled}
    for name, store in series.items():
        dt, mag, _ = _dt_and_mag(store)
        style = dict(histtype="step", density=True, bins=60, lw=2 if name == "unlabeled" else 1.2)
        ax_mag.hist(mag, label=f"{name} ({store.metadata['survey'].iloc[0]})", **style)
        positive = dt[dt > 0]
        ax_dt.hist(np.log10(positive), label=name, **style)
    ax_mag.set_xlabel("magnitude")
    ax_mag.set_ylabel("density")
    ax_dt.set_xlabel(r"$\log_{10}\,\Delta t$ [days]")
    ax_mag.legend(fontsize=8)
    ax_dt.legend(fontsize=8)
    fig.suptitle("Magnitude and time-difference distributions (Fig. 6)")
    return _finish(fig, series.values(), out)


def figure_b1(stores: dict[str, LightCurveStore], out) -> bool:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, store in stores.items():
        _, _, lengths = _dt_and_mag(store)
        ax.hist(lengths, bins=60, histtype="step", label=f"{name} (median {np.median(lengths):.0f})")
    ax.set_xlabel("observations per light curve")
    ax.set_ylabel("number of light curves")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.set_title("Light-curve lengths (Fig. B.1)")
    return _finish(fig, stores.values(), out)
