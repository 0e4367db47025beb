"""Training and evaluation of the classifiers: Adam, early stopping on validation loss, best weights kept.

The input pipeline is ``tf.data`` over the encoder windows (one window per light curve by default, the
first 200 observations); a head on a frozen encoder trains on embeddings computed once
(``frozen_datasets``). Train and test steps are traced once, for one batch shape (a smaller last batch is
filled up with copies its loss leaves out: :func:`_fixed_batches`); on CPUs each computes its batch in
:data:`CPU_STEP_PARTS` parts that run at once (:func:`step_parts`). Training runs on the shared resumable loop of
:mod:`astromer.core.fitting`: a job killed by Slurm loses at most an epoch, and a state is resumed only by the
same run (settings, data, starting weights: :mod:`astromer.core.resume`).
"""

from __future__ import annotations

import sys

import numpy as np

from ..devices import cpu_calls_in_flight, gpu_visible
from ..fitting import History, fit_loop
from ..preprocessing import ENCODER_INPUTS, without_autotune
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


# set on the datasets made here: the compiled steps' batch size (:func:`_step_size`)
_BATCH_SIZE_ATTRIBUTE = "_astromer_batch_size"
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

    from ..encoder import call_rows, call_windows, in_order

    step = call_windows(256)  # at most 16 windows per call on a CPU (astromer.core.encoder.call_windows)
    # on CPUs several calls at once, as encode runs them (one per core when each op has one thread)
    in_flight = 1 if gpu_visible() else cpu_calls_in_flight()
    embed, out = None, {}
    for split, win in windows.items():
        features = {k: np.asarray(win[k], np.float32) for k in ENCODER_INPUTS}
        if embed is None:  # one trace for every split and batch size
            spec = {k: tf.TensorSpec((None,) + v.shape[1:], tf.float32) for k, v in features.items()}
            embed = tf.function(lambda x: encoder(x, training=False), input_signature=[spec])

        n = len(features["input"])

        def call(features, lo, embed=embed, n=n):
            hi = min(n, lo + step)
            rows = call_rows(lo, hi, step, n)  # one shape for every call
            return embed({k: v[rows] for k, v in features.items()}).numpy()[: hi - lo]

        starts = range(0, max(n, 1), step)
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
    # The next batch is made while a step runs. No autotuning thread: deleting an epoch's iterator waited for
    # it (MLP+ATT, 2 cores: 0.2 s in one epoch out of two or three, up to 1 s after the first; 0.62 against
    # 0.43 s an epoch, which the fifth pass took for the prefetch's cost: with autotuning off, CPU epochs take
    # 0.4 s with or without the prefetch).
    ds = without_autotune(ds.prefetch(tf.data.AUTOTUNE))
    setattr(ds, _BATCH_SIZE_ATTRIBUTE, int(batch_size))  # the steps' shape, known without iterating
    return ds


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
    n = tf.nest.flatten(x)[0].shape[0]  # static in the compiled steps: the slices are constants
    if n is None:
        n = tf.shape(tf.nest.flatten(x)[0])[0]
    size = (n + parts - 1) // parts
    outputs = []
    for i in range(parts):
        start = min(i * size, n - size) if isinstance(n, int) else tf.minimum(i * size, n - size)
        part = tf.nest.map_structure(lambda v, start=start: v[start : start + size], x)
        outputs.append(model(part, training=training)[i * size - start :])
    return tf.concat(outputs, axis=0)


def _step_size(dataset) -> int:
    """The windows every compiled step takes: the batch size of a dataset made here, else the dataset's first
    batch (the largest: only the last is smaller). Reading that batch starts an iteration, which would move
    a reshuffling dataset on to its next order: the datasets made here say their size instead."""
    import tensorflow as tf

    size = getattr(dataset, _BATCH_SIZE_ATTRIBUTE, None)
    if size is None:
        first = next(iter(dataset), None)
        size = 1 if first is None else int(tf.nest.flatten(first)[0].shape[0])
    return size


def _fixed_batches(dataset, size: int):
    """``(x, y, n)`` batches of exactly ``size`` windows, the first ``n`` of them real: a smaller batch is
    filled up with copies of its own windows (real data, so that no padded value can be NaN), a larger one
    is cut. The steps leave the copies out of the loss, the accuracy and the predictions."""
    import tensorflow as tf

    for x, y in dataset:
        total = int(y.shape[0])
        for lo in range(0, total, size):
            n = min(size, total - lo)
            if lo == 0 and n == total == size:
                yield x, y, size
                continue
            rows = lo + tf.range(size) % n
            yield tf.nest.map_structure(lambda v, rows=rows: tf.gather(v, rows), (x, y)) + (n,)


def _compiled_steps(model, element_spec, size: int):
    """Train and test steps traced once, for batches of ``size`` windows of which the first ``n`` are real
    (:func:`_fixed_batches`), each computing its batch in :func:`step_parts` parts. One static shape:
    the last, smaller batch of a split needs no second trace (Keras's train_on_batch traces again for it:
    seconds on a CPU), and TensorFlow folds the graph's shape arithmetic away (the gradients of broadcasting
    ops, the parts' slices): on 2 cores the LSTM+ATT train step's graph went from 3,594 to 3,205 ops, its
    trace 0.91 -> 0.82 s, its first call 1.0 -> 0.8 s, each step 8% shorter; the XLA LayerNorm and oneDNN
    compile a kernel per shape, once. Kept on the model, so that :func:`predict_labels` runs the test step's
    graph instead of tracing a third one."""
    import keras
    import tensorflow as tf

    key = (element_spec, size, id(getattr(model, "optimizer", None)))
    cached = getattr(model, "_astromer_steps", None)
    if cached is not None and cached[0] == key:
        return cached[1], cached[2]

    parts = step_parts()

    def loss_and_correct(y, probs, n):
        """Mean cross-entropy and count of correct argmaxes over the first ``n`` windows (all ``size`` real:
        Keras' SparseCategoricalCrossentropy, bit for bit)."""
        real = tf.range(size) < n
        per_window = keras.losses.sparse_categorical_crossentropy(y, probs)
        loss = tf.reduce_sum(tf.where(real, per_window, 0.0)) / tf.cast(n, per_window.dtype)
        hits = tf.logical_and(real, tf.equal(tf.argmax(probs, axis=-1, output_type=tf.int32), y))
        return loss, tf.reduce_sum(tf.cast(hits, tf.float32))

    def train(x, y, n):
        with tf.GradientTape() as tape:
            probs = probabilities_in_parts(model, x, True, parts)
            loss, hits = loss_and_correct(y, probs, n)  # the mean over the real windows: one step per batch
        variables = model.trainable_variables
        model.optimizer.apply(tape.gradient(loss, variables), variables)
        return loss, hits

    def test(x, y, n):
        probs = probabilities_in_parts(model, x, False, parts)
        return (*loss_and_correct(y, probs, n), probs)

    fixed = tf.nest.map_structure(lambda spec: tf.TensorSpec((size, *spec.shape[1:]), spec.dtype), element_spec)
    signature = [*fixed, tf.TensorSpec((), tf.int32)]
    steps = (
        tf.function(train, input_signature=signature, autograph=False),
        tf.function(test, input_signature=signature, autograph=False),
    )
    # object.__setattr__: kept out of Keras' attribute tracking (not weights, not saved)
    object.__setattr__(model, "_astromer_steps", (key, *steps))
    return steps


def _test_step_warming(train_step, test_step, val_batches):
    """Trace the train step, then trace and first-call the test step in a thread while the training starts:
    a step's first call is mostly graph optimisation and kernel creation in C++ (one core, without the GIL),
    so the test step's trace (Python) and its own first call fill the other core. A future; its result is
    None once the test step is ready. The warm-up call's output is dropped (it reads the weights while the
    first train step may be changing them), and it draws no random numbers (no dropout outside training).
    Measured on 2 cores: the first epoch 0.5 s shorter (LSTM+ATT); MLP+ATT, whose steps trace faster, the
    same."""
    from concurrent.futures import Future, ThreadPoolExecutor

    train_step.get_concrete_function()
    first = next(iter(val_batches), None)
    if first is None:
        done = Future()
        done.set_result(None)
        return done

    def warm_up():
        test_step(*first)

    pool = ThreadPoolExecutor(1, thread_name_prefix="astromer-test-step")
    ready = pool.submit(warm_up)
    pool.shutdown(wait=False)  # the thread ends after its one task
    return ready


def _run_epoch(step, batches):
    """Mean loss and accuracy over one pass of ``step`` over ``batches`` (:func:`_fixed_batches`; the train
    step takes gradient steps)."""
    total_loss, correct, count = 0.0, 0.0, 0
    for x, y, n in batches:
        loss, hits = step(x, y, n)[:2]
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
    size = _step_size(train_ds)
    train_step, test_step = _compiled_steps(model, train_ds.element_spec, size)
    test_ready = _test_step_warming(train_step, test_step, _fixed_batches(val_ds, size))

    def train_epoch(epoch):
        loss, acc = _run_epoch(train_step, _fixed_batches(train_ds, size))
        return {"loss": loss, "accuracy": acc}

    def validate():
        test_ready.result()  # re-raises what went wrong in the warm-up
        val_loss, val_acc = _run_epoch(test_step, _fixed_batches(val_ds, size))
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
    cached = getattr(model, "_astromer_steps", None)
    size = cached[0][1] if cached is not None and cached[0][0] == dataset.element_spec else _step_size(dataset)
    _, test = _compiled_steps(model, dataset.element_spec, size)
    probs = [test(x, y, n)[2].numpy()[:n] for x, y, n in _fixed_batches(dataset, size)]
    return np.concatenate(probs).argmax(axis=1) if probs else np.zeros(0, dtype=np.int64)
