"""ASTROMER: a transformer that turns single-band light curves into embeddings (Donoso-Oliva et al. 2023).

TensorFlow is imported lazily so that data commands start fast.
"""
import importlib

__version__ = "0.1.0"
__all__ = ["SingleBandEncoder", "preprocessing"]


def __getattr__(name):
    if name == "SingleBandEncoder":
        return importlib.import_module(".model", __name__).SingleBandEncoder
    if name == "preprocessing":
        return importlib.import_module(".preprocessing", __name__)
    raise AttributeError(f"module 'astromer' has no attribute {name!r}")
