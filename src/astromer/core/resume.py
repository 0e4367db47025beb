"""The identity of a training run, and its resume state on disk.

A run's key names what its result is computed from, part by part: the settings (with the seed), the data
actually loaded (ids and values), the starting weights and the package version. The state of an
interrupted run is resumed only by a run with the same key. Any other state found in the folder (another
key, a run that already completed, or ``restart``) is moved aside under a name that says why, and the run
trains from scratch: a rerun never returns the model of another run. The command line deletes the state
once a run's outputs are written.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np

from ..io import atomic_savez

STATE_FILE = "state.npz"


def digest(*values) -> str:
    """SHA-256 (hex, 16 characters) of numbers, text, arrays and nested lists/tuples/dicts of them."""
    h = hashlib.sha256()

    def feed(value):
        if isinstance(value, np.ndarray) or (hasattr(value, "shape") and hasattr(value, "dtype")):
            array = np.ascontiguousarray(np.asarray(value))
            h.update(f"{array.dtype.str}{array.shape}".encode())
            h.update(memoryview(array).cast("B") if array.size else b"")
        elif isinstance(value, dict):
            for key in sorted(value, key=str):
                h.update(str(key).encode())
                feed(value[key])
        elif isinstance(value, (list, tuple)):
            h.update(f"[{len(value)}".encode())
            for item in value:
                feed(item)
        else:
            h.update(json.dumps(value, sort_keys=True, default=str).encode())
        h.update(b";")

    for value in values:
        feed(value)
    return h.hexdigest()[:16]


def file_digest(path) -> str:
    """SHA-256 of a weights file, or of every file of a weights folder (names and contents)."""
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    h = hashlib.sha256()
    for file in files:
        h.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


def run_key(settings: dict, data, weights) -> dict:
    """The key of a run: one digest per part, so that a mismatch can say what changed."""
    from .. import __version__

    return {"settings": digest(settings), "data": digest(data), "weights": digest(weights), "version": __version__}


class Checkpoint:
    """The resume state of one run: ``folder/STATE_FILE`` holding model and optimizer variables, the best
    weights, and a JSON ``meta`` (the run's key, history, patience counter, whether the run completed)."""

    def __init__(self, folder, key: dict, log, restart: bool = False, filename: str = STATE_FILE):
        self.folder = Path(folder)
        self.path = self.folder / filename
        self.key = key
        self.log = log
        self.restart = restart

    def restore(self, model, optimizer) -> dict | None:
        """Load a resumable state into ``model``/``optimizer`` and return its meta; None to start fresh."""
        if not self.path.is_file():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as state:
                meta = json.loads(str(state["meta"]))
                reason = self._why_not_resume(meta)
                if reason is None:
                    _assign(self.path, state, {"model": model.variables, "opt": optimizer.variables})
                    meta["best_weights"] = [state[f"best_{i}"] for i in range(meta["n_best"])]
                    return meta
        except (OSError, ValueError, KeyError) as exc:  # truncated, corrupt or of another format
            reason = f"unreadable ({type(exc).__name__}: {exc})"
        self._move_aside(reason)
        return None

    def _why_not_resume(self, meta: dict) -> str | None:
        stored = meta.get("key") or {}
        changed = [part for part in ("settings", "data", "weights", "version") if stored.get(part) != self.key[part]]
        if changed:
            return "another run: its " + ", ".join(changed) + " differ"
        if meta.get("history", {}).get("completed"):
            return "a run that already completed (rerun: training again)"
        if self.restart:
            return "restart requested"
        return None

    def _move_aside(self, reason: str) -> None:
        tag = time.strftime("%Y%m%dT%H%M%S")
        kept = self.path.with_name(f"{self.path.stem}.superseded-{tag}{self.path.suffix}")
        self.path.replace(kept)
        self.log(f"resume state {self.path} is {reason}: moved aside to {kept.name}; training from scratch")

    def save(self, model, optimizer, best_weights, meta: dict) -> None:
        arrays = {f"model_{i}": np.asarray(v.numpy()) for i, v in enumerate(model.variables)}
        arrays.update({f"opt_{i}": np.asarray(v.numpy()) for i, v in enumerate(optimizer.variables)})
        arrays.update({f"best_{i}": np.asarray(w) for i, w in enumerate(best_weights)})
        meta = {**meta, "key": self.key, "n_best": len(best_weights)}
        atomic_savez(self.path, meta=np.array(json.dumps(meta, default=str)), **arrays)


def _assign(path: Path, state, groups: dict) -> None:
    """Assign the stored arrays to every variable, after checking all of them (never half a model)."""
    pairs = [(f"{prefix}_{i}", v) for prefix, variables in groups.items() for i, v in enumerate(variables)]
    for name, variable in pairs:
        if name not in state or tuple(state[name].shape) != tuple(variable.shape):
            raise ValueError(f"{path}: the resume state does not match this model ({name})")
    for name, variable in pairs:
        variable.assign(state[name])


def discard(folder, filename: str = STATE_FILE) -> None:
    """Delete a completed run's state (and its folder when nothing else is left in it)."""
    folder = Path(folder)
    (folder / filename).unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty (superseded states are kept) or already gone
