"""Training and evaluation of the classifiers: Adam, early stopping on validation loss, best weights kept.

The input pipeline is ``tf.data`` over the encoder windows (one window per light curve by default, the
first 200 observations); a head on a frozen encoder trains on embeddings computed once
(``frozen_datasets``). Train and test steps are traced once. Training runs on the shared resumable loop of
:mod:`astromer.core.fitting`: a job killed by Slurm loses at most an epoch, and a state is resumed only by the
same run (settings, data, starting weights: :mod:`astromer.core.resume`).
"""

from __future__ import annotations

import sys

import numpy as np

from ..fitting import History, fit_loop
from ..preprocessing import ENCODER_INPUTS
from ..resume import Checkpoint, run_key

STATE_FILE = "classifier_state.npz"
FROZEN_CACHE_BYTES = 1 << 30


HISTORY_COLUMNS = ("epoch", "loss", "val_loss", "accuracy", "val_accuracy", "seconds")


def make_dataset(windows: dict, labels: np.ndarray, batch_size: int, shuffle: bool = False, seed: int = 0):
    """(inputs dict, integer labels) batches; shuffled per epoch with a fixed seed when ``shuffle``."""
    features = {k: np.asarray(windows[k], np.float32) for k in ENCODER_INPUTS}
    return _batched(features, labels, batch_size, shuffle, seed)


def frozen_datasets(encoder, windows: dict, labels: dict, batch_size: int, seed: int = 0, shuffle=("train",)) -> dict:
    """{split: ((embeddings, mask_in), labels) batches} for a head trained on a frozen encoder.

    A frozen encoder runs in inference mode, so its embeddings are the same every epoch: computing them
    once, rather than in every training step, gives the same head for a fraction of the cost."""
    import tensorflow as tf

    from ..encoder import call_windows

    embed, out = None, {}
    for split, win in windows.items():
        features = {k: np.asarray(win[k], np.float32) for k in ENCODER_INPUTS}
        if embed is None:  # one trace for every split and batch size
            spec = {k: tf.TensorSpec((None,) + v.shape[1:], tf.float32) for k, v in features.items()}
            embed = tf.function(lambda x: encoder(x, training=False), input_signature=[spec])
        n = len(features["input"])
        step = call_windows(256)  # at most 16 windows per call on a CPU (astromer.core.encoder.call_windows)
        embeddings = np.concatenate(
            [embed({k: v[i : i + step] for k, v in features.items()}).numpy() for i in range(0, max(n, 1), step)]
        )
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
    last, smaller batch: two traces of the encoder's graph per run, seconds each on a CPU). Kept on the
    model, so that :func:`predict_labels` runs the test step's graph instead of tracing a third one."""
    import keras
    import tensorflow as tf

    cached = getattr(model, "_astromer_steps", None)
    if cached is not None and cached[0] == element_spec and cached[1] == id(getattr(model, "optimizer", None)):
        return cached[2], cached[3]

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
        return loss_fn(y, probs), correct(y, probs), probs

    signature = list(element_spec)
    steps = tf.function(train, input_signature=signature), tf.function(test, input_signature=signature)
    # object.__setattr__: kept out of Keras' attribute tracking (not weights, not saved)
    object.__setattr__(model, "_astromer_steps", (element_spec, id(getattr(model, "optimizer", None)), *steps))
    return steps


def _run_epoch(step, dataset):
    """Mean loss and accuracy over one pass of ``step`` (the train step takes gradient steps)."""
    total_loss, correct, count = 0.0, 0.0, 0
    for x, y in dataset:
        loss, hits = step(x, y)[:2]
        n = int(y.shape[0])
        total_loss += float(loss) * n
        correct += float(hits)
        count += n
    return total_loss / max(count, 1), correct / max(count, 1)


def fit_classifier(
    model,
    train_ds,
    val_ds,
    epochs: int = 100000,
    patience: int = 20,
    lr: float = 1e-3,
    ckpt_dir=None,
    settings=None,
    data=None,
    restart: bool = False,
    log=None,
    max_epochs_this_run: int | None = None,
) -> History:
    """Adam on sparse categorical cross-entropy; stops after ``patience`` epochs without a lower validation
    loss; the model ends with the best epoch's weights. With ``ckpt_dir`` an interrupted run resumes, if its
    state has the same key: ``settings`` and ``data`` (what the caller loaded: digests of the curves, labels and
    encoder file) and the model's starting weights."""
    from ..optimizer import Adam

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    model.compile(optimizer=Adam(learning_rate=lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.optimizer.build(model.trainable_variables)
    key = run_key({"epochs": epochs, "patience": patience, "lr": lr, "run": settings}, data, model.get_weights())
    checkpoint = Checkpoint(ckpt_dir, key, log, restart=restart, filename=STATE_FILE) if ckpt_dir else None
    train_step, test_step = _compiled_steps(model, train_ds.element_spec)

    def train_epoch(epoch):
        loss, acc = _run_epoch(train_step, train_ds)
        return {"loss": loss, "accuracy": acc}

    def validate():
        val_loss, val_acc = _run_epoch(test_step, val_ds)
        return {"val_loss": val_loss, "val_accuracy": val_acc}

    return fit_loop(
        model,
        model.optimizer,
        train_epoch,
        validate,
        epochs=epochs,
        patience=patience,
        checkpoint=checkpoint,
        log=log,
        max_epochs_this_run=max_epochs_this_run,
    )


def predict_labels(model, dataset) -> np.ndarray:
    """Argmax class index per window (the test step of :func:`fit_classifier` when the model has one)."""
    _, test = _compiled_steps(model, dataset.element_spec)
    probs = [test(x, y)[2].numpy() for x, y in dataset]
    return np.concatenate(probs).argmax(axis=1) if probs else np.zeros(0, dtype=np.int64)
