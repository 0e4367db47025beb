"""The masking-leak study (issue 13, item 4): how well does each predictor reconstruct *hidden* magnitudes?

The authors' code keeps a hidden observation's true magnitude in the encoder's input and only adds +1 to
its attention logits (README, legacy/paper table), so an encoder evaluated that way can copy the answer.
Every predictor here is scored on the same maskings of the same real light curves:

- ``published_leaky``: the published weights as their code evaluates them (legacy mode, hidden values in
  the input, +1 logits, window centred on every observation);
- ``published_leak_free``: the same weights with the hidden values removed from the input, excluded from
  attention (-inf key mask), the window centred on visible values and replacements drawn from visible ones;
- encoders of ours (``paper`` mode is leak-free by construction; a ``legacy``-mode encoder is scored both
  ways, like the published weights);
- two trivial predictors that read visible observations only: the window's visible mean, and linear
  interpolation in time between the nearest visible neighbours (the nearest one beyond either end).

The masking is the authors' (targets ``msk_frac`` of each window, of which ``same_frac`` keep their value
and ``rnd_frac`` get another visible value, with the authors' ceil/trunc counts): the same target, same,
random and hidden positions for every row, because every row draws it from the same seed and only the
leak switches differ (they change values, never positions). The score is the RMSE over the hidden
positions pooled over every window (``rmse_hidden``); ``rmse_targets`` is the authors' loss
(``custom_rmse``: every target position, per-window mean) for comparison with their logs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.modes import LEGACY, ModeConfig, get_mode
from ..core.preprocessing import ENCODER_INPUTS, Flat, mask_windows, sequential_starts

# What makes an evaluation leak-free: nothing about a hidden value reaches the encoder.
LEAK_FREE_SWITCHES = {
    "hide_masked_input": True,
    "attention_mask": "exclude",
    "center_on_visible": True,
    "random_from_visible": True,
}
WEIGHTS_NOT_AVAILABLE = "weights not available"
COLUMNS = [
    "predictor",
    "description",
    "encoder",
    "mode_trained",
    "evaluation",
    "curves",
    "simulated",
    "max_obs",
    "n_curves",
    "n_windows",
    "n_hidden",
    "rmse_hidden",
    "rmse_targets",
    "macro_f1_case_a",
    "f1_runs",
    "note",
]


def leak_free(mode) -> ModeConfig:
    """``mode`` with every leak switch off (the network's own switches -- PE, residuals -- unchanged)."""
    mode = get_mode(mode)
    if all(getattr(mode, k) == v for k, v in LEAK_FREE_SWITCHES.items()):
        return mode
    return dataclasses.replace(mode, name=f"{mode.name}-leak-free", **LEAK_FREE_SWITCHES)


def masking_mode(mode) -> ModeConfig:
    """The preprocessing of one row: its own leak switches and raw-time rounding, the authors' mask counts
    (the same positions for every row)."""
    return dataclasses.replace(get_mode(mode), legacy_mask_counts=True)


def curve_windows(flat: Flat, max_obs: int) -> tuple[np.ndarray, np.ndarray]:
    """Every curve's sequential windows (the authors' encode windows; a duplicate last one dropped)."""
    per = [sequential_starts(int(n), max_obs, dedupe=True) for n in flat.lengths]
    index = np.repeat(np.arange(len(flat)), [p.size for p in per])
    starts = np.concatenate(per) if per else np.zeros(0, np.int64)
    return index, starts.astype(np.int64)


def masked(flat: Flat, max_obs: int, mode, seed: int, msk_frac=0.5, rnd_frac=0.2, same_frac=0.2) -> dict:
    """The study's masking of every window of ``flat`` under ``mode``'s preprocessing (see module doc)."""
    index, starts = curve_windows(flat, max_obs)
    return mask_windows(
        flat,
        index,
        starts,
        msk_frac,
        rnd_frac,
        same_frac,
        max_obs=max_obs,
        mode=masking_mode(mode),
        rng=np.random.default_rng(seed),
    )


def hidden_positions(windows: dict) -> np.ndarray:
    """(n, L) True where an observation is a target and hidden from the encoder (not padding)."""
    return (windows["mask_in"][..., 0] > 0) & (windows["mask_out"][..., 0] > 0)


# ------------------------------------------------------------------------------------------ predictors
def visible_mean(windows: dict) -> np.ndarray:
    """(n, L, 1): every position predicted by the mean of the window's visible inputs (``mask_in == 0``)."""
    x, visible = windows["input"][..., 0].astype(np.float64), windows["mask_in"][..., 0] == 0
    count = visible.sum(axis=1)
    mean = np.where(visible, x, 0.0).sum(axis=1) / np.maximum(count, 1)
    return np.repeat(mean[:, None], x.shape[1], axis=1)[..., None].astype(np.float32)


def linear_interpolation(windows: dict) -> np.ndarray:
    """(n, L, 1): linear interpolation in time between the nearest visible inputs on either side (the
    nearest visible value beyond the first/last one); 0 (the window's centre) when nothing is visible."""
    x, t = windows["input"][..., 0], windows["times"][..., 0]
    visible = windows["mask_in"][..., 0] == 0
    out = np.zeros(x.shape, np.float64)
    for i in range(x.shape[0]):
        keep = visible[i]
        if keep.any():  # visible times are increasing (curves are checked sorted)
            out[i] = np.interp(t[i].astype(np.float64), t[i][keep].astype(np.float64), x[i][keep].astype(np.float64))
    return out[..., None].astype(np.float32)


TRIVIAL = {
    "visible_mean": (visible_mean, "the window's mean of visible observations"),
    "linear_interpolation": (
        linear_interpolation,
        "linear interpolation in time between the nearest visible neighbours",
    ),
}


def with_mode(model, mode: ModeConfig):
    """The same weights as ``model`` (a SingleBandEncoder) run under another ModeConfig, e.g.
    :func:`leak_free` of its own: a new Keras model built with that mode, weights copied one to one."""
    import keras

    from ..core.encoder import SingleBandEncoder
    from ..core.layers import Encoder, RegressionHead

    if mode == model.mode:
        return model
    c = model.config
    inputs = {k: keras.Input((c["max_obs"], 1), name=k) for k in ENCODER_INPUTS}
    encoder = Encoder(c["num_layers"], c["d_model"], c["num_heads"], c["dff"], c["dropout"], mode, name="encoder")
    net = keras.Model(inputs, RegressionHead(name="regression")(encoder(inputs)), name="astromer")
    net.set_weights(model.model.get_weights())
    return SingleBandEncoder(**c, model=net)


def predict(model, windows: dict, batch_size: int = 256) -> np.ndarray:
    return model.reconstruct({k: windows[k] for k in ENCODER_INPUTS}, batch_size=batch_size)


def scores(windows: dict, prediction: np.ndarray) -> dict:
    """n_hidden, pooled RMSE over hidden positions, and the authors' custom_rmse over every target."""
    hidden = hidden_positions(windows)
    err = prediction[..., 0].astype(np.float64) - windows["output"][..., 0].astype(np.float64)
    n = int(hidden.sum())
    rmse_hidden = float(np.sqrt(np.mean(err[hidden] ** 2))) if n else float("nan")
    target = windows["mask_out"][..., 0]
    per_window = np.divide(
        (target * err**2).sum(axis=1), target.sum(axis=1), out=np.zeros(len(err)), where=target.sum(axis=1) > 0
    )
    return {
        "n_windows": int(len(err)),
        "n_hidden": n,
        "rmse_hidden": rmse_hidden,
        "rmse_targets": float(np.sqrt(per_window.mean())) if len(err) else float("nan"),
    }


# ------------------------------------------------------------------------------------------ the study
@dataclasses.dataclass
class CurveSet:
    name: str  # what the table says the curves are
    curves: list  # (n, 3) arrays [time, magnitude, error]
    simulated: bool


@dataclasses.dataclass
class EncoderSpec:
    key: str  # row name prefix: published, ours_paper, ours_legacy
    path: str
    mode_trained: str  # the mode its weights were trained in (legacy for the published ones)
    macro_f1: str = ""  # downstream macro F1 of case a, mean ± std over folds ("" when not measured)
    f1_runs: str = ""


def describe_curves(name: str, ids, source: str) -> str:
    ids = [str(i) for i in ids]
    shown = ", ".join(ids[:10]) + (f", ... ({len(ids)} in all)" if len(ids) > 10 else "")
    return f"{name}: {len(ids)} curves from {source} ({shown})"


def _rows_for_model(model, enc: EncoderSpec, curve_set: CurveSet, seed: int, fractions: dict) -> list[dict]:
    flat = Flat.from_arrays(curve_set.curves)
    evaluations = [("own mode", model.mode)]
    if model.mode.name == "legacy":  # as its code evaluates it, then with the leak removed
        evaluations = [
            ("leaky: hidden values in the input, +1 logits", LEGACY),
            ("leak-free: hidden values removed, excluded from attention", leak_free(LEGACY)),
        ]
    rows = []
    for evaluation, mode in evaluations:
        windows = masked(flat, model.max_obs, mode, seed, **fractions)
        net = with_mode(model, mode)
        suffix = "_leaky" if mode == LEGACY else "_leak_free" if model.mode.name == "legacy" else ""
        rows.append(
            {
                "predictor": enc.key + suffix,
                "description": f"{enc.key} encoder, {evaluation}",
                "encoder": enc.path,
                "mode_trained": enc.mode_trained,
                "evaluation": mode.name,
                "max_obs": model.max_obs,
                **scores(windows, predict(net, windows)),
                "macro_f1_case_a": enc.macro_f1,
                "f1_runs": enc.f1_runs,
                "note": "",
            }
        )
    return rows


def _unavailable_rows(enc: EncoderSpec, why: str) -> list[dict]:
    names = [
        ("_leaky", "as its code evaluates it (hidden values visible)"),
        ("_leak_free", "hidden values removed and excluded from attention"),
    ]
    if enc.mode_trained == "paper":
        names = [("", "own mode (leak-free)")]
    return [
        {
            "predictor": enc.key + s,
            "description": f"{enc.key} encoder, {d}",
            "encoder": enc.path,
            "mode_trained": enc.mode_trained,
            "note": why,
        }
        for s, d in names
    ]


def leak_table(
    encoders: list[EncoderSpec],
    curve_sets: list[CurveSet],
    seed: int = 0,
    msk_frac: float = 0.5,
    rnd_frac: float = 0.2,
    same_frac: float = 0.2,
    log=print,
) -> pd.DataFrame:
    """One row per predictor and curve set (see the module doc). An encoder whose weights cannot be read
    gets rows saying ``weights not available``; the others still run."""
    from ..core.encoder import SingleBandEncoder

    fractions = {"msk_frac": msk_frac, "rnd_frac": rnd_frac, "same_frac": same_frac}
    rows, window_sizes = [], []
    for enc in encoders:
        model = None
        if enc.path and Path(enc.path).exists():
            model = SingleBandEncoder.from_pretraining(enc.path)
        for cs in curve_sets:
            common = {"curves": cs.name, "simulated": cs.simulated, "n_curves": len(cs.curves)}
            if model is None:
                log(f"leak: {enc.key}: no weights at {enc.path or '(none given)'}: rows say '{WEIGHTS_NOT_AVAILABLE}'")
                rows += [{**r, **common} for r in _unavailable_rows(enc, WEIGHTS_NOT_AVAILABLE)]
                continue
            rows += [{**r, **common} for r in _rows_for_model(model, enc, cs, seed, fractions)]
            log(f"leak: {enc.key} on {cs.name.split(':')[0]}: done")
        if model is not None and model.max_obs not in window_sizes:
            window_sizes.append(model.max_obs)
    for max_obs in window_sizes or [200]:
        for cs in curve_sets:
            windows = masked(Flat.from_arrays(cs.curves), max_obs, leak_free(LEGACY), seed, **fractions)
            for key, (fn, text) in TRIVIAL.items():
                rows.append(
                    {
                        "predictor": key,
                        "description": text,
                        "encoder": "",
                        "mode_trained": "",
                        "evaluation": "visible observations only",
                        "curves": cs.name,
                        "simulated": cs.simulated,
                        "n_curves": len(cs.curves),
                        "max_obs": max_obs,
                        **scores(windows, fn(windows)),
                        "note": "",
                    }
                )
    table = pd.DataFrame(rows).reindex(columns=COLUMNS)
    for key in ("max_obs", "n_windows", "n_hidden"):  # integers, blank where weights were not available
        table[key] = table[key].astype("Int64")
    return table


def f1_summary(metrics_paths) -> dict:
    """{mode: (mean ± std text, runs text)} of macro F1 over the given classify runs (one per fold)."""
    from .results import read_runs

    if not metrics_paths:
        return {}
    runs = read_runs(metrics_paths)
    out = {}
    for mode, group in runs.groupby("mode"):
        f1 = group["macro_f1"].astype(float)
        std = float(f1.std(ddof=1)) if len(f1) > 1 else 0.0
        label = ", ".join(
            sorted({f"{r.survey} {r.subset}/class {r.classifier} case {r.case}" for r in group.itertuples()})
        )
        out[str(mode)] = (f"{f1.mean():.3f} ± {std:.3f}", f"{label}: {len(f1)} fold(s)")
    return out


def figure(table: pd.DataFrame, out, simulated: bool = False) -> dict:
    """Horizontal bars of ``rmse_hidden`` per predictor, one panel per curve set and window length.
    Rows without a number (weights not available) are drawn as a labelled gap."""
    from .figures import _pyplot, save_figure

    plt = _pyplot()
    groups = list(table.groupby(["curves", "max_obs"], dropna=False, sort=False))
    groups = [(k, g) for k, g in groups if g["rmse_hidden"].notna().any() or len(groups) == 1]
    fig, axes = plt.subplots(len(groups), 1, figsize=(8, 0.45 * len(table) + 1.5 * len(groups)), squeeze=False)
    plotted = {}
    for ax, ((curves, max_obs), group) in zip(axes[:, 0], groups):
        labels = list(group["predictor"])
        values = group["rmse_hidden"].astype(float).to_numpy()
        colors = ["tab:red" if "leaky" in p else "tab:gray" if p in TRIVIAL else "tab:blue" for p in labels]
        ax.barh(range(len(labels)), np.nan_to_num(values), color=colors)
        for y, v in enumerate(values):
            ax.text(
                v if np.isfinite(v) else 0,
                y,
                f" {v:.3f}" if np.isfinite(v) else f" {WEIGHTS_NOT_AVAILABLE}",
                va="center",
                fontsize=8,
            )
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("RMSE at hidden observations (mag)")
        title = str(curves) if len(str(curves)) < 110 else str(curves)[:107] + "..."
        ax.set_title(f"{title}\nwindows of {max_obs:g}" if pd.notna(max_obs) else title, fontsize=8)
        plotted[(curves, max_obs)] = dict(zip(labels, values))
    fig.suptitle("Masked reconstruction: leaky evaluation (red), leak-free encoders (blue), trivial (gray)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, out, simulated)
    return plotted
