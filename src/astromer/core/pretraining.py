"""Masked-RMSE training (pretraining and fine-tuning) on the shared loop of :mod:`astromer.core.fitting`:
early stopping with the best weights kept, TensorBoard logs, a progress line per epoch, resume after a kill.

Every epoch's random windows and masks come from a generator seeded by ``(seed, epoch)``, and the
validation windows are fixed, so a run killed (SIGTERM/SIGKILL, as Slurm does at its time limit) and
restarted continues exactly where the last completed epoch left it and stops at the same epoch. The resume
state is keyed on the settings, the data, the starting weights and the version (:mod:`astromer.core.resume`).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from . import fitting, preprocessing
from .preprocessing import Flat
from .resume import Checkpoint, digest, run_key

CHUNK_WINDOWS = 8192  # windows masked per numpy call in the input pipeline
# Windows per forward/backward pass inside a CPU train step (the gradients of a batch summed over them):
# the attention's (B, heads, L, L) tensors stay near the caches (measured on encode: 32-window calls run
# 1.4x the windows/s of 256-window calls on a 2-core Xeon).
CPU_MICRO_BATCH = 32


def _as_flat(data) -> Flat:
    if isinstance(data, Flat) or hasattr(data, "starts"):  # a Flat, or a view over columns on disk
        return data
    return Flat.from_arrays(preprocessing.check_light_curves(list(data)))


def flat_digest(flat) -> str:
    """Content digest of curves for a run's key: columns on disk (astromer.data.columns) carry theirs,
    written once with them (hashing them here would read them all); flat arrays are hashed."""
    return getattr(flat, "digest", None) or digest(flat.offsets, flat.time, flat.mag)


def per_window_mse(y, y_hat, mask):
    """Masked MSE of each window (divide_no_nan: a window without targets contributes 0)."""
    import tensorflow as tf

    y, y_hat, mask = (tf.cast(v, tf.float32) for v in (y, y_hat, mask))
    se = tf.reduce_sum(mask * tf.square(y - y_hat), axis=[1, 2])
    return tf.math.divide_no_nan(se, tf.reduce_sum(mask, axis=[1, 2]))


def masked_rmse(y, y_hat, mask):
    """The authors' ``custom_rmse``: sqrt of the mean over windows of the per-window masked MSE."""
    import tensorflow as tf

    return tf.sqrt(tf.reduce_mean(per_window_mse(y, y_hat, mask)))


def target_positions(mask_out, k=None):
    """(B, T) int32 positions of each window's targets (``mask_out`` = 1), first T of them in position
    order; T is the batch's largest target count (or ``k``, a static bound for XLA). A window with fewer
    targets is filled with non-targets, which the gathered ``mask_out`` leaves out of the loss."""
    import tensorflow as tf

    flags = tf.cast(tf.squeeze(mask_out, -1) > 0, tf.int32)
    if k is None:
        k = tf.reduce_max(tf.reduce_sum(flags, axis=1))
    # top_k keeps the lower index first among ties: targets in order, then the other positions
    return tf.math.top_k(flags, k=k, sorted=True).indices


def predict_targets(model, batch, training: bool, k=None):
    """(y, y_hat, mask_out) at the target positions only: the last block's queries, attention output,
    FFN and the head run there, its keys and values over the whole window. Same loss as the full model."""
    import tensorflow as tf

    positions = target_positions(batch["mask_out"], k)
    inputs = {key: batch[key] for key in preprocessing.ENCODER_INPUTS}
    embedding = model.get_layer("encoder")(inputs, training=training, query_positions=positions)
    pred = model.get_layer("regression")(embedding)
    gather = lambda t: tf.gather(t, positions, axis=1, batch_dims=1)  # noqa: E731
    return gather(batch["output"]), pred, gather(batch["mask_out"])


def _forward_fn(model, full: bool, k: int | None):
    """(targets, predictions, mask_out) of a batch: the whole last block, or the target positions only."""

    def forward(batch, training):
        if full:
            pred = model({key: batch[key] for key in preprocessing.ENCODER_INPUTS}, training=training)
            return batch["output"], pred, batch["mask_out"]
        return predict_targets(model, batch, training, k)

    return forward


def _loss_and_gradients_fn(forward, variables, micro_batch: int | None):
    import tensorflow as tf

    def loss_and_gradients(batch):
        """(S, gradients of the masked RMSE): S the batch's sum of per-window MSEs."""
        n = tf.shape(batch["input"])[0]
        if micro_batch is None:
            with tf.GradientTape() as tape:
                total = tf.reduce_sum(per_window_mse(*forward(batch, True)))
                loss = tf.sqrt(total / tf.cast(n, tf.float32))
            return total, tape.gradient(loss, variables)
        total = tf.constant(0.0)
        grads = [tf.zeros(v.shape, tf.float32) for v in variables]
        for lo in tf.range(0, n, micro_batch):
            part = {key: value[lo : lo + micro_batch] for key, value in batch.items()}
            with tf.GradientTape() as tape:
                part_total = tf.reduce_sum(per_window_mse(*forward(part, True)))
            grads = [
                a + tf.reshape(tf.cast(g, tf.float32), a.shape)
                for a, g in zip(grads, tape.gradient(part_total, variables))
            ]
            total += part_total
        loss = tf.sqrt(total / tf.cast(n, tf.float32))
        scale = 1.0 / (2.0 * tf.cast(n, tf.float32) * loss)
        return total, [g * scale for g in grads]

    return loss_and_gradients


def _eval_step_fn(forward, micro_batch: int | None):
    import tensorflow as tf

    def eval_step(batch):
        if micro_batch is None:
            return tf.reduce_sum(per_window_mse(*forward(batch, False)))
        total = tf.constant(0.0)
        for lo in tf.range(0, tf.shape(batch["input"])[0], micro_batch):
            part = {key: value[lo : lo + micro_batch] for key, value in batch.items()}
            total += tf.reduce_sum(per_window_mse(*forward(part, False)))
        return total

    return eval_step


class Trainer:
    """Compiled train/eval steps of one model and optimizer.

    The masked RMSE needs the last block's output at the targets only, so both steps compute it there
    (:func:`predict_targets`); ``full_last_block=True`` computes every position (tests compare the two).
    ``max_targets`` is a static bound on the targets per window, needed by XLA (``jit_compile``), where the
    batch's own count cannot set a shape; without it an XLA step computes every position.

    On CPUs the train step runs its batch in ``micro_batch`` windows at a time (default
    :data:`CPU_MICRO_BATCH`; GPUs and XLA: the whole batch) and sums their gradients: the (B, heads, L, L)
    attention tensors then stay near the caches. The loss is sqrt(S / B) with S the batch's sum of per-window
    MSEs, so its gradient is (sum of the micro-batches' gradients of S) / (2 B loss): the same gradient as
    the whole batch's, and one optimizer update per batch as before (:meth:`loss_and_gradients`).
    """

    def __init__(
        self,
        encoder,
        lr: float = 1e-3,
        jit_compile: bool = False,
        max_targets: int | None = None,
        full_last_block: bool = False,
        micro_batch: int | None | str = "auto",
    ):
        import tensorflow as tf

        from .devices import gpu_visible
        from .optimizer import Adam

        self.encoder = encoder
        self.model = encoder.model
        # The authors' optimiser: Adam(1e-3, beta_2=0.98, epsilon=1e-9), constant rate.
        self.optimizer = Adam(learning_rate=lr, beta_1=0.9, beta_2=0.98, epsilon=1e-9)
        self.optimizer.build(self.model.trainable_variables)
        model, optimizer = self.model, self.optimizer
        full = full_last_block or (jit_compile and max_targets is None)
        k = None if max_targets is None else min(int(max_targets), encoder.max_obs)

        forward = _forward_fn(model, full, k)
        if micro_batch == "auto":
            micro_batch = None if (jit_compile or gpu_visible()) else CPU_MICRO_BATCH
        variables = model.trainable_variables
        loss_and_gradients = _loss_and_gradients_fn(forward, variables, micro_batch)

        def train_step(batch):
            total, grads = loss_and_gradients(batch)
            optimizer.apply_gradients(zip(grads, variables))
            return total

        eval_step = _eval_step_fn(forward, micro_batch)
        # Any batch size, one trace: an epoch's last, smaller batch would otherwise trace the step again
        # (~2 s of a 2-core CPU, once per run and step kind).
        spec = [{key: tf.TensorSpec((None, encoder.max_obs, 1), tf.float32) for key in preprocessing.WINDOW_KEYS}]
        self.forward = forward
        self.loss_and_gradients = tf.function(loss_and_gradients, input_signature=spec)
        self.train_step = tf.function(train_step, jit_compile=jit_compile, input_signature=spec)
        self.eval_step = tf.function(eval_step, jit_compile=jit_compile, input_signature=spec)


WINDOWS_PER_EPOCH = ("one", "all")


def steps_per_epoch(flat, batch_size: int, max_obs: int, windows_per_epoch: str = "one") -> int:
    """Gradient steps in one training epoch (as :func:`_window_batches` draws it)."""
    flat = _as_flat(flat)
    n = len(flat) if windows_per_epoch == "one" else preprocessing.all_window_starts(flat.lengths, max_obs)[0].size
    return max(1, -(-n // batch_size))


def _window_batches(
    flat: Flat,
    batch_size: int,
    rng: np.random.Generator,
    mask_args: dict,
    mode,
    max_obs: int,
    windows_per_epoch: str = "one",
):
    """numpy batches of masked windows in a random order (chunked, vectorised): one random window per curve
    (``one``, the authors' package) or every sequential window of every curve once (``all``, the paper)."""
    if windows_per_epoch == "all":
        index, starts = preprocessing.all_window_starts(flat.lengths, max_obs)
        order = rng.permutation(index.size)
        index, starts = index[order], starts[order]
    elif windows_per_epoch == "one":
        index, starts = rng.permutation(len(flat)), None
    else:
        raise ValueError(f"windows_per_epoch must be one of {WINDOWS_PER_EPOCH}, not {windows_per_epoch!r}")
    chunk = max(batch_size, CHUNK_WINDOWS // batch_size * batch_size)
    for lo in range(0, index.size, chunk):
        part = index[lo : lo + chunk]
        begin = (
            starts[lo : lo + chunk]
            if starts is not None
            else preprocessing.random_starts(flat.lengths[part], max_obs, rng)
        )
        win = preprocessing.mask_windows(flat, part, begin, max_obs=max_obs, mode=mode, rng=rng, **mask_args)
        yield from preprocessing.iter_batches(win, batch_size)


def _dataset(generator_fn, max_obs: int):
    import tensorflow as tf

    spec = {k: tf.TensorSpec((None, max_obs, 1), tf.float32) for k in preprocessing.WINDOW_KEYS}
    dataset = tf.data.Dataset.from_generator(generator_fn, output_signature=spec).prefetch(tf.data.AUTOTUNE)
    return preprocessing.without_autotune(dataset)  # made again every epoch


def fixed_validation_windows(
    flat: Flat, seed: int, mask_args: dict, mode, max_obs: int, windows_per_epoch: str = "one"
) -> dict:
    """Validation windows and masks drawn once (so early stopping compares like with like): one random window
    per curve, or every sequential window with ``all``."""
    rng = np.random.default_rng([seed, 7919])
    if windows_per_epoch == "all":
        index, starts = preprocessing.all_window_starts(flat.lengths, max_obs)
    else:
        index = np.arange(len(flat))
        starts = preprocessing.random_starts(flat.lengths, max_obs, rng)
    return preprocessing.mask_windows(flat, index, starts, max_obs=max_obs, mode=mode, rng=rng, **mask_args)


def evaluate(trainer: Trainer, windows: dict, batch_size: int) -> float:
    total, n = 0.0, len(windows["input"])
    for batch in preprocessing.iter_batches(windows, batch_size):
        total += float(trainer.eval_step(batch))
    return float(np.sqrt(total / max(n, 1)))


def _fit_key(
    encoder, train_flat, valid_flat, identity, epochs, patience, batch_size, lr, mask_args, seed, windows_per_epoch
) -> str:
    """The run's key: its settings, data, the caller's ``identity`` and the starting weights."""
    settings = {
        "config": encoder.config,
        "epochs": epochs,
        "patience": patience,
        "batch_size": batch_size,
        "lr": lr,
        "mask": mask_args,
        "seed": seed,
        "windows_per_epoch": windows_per_epoch,
    }
    data = [flat_digest(train_flat), flat_digest(valid_flat)]
    return run_key(settings, [data, identity], encoder.model.get_weights())


def _train_epoch_fn(trainer, train_flat, batch_size, seed, mask_args, mode, max_obs, windows_per_epoch):
    """One training pass over freshly masked windows (seeded by the epoch); returns its masked RMSE."""

    def train_epoch(epoch):
        rng = np.random.default_rng([seed, epoch])
        batches = _dataset(
            lambda: _window_batches(train_flat, batch_size, rng, mask_args, mode, max_obs, windows_per_epoch), max_obs
        )
        total, n = 0.0, 0
        for batch in batches:
            total += float(trainer.train_step(batch))
            n += int(batch["input"].shape[0])
        return {"loss": float(np.sqrt(total / max(n, 1)))}

    return train_epoch


def _tensorboard_fn(tensorboard_dir):
    """The per-epoch hook writing loss and val_loss to TensorBoard (a no-op without a folder)."""
    import tensorflow as tf

    writer = tf.summary.create_file_writer(str(tensorboard_dir)) if tensorboard_dir else None

    def on_epoch(record):
        if writer is not None:
            with writer.as_default():
                tf.summary.scalar("loss", record["loss"], step=record["epoch"])
                tf.summary.scalar("val_loss", record["val_loss"], step=record["epoch"])
            writer.flush()

    return on_epoch


def fit(
    encoder,
    train,
    valid,
    epochs: int = 100000,
    patience: int = 40,
    batch_size: int = 256,
    lr: float = 1e-3,
    msk_frac: float = 0.5,
    rnd_frac: float = 0.2,
    same_frac: float = 0.2,
    seed: int = 0,
    ckpt_dir=None,
    tensorboard_dir=None,
    jit_compile: bool = False,
    log=None,
    max_epochs_this_run: int | None = None,
    restart: bool = False,
    identity=None,
    windows_per_epoch: str = "one",
) -> fitting.History:
    """Train ``encoder`` (a :class:`SingleBandEncoder`) on masked reconstruction; keeps the best weights.

    An epoch is one random window of every training curve (``windows_per_epoch="one"``, the authors'
    package) or every window of every training curve once (``"all"``, the paper's Sect. 6.1).
    Stops after ``patience`` epochs without a lower validation masked RMSE, or at ``epochs``. With
    ``ckpt_dir`` an interrupted run resumes from the state of its last completed epoch, provided the state is
    of this run: the same settings, data and starting weights (``identity`` adds what the caller knows
    beyond them, e.g. ids and the test set); any other state is moved aside and training starts fresh, as it
    does with ``restart``. ``max_epochs_this_run`` ends the process's share early without finishing the run.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    mode, max_obs = encoder.mode, encoder.max_obs
    mask_args = {"msk_frac": msk_frac, "rnd_frac": rnd_frac, "same_frac": same_frac}
    train_flat, valid_flat = _as_flat(train), _as_flat(valid)
    key = _fit_key(
        encoder, train_flat, valid_flat, identity, epochs, patience, batch_size, lr, mask_args, seed, windows_per_epoch
    )
    trainer = Trainer(encoder, lr=lr, jit_compile=jit_compile)
    valid_windows = fixed_validation_windows(valid_flat, seed, mask_args, mode, max_obs, windows_per_epoch)
    on_epoch = _tensorboard_fn(tensorboard_dir)
    train_epoch = _train_epoch_fn(trainer, train_flat, batch_size, seed, mask_args, mode, max_obs, windows_per_epoch)
    checkpoint = Checkpoint(ckpt_dir, key, log, restart=restart) if ckpt_dir else None
    return fitting.fit_loop(
        encoder.model,
        trainer.optimizer,
        train_epoch,
        lambda: {"val_loss": evaluate(trainer, valid_windows, batch_size)},
        epochs=epochs,
        patience=patience,
        checkpoint=checkpoint,
        log=log,
        max_epochs_this_run=max_epochs_this_run,
        initial_validation=True,
        on_epoch=on_epoch,
    )


def test_rmse(
    encoder,
    data,
    batch_size: int = 256,
    seed: int = 0,
    msk_frac=0.5,
    rnd_frac=0.2,
    same_frac=0.2,
    windows_per_epoch: str = "one",
) -> float:
    """Masked RMSE on a held-out set with fixed windows and masks (one random window per curve, or all)."""
    trainer = Trainer(encoder, jit_compile=False)
    mask_args = {"msk_frac": msk_frac, "rnd_frac": rnd_frac, "same_frac": same_frac}
    windows = fixed_validation_windows(
        _as_flat(data), seed + 1, mask_args, encoder.mode, encoder.max_obs, windows_per_epoch
    )
    return evaluate(trainer, windows, batch_size)


def train_throughput(
    encoder,
    curves,
    batch_size: int = 256,
    steps: int = 20,
    warmup: int = 3,
    lr: float = 1e-3,
    jit_compile: bool = False,
) -> float:
    """Training windows/s through the full input pipeline (benchmarks)."""
    mask_args = {"msk_frac": 0.5, "rnd_frac": 0.2, "same_frac": 0.2}
    # a static bound on the targets per window, so that an XLA step also computes the last block there only
    max_targets = int(preprocessing.mask_counts(np.array([encoder.max_obs]), mode=encoder.mode, **mask_args)[0][0])
    trainer = Trainer(encoder, lr=lr, jit_compile=jit_compile, max_targets=max_targets)
    flat = _as_flat(curves)
    rng = np.random.default_rng(0)

    def endless():
        while True:
            yield from _window_batches(flat, batch_size, rng, mask_args, encoder.mode, encoder.max_obs)

    iterator = iter(_dataset(endless, encoder.max_obs))
    for _ in range(warmup):
        float(trainer.train_step(next(iterator)))
    began = time.perf_counter()
    for _ in range(steps):
        float(trainer.train_step(next(iterator)))
    return steps * batch_size / (time.perf_counter() - began)
