"""Our metrics against scikit-learn on a small example with an absent prediction and a never-true class."""

import numpy as np
import pytest
from sklearn import metrics as skm

from astromer.experiments import metrics as M

Y_TRUE = np.array(["RRab", "RRab", "Cep", "EB", "EB", "EB", "LPV", "Cep", "RRab", "EB"])
Y_PRED = np.array(["RRab", "EB", "Cep", "EB", "RRab", "EB", "EB", "LPV", "RRab", "DSCT"])
LABELS = ["Cep", "DSCT", "EB", "LPV", "RRab"]


def test_macro_f1_and_accuracy_match_sklearn():
    assert M.macro_f1(Y_TRUE, Y_PRED, LABELS) == pytest.approx(
        skm.f1_score(Y_TRUE, Y_PRED, labels=LABELS, average="macro", zero_division=0)
    )
    assert M.accuracy(Y_TRUE, Y_PRED) == pytest.approx(skm.accuracy_score(Y_TRUE, Y_PRED))
    assert M.macro_f1(Y_TRUE, Y_PRED) == pytest.approx(skm.f1_score(Y_TRUE, Y_PRED, average="macro", zero_division=0))


def test_report_matches_sklearn():
    report = M.per_class_report(Y_TRUE, Y_PRED, LABELS)
    p, r, f, s = skm.precision_recall_fscore_support(Y_TRUE, Y_PRED, labels=LABELS, zero_division=0)
    np.testing.assert_allclose(report["precision"], p)
    np.testing.assert_allclose(report["recall"], r)
    np.testing.assert_allclose(report["f1"], f)
    np.testing.assert_array_equal(report["support"], s)
    assert report["label"].tolist() == LABELS


def test_confusion_matches_sklearn():
    cm = M.confusion(Y_TRUE, Y_PRED, LABELS)
    np.testing.assert_array_equal(cm.to_numpy(), skm.confusion_matrix(Y_TRUE, Y_PRED, labels=LABELS))
    assert cm.index.tolist() == LABELS and cm.columns.tolist() == LABELS
    assert cm.loc["EB", "RRab"] == 1  # rows true, columns predicted


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="shape"):
        M.confusion(Y_TRUE, Y_PRED[:-1])
    with pytest.raises(ValueError, match="empty"):
        M.accuracy([], [])
