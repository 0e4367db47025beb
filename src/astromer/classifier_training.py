"""Training and evaluation of the classifiers: Adam, early stopping on validation loss, best weights kept.

The input pipeline is ``tf.data`` over the encoder windows (one window per light curve by default, the
first 200 observations). A run with ``ckpt_dir`` saves its state after each epoch (model and optimizer
variables, best weights, history) and resumes from it, so a job killed by Slurm loses at most an epoch.
"""
from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

from .training import atomic_savez

from .classifiers import WINDOW_INPUTS

STATE_FILE = "classifier_state.npz"


@dataclasses.dataclass
class ClassifierHistory:
    epochs: list = dataclasses.field(default_factory=list)  # dicts: epoch, loss, val_loss, accuracy, val_accuracy, seconds
    best_epoch: int = 0
    best_val_loss: float = float("inf")
    stopped_early: bool = False
    resumed_from: int | None = None

    @property
    def n_epochs(self) -> int:
        return len(self.epochs)

    def to_frame(self):
        import pandas as pd

        cols = ["epoch", "loss", "val_loss", "accuracy", "val_accuracy", "seconds"]
        return pd.DataFrame(self.epochs, columns=cols)


def make_dataset(windows: dict, labels: np.ndarray, batch_size: int, shuffle: bool = False, seed: int = 0):
    """(inputs dict, integer labels) batches; shuffled per epoch with a fixed seed when ``shuffle``."""
    import tensorflow as tf

    features = {k: np.asarray(windows[k], np.float32) for k in WINDOW_INPUTS}
    labels = np.asarray(labels, np.int32)
    if len(labels) != len(features["input"]):
        raise ValueError(f"{len(labels)} labels for {len(features['input'])} windows")
    ds = tf.data.Dataset.from_tensor_slices((features, labels))
    if shuffle:
        ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _run_epoch(model, dataset, train: bool):
    """Mean loss and accuracy over one pass (train: with gradient steps)."""
    total_loss, correct, count = 0.0, 0, 0
    for x, y in dataset:
        out = model.train_on_batch(x, y, return_dict=True) if train else model.test_on_batch(x, y, return_dict=True)
        n = int(y.shape[0])
        total_loss += float(out["loss"]) * n
        correct += float(out["accuracy"]) * n
        count += n
    return total_loss / max(count, 1), correct / max(count, 1)


def _save_state(path: Path, model, best_weights, history: ClassifierHistory, wait: int, fingerprint: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"model_{i}": np.asarray(v.numpy()) for i, v in enumerate(model.variables)}
    arrays.update({f"opt_{i}": np.asarray(v.numpy()) for i, v in enumerate(model.optimizer.variables)})
    arrays.update({f"best_{i}": w for i, w in enumerate(best_weights)})
    meta = {"fingerprint": fingerprint, "wait": wait, "n_best": len(best_weights),
            "history": dataclasses.asdict(history)}
    atomic_savez(path, meta, arrays)


def _load_state(path: Path, model, fingerprint: str):
    with np.load(path, allow_pickle=False) as state:
        meta = json.loads(str(state["meta"]))
        if meta["fingerprint"] != fingerprint:
            raise ValueError(f"{path}: resume state of a different run (settings changed); delete it to restart")
        for prefix, variables in (("model", model.variables), ("opt", model.optimizer.variables)):
            for i, variable in enumerate(variables):
                key = f"{prefix}_{i}"
                if key not in state or tuple(state[key].shape) != tuple(variable.shape):
                    raise ValueError(f"{path}: the resume state does not match this model ({key})")
                variable.assign(state[key])
        best = [state[f"best_{i}"] for i in range(meta["n_best"])]
    history = ClassifierHistory(**meta["history"])
    return best, history, meta["wait"]


def fit_classifier(model, train_ds, val_ds, epochs: int = 100000, patience: int = 20, lr: float = 1e-3,
                   ckpt_dir=None, fingerprint: str = "", log=None,
                   max_epochs_this_run: int | None = None) -> ClassifierHistory:
    """Adam on sparse categorical cross-entropy; stops after ``patience`` epochs without a lower validation
    loss; the model ends with the best epoch's weights. Resumes from ``ckpt_dir`` when a state is there."""
    import keras

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.optimizer.build(model.trainable_variables)
    history = ClassifierHistory()
    best_weights = [np.asarray(w) for w in model.get_weights()]
    wait = 0
    state_path = Path(ckpt_dir) / STATE_FILE if ckpt_dir else None
    if state_path is not None and state_path.is_file():
        best_weights, history, wait = _load_state(state_path, model, fingerprint)
        history.resumed_from = history.n_epochs
        log(f"resuming from {state_path} after epoch {history.n_epochs}")
    done = history.stopped_early or history.n_epochs >= epochs
    run_epochs = 0
    while not done and (max_epochs_this_run is None or run_epochs < max_epochs_this_run):
        epoch = history.n_epochs + 1
        began = time.perf_counter()
        loss, acc = _run_epoch(model, train_ds, train=True)
        val_loss, val_acc = _run_epoch(model, val_ds, train=False)
        seconds = round(time.perf_counter() - began, 3)
        history.epochs.append({"epoch": epoch, "loss": loss, "val_loss": val_loss, "accuracy": acc,
                               "val_accuracy": val_acc, "seconds": seconds})
        if val_loss < history.best_val_loss:
            history.best_val_loss, history.best_epoch, wait = val_loss, epoch, 0
            best_weights = [np.asarray(w) for w in model.get_weights()]
        else:
            wait += 1
        if wait >= patience:
            history.stopped_early = True
        done = history.stopped_early or history.n_epochs >= epochs
        log(f"epoch {epoch:4d}  loss {loss:.4f}  val_loss {val_loss:.4f}  val_acc {val_acc:.3f}  "
            f"best {history.best_val_loss:.4f}@{history.best_epoch}  {seconds:.1f} s")
        if state_path is not None:
            _save_state(state_path, model, best_weights, history, wait, fingerprint)
        run_epochs += 1
    if done:
        model.set_weights(best_weights)
    return history


def predict_labels(model, dataset) -> np.ndarray:
    """Argmax class index per window."""
    import keras

    probs = [keras.ops.convert_to_numpy(model(x, training=False)) for x, _ in dataset]
    return np.concatenate(probs).argmax(axis=1) if probs else np.zeros(0, dtype=np.int64)
