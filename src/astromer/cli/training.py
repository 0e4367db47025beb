"""``astromer pretrain|finetune|encode``: the core model's commands (masked-magnitude training, embeddings).

    astromer pretrain --data STORE --split CSV --out DIR --ckpt-dir DIR [--mode paper|legacy] ...
    astromer finetune --init WEIGHTS --data STORE --split CSV --out DIR --ckpt-dir DIR \
        [--survey alcock --subset 500 --fold 1] ...
    astromer encode   --weights WEIGHTS --data STORE [--split CSV --part test] --out NPZ
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ..core.devices import resolve_precision
from ..errors import RunInputError, UsageError
from .options import add_device_option, add_resume_options, add_schedule_options
from .startup import import_tensorflow


def _model_config(value: str | None) -> dict:
    if not value:
        return {}
    path = Path(value)
    text = path.read_text() if path.is_file() else value
    try:
        conf = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--model-config is neither a JSON file nor JSON text ({exc})") from None
    allowed = {"num_layers", "d_model", "num_heads", "dff", "dropout", "max_obs"}
    unknown = set(conf) - allowed
    if unknown:
        raise UsageError(f"unknown model-config keys {sorted(unknown)}; allowed: {sorted(allowed)}")
    return conf


def _training_parser(name: str, help_text: str, init_required: bool, sub) -> None:
    p = sub.add_parser(name, help=help_text)
    p.add_argument("--data", required=True, help="light-curve store (directory)")
    p.add_argument("--split", required=True, help="CSV with columns id,split (train/val/test)")
    p.add_argument(
        "--columns",
        default=None,
        help="the store's training columns (astromer data columns): windows "
        "are read from disk, memory does not grow with the pool",
    )
    p.add_argument("--out", required=True, help="output folder: model.keras, history.csv, metrics.json")
    p.add_argument("--ckpt-dir", required=True, help="resume state (keep it out of the workflow's outputs)")
    p.add_argument("--init", required=init_required, help="starting weights (.keras, folder or zip)")
    p.add_argument("--mode", choices=["paper", "legacy"], help="default: paper, or the mode of --init")
    p.add_argument("--model-config", help="JSON file or text: num_layers, d_model, num_heads, dff, dropout, max_obs")
    add_schedule_options(p, patience=40)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--msk-frac", type=float, default=0.5)
    p.add_argument("--rnd-frac", type=float, default=0.2)
    p.add_argument("--same-frac", type=float, default=0.2)
    p.add_argument(
        "--windows-per-epoch",
        choices=["one", "all"],
        default="one",
        help="one random window per curve per epoch (the authors' package) or every window of every "
        "curve once (the paper, Sect. 6.1)",
    )
    p.add_argument("--min-obs", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--jit", action="store_true", help="XLA-compile the train step (measured slower than graph mode on CPU: bench/)"
    )
    p.add_argument("--no-jit", action="store_true", help=argparse.SUPPRESS)  # the default; kept for old scripts
    p.add_argument(
        "--precision",
        choices=["float32", "mixed_bfloat16", "auto"],
        default="float32",
        help="mixed_bfloat16: bf16 matmuls, float32 weights; auto (explicit only: results then depend "
        "on the hardware) picks it where bf16 is fast (a GPU, or a CPU with AVX512-BF16/AMX), "
        "else float32. Saved models are float32; metrics.json records the precision used.",
    )
    add_device_option(p)
    p.add_argument("--label", default="", help="free text recorded in metrics.json (figure legends)")
    # the run's cell, recorded in metrics.json as given: the figures and tables read them, never the paths
    p.add_argument("--survey", help="labeled survey of a fine-tuning (recorded in metrics.json)")
    p.add_argument("--subset", help="samples per class of the split, a number or 'all' (recorded)")
    p.add_argument("--fold", type=int, help="fold of the split (recorded in metrics.json)")
    add_resume_options(p)
    p.set_defaults(func=_train_command)


def _train_command(args) -> int:
    import_tensorflow()
    return _train(args, args.command)


def register(sub) -> None:
    _training_parser("pretrain", "masked-magnitude pretraining", False, sub)
    _training_parser("finetune", "fine-tuning from pretrained weights (same loss)", True, sub)
    enc = sub.add_parser("encode", help="embeddings of every observation of a store's light curves")
    enc.add_argument("--weights", required=True)
    enc.add_argument("--data", required=True)
    enc.add_argument("--split", help="CSV with id,split; with --part, encode only that part")
    enc.add_argument("--part", default=None)
    enc.add_argument("--batch-size", type=int, default=256)
    enc.add_argument("--out", required=True, help=".npz: ids, offsets, embeddings (total_obs, d_model)")
    enc.set_defaults(func=_encode)


def _read_split(path, store) -> dict:
    # the one reader is data.splits.read_split, imported when a command runs (the parser starts without pandas)
    from ..data.splits import read_split

    return read_split(path, store)


def _training_parts(path, store) -> dict:
    """The split's parts, with the train and val parts that every training run needs."""
    parts = _read_split(path, store)
    for needed in ("train", "val"):
        if not parts.get(needed):
            raise RunInputError(f"{path}: no '{needed}' rows")
    return parts


def _start_encoder(args, conf: dict, precision):
    """The encoder a run starts from: the pretrained weights of --init, or a fresh one."""
    from ..core.encoder import SingleBandEncoder

    if args.init:
        return SingleBandEncoder.from_pretraining(
            args.init, mode=args.mode, dropout=conf.get("dropout"), dtype=precision
        )
    return SingleBandEncoder(**conf, mode=args.mode or "paper", seed=args.seed, dtype=precision)


def _part_loader(args, store, parts: dict):
    """A function part -> flat columns, from the columns on disk (--columns) or the store."""
    from ..core.preprocessing import Flat

    columns = None
    if args.columns:  # windows read from the columns on disk (issue 17), the same windows as in memory
        from ..data.columns import TrainingColumns

        columns = TrainingColumns(args.columns)
        columns.check_store(store)

    def load(part):  # the store guarantees sorted, finite curves: go straight to flat columns
        if columns is not None:
            return columns.select(parts[part])
        _, offsets, times, mags, _ = store.load_flat(parts[part])
        return Flat(offsets, times, mags)

    return load


def _mask_args(args) -> dict:
    return {
        "msk_frac": args.msk_frac,
        "rnd_frac": args.rnd_frac,
        "same_frac": args.same_frac,
        "windows_per_epoch": args.windows_per_epoch,
    }


def _run_identity(parts: dict, data: dict, precision) -> dict:
    """Beyond the settings, data and starting weights that fit() keys the run on: the ids and the test set."""
    from ..core.pretraining import flat_digest

    return {
        "ids": {part: parts[part] for part in data},
        "precision": precision,
        "test": flat_digest(data["test"]) if "test" in data else None,
    }


def _save_model(encoder, history, out: Path, precision):
    """Write model.keras and history.csv; return the float32 encoder that was saved."""
    if precision is not None:  # saved models are float32: encode() and fine-tuning stay exact
        encoder = encoder.with_dtype(None)
    encoder.save(out / "model.keras")
    history.to_csv(out / "history.csv")
    return encoder


def _train_metrics(args, command, encoder, history, run: dict) -> dict:
    """metrics.json of a training run; ``run`` holds parts, data, device, precision, test_before, began."""
    from ..core.pretraining import test_rmse

    parts, data = run["parts"], run["data"]
    wall_seconds = round(time.perf_counter() - run["began"], 2)  # before the final test RMSE, as always
    test_after = (
        test_rmse(encoder, data["test"], args.batch_size, args.seed, **_mask_args(args)) if "test" in data else None
    )
    return {
        "command": command,
        "label": args.label,
        "mode": encoder.config["mode"],
        "config": encoder.config,
        "survey": args.survey,
        "subset": args.subset,
        "fold": args.fold,
        "case": None,
        "classifier": None,
        "seed": args.seed,
        "precision": run["precision"] or "float32",
        "device": run["device"],
        "epochs": history.n_epochs,
        "best_epoch": history.best_epoch,
        "best_val_rmse": history.best_val_loss,
        "initial_val_rmse": history.initial_val_loss,
        "test_rmse_before": run["test_before"],
        "stopped_early": history.stopped_early,
        "schedule": run["schedule"],
        "resumed_from": history.resumed_from,
        "wall_seconds": wall_seconds,
        "train_seconds": history.train_seconds,
        "checkpoint_seconds": history.checkpoint_seconds,
        "n_train": len(parts["train"]),
        "n_val": len(parts["val"]),
        "n_test": len(parts.get("test", [])),
        "test_rmse": test_after,
        "init": args.init,
        "data": args.data,
        "split": args.split,
        "args": vars(args),
    }


def _schedule(args, train, max_obs: int) -> dict:
    """Epoch cap and patience of the run, from epochs or gradient steps (--max-steps, --patience-steps)."""
    from ..core.fitting import step_schedule
    from ..core.pretraining import steps_per_epoch

    steps = steps_per_epoch(train, args.batch_size, max_obs, args.windows_per_epoch)
    return step_schedule(steps, args.epochs, args.patience, args.max_steps, args.patience_steps)


def _train(args, command: str) -> int:
    import keras

    from ..core.devices import select_device
    from ..core.pretraining import fit, test_rmse
    from ..core.resume import discard
    from ..data.store import LightCurveStore
    from ..io import atomic_write_json, make_dir

    began = time.perf_counter()
    device = select_device(args.device)  # before any data is read: no silent CPU fallback
    keras.utils.set_random_seed(args.seed)
    store = LightCurveStore.open(args.data)
    parts = _training_parts(args.split, store)
    conf = _model_config(args.model_config)
    precision = resolve_precision(args.precision)
    encoder = _start_encoder(args, conf, precision)
    out = Path(args.out)
    make_dir(out)
    load = _part_loader(args, store, parts)
    print(
        f"{command}: {len(parts['train'])} train / {len(parts['val'])} val curves, mode {encoder.config['mode']}, "
        f"config {encoder.config}",
        file=sys.stderr,
        flush=True,
    )
    mask_args = _mask_args(args)
    data = {part: load(part) for part in ("train", "val", "test") if parts.get(part)}
    identity = _run_identity(parts, data, precision)
    # the starting point's test RMSE, so that "fine-tuning lowers the RMSE" can be checked per run
    test_before = test_rmse(encoder, data["test"], args.batch_size, args.seed, **mask_args) if "test" in data else None
    schedule = _schedule(args, data["train"], encoder.max_obs)
    history = fit(
        encoder,
        data["train"],
        data["val"],
        epochs=schedule["epoch_cap"],
        patience=schedule["patience_epochs"],
        batch_size=args.batch_size,
        lr=args.lr,
        **mask_args,
        seed=args.seed,
        ckpt_dir=args.ckpt_dir,
        tensorboard_dir=out / "tensorboard",
        jit_compile=args.jit and not args.no_jit,
        restart=args.restart,
        identity=identity,
    )
    encoder = _save_model(encoder, history, out, precision)
    run = {"parts": parts, "data": data, "device": device, "precision": precision, "test_before": test_before}
    metrics = _train_metrics(args, command, encoder, history, {**run, "began": began, "schedule": schedule})
    atomic_write_json(out / "metrics.json", metrics)
    if not args.keep_checkpoint:  # the run is complete and its outputs are written
        discard(args.ckpt_dir)
    print(
        f"{command}: {history.n_epochs} epochs, best val RMSE {history.best_val_loss:.4f} at epoch "
        f"{history.best_epoch}, test RMSE {metrics['test_rmse']}",
        flush=True,
    )
    return 0


def _encode(args) -> int:
    import_tensorflow()
    import numpy as np

    from ..core.devices import inference_threads
    from ..core.encoder import SingleBandEncoder
    from ..data.store import LightCurveStore
    from ..io import atomic_savez

    inference_threads()  # this process only embeds: one thread per op, one model call per core
    store = LightCurveStore.open(args.data)
    ids = list(store.metadata["id"].astype(str))
    if args.split:
        parts = _read_split(args.split, store)
        ids = parts.get(args.part, []) if args.part else ids
    encoder = SingleBandEncoder.from_pretraining(args.weights)
    embeddings = encoder.encode(store.load(ids), batch_size=args.batch_size, ids=ids)
    offsets = np.concatenate([[0], np.cumsum([len(e) for e in embeddings])])
    out = Path(args.out)
    atomic_savez(
        out,
        ids=np.array(ids),
        offsets=offsets,
        embeddings=np.concatenate(embeddings) if embeddings else np.zeros((0, encoder.config["d_model"])),
    )
    print(f"encode: {len(ids)} curves, {offsets[-1]} observations -> {out}")
    return 0
