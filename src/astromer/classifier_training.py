"""Training and evaluation of the classifiers: Adam, early stopping on validation loss, best weights kept.

The input pipeline is ``tf.data`` over the encoder windows (one window per light curve by default, the
first 200 observations); a head on a frozen encoder trains on embeddings computed once
(``frozen_datasets``). Train and test steps are traced once. A run with ``ckpt_dir`` saves its state
after each epoch (model and optimizer variables, best weights, history) and resumes from it, so a job
killed by Slurm loses at most an epoch.
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
FROZEN_CACHE_BYTES = 1 << 30


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
    features = {k: np.asarray(windows[k], np.float32) for k in WINDOW_INPUTS}
    return _batched(features, labels, batch_size, shuffle, seed)


def frozen_datasets(encoder, windows: dict, labels: dict, batch_size: int, seed: int = 0,
                    shuffle=("train",)) -> dict:
    """{split: ((embeddings, mask_in), labels) batches} for a head trained on a frozen encoder.

    A frozen encoder runs in inference mode, so its embeddings are the same every epoch: computing them
    once, rather than in every training step, gives the same head for a fraction of the cost."""
    import tensorflow as tf

    embed, out = None, {}
    for split, win in windows.items():
        features = {k: np.asarray(win[k], np.float32) for k in WINDOW_INPUTS}
        if embed is None:  # one trace for every split and batch size
            spec = {k: tf.TensorSpec((None,) + v.shape[1:], tf.float32) for k, v in features.items()}
            embed = tf.function(lambda x: encoder(x, training=False), input_signature=[spec])
        n = len(features["input"])
        embeddings = np.concatenate([embed({k: v[i:i + 256] for k, v in features.items()}).numpy()
                                     for i in range(0, max(n, 1), 256)])
        out[split] = _batched((embeddings, features["mask_in"]), labels[split], batch_size, split in shuffle, seed)
    return out


def frozen_cache_fits(n_windows: int, max_obs: int, d_model: int) -> bool:
    """Whether a split's embeddings fit the cache (tf.data holds them in memory, and one constant > 2 GB fails)."""
    return n_windows * max_obs * d_model * 4 <= FROZEN_CACHE_BYTES


def _batched(features, labels, batch_size: int, shuffle: bool, seed: int):
    import tensorflow as tf

    labels = np.asarray(labels, np.int32)
    n = len(tf.nest.flatten(features)[0])
    if len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} windows")
    ds = tf.data.Dataset.from_tensor_slices((features, labels))
    if shuffle:
        ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _compiled_steps(model, element_spec):
    """Train and test steps traced once for any batch size (Keras's train_on_batch traces again for the
    last, smaller batch: two traces of the encoder's graph per run, seconds each on a CPU)."""
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy()

    def correct(y, probs):
        return tf.reduce_sum(tf.cast(tf.equal(tf.argmax(probs, axis=-1, output_type=tf.int32), y), tf.float32))

    def train(x, y):
        with tf.GradientTape() as tape:
            probs = model(x, training=True)
            loss = loss_fn(y, probs)
        variables = model.trainable_variables
        model.optimizer.apply(tape.gradient(loss, variables), variables)
        return loss, correct(y, probs)

    def test(x, y):
        probs = model(x, training=False)
        return loss_fn(y, probs), correct(y, probs)

    signature = list(element_spec)
    return tf.function(train, input_signature=signature), tf.function(test, input_signature=signature)


def _run_epoch(step, dataset):
    """Mean loss and accuracy over one pass of ``step`` (the train step takes gradient steps)."""
    total_loss, correct, count = 0.0, 0.0, 0
    for x, y in dataset:
        loss, hits = step(x, y)
        n = int(y.shape[0])
        total_loss += float(loss) * n
        correct += float(hits)
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
    train_step, test_step = _compiled_steps(model, train_ds.element_spec)
    run_epochs = 0
    while not done and (max_epochs_this_run is None or run_epochs < max_epochs_this_run):
        epoch = history.n_epochs + 1
        began = time.perf_counter()
        loss, acc = _run_epoch(train_step, train_ds)
        val_loss, val_acc = _run_epoch(test_step, val_ds)
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
    import tensorflow as tf

    predict = tf.function(lambda x: model(x, training=False), input_signature=[dataset.element_spec[0]])
    probs = [predict(x).numpy() for x, _ in dataset]
    return np.concatenate(probs).argmax(axis=1) if probs else np.zeros(0, dtype=np.int64)
