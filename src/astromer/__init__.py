"""ASTROMER: a transformer that turns single-band light curves into embeddings (Donoso-Oliva et al. 2023).

Layers (docs/architecture.md): ``astromer.core`` (the model), ``astromer.data``, ``astromer.experiments``
(the paper) and ``astromer.cli`` (the command line). TensorFlow is imported lazily so that data commands
start fast.
"""

import importlib

__version__ = "0.1.0"
__all__ = ["SingleBandEncoder", "preprocessing"]


def __getattr__(name):
    if name == "SingleBandEncoder":
        return importlib.import_module(".core.encoder", __name__).SingleBandEncoder
    if name == "preprocessing":
        return importlib.import_module(".preprocessing", __name__)
    raise AttributeError(f"module 'astromer' has no attribute {name!r}")
