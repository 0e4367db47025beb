"""``astromer classify``, ``lr-search`` and ``figure``: the paper's experiments (their jobs:
:mod:`astromer.experiments.runs`).

    astromer classify --encoder MODEL --data STORE --split CSV --classifier lstm_att --encoder-mode frozen \\
        --out DIR --ckpt-dir DIR [--survey macho --case a --subset 500 --fold 1]
    astromer lr-search --data STORE --split CSV --lrs 1e-2,1e-3,1e-4 --out DIR
    astromer figure fig11 --out fig11.pdf --inputs results/*/metrics.json [--simulated]

``classify`` writes ``DIR/metrics.json`` (macro_f1, accuracy, epochs, best_epoch, wall_seconds, seed, device,
precision, the survey/case/classifier/subset/fold it was given, args), ``history.csv``, ``report.csv`` and
``confusion.csv``.
"""

from __future__ import annotations

from ..core.devices import PRECISIONS
from .options import add_device_option, add_resume_options, add_schedule_options
from .startup import import_tensorflow

FIGURES = (
    "fig2",
    "fig8",
    "fig9",
    "fig11",
    "fig12",
    "figA1",
    "figC1",
    "figD1",
    "table5",
    "accuracy_table",
    "claims_table",
)


# the jobs import TensorFlow and pandas: only when they run
def _classify(args) -> int:
    if args.classifier != "rf":  # the random forest runs without TensorFlow
        import_tensorflow()
        from ..core.classifiers.training import classifier_threads

        classifier_threads()
    from ..experiments.runs import classify

    return classify(args)


def _lr_search(args) -> int:
    import_tensorflow()
    from ..core.classifiers.training import classifier_threads

    classifier_threads()
    from ..experiments.runs import lr_search

    return lr_search(args)


def _figure(args) -> int:
    from ..experiments.runs import figure

    return figure(args)


def _common_training(p) -> None:
    """The options classify and lr-search share: data, outputs, training, resume, device, precision."""
    p.add_argument("--data", required=True, help="light-curve store (directory)")
    p.add_argument("--split", required=True, help="CSV with columns id,label,split (train/val/test)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--ckpt-dir", help="resume state (keep it out of the workflow's outputs)")
    add_schedule_options(p, patience=20)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-obs", type=int, default=200)
    p.add_argument("--units", type=int, default=256, help="LSTM units (the paper: 256; smaller for a quick demo)")
    for key in ("survey", "case", "subset"):
        p.add_argument(f"--{key}", help="recorded in metrics.json for the figures")
    p.add_argument("--fold", type=int, help="recorded in metrics.json for the figures")
    add_resume_options(p)
    add_device_option(p)
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="float32",
        help="mixed_bfloat16: the encoder and the head compute in bf16, weights and softmax in "
        "float32 (the random forest ignores it); recorded in metrics.json",
    )


def _figure_parser(sub) -> None:
    """astromer figure NAME: a figure or table of the paper from result files."""
    p = sub.add_parser("figure", help="a figure (PDF) or table (CSV + .tex) of the paper from result files")
    p.add_argument("name", choices=FIGURES)
    p.add_argument("--out", required=True)
    p.add_argument(
        "--inputs",
        nargs="*",
        help="result folders, metrics.json or history.csv files "
        "(fig2: encoders and the MACHO store, or a MACHO lc_*.tar.bz2; "
        "figA1: a .keras model or .npz)",
    )
    p.add_argument("--simulated", action="store_true", help="write SIMULATED DATA on the figure")
    p.add_argument(
        "--subset",
        default="500",
        help="fig12 and claims_table: samples per class of the runs shown / of the convergence claim",
    )
    p.add_argument("--band", default="R", help="fig2: MACHO band")
    p.add_argument(
        "--star",
        default=None,
        help="fig2: the MACHO star to draw (the paper: F_1.4175.3433), looked up in the store given in --inputs",
    )
    p.add_argument("--max-obs", type=int, default=200, help="fig2: observations drawn when no encoder is given")
    p.set_defaults(func=_figure)


def register(sub) -> None:
    """Adds classify, lr-search and figure to the astromer command tree."""
    p = sub.add_parser("classify", help="train and test one classifier (writes metrics.json, history, report)")
    _common_training(p)
    p.add_argument("--encoder", help="ASTROMER model (.keras, folder or zip); not needed for lstm and rf")
    p.add_argument("--classifier", required=True, choices=["lstm", "lstm_att", "mlp_att", "rf"])
    p.add_argument("--encoder-mode", choices=["frozen", "trained"], default="frozen")
    p.add_argument("--lr", type=float, default=1e-3)
    p.set_defaults(func=_classify)

    p = sub.add_parser("lr-search", help="the LSTM baseline at several learning rates (Fig. D.1)")
    _common_training(p)
    p.add_argument("--lrs", default="1e-2,1e-3,1e-4")
    p.set_defaults(func=_lr_search)

    _figure_parser(sub)
