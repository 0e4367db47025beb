"""Public name of :mod:`astromer.core.preprocessing`: ``astromer.preprocessing`` is that module itself
(the same object, so attributes set or patched on one are seen through the other)."""

import sys

from .core import preprocessing as _preprocessing

sys.modules[__name__] = _preprocessing
