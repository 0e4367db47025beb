"""The command line's own process: TensorFlow's import and the interpreter's exit, without Python's cyclic
garbage collector walking TensorFlow's objects.

Importing TensorFlow and Keras makes a few hundred thousand Python objects, and the collector's full passes
over them while they are made took about 1 s of a 4 s import (2 cores; 3.1-3.4 s with the collector paused).
At exit the interpreter runs one more full collection over everything still alive: about 0.9 s after a
TensorFlow run, against 0.1 s once those objects are frozen (``gc.freeze``: moved out of the collector's
generations, never walked again). Each workflow job is one such process.

Keras also imports scikit-learn (for ``keras.wrappers``) and ``matplotlib.pyplot`` (for ``keras.visualization``)
as it starts, each inside ``try: ... except ImportError``; the command line uses neither, and they took
0.65-0.7 s of the 2.6 s import (2 cores, alternating processes: 2.56-2.61 s against 1.88-1.96 s). The command
line imports Keras with the two hidden; they import as usual afterwards (the random forest, the figures).

Before the import it points XLA's persistent compilation cache at a folder keyed on TensorFlow's version and
the machine (:mod:`astromer.core.compile_cache`; ``ASTROMER_XLA_CACHE=off`` disables it).
"""

from __future__ import annotations

import gc
import sys

# imported by Keras at start for features the command line never uses: hidden while Keras imports
UNUSED_BY_KERAS_HERE = ("sklearn", "matplotlib.pyplot")


class _Hidden:
    """A meta-path finder that makes the import of ``names`` (and their submodules) fail, as if not installed."""

    def __init__(self, names):
        self.names = tuple(names)

    def find_spec(self, name, path=None, target=None):
        if any(name == hidden or name.startswith(hidden + ".") for hidden in self.names):
            raise ModuleNotFoundError(f"{name} is not imported while Keras starts (astromer.cli.startup)", name=name)
        return None


def import_tensorflow() -> None:
    """Import TensorFlow and Keras with the collector paused and without the modules Keras imports for features
    the command line never uses (:data:`UNUSED_BY_KERAS_HERE`, unless already imported), then freeze what the
    import made (modules, functions, op registries: they live as long as the process). A no-op once TensorFlow
    is imported."""
    if "tensorflow" in sys.modules:
        return
    from ..core.compile_cache import enable_persistent_xla_cache

    enable_persistent_xla_cache()  # compiled XLA kernels reused by later processes (set before the import)
    enabled = gc.isenabled()
    hidden = _Hidden(name for name in UNUSED_BY_KERAS_HERE if name not in sys.modules)
    gc.disable()
    sys.meta_path.insert(0, hidden)
    try:
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
    finally:
        sys.meta_path.remove(hidden)
        if enabled:
            gc.enable()
    gc.freeze()


def freeze_for_exit() -> None:
    """Freeze every object still alive, once a command's outputs are written and the process is about to
    end: the interpreter's last collection then skips them (they are freed with the process)."""
    gc.freeze()
