"""Light-curve data layer: readers, the internal store, filtering, splits, simulator, tables and figures.

No TensorFlow here: `astromer data ...` must start fast.
"""
