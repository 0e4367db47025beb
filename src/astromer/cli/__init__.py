"""``astromer`` command line: the functions the workflow's rules call. One argparse tree, built from each
area's ``register(sub)``, and one error policy (:func:`main`).

    astromer pretrain|finetune|encode ...  (the core model: astromer.cli.training)
    astromer data ...                      (readers, filter, splits, simulator, data tables: astromer.cli.data)
    astromer classify|lr-search|figure ... (the paper's experiments: astromer.cli.experiments)
    astromer leak --curves NAME=STORE ...  (the masking-leak study: astromer.cli.leak)
    astromer batch 'classify ...' 'finetune ...' ...  (several commands in one process: TensorFlow starts once)

Each command's work is imported when it runs (TensorFlow, pandas), so ``astromer data ...`` starts fast.
"""

from __future__ import annotations

import argparse
import logging
import sys

from ..errors import AstromerError, UsageError
from . import data, experiments, leak, startup, training

# beyond library errors (AstromerError: they name the object and file), what a command reports as one
# `error:` line and exit status 2 instead of a traceback: a missing file; for the data commands, also what
# the readers and downloads raise on bad input (ValueError, OSError, ...), prefixed with the command
INPUT_ERRORS = {"data": (ValueError, OSError, RuntimeError, KeyError)}
DEFAULT_INPUT_ERRORS = (FileNotFoundError,)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="astromer", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for area in (training, data, experiments, leak):
        area.register(sub)
    batch = sub.add_parser(
        "batch",
        help="run several astromer commands one after the other in this process "
        "(TensorFlow's start-up is paid once; the workflow batches small jobs so)",
    )
    batch.add_argument("commands", nargs="+", help="one quoted astromer command line each, without 'astromer'")
    batch.set_defaults(func=lambda args: _batch(args.commands))
    return parser


def parse(argv: list[str]) -> list[argparse.Namespace]:
    """Parse a command line as ``astromer`` would, without running it (a batch: each of its commands).
    The workflow's tests parse every command of the paper DAG with it, so rules and parser cannot drift."""
    import shlex

    args = build_parser().parse_args(argv)
    if args.command == "batch":
        return [parsed for line in args.commands for parsed in parse(shlex.split(line))]
    return [args]


def _error_context(args) -> str:
    return f"astromer data {args.data_command}: " if args.command == "data" else ""


def main(argv=None) -> int:
    """One error policy for every command: a library error (it names the object and file) or a missing
    file (for data commands, any input error) is one ``error: ...`` line and exit status 2, never a traceback.
    Without ``argv`` (the process's own command line: the ``astromer`` script, ``python -m astromer``) the
    process ends right after: what is alive is frozen for a quick exit (:mod:`astromer.cli.startup`)."""
    if argv is None:
        status = main(sys.argv[1:])
        startup.freeze_for_exit()
        return status
    args = build_parser().parse_args(list(argv))
    func = vars(args).pop("func")  # not a setting: the namespace goes into metrics.json and run keys
    if args.command == "data":
        logging.basicConfig(
            level=logging.INFO if args.verbose else logging.ERROR, format="%(levelname)s %(name)s: %(message)s"
        )
    try:
        return int(func(args) or 0)
    except AstromerError as exc:
        print(f"error: {exc}", file=sys.stderr)
    except INPUT_ERRORS.get(args.command, DEFAULT_INPUT_ERRORS) as exc:
        print(f"error: {_error_context(args)}{exc}", file=sys.stderr)
    return 2


def _batch(commands: list[str]) -> int:
    """Each command as `astromer COMMAND` would run it, in order; stops at the first that fails.

    Every command sets its own seed and builds its own models; Keras' global state is cleared between
    them, so a command's results do not depend on what ran before it in the batch; a classify command that
    repeats an earlier one with other labels (--case, --out, ...) reuses its predictions."""
    import shlex

    from ..experiments.runs import sharing_identical_runs

    runs = [shlex.split(line) for line in commands]
    for i, argv in enumerate(runs, 1):
        if not argv or argv[0] == "batch" or argv[0].startswith("-"):
            raise UsageError(f"batch command {i} ({commands[i - 1]!r}) is not an astromer command")
    with sharing_identical_runs():
        return _run_batch(runs)


def _run_batch(runs: list[list[str]]) -> int:
    import shlex

    startup.import_tensorflow()
    import keras
    import tensorflow as tf

    # TensorFlow's runtime starts here, with its default thread pools (an op per core), before any command
    # runs: a batch mixes training and inference, so its encode commands cannot make it one thread per op
    tf.config.list_logical_devices("CPU")

    for i, argv in enumerate(runs, 1):
        print(f"batch {i}/{len(runs)}: astromer {shlex.join(argv)}", file=sys.stderr, flush=True)
        keras.backend.clear_session()
        try:
            status = main(argv)
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
            if not isinstance(exc.code, int):
                print(exc.code, file=sys.stderr)
        if status:
            print(
                f"batch: command {i}/{len(runs)} failed (exit status {status}): astromer {shlex.join(argv)}",
                file=sys.stderr,
                flush=True,
            )
            return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
