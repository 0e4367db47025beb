"""Every figure and table written from small synthetic result files; claims follow the numbers."""
import json

import numpy as np
import pandas as pd
import pytest

from astromer import figures as F
from astromer.experiment_results import by_mode, read_run, read_runs
from astromer.experiments_cli import FIGURES, main

SUBSETS = ["20", "100", "500", "all"]


def write_run(folder, metrics, n_epochs=5, start=1.0):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps(metrics))
    epochs = np.arange(1, n_epochs + 1)
    loss = start / epochs
    pd.DataFrame({"epoch": epochs, "loss": loss, "val_loss": loss * 1.1, "seconds": 0.5}).to_csv(
        folder / "history.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """The workflow's layout. ASTROMER beats the LSTM on alcock (MACHO) but not on ogle; fine-tuning lowers
    RMSE; frozen LSTM+ATT runs fewer epochs than trained. Survey/subset/fold/... come from the paths."""
    root = tmp_path_factory.mktemp("results")
    rng = np.random.default_rng(0)
    classify, finetune = [], []
    for survey, gain in (("alcock", 0.1), ("ogle", -0.1)):
        for subset in SUBSETS:
            for fold in range(2):
                base = 0.5 + 0.01 * SUBSETS.index(subset) + rng.normal(0, 0.01)
                for name in ("lstm", "rf"):
                    d = root / "baseline" / survey / subset / f"fold{fold}" / name
                    classify.append(write_run(d, {"macro_f1": base, "accuracy": base + 0.05, "epochs": 8}))
                for case in "abc":
                    for name in ("lstm_att", "mlp_att"):
                        mode = "frozen" if case == "a" else "trained"
                        d = root / "classify" / "paper" / survey / subset / f"fold{fold}" / f"{name}_{case}"
                        classify.append(write_run(d, {
                            "macro_f1": base + gain, "accuracy": base + gain + 0.05, "encoder_mode": mode,
                            "epochs": 6 if mode == "frozen" else 12}, n_epochs=6 if mode == "frozen" else 12))
                d = root / "finetune" / "paper" / survey / subset / f"fold{fold}"
                finetune.append(write_run(d, {
                    "command": "finetune", "mode": "paper", "test_rmse": 0.2 + rng.random() * 0.01,
                    "initial_val_rmse": 0.4, "best_val_rmse": 0.21, "epochs": 20, "wall_seconds": 30.0}))
    pretrain = write_run(root / "pretrain" / "paper", {"command": "pretrain", "mode": "paper", "test_rmse": 0.25,
                                                       "epochs": 30, "wall_seconds": 100.0}, n_epochs=30)
    for survey in ("alcock", "ogle"):
        for lr in (1e-2, 1e-3):
            write_run(root / "lr_search" / survey / f"lr_{lr:g}", {"lr": lr, "macro_f1": 0.3, "accuracy": 0.3,
                                                                     "epochs": 4}, start=lr * 100)
    npz = root / "proj.npz"
    np.savez(npz, kernel=rng.normal(size=(1, 16)), bias=rng.normal(size=16))
    return {"classify": classify, "finetune": finetune, "pretrain": pretrain,
            "lr": [root / "lr_search" / "alcock", root / "lr_search" / "ogle"], "npz": npz}


def test_run_fields_from_path_and_label(results, tmp_path):
    row = read_run(results["classify"][0] / "metrics.json")
    assert (row["survey"], row["classifier"], row["subset"], row["fold"], row["case"]) == ("alcock", "lstm", "20", 0, None)
    att = read_run(results["classify"][2] / "history.csv")
    assert (att["survey"], att["classifier"], att["case"], att["mode"], att["stage"]) == (
        "alcock", "lstm_att", "a", "paper", "classify")
    ft = read_run(results["finetune"][-1])
    assert (ft["survey"], ft["subset"], ft["fold"], ft["mode"]) == ("ogle", "all", 1, "paper")
    labelled = write_run(tmp_path / "x", {"label": "atlas/50/fold2", "test_rmse": 0.1})
    assert {k: read_run(labelled)[k] for k in ("survey", "subset", "fold")} == {"survey": "atlas", "subset": "50", "fold": 2}


def test_inputs_naming_one_run_twice_count_once(results):
    runs = read_runs([results["classify"][2] / "metrics.json", results["classify"][2] / "history.csv"])
    assert len(runs) == 1
    assert len(read_runs(results["lr"])) == 4  # lr_search/{survey} folders expand to their lr_* runs


def test_by_mode_splits_modes_and_shares_baselines(tmp_path):
    paths = [write_run(tmp_path / "classify" / m / "alcock" / "20" / "fold0" / "mlp_att_a", {"macro_f1": 0.5})
             for m in ("legacy", "paper")]
    paths.append(write_run(tmp_path / "baseline" / "alcock" / "20" / "fold0" / "lstm", {"macro_f1": 0.4}))
    runs = by_mode(read_runs(paths))
    assert sorted(runs["survey"]) == ["alcock [legacy]", "alcock [legacy]", "alcock [paper]", "alcock [paper]"]
    assert (runs["survey_name"] == "alcock").all()


def _inputs(results, name):
    return {"fig8": [results["pretrain"]], "fig9": results["finetune"], "figC1": results["finetune"],
            "fig11": results["classify"], "fig12": results["classify"], "figD1": results["lr"],
            "figA1": [results["npz"], results["npz"]], "table5": [results["pretrain"], *results["finetune"]],
            "accuracy_table": results["classify"], "claims_table": [results["pretrain"], *results["classify"], *[p / "history.csv" for p in results["classify"]], *results["finetune"]],
            "fig2": [results["pretrain"]]}[name]  # the workflow passes encoders/stores: ignored


@pytest.mark.parametrize("name", FIGURES)
def test_every_figure_written(name, results, tmp_path):
    is_table = name.startswith(("table", "accuracy", "claims"))
    out = tmp_path / (f"{name}.csv" if is_table else f"{name}.pdf")
    inputs = [str(p) for p in _inputs(results, name)]
    assert main(["figure", name, "--out", str(out), "--simulated", *(["--inputs", *inputs] if inputs else [])]) == 0
    assert out.stat().st_size > 0
    if is_table:
        table = pd.read_csv(out)
        assert (table["note"] == F.SIMULATED_NOTE).all()
        assert out.with_suffix(".tex").read_text().startswith("\\begin{table}")
    else:
        assert out.read_bytes().startswith(b"%PDF")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left behind


def test_simulated_note_on_face(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "none"  # keep text as text so we can look for it
    for sim in (True, False):
        fig, ax = plt.subplots()
        ax.plot([0, 1])
        F.save_figure(fig, tmp_path / f"f{sim}.svg", simulated=sim)
        assert (F.SIMULATED_NOTE in (tmp_path / f"f{sim}.svg").read_text()) == sim


def test_claims_follow_the_numbers(results):
    table = F.claims_table(results["classify"], results["finetune"])
    above = table[table["claim"].str.startswith("ASTROMER")].set_index(["survey", "case"])["holds"]
    assert all(above[("alcock", c)] == True for c in "abc")  # noqa: E712
    assert all(above[("ogle", c)] == False for c in "abc")  # noqa: E712
    epochs = table[table["claim"].str.startswith("frozen")].set_index("survey")["holds"]
    assert epochs["alcock"] and epochs["ogle"]
    ft = table[table["claim"] == "fine-tuning lowers RMSE"].set_index("survey")["holds"]
    assert ft["alcock"] and ft["ogle"]


def test_finetune_claim_not_evaluable_without_before(tmp_path):
    d = write_run(tmp_path / "macho" / "20" / "fold0", {"command": "finetune", "test_rmse": 0.2})
    table = F.claims_table([], [d])
    assert table["holds"].isna().all() and "not evaluable" in table["evidence"].iloc[0]


def test_accuracy_table_says_not_comparable(results):
    sim = F.accuracy_table(results["classify"], simulated=True)
    assert not sim["comparable"].any() and sim["comment"].str.contains("not comparable").all()
    real = F.accuracy_table(results["classify"], simulated=False)
    row = real[(real["survey"] == "alcock") & (real["classifier"] == "lstm_att") & (real["case"] == "a")].iloc[0]
    assert row["paper_accuracy"] == pytest.approx(0.782) and row["comparable"]
    assert row["subset"] == "all"


def test_table5_means_over_folds(results):
    table = F.table_5([results["pretrain"], *results["finetune"]])
    assert table.iloc[0]["stage"] == "pretrain"
    macho20 = table[(table["survey"] == "alcock") & (table["subset"] == "20")].iloc[0]
    expected = np.mean([read_run(p)["test_rmse"] for p in results["finetune"][:2]])
    assert macho20["test_rmse_mean"] == pytest.approx(expected) and macho20["n_runs"] == 2


def test_positional_encoding_formula():
    t = np.array([0.0, 1.0, 10.0])
    pe = F.positional_encoding(t, d_model=8, base=1000.0)
    assert pe[1, 0] == pytest.approx(np.sin(1.0)) and pe[1, 1] == pytest.approx(np.cos(1000 ** (-2 / 8)))
    assert pe[2, 4] == pytest.approx(np.sin(10 * 1000 ** (-8 / 8)))


def test_real_macho_file_read():
    curve = F.read_macho_tarball(F.default_macho_file(), "R")
    assert curve.shape[1] == 3 and len(curve) > 100 and np.all(np.diff(curve[:, 0]) >= 0)


def test_figure_errors_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no metrics.json"):
        F.figure_9(tmp_path / "x.pdf", [tmp_path])
    with pytest.raises(SystemExit, match="needs --inputs"):
        main(["figure", "fig9", "--out", str(tmp_path / "x.pdf")])
    with pytest.raises(ValueError, match="kernel must be"):
        F.figure_a1(tmp_path / "a.pdf", [("m", np.zeros((2, 3)), np.zeros(3))])


def test_convergence_claim_not_evaluable_when_runs_hit_the_epoch_cap(tmp_path):
    runs = []
    for case, mode in (("a", "frozen"), ("b", "trained")):
        for fold in range(2):
            d = tmp_path / "classify" / "paper" / "alcock" / "20" / f"fold{fold}" / f"lstm_att_{case}"
            runs.append(write_run(d, {"macro_f1": 0.3, "accuracy": 0.3, "encoder_mode": mode, "epochs": 12,
                                      "stopped_early": mode == "trained"}, n_epochs=12))
    row = F.claims_table(runs).set_index("claim").loc["frozen-encoder LSTM+ATT converges in fewer epochs"]
    assert pd.isna(row["holds"]) and "not evaluable" in row["evidence"] and "frozen" in row["evidence"]
