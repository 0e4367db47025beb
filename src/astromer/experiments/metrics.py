"""Classification metrics as tables: macro F1, accuracy, per-class report, confusion matrix.

Plain numpy, so the tests can check them against scikit-learn. Labels are compared as strings; the
class order is ``labels`` when given, else the sorted union of true and predicted labels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _labels(y_true, y_pred, labels=None) -> list:
    if labels is not None:
        return list(labels)
    return sorted(set(np.asarray(y_true).tolist()) | set(np.asarray(y_pred).tolist()))


def confusion(y_true, y_pred, labels=None) -> pd.DataFrame:
    """Counts; rows = true class, columns = predicted class."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape")
    names = _labels(y_true, y_pred, labels)
    pos = {name: i for i, name in enumerate(names)}
    counts = np.zeros((len(names), len(names)), dtype=np.int64)
    for t, p in zip(y_true.tolist(), y_pred.tolist()):
        if t in pos and p in pos:
            counts[pos[t], pos[p]] += 1
    return pd.DataFrame(counts, index=pd.Index(names, name="true"), columns=pd.Index(names, name="predicted"))


def _safe_divide(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


def per_class_report(y_true, y_pred, labels=None) -> pd.DataFrame:
    """precision, recall, f1 and support per class (0 where undefined, as scikit-learn's zero_division=0)."""
    cm = confusion(y_true, y_pred, labels).to_numpy()
    tp = np.diag(cm).astype(float)
    precision = _safe_divide(tp, cm.sum(axis=0))
    recall = _safe_divide(tp, cm.sum(axis=1))
    f1 = _safe_divide(2 * precision * recall, precision + recall)
    return pd.DataFrame(
        {
            "label": _labels(y_true, y_pred, labels),
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": cm.sum(axis=1),
        }
    )


def macro_f1(y_true, y_pred, labels=None) -> float:
    return float(per_class_report(y_true, y_pred, labels)["f1"].mean())


def accuracy(y_true, y_pred) -> float:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.size == 0:
        raise ValueError("accuracy of an empty set")
    return float(np.mean(y_true == y_pred))


def summary(y_true, y_pred, labels=None) -> dict:
    return {
        "macro_f1": macro_f1(y_true, y_pred, labels),
        "accuracy": accuracy(y_true, y_pred),
        "n_test": int(len(y_true)),
    }
