"""The one resumable early-stopping loop of every trainable run: pretraining, fine-tuning and classifiers.

Each epoch is a training pass and a validation pass (functions the caller gives); the weights of the epoch
with the lowest validation loss are kept; the run stops after ``patience`` epochs without a lower validation
loss, or at ``epochs``, and ends with its best weights. With a :class:`~astromer.core.resume.Checkpoint` the whole
state is written atomically after every epoch, so a run killed at any moment (Slurm's SIGTERM at the time
limit) restarts from its last completed epoch and ends exactly where an uninterrupted run ends.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import time

import numpy as np

from ..io import atomic_write_text


@dataclasses.dataclass
class History:
    epochs: list = dataclasses.field(default_factory=list)  # one dict per epoch: epoch, losses, ..., seconds
    best_epoch: int = 0
    best_val_loss: float = float("inf")
    stopped_early: bool = False
    resumed_from: int | None = None  # epochs completed by earlier processes of this run
    initial_val_loss: float | None = None  # before any training step (when asked for)
    completed: bool = False
    checkpoint_seconds: float = 0.0  # writing the resume state after each epoch (not in the epochs' seconds)

    @property
    def n_epochs(self) -> int:
        return len(self.epochs)

    @property
    def train_seconds(self) -> float:
        """Training time summed over every epoch, across all the processes a resumed run took."""
        return round(sum(e["seconds"] for e in self.epochs), 3)

    def to_csv(self, path, columns=("epoch", "loss", "val_loss", "seconds")) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(self.epochs)
        atomic_write_text(path, buffer.getvalue())


def epochs_for_steps(steps: int | None, steps_per_epoch: int, default: int) -> int:
    """The epochs that hold ``steps`` gradient steps (at least one); ``default`` when ``steps`` is None.

    Patience and the epoch cap in gradient steps: at batch 64 a subset of 20 curves per class is two steps an
    epoch and the demo's ``all`` six; "20 epochs" would give the small subset a third of the updates."""
    if steps is None:
        return default
    return max(1, math.ceil(steps / max(1, steps_per_epoch)))


def step_schedule(
    steps_per_epoch: int, epochs: int, patience: int, max_steps: int | None = None, patience_steps: int | None = None
) -> dict:
    """The run's epoch cap and patience (``max_steps``/``patience_steps`` in gradient steps win over
    ``epochs``/``patience``), as recorded in metrics.json."""
    return {
        "steps_per_epoch": int(steps_per_epoch),
        "epoch_cap": epochs_for_steps(max_steps, steps_per_epoch, epochs),
        "patience_epochs": epochs_for_steps(patience_steps, steps_per_epoch, patience),
        "max_steps": max_steps,
        "patience_steps": patience_steps,
    }


def _weights(model) -> list:
    return [np.array(w) for w in model.get_weights()]


def _resume(checkpoint, model, optimizer, log):
    """(history, best weights, patience counter) of the run so far: restored, or fresh."""
    meta = checkpoint.restore(model, optimizer) if checkpoint is not None else None
    if meta is None:
        return History(), _weights(model), 0
    history = History(**meta["history"])
    history.resumed_from = history.n_epochs
    log(f"resuming from {checkpoint.path} after epoch {history.n_epochs}")
    return history, meta["best_weights"], meta["wait"]


def _epoch_line(record: dict, epochs: int, history: History) -> str:
    values = "  ".join(f"{k} {v:.4f}" for k, v in record.items() if k not in ("epoch", "seconds"))
    return (
        f"epoch {record['epoch']:4d}/{epochs}  {values}  best {history.best_val_loss:.4f}@{history.best_epoch}"
        f"  {record['seconds']:.1f} s"
    )


def _run_epoch(train_epoch, validate, history: History) -> dict:
    """Train and validate one epoch; append and return its record."""
    began = time.perf_counter()
    record = {"epoch": history.n_epochs + 1, **train_epoch(history.n_epochs + 1), **validate()}
    record["seconds"] = round(time.perf_counter() - began, 3)
    history.epochs.append(record)
    return record


def _track_best(record: dict, history: History, model, best_weights, wait: int, patience: int, epochs: int):
    """Keep the best weights and the patience count; mark the run stopped early or complete."""
    if record["val_loss"] < history.best_val_loss:
        history.best_val_loss, history.best_epoch, wait = record["val_loss"], record["epoch"], 0
        best_weights = _weights(model)
    else:
        wait += 1
    history.stopped_early = wait >= patience
    history.completed = history.stopped_early or history.n_epochs >= epochs
    return best_weights, wait


def _save_state(checkpoint, model, optimizer, best_weights, history: History, wait: int) -> None:
    saving = time.perf_counter()
    checkpoint.save(model, optimizer, best_weights, {"history": dataclasses.asdict(history), "wait": wait})
    history.checkpoint_seconds = round(history.checkpoint_seconds + time.perf_counter() - saving, 3)


def fit_loop(
    model,
    optimizer,
    train_epoch,
    validate,
    *,
    epochs: int,
    patience: int,
    checkpoint=None,
    log=print,
    max_epochs_this_run: int | None = None,
    initial_validation: bool = False,
    on_epoch=None,
) -> History:
    """Run epochs until early stopping; ``model`` ends with its best weights once the run is complete.

    ``train_epoch(epoch)`` trains one pass and returns its metrics (``loss``, ...); ``validate()`` returns the
    validation metrics, ``val_loss`` first. ``on_epoch(record)`` sees every epoch (TensorBoard).
    ``max_epochs_this_run`` ends this process's share early without completing the run (time slices, tests).
    """
    history, best_weights, wait = _resume(checkpoint, model, optimizer, log)
    if initial_validation and not history.epochs:
        history.initial_val_loss = validate()["val_loss"]
        log(f"epoch    0  val_loss {history.initial_val_loss:.4f} (before training)")
    run_epochs = 0
    while history.n_epochs < epochs and (max_epochs_this_run is None or run_epochs < max_epochs_this_run):
        record = _run_epoch(train_epoch, validate, history)
        best_weights, wait = _track_best(record, history, model, best_weights, wait, patience, epochs)
        if on_epoch is not None:
            on_epoch(record)
        log(_epoch_line(record, epochs, history))
        if checkpoint is not None:
            _save_state(checkpoint, model, optimizer, best_weights, history, wait)
        run_epochs += 1
        if history.completed:
            break
    if history.completed or history.n_epochs >= epochs:
        history.completed = True
        model.set_weights(best_weights)
    return history
