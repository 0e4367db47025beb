"""White-noise filter counts, split determinism/exactness, leak check, small-class report."""

import json

import numpy as np
import pandas as pd
import pytest

from astromer import cli
from astromer.data.filtering import white_noise_filter
from astromer.data.splits import (
    SplitError,
    check_labeled_splits,
    check_pretrain_split,
    labeled_splits,
    pretrain_split,
    read_split,
    write_labeled_splits,
)
from astromer.data.store import LightCurveStore
from astromer.errors import RunInputError


def main(argv):  # `astromer data ARGV`
    return cli.main(["data", *argv])


def _flat(curves):
    offsets = np.concatenate([[0], np.cumsum([len(c) for c in curves])])
    return offsets, np.concatenate(curves)


def test_filter_keeps_any_sign_of_variability():
    rng = np.random.default_rng(0)
    flat = rng.normal(0, 0.02, 500)  # white noise: removed
    big = 0.5 * np.sin(np.linspace(0, 40, 500))  # std > 0.1 only
    spiky = rng.normal(0, 0.01, 500)
    spiky[::100] += 0.5  # kurtosis and skewness, small std
    skewed = rng.exponential(0.03, 500)  # skewness > 1, small std
    offsets, mag = _flat([flat, big, spiky, skewed])
    kept, log = white_noise_filter(["flat", "big", "spiky", "skewed"], offsets, mag)
    assert list(kept) == ["big", "spiky", "skewed"]
    assert log["n_removed"] == 1 and log["conditions"]["std_gt"]["only_this_condition"] == 1
    assert log["conditions"]["abs_kurtosis_gt"]["satisfied"] == 1
    kept_all, _ = white_noise_filter(["flat", "big", "spiky", "skewed"], offsets, mag, combine="all")
    assert list(kept_all) == []
    literal, _ = white_noise_filter(["flat", "big", "spiky", "skewed"], offsets, mag, reading="literal")
    assert list(literal) == ["flat"]
    # moments agree with scipy
    from scipy import stats

    from astromer.data.filtering import curve_moments

    s, sk, ku = curve_moments(offsets, mag)
    assert np.isclose(sk[3], stats.skew(skewed)) and np.isclose(ku[2], stats.kurtosis(spiky))


def test_pretrain_split_exact_and_deterministic(tmp_path):
    ids = [f"o{i}" for i in range(1001)]
    a, b = pretrain_split(ids, 5), pretrain_split(ids[::-1], 5)
    assert a.equals(b)
    assert a["split"].value_counts().to_dict() == {"train": 600, "val": 200, "test": 201}
    assert not pretrain_split(ids, 6).equals(a)
    a.to_csv(tmp_path / "p.csv", index=False)
    assert check_pretrain_split(ids, tmp_path / "p.csv")["ok"]


def _labels(sizes):
    ids, labels = [], []
    for lab, n in sizes.items():
        ids += [f"{lab}-{i}" for i in range(n)]
        labels += [lab] * n
    return ids, labels


def _store(tmp_path, sizes):
    ids, labels = _labels(sizes)
    arrays = [np.array([[0.0, 1.0, 0.1], [1.0, 1.0, 0.1]])] * len(ids)
    meta = pd.DataFrame({"id": ids, "survey": "s", "band": "R", "label": labels})
    return LightCurveStore.write(tmp_path / "store", ids, arrays, meta, {})


def test_labeled_splits_counts_nesting_and_bytes(tmp_path):
    sizes = {"A": 700, "B": 260, "C": 90}
    store = _store(tmp_path, sizes)
    ids, labels = _labels(sizes)
    kw = dict(seed=3, folds=3, test_per_class=100, subsets=["20", "50", "100", "500", "all"], val_fraction=0.2)
    report = write_labeled_splits(ids, labels, tmp_path / "s1", **kw)
    write_labeled_splits(ids[::-1], labels[::-1], tmp_path / "s2", **kw)
    for f in sorted((tmp_path / "s1").rglob("*.csv")):
        assert f.read_bytes() == (tmp_path / "s2" / f.relative_to(tmp_path / "s1")).read_bytes()
    t100 = pd.read_csv(tmp_path / "s1/fold0/100.csv")
    counts = t100.groupby(["label", "split"]).size().to_dict()
    assert counts == {
        ("A", "train"): 80,
        ("A", "val"): 20,
        ("A", "test"): 100,
        ("B", "train"): 80,
        ("B", "val"): 20,
        ("B", "test"): 100,
    }
    all_ = pd.read_csv(tmp_path / "s1/fold0/all.csv")
    assert (all_.label == "A").sum() == 700 and (all_.label == "B").sum() == 260
    # subsets nest and test sets match
    t20 = pd.read_csv(tmp_path / "s1/fold0/20.csv")
    assert set(t20[t20.split != "test"].id) <= set(t100[t100.split != "test"].id)
    assert set(t20[t20.split == "test"].id) == set(t100[t100.split == "test"].id)
    # class C is too small for any test set; B too small for 500: reported, not shrunk
    small = {(e["class"], e["subset"]) for e in report["too_small"]}
    assert ("C", "test") in small and ("B", "500") in small and ("A", "500") not in small
    assert "C" not in set(all_.label)
    assert set(pd.read_csv(tmp_path / "s1/fold1/500.csv").label) == {"A"}
    # folds differ
    f1 = pd.read_csv(tmp_path / "s1/fold1/100.csv")
    assert set(f1[f1.split == "test"].id) != set(t100[t100.split == "test"].id)
    assert check_labeled_splits(store.metadata, tmp_path / "s1")["ok"]
    with pytest.raises(SplitError, match="'C'"):
        labeled_splits(ids, labels, on_small="fail", **kw)


def test_checker_catches_planted_leak_and_count_error(tmp_path):
    sizes = {"A": 300, "B": 300}
    store = _store(tmp_path, sizes)
    ids, labels = _labels(sizes)
    write_labeled_splits(
        ids, labels, tmp_path / "s", seed=0, folds=2, test_per_class=100, subsets=["20", "all"], val_fraction=0.2
    )
    path = tmp_path / "s/fold1/20.csv"
    table = pd.read_csv(path)
    test_id = table[table.split == "test"].id.iloc[0]
    train_row = table.index[table.split == "train"][0]
    table.loc[train_row, "id"] = test_id  # the same object in train and test
    table.to_csv(path, index=False)
    report = check_labeled_splits(store.metadata, tmp_path / "s")
    assert not report["ok"]
    assert any("more than one part" in e for e in report["errors"])
    rc = main(
        [
            "check-splits",
            "--store",
            str(store.path),
            "--split-dir",
            str(tmp_path / "s"),
            "--out",
            str(tmp_path / "r.json"),
        ]
    )
    assert rc == 1 and json.loads((tmp_path / "r.json").read_text())["ok"] is False
    # dropping a row is a count error
    write_labeled_splits(
        ids, labels, tmp_path / "t", seed=0, folds=1, test_per_class=100, subsets=["20"], val_fraction=0.2
    )
    t = pd.read_csv(tmp_path / "t/fold0/20.csv")
    t.iloc[1:].to_csv(tmp_path / "t/fold0/20.csv", index=False)
    assert any("counts" in e for e in check_labeled_splits(store.metadata, tmp_path / "t")["errors"])


def test_folds_test_sets_disjoint_where_the_class_allows(tmp_path):
    # A has 3 x 100 + 40 objects: three disjoint test sets; B (250 < 300) overlaps, and the report says how much
    sizes = {"A": 340, "B": 250}
    store = _store(tmp_path, sizes)
    ids, labels = _labels(sizes)
    report = write_labeled_splits(
        ids, labels, tmp_path / "s", seed=5, folds=3, test_per_class=100, subsets=["20", "all"], val_fraction=0.2
    )
    tests = [pd.read_csv(tmp_path / f"s/fold{k}/20.csv").query("split == 'test'") for k in range(3)]
    a = [set(t[t.label == "A"].id) for t in tests]
    assert all(len(x) == 100 for x in a)
    assert not (a[0] & a[1] or a[0] & a[2] or a[1] & a[2])
    b = [set(t[t.label == "B"].id) for t in tests]
    shared = report["test_overlap"]["B"]["shared"]
    assert shared == {"fold0&fold1": len(b[0] & b[1]), "fold0&fold2": len(b[0] & b[2]), "fold1&fold2": len(b[1] & b[2])}
    assert sum(shared.values()) == 3 * 100 - 250  # spread as evenly as 250 objects allow
    assert "A" not in report["test_overlap"]
    # a fold's test objects never reach its own train/val, in any subset
    for k in range(3):
        table = pd.read_csv(tmp_path / f"s/fold{k}/all.csv")
        assert not set(table[table.split == "test"].id) & set(table[table.split != "test"].id)
    checked = check_labeled_splits(store.metadata, tmp_path / "s")
    assert checked["ok"] and checked["test_overlap"]["B"]["n_objects"] == 250
    # the checker catches two folds sharing a test object of a class big enough to keep them apart
    for subset in ("20", "all"):
        path = tmp_path / f"s/fold1/{subset}.csv"
        table = pd.read_csv(path)
        row = table.index[(table.split == "test") & (table.label == "A")][0]
        victim = table.loc[row, "id"]
        other = sorted(a[0])[0]
        table.loc[table.id == other, "id"] = victim  # keep fold1's own parts consistent
        table.loc[row, "id"] = other
        table.to_csv(path, index=False)
    errors = check_labeled_splits(store.metadata, tmp_path / "s")["errors"]
    assert any("folds 0 and 1 share" in e for e in errors), errors


def test_too_small_class_is_in_the_split_report(tmp_path):
    sizes = {"A": 200, "B": 150, "C": 70}
    store = _store(tmp_path, sizes)
    ids, labels = _labels(sizes)
    write_labeled_splits(
        ids, labels, tmp_path / "s", seed=0, folds=2, test_per_class=40, subsets=["20", "100", "all"], val_fraction=0.2
    )
    out = tmp_path / "splits_x.json"
    assert (
        main(["check-splits", "--store", str(store.path), "--split-dir", str(tmp_path / "s"), "--out", str(out)]) == 0
    )
    report = json.loads(out.read_text())
    small = {(e["class"], e["subset"], e["fold"]) for e in report["too_small"]}
    # C (70) cannot give 40 test + 100 training objects: left out of subset 100 in both folds, and said so
    assert small == {("C", "100", 0), ("C", "100", 1)}
    assert report["class_sizes"] == {"A": 200, "B": 150, "C": 70}
    assert set(pd.read_csv(tmp_path / "s/fold0/100.csv").label) == {"A", "B"}


def test_read_split_one_reader_for_both_tables(tmp_path):
    class Store:  # the reader only asks the store for its ids
        metadata = pd.DataFrame({"id": ["a", "b", "c", "d"]})

    plain = tmp_path / "plain.csv"
    plain.write_text("id,split\nc,train\na,val\nb,train\n")
    assert read_split(plain, Store) == {"train": ["c", "b"], "val": ["a"]}  # table order; absent parts left out
    labeled = tmp_path / "labeled.csv"
    labeled.write_text("id,label,split\nc,RRL,train\na,EB,val\nb,EB,test\n")
    parts = read_split(labeled, Store, labels=True)
    assert {k: (ids, list(lab)) for k, (ids, lab) in parts.items()} == {
        "train": (["c"], ["RRL"]),
        "val": (["a"], ["EB"]),
        "test": (["b"], ["EB"]),
    }
    bad = {
        "id,split\na,training\n": r"unknown split values \['training'\]",
        "id,split\nzz,train\n": r"1 ids not in the store, e.g. \['zz'\]",
        "id,label\na,EB\n": r"missing columns \['split'\] \(need id,split\)",
    }
    for text, message in bad.items():
        plain.write_text(text)
        with pytest.raises(RunInputError, match=f"plain.csv: {message}"):
            read_split(plain, Store)
    plain.write_text("id,split\na,train\n")
    with pytest.raises(RunInputError, match=r"plain.csv: missing columns \['label'\] \(need id,label,split\)"):
        read_split(plain, Store, labels=True)
    labeled.write_text("id,label,split\nc,RRL,train\na,,val\nb,EB,test\n")
    with pytest.raises(RunInputError, match="labeled.csv: 1 rows without a label"):
        read_split(labeled, Store, labels=True)
    labeled.write_text("id,label,split\nc,RRL,train\nb,EB,test\n")
    with pytest.raises(RunInputError, match="labeled.csv: no 'val' rows"):
        read_split(labeled, Store, labels=True)
    with pytest.raises(RunInputError, match="missing.csv: cannot read the split table"):
        read_split(tmp_path / "missing.csv", Store)
