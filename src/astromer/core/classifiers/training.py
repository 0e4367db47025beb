"""Training and evaluation of the classifiers: Adam, early stopping on validation loss, best weights kept.

The input pipeline is ``tf.data`` over the encoder windows (one window per light curve by default, the
first 200 observations); a head on a frozen encoder trains on embeddings computed once
(``frozen_datasets``). Train and test steps are traced once; on CPUs each computes its batch in
:data:`CPU_STEP_PARTS` parts that run at once (:func:`step_parts`). Training runs on the shared resumable loop of
:mod:`astromer.core.fitting`: a job killed by Slurm loses at most an epoch, and a state is resumed only by the
same run (settings, data, starting weights: :mod:`astromer.core.resume`).
"""

from __future__ import annotations

import sys

import numpy as np

from ..devices import cpu_calls_in_flight, gpu_visible
from ..fitting import History, fit_loop
from ..preprocessing import ENCODER_INPUTS
from ..resume import Checkpoint, run_key

STATE_FILE = "classifier_state.npz"
FROZEN_CACHE_BYTES = 1 << 30
# On CPUs a step computes its batch in this many parts, each an independent branch of the step's graph that
# TensorFlow runs at once on its own threads (:func:`classifier_threads`). The ops of a classifier step are
# small (d_model 64: its 12 forward matmuls take 6 ms together): on one thread per op the MLP+ATT step took
# 94 ms, on two 63-70 ms. Two halves on one thread per op: MLP+ATT 63 -> 47 ms a step, LSTM+ATT 86 -> 60 ms
# (bench/README.md, "Fifth pass"). A fixed count, not one part per core, so that a run draws the same dropout
# masks on any CPU.
CPU_STEP_PARTS = 2


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

    from ..encoder import call_windows, in_order

    step = call_windows(256)  # at most 16 windows per call on a CPU (astromer.core.encoder.call_windows)
    # on CPUs several calls at once, as encode runs them (one per core when each op has one thread)
    in_flight = 1 if gpu_visible() else cpu_calls_in_flight()
    embed, out = None, {}
    for split, win in windows.items():
        features = {k: np.asarray(win[k], np.float32) for k in ENCODER_INPUTS}
        if embed is None:  # one trace for every split and batch size
            spec = {k: tf.TensorSpec((None,) + v.shape[1:], tf.float32) for k, v in features.items()}
            embed = tf.function(lambda x: encoder(x, training=False), input_signature=[spec])

        def call(features, lo, embed=embed):
            return embed({k: v[lo : lo + step] for k, v in features.items()}).numpy()

        starts = range(0, max(len(features["input"]), 1), step)
        embeddings = np.concatenate(list(in_order(call, [(features, lo) for lo in starts], in_flight)))
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
    ds = ds.batch(batch_size)
    # On a GPU the next batch is made while a step runs. On CPUs the batches are slices of arrays in memory
    # (about 0.5 ms each), and a prefetch thread beside the step's parts made one epoch in two 0.2 s slower
    # (MLP+ATT, 2 cores: 0.62 against 0.43 s; without it every epoch took 0.43 s).
    return ds.prefetch(tf.data.AUTOTUNE) if gpu_visible() else ds


def classifier_threads() -> bool:
    """Before TensorFlow runs anything, in a process that trains classifiers on CPUs: each op on
    cores / :data:`CPU_STEP_PARTS` threads, so that the parts of a step run at once (``astromer classify`` and
    ``lr-search`` call it). Threads set in the environment (``TF_NUM_INTRAOP_THREADS``, as the workflow's
    ``tf_threads`` sets it) are left as set. Returns whether it set them
    (:func:`astromer.core.devices.threads_per_op`)."""
    import os

    from ..devices import threads_per_op, usable_cores

    if os.environ.get("TF_NUM_INTRAOP_THREADS"):
        return False
    return threads_per_op(usable_cores() // CPU_STEP_PARTS)


def step_parts() -> int:
    """The parts a train or test step computes its batch in: :data:`CPU_STEP_PARTS` on CPUs, one on a GPU
    (where one kernel per op over the whole batch is what keeps it busy)."""
    return 1 if gpu_visible() else CPU_STEP_PARTS


def probabilities_in_parts(model, x, training: bool, parts: int):
    """``model(x)`` computed on ``parts`` slices of the batch and concatenated: independent branches of the
    graph, which TensorFlow runs at once. Every layer of the classifiers works window by window, so each
    window gets the whole batch's result; in training each part draws its own dropout masks.

    Each slice has ceil(n / parts) windows and none is empty (a layer may not take an empty batch): a slice
    that would run past the batch's end starts earlier instead, and gives only the windows no slice before
    it gave (an odd batch computes one window twice, and its gradient flows through one copy)."""
    import tensorflow as tf

    if parts == 1:
        return model(x, training=training)
    n = tf.shape(tf.nest.flatten(x)[0])[0]
    size = (n + parts - 1) // parts
    outputs = []
    for i in range(parts):
        start = tf.minimum(i * size, n - size)
        part = tf.nest.map_structure(lambda v, start=start: v[start : start + size], x)
        outputs.append(model(part, training=training)[i * size - start :])
    return tf.concat(outputs, axis=0)


def _compiled_steps(model, element_spec):
    """Train and test steps traced once for any batch size (Keras's train_on_batch traces again for the
    last, smaller batch: two traces of the encoder's graph per run, seconds each on a CPU), each computing
    its batch in :func:`step_parts` parts. Kept on the model, so that :func:`predict_labels` runs the test
    step's graph instead of tracing a third one."""
    import keras
    import tensorflow as tf

    cached = getattr(model, "_astromer_steps", None)
    if cached is not None and cached[0] == element_spec and cached[1] == id(getattr(model, "optimizer", None)):
        return cached[2], cached[3]

    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    parts = step_parts()

    def correct(y, probs):
        return tf.reduce_sum(tf.cast(tf.equal(tf.argmax(probs, axis=-1, output_type=tf.int32), y), tf.float32))

    def train(x, y):
        with tf.GradientTape() as tape:
            probs = probabilities_in_parts(model, x, True, parts)
            loss = loss_fn(y, probs)  # the mean over the whole batch: one gradient step per batch, as before
        variables = model.trainable_variables
        model.optimizer.apply(tape.gradient(loss, variables), variables)
        return loss, correct(y, probs)

    def test(x, y):
        probs = probabilities_in_parts(model, x, False, parts)
        return loss_fn(y, probs), correct(y, probs), probs

    signature = list(element_spec)
    steps = (
        tf.function(train, input_signature=signature, autograph=False),
        tf.function(test, input_signature=signature, autograph=False),
    )
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
