"""Masked-RMSE training (pretraining and fine-tuning): early stopping with the best weights kept,
TensorBoard logs, a progress line per epoch, and resume after a kill at any moment.

Resume: after every epoch the complete training state (model variables including dropout seeds, optimizer
slots, best weights, early-stopping counters, history) is written atomically to ``ckpt_dir/state.npz``.
Every epoch's random windows and masks come from a generator seeded by ``(seed, epoch)``, and the
validation windows are fixed, so a run killed (SIGTERM/SIGKILL, as Slurm does at its time limit) and
restarted continues exactly where the last completed epoch left it and stops at the same epoch.
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from . import preprocessing
from .preprocessing import Flat

STATE_FILE = "state.npz"
CHUNK_WINDOWS = 8192  # windows masked per numpy call in the input pipeline


@dataclasses.dataclass
class History:
    epochs: list = dataclasses.field(default_factory=list)  # dicts: epoch, loss, val_loss, seconds
    best_epoch: int = 0
    best_val_loss: float = float("inf")
    stopped_early: bool = False
    resumed_from: int | None = None
    initial_val_loss: float | None = None  # before any training step of this run

    @property
    def n_epochs(self) -> int:
        return len(self.epochs)

    def to_csv(self, path) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["epoch", "loss", "val_loss", "seconds"])
        writer.writeheader()
        writer.writerows(self.epochs)
        atomic_write_text(path, buffer.getvalue())


def atomic_write_text(path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _as_flat(data) -> Flat:
    if isinstance(data, Flat):
        return data
    return Flat.from_arrays(preprocessing.check_light_curves(list(data)))


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


class Trainer:
    """Compiled train/eval steps of one model and optimizer."""

    def __init__(self, encoder, lr: float = 1e-3, jit_compile: bool = False):
        import keras
        import tensorflow as tf

        self.encoder = encoder
        self.model = encoder.model
        # The authors' optimiser: Adam(1e-3, beta_2=0.98, epsilon=1e-9), constant rate.
        self.optimizer = keras.optimizers.Adam(learning_rate=lr, beta_1=0.9, beta_2=0.98, epsilon=1e-9)
        self.optimizer.build(self.model.trainable_variables)
        model, optimizer = self.model, self.optimizer

        def train_step(batch):
            with tf.GradientTape() as tape:
                pred = model({k: batch[k] for k in ("input", "times", "mask_in")}, training=True)
                mse = per_window_mse(batch["output"], pred, batch["mask_out"])
                loss = tf.sqrt(tf.reduce_mean(mse))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return tf.reduce_sum(mse)

        def eval_step(batch):
            pred = model({k: batch[k] for k in ("input", "times", "mask_in")}, training=False)
            return tf.reduce_sum(per_window_mse(batch["output"], pred, batch["mask_out"]))

        self.train_step = tf.function(train_step, jit_compile=jit_compile)
        self.eval_step = tf.function(eval_step, jit_compile=jit_compile)

    # ---- state for resume ----
    def state_arrays(self) -> dict:
        arrays = {f"model_{i}": np.asarray(v.numpy()) for i, v in enumerate(self.model.variables)}
        arrays.update({f"opt_{i}": np.asarray(v.numpy()) for i, v in enumerate(self.optimizer.variables)})
        return arrays

    def load_state_arrays(self, arrays, where: str) -> None:
        for prefix, variables in (("model", self.model.variables), ("opt", self.optimizer.variables)):
            for i, variable in enumerate(variables):
                key = f"{prefix}_{i}"
                if key not in arrays or tuple(arrays[key].shape) != tuple(variable.shape):
                    raise ValueError(f"{where}: the resume state does not match this model ({key})")
                variable.assign(arrays[key])


def _fingerprint(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _window_batches(flat: Flat, batch_size: int, rng: np.random.Generator, mask_args: dict, mode, max_obs: int,
                    shuffle: bool = True):
    """numpy batches of one random masked window per curve (chunked, vectorised)."""
    order = rng.permutation(len(flat)) if shuffle else np.arange(len(flat))
    chunk = max(batch_size, CHUNK_WINDOWS // batch_size * batch_size)
    for lo in range(0, order.size, chunk):
        index = order[lo:lo + chunk]
        starts = preprocessing.random_starts(flat.lengths[index], max_obs, rng)
        win = preprocessing.mask_windows(flat, index, starts, max_obs=max_obs, mode=mode, rng=rng, **mask_args)
        yield from preprocessing.iter_batches(win, batch_size)


def _dataset(generator_fn, max_obs: int):
    import tensorflow as tf

    spec = {k: tf.TensorSpec((None, max_obs, 1), tf.float32) for k in preprocessing.WINDOW_KEYS}
    return tf.data.Dataset.from_generator(generator_fn, output_signature=spec).prefetch(tf.data.AUTOTUNE)


def fixed_validation_windows(flat: Flat, seed: int, mask_args: dict, mode, max_obs: int) -> dict:
    rng = np.random.default_rng([seed, 7919])
    index = np.arange(len(flat))
    starts = preprocessing.random_starts(flat.lengths, max_obs, rng)
    return preprocessing.mask_windows(flat, index, starts, max_obs=max_obs, mode=mode, rng=rng, **mask_args)


def evaluate(trainer: Trainer, windows: dict, batch_size: int) -> float:
    total, n = 0.0, len(windows["input"])
    for batch in preprocessing.iter_batches(windows, batch_size):
        total += float(trainer.eval_step(batch))
    return float(np.sqrt(total / max(n, 1)))


def fit(encoder, train, valid, epochs: int = 100000, patience: int = 40, batch_size: int = 256,
        lr: float = 1e-3, msk_frac: float = 0.5, rnd_frac: float = 0.2, same_frac: float = 0.2,
        seed: int = 0, ckpt_dir=None, tensorboard_dir=None, jit_compile: bool = False,
        log=None, max_epochs_this_run: int | None = None) -> History:
    """Train ``encoder`` (a :class:`SingleBandEncoder`) on masked reconstruction; keeps the best weights.

    Stops after ``patience`` epochs without a lower validation masked RMSE, or at ``epochs``. With
    ``ckpt_dir`` the run resumes from the state of its last completed epoch. ``max_epochs_this_run``
    ends the process's share early (for tests and time-sliced jobs) without finishing the run.
    """
    import tensorflow as tf

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    mode, max_obs = encoder.mode, encoder.max_obs
    mask_args = {"msk_frac": msk_frac, "rnd_frac": rnd_frac, "same_frac": same_frac}
    train_flat, valid_flat = _as_flat(train), _as_flat(valid)
    settings = {"config": encoder.config, "epochs": epochs, "patience": patience, "batch_size": batch_size,
                "lr": lr, "mask": mask_args, "seed": seed, "n_train": len(train_flat), "n_valid": len(valid_flat)}
    fingerprint = _fingerprint(settings)

    trainer = Trainer(encoder, lr=lr, jit_compile=jit_compile)
    history = History()
    best_weights = [np.asarray(w) for w in encoder.model.get_weights()]
    wait, start_epoch = 0, 1
    state_path = Path(ckpt_dir) / STATE_FILE if ckpt_dir else None
    if state_path is not None and state_path.is_file():
        with np.load(state_path, allow_pickle=False) as state:
            meta = json.loads(str(state["meta"]))
            if meta["fingerprint"] != fingerprint:
                raise ValueError(
                    f"{state_path}: resume state from a different run (settings changed); delete {ckpt_dir} to restart"
                )
            trainer.load_state_arrays(state, str(state_path))
            best_weights = [state[f"best_{i}"] for i in range(meta["n_best"])]
        history = History(**meta["history"])
        history.resumed_from = len(history.epochs)
        wait, start_epoch = meta["wait"], len(history.epochs) + 1
        log(f"resuming from {state_path} after epoch {len(history.epochs)}")

    valid_windows = fixed_validation_windows(valid_flat, seed, mask_args, mode, max_obs)
    writer = tf.summary.create_file_writer(str(tensorboard_dir)) if tensorboard_dir else None

    done = history.stopped_early or len(history.epochs) >= epochs
    if not history.epochs:
        history.initial_val_loss = evaluate(trainer, valid_windows, batch_size)
        log(f"epoch    0  val_loss {history.initial_val_loss:.4f} (before training)")
    run_epochs = 0
    for epoch in range(start_epoch, epochs + 1):
        if done:
            break
        if max_epochs_this_run is not None and run_epochs >= max_epochs_this_run:
            break
        began = time.perf_counter()
        rng = np.random.default_rng([seed, epoch])
        dataset = _dataset(lambda: _window_batches(train_flat, batch_size, rng, mask_args, mode, max_obs), max_obs)
        total = 0.0
        for batch in dataset:
            total += float(trainer.train_step(batch))
        loss = float(np.sqrt(total / max(len(train_flat), 1)))
        val_loss = evaluate(trainer, valid_windows, batch_size)
        seconds = time.perf_counter() - began
        history.epochs.append({"epoch": epoch, "loss": loss, "val_loss": val_loss, "seconds": round(seconds, 3)})
        if val_loss < history.best_val_loss:
            history.best_val_loss, history.best_epoch, wait = val_loss, epoch, 0
            best_weights = [np.asarray(w) for w in encoder.model.get_weights()]
        else:
            wait += 1
        if wait >= patience:
            history.stopped_early = done = True
        if len(history.epochs) >= epochs:
            done = True
        if writer is not None:
            with writer.as_default():
                tf.summary.scalar("loss", loss, step=epoch)
                tf.summary.scalar("val_loss", val_loss, step=epoch)
            writer.flush()
        log(f"epoch {epoch:4d}/{epochs}  loss {loss:.4f}  val_loss {val_loss:.4f}  "
            f"best {history.best_val_loss:.4f}@{history.best_epoch}  {seconds:.1f} s  "
            f"{len(train_flat) / seconds:.0f} windows/s")
        if state_path is not None:
            _save_state(state_path, trainer, best_weights, history, wait, fingerprint)
        run_epochs += 1

    if done:
        encoder.model.set_weights(best_weights)
    return history


def _save_state(path: Path, trainer: Trainer, best_weights, history: History, wait: int, fingerprint: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"fingerprint": fingerprint, "wait": wait, "n_best": len(best_weights),
            "history": {"epochs": history.epochs, "best_epoch": history.best_epoch,
                        "best_val_loss": history.best_val_loss, "stopped_early": history.stopped_early,
                        "initial_val_loss": history.initial_val_loss}}
    arrays = trainer.state_arrays()
    arrays.update({f"best_{i}": w for i, w in enumerate(best_weights)})
    atomic_savez(path, meta, arrays)


def atomic_savez(path: Path, meta: dict, arrays: dict) -> None:
    """A resume state (JSON ``meta`` + arrays) as one .npz, replaced atomically: a kill never leaves half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state.", suffix=".npz")
    os.close(fd)
    try:
        np.savez(tmp, meta=np.array(json.dumps(meta)), **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def test_rmse(encoder, data, batch_size: int = 256, seed: int = 0, msk_frac=0.5, rnd_frac=0.2,
              same_frac=0.2) -> float:
    """Masked RMSE on a held-out set with fixed random windows and masks (one window per curve)."""
    trainer = Trainer(encoder, jit_compile=False)
    mask_args = {"msk_frac": msk_frac, "rnd_frac": rnd_frac, "same_frac": same_frac}
    windows = fixed_validation_windows(_as_flat(data), seed + 1, mask_args, encoder.mode, encoder.max_obs)
    return evaluate(trainer, windows, batch_size)


def train_throughput(encoder, curves, batch_size: int = 256, steps: int = 20, warmup: int = 3,
                     lr: float = 1e-3, jit_compile: bool = False) -> float:
    """Training windows/s through the full input pipeline (benchmarks)."""
    trainer = Trainer(encoder, lr=lr, jit_compile=jit_compile)
    flat = _as_flat(curves)
    mask_args = {"msk_frac": 0.5, "rnd_frac": 0.2, "same_frac": 0.2}
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
