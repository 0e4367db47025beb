"""The command line's own process: TensorFlow's import and the interpreter's exit, without Python's cyclic
garbage collector walking TensorFlow's objects.

Importing TensorFlow and Keras makes a few hundred thousand Python objects, and the collector's full passes
over them while they are made took about 1 s of a 4 s import (2 cores; 3.1-3.4 s with the collector paused).
At exit the interpreter runs one more full collection over everything still alive: about 0.9 s after a
TensorFlow run, against 0.1 s once those objects are frozen (``gc.freeze``: moved out of the collector's
generations, never walked again). Each workflow job is one such process.
"""

from __future__ import annotations

import gc
import sys


def import_tensorflow() -> None:
    """Import TensorFlow and Keras with the collector paused, then freeze what the import made (modules,
    functions, op registries: they live as long as the process). A no-op once TensorFlow is imported."""
    if "tensorflow" in sys.modules:
        return
    enabled = gc.isenabled()
    gc.disable()
    try:
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
    finally:
        if enabled:
            gc.enable()
    gc.freeze()


def freeze_for_exit() -> None:
    """Freeze every object still alive, once a command's outputs are written and the process is about to
    end: the interpreter's last collection then skips them (they are freed with the process)."""
    gc.freeze()
